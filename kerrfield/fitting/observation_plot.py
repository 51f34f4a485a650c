"""The ``profile.png`` of an observation scan or search (:mod:`.observation_report`).

One panel per grid axis: the Δχ² profile of the grid (χ² minimised over the other axis,
divided by the ``inflation`` of the report), the Δχ² = 1 and 3.84 levels and, with the
optimiser scatter measured, the band of values that cannot be told from the minimum. For a
search with refinements, each refined fit is drawn on those panels at its fitted value and
its Δχ² (on the same scale: it may lie below 0 when it beats the grid), with an arrow from
the grid point it started at; a last panel shows the grid and the refinements in the spin x
inclination plane, where an axis held fixed on the grid can be seen moving too.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..plotting import NotebookFigure

__all__ = ["plot_observation_profile"]

_LABELS = {"spin": "spin a/M", "inclination": "inclination [deg]"}
_REFINED = dict(color="C3", marker="*", ms=11, ls="none", label="joint refinement")
_ARROW = dict(arrowstyle="->", color="C3", lw=1.0, shrinkA=0, shrinkB=4)


def plot_observation_profile(prof: Mapping[str, Any], *, title: str = "",
                             grid: Sequence[Mapping[str, Any]] = (),
                             refined: Sequence[Mapping[str, Any]] = ()) -> Figure:  # fmt: skip
    """The figure of an observation report's grid profiles and refinements.

    Parameters
    ----------
    prof : mapping
        The report's ``profile`` (:func:`~.observation_report.observation_profile`).
    title : str
        What the data are (source, file); the figure's title adds what is shown.
    grid : sequence of mapping
        The grid units' rows (``spin``, ``inclination``, ``chi2_total``), for the
        spin x inclination panel drawn when there are refinements.
    refined : sequence of mapping
        The refinements' rows (``spin``, ``inclination``, ``chi2_total``, ``start_spin``,
        ``start_inclination``, ``chi2_start``); failed ones (χ² NaN) are left out.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = [n for n in ("spin", "inclination") if n in prof]
    shown = [r for r in refined if np.isfinite(float(r["chi2_total"]))]
    n = len(names) + bool(shown)
    # at least 6.4 in wide: one panel with a uvfits name in the title wrapped to four lines
    fig = NotebookFigure(layout="constrained", figsize=(max(4.2 * max(n, 1), 6.4), 3.4))
    axs = fig.subplots(1, max(n, 1), squeeze=False)[0]
    scale = (float(prof["chi2_min"]), float(prof["inflation"]))
    for ax, name in zip(axs, names, strict=False):
        _profile_panel(ax, name, prof, shown, scale)
    if shown:
        _plane_panel(axs[len(names)], grid, shown, scale)
    what = "Δχ² profiles of the spin × inclination grid" + (
        " and joint refinements (spin, inclination free)" if shown else "")
    # wrapped to the figure's width (about 13 characters per inch at 9 pt; 12 leaves a
    # margin): long uvfits names ran off both sides; the constrained layout makes room
    # for the lines
    width = max(30, int(12 * fig.get_figwidth()))
    fig.suptitle(textwrap.fill(f"{title}: {what}" if title else what, width), fontsize=9)
    return fig


def _delta(chi2: Any, scale: tuple[float, float]) -> float:
    return (float(chi2) - scale[0]) / scale[1]


def _profile_panel(ax: Any, name: str, prof: Mapping[str, Any],
                   refined: Sequence[Mapping[str, Any]],
                   scale: tuple[float, float]) -> None:  # fmt: skip
    e = prof[name]
    if prof.get("scatter") is not None:  # cannot be told from the minimum
        ax.axhspan(0.0, (1.0 + 2.0 * prof["scatter"]) / prof["inflation"], color="0.9",
                   label="1 + 2 × optimiser scatter")  # fmt: skip
    ax.plot(e["grid"], e["delta_chi2"], "o-", color="C0", label="grid profile")
    for level, style in ((1.0, "--"), (3.84, ":")):
        ax.axhline(level, color="0.5", ls=style, lw=0.8)
    for i, r in enumerate(refined):
        end = (float(r[name]), _delta(r["chi2_total"], scale))
        start = (float(r[f"start_{name}"]), _delta(r.get("chi2_start", np.nan), scale))
        if np.all(np.isfinite(start)):  # the start point also keeps the arrow in view
            ax.plot(*start, "o", mfc="none", color="C3", ms=7,
                    label="its grid start" if i == 0 else None)  # fmt: skip
            ax.annotate("", xy=end, xytext=start, arrowprops=_ARROW)
        ax.plot(*end, **{**_REFINED, "label": _REFINED["label"] if i == 0 else None})
    ax.set_xlabel(_LABELS[name])
    ax.set_ylabel(f"Δχ² (÷ {prof['inflation']:.2f})")
    ax.set_title(("flat: " if e["flat"] else "") + name, fontsize=9)
    ax.legend(fontsize=7, loc="best")  # "upper right" covered a profile point


def _plane_panel(ax: Any, grid: Sequence[Mapping[str, Any]],
                 refined: Sequence[Mapping[str, Any]],
                 scale: tuple[float, float]) -> None:  # fmt: skip
    if grid:
        pts = np.array([(r["spin"], r["inclination"], _delta(r["chi2_total"], scale))
                        for r in grid], dtype=float)  # fmt: skip
        sc = ax.scatter(pts[:, 0], pts[:, 1], c=pts[:, 2], cmap="viridis_r", s=30,
                        label="grid point")  # fmt: skip
        ax.figure.colorbar(sc, ax=ax, label="grid Δχ² (÷ inflation)")
    for i, r in enumerate(refined):
        end = (float(r["spin"]), float(r["inclination"]))
        ax.annotate("", xy=end, xytext=(float(r["start_spin"]), float(r["start_inclination"])),
                    arrowprops=_ARROW)  # fmt: skip
        ax.plot(*end, **{**_REFINED, "label": _REFINED["label"] if i == 0 else None})
    ax.set_xlabel(_LABELS["spin"])
    ax.set_ylabel(_LABELS["inclination"])
    ax.set_title("refinements: grid start → fitted geometry", fontsize=9)
    ax.legend(fontsize=7, loc="best")
