"""Figures of a ``search`` run: ``profiles.png`` and ``delta_chi2_map.png``.

``profiles.png`` has one panel per free parameter: the local profile's Δχ² points (and the
quadratic through them), the *quoted* 68 %/95 % intervals shaded and labelled with their
source, the local profile's intervals hatched where a flagged parameter quotes the coarse
grid instead (then the coarse grid's profile is drawn too), the Δχ² = 1 and 3.84 levels,
and the truth. The y-axis is linear up to Δχ² = 50 and symmetric-log beyond, so every point
stays on the plot while the levels stay readable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .profile import LEVELS_1D, LEVELS_2D
from .search_run import chi2_grid, coarse_profile

__all__ = ["search_plots", "profile_panel"]

AXIS_LABELS = {"spin": "spin a (dimensionless)", "inclination": "inclination θo [deg]"}
LINEAR_UP_TO = 50.0  # Δχ² above which the y-axis turns symmetric-log


def search_plots(plt: Any, res: dict[str, Any], truth: dict[str, float], out: Path
                 ) -> dict[str, Any]:  # fmt: skip
    """``profiles.png`` (Δχ² profiles, quoted and local intervals, truth) and, with both
    parameters free, ``delta_chi2_map.png``.

    Parameters
    ----------
    plt : module
        ``matplotlib.pyplot``.
    res : dict
        A complete :func:`~kerrfield.fitting.search_run.run_search` result, after
        :func:`~kerrfield.fitting.search_report.search_summary` (which sets the quoted
        intervals and their ``source``).
    truth : dict
        True ``spin``/``inclination`` where known (marked dashed).
    out : Path
        The output directory (unused: the caller saves the figures).

    Returns
    -------
    dict
        File name to figure.
    """
    figs = {}
    names = [n for n in ("spin", "inclination") if n in res["intervals"]]
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 5.2),
                             constrained_layout=True, squeeze=False)  # fmt: skip
    delta = _delta_label(res)
    for ax, name in zip(axes[0], names, strict=True):
        profile_panel(ax, res, name, truth.get(name), delta)
    figs["profiles.png"] = fig
    if len(names) == 2:
        figs["delta_chi2_map.png"] = _map(plt, res, truth)
    return figs


def _delta_label(res: dict[str, Any]) -> str:
    """``Δχ²``, or ``Δnmse`` (etc.) when the fits used another loss."""
    done = res["run"].done if "run" in res else {}
    names = {str(ds.attrs.get("loss_name", "chi2")) for ds in done.values()}
    return "Δχ²" if names <= {"chi2"} else f"Δ{'/'.join(sorted(names))}"


def _coarse_profile(res: dict[str, Any], name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The coarse grid's profile of ``name`` relative to its own minimum, or None."""
    if "grid" not in res:
        return None
    x, prof = coarse_profile(res, name)
    if x.size < 2 or not np.isfinite(prof).any():
        return None
    return x, prof - np.nanmin(prof)


def _differ(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return any(not np.isclose(a[c][e], b[c][e]) for c in LEVELS_1D for e in ("lo", "hi"))


def profile_panel(ax: Any, res: dict[str, Any], name: str, truth: float | None = None,
                  delta: str = "Δχ²") -> None:  # fmt: skip
    """One panel of ``profiles.png``: the profile of ``name`` and its intervals.

    Parameters
    ----------
    ax : matplotlib Axes
    res : dict
        Holds ``intervals[name]`` (``grid``, ``delta_chi2``, the quoted ``"68"``/``"95"``,
        optionally ``sigma``/``estimate``, ``source`` and ``local``); ``grid`` and ``run``
        for the coarse profile of a parameter quoted from the coarse grid.
    name : str
        ``"spin"`` or ``"inclination"``.
    truth : float, optional
        The true value, drawn as a dashed vertical line.
    delta : str
        The y quantity's name (``Δχ²``, or ``Δnmse`` for a target without σ).
    """
    iv = res["intervals"][name]
    source = str(iv.get("source", "local profile"))
    ax.plot(iv["grid"], iv["delta_chi2"], "o", color="C0", label=f"local profile {delta} (fits)")
    xs, ys = list(iv["grid"]), list(iv["delta_chi2"])
    if "sigma" in iv:  # the quadratic profile the local intervals come from
        g = np.linspace(min(iv["grid"]), max(iv["grid"]), 200)
        sig = iv.get("sigma_fit", iv["sigma"])  # through the points, before any widening
        ax.plot(g, ((g - iv["estimate"]) / sig) ** 2, "-", color="C0", lw=1,
                label="quadratic profile (local)")  # fmt: skip
    coarse = _coarse_profile(res, name) if source == "coarse grid" else None
    if coarse is not None:
        ax.plot(*coarse, "s", mfc="none", color="C1",
                label=f"coarse grid {delta} (to its own minimum)")  # fmt: skip
        xs += coarse[0].tolist()
        ys += coarse[1].tolist()
    # quoted local intervals are wider than the curve's Δχ² crossings by the Birge factor
    # and search.interval_scale: say so on the figure
    wide = iv["sigma"] / iv["sigma_fit"] if source != "coarse grid" and iv.get("sigma_fit") \
        else 1.0  # fmt: skip
    how = f"{source}, σ × {wide:.3g}" if wide > 1.0 + 1e-9 else source
    for cov, col in (("95", "0.9"), ("68", "0.75")):
        ax.axvspan(iv[cov]["lo"], iv[cov]["hi"], color=col, lw=0, zorder=0,
                   label=f"{cov} % interval, quoted ({how})")  # fmt: skip
        xs += [iv[cov]["lo"], iv[cov]["hi"]]
    local = iv.get("local")
    if local is not None and _differ(local, iv):
        for cov, hatch in (("95", "//"), ("68", "\\\\")):
            ax.axvspan(local[cov]["lo"], local[cov]["hi"], fill=False, hatch=hatch,
                       edgecolor="0.35", lw=0.8, label=f"{cov} % local profile (not quoted)")
            xs += [local[cov]["lo"], local[cov]["hi"]]
    for cov, ls in (("68", ":"), ("95", "--")):
        ax.axhline(LEVELS_1D[cov], color="0.3", lw=0.8, ls=ls,
                   label=f"{delta} = {LEVELS_1D[cov]:g} ({cov} %)")  # fmt: skip
    if source == "coarse grid":
        ax.set_title(f"UNCONSTRAINED: quoted intervals from the coarse grid, 95 % "
                     f"[{iv['95']['lo']:.3g}, {iv['95']['hi']:.3g}]", fontsize=9,
                     color="C3")  # fmt: skip
    if truth is not None:
        ax.axvline(truth, color="k", ls="--", label=f"truth {truth:.4g}")
        xs.append(truth)
    _limits(ax, np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    ax.set(xlabel=AXIS_LABELS[name], ylabel=f"profile {delta}")
    ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.16))


def _limits(ax: Any, xs: np.ndarray, ys: np.ndarray) -> None:
    """x: every point, interval and the truth; y: every point, linear to
    :data:`LINEAR_UP_TO` and symmetric-log above (the levels 1 and 3.84 stay readable)."""
    xs, ys = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
    if xs.size:
        pad = 0.03 * max(float(np.ptp(xs)), 1e-9)
        ax.set_xlim(float(xs.min()) - pad, float(xs.max()) + pad)
    top = float(ys.max()) if ys.size else 0.0
    # a little below zero: the minimum's point (Δχ² = 0) is not cut by the axis
    bottom = min(0.0, float(ys.min()) * 1.1) if ys.size else 0.0
    if top > LINEAR_UP_TO:
        ax.set_yscale("symlog", linthresh=10.0, linscale=2.0)
        ax.set_ylim(bottom - 0.5, top * 1.5)
    else:
        top = max(10.0, top * 1.1)
        ax.set_ylim(bottom - 0.03 * top, top)


def _map(plt: Any, res: dict[str, Any], truth: dict[str, float]) -> Any:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for ax, key in zip(axes, ("grid", "local"), strict=True):
        grid_axes, chi2 = chi2_grid(res[key], res["run"].done)
        # each panel from its own minimum, as profiles.png draws them: the coarse grid's
        # field fits are shorter, so from the refined best its whole map sits far above 0
        ref = float(np.nanmin(chi2)) if key == "grid" else res["chi2_min"]
        d = chi2 - ref
        x, y = grid_axes["inclination"], grid_axes["spin"]
        im = ax.pcolormesh(x, y, np.log10(np.clip(d, 1e-2, None)), shading="nearest")
        fig.colorbar(im, ax=ax, label="log10 Δχ² to the coarse grid's minimum" if key == "grid"
                     else "log10 Δχ² to the best fit")  # fmt: skip
        # cells are drawn half a spacing past the outer grid values: not past the physics
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(lo, -1.0), min(hi, 1.0))
        lo, hi = ax.get_xlim()
        ax.set_xlim(max(lo, 0.0), min(hi, 180.0))
        q = res.get("quadratic")
        if key == "local" and q is not None and len(q["names"]) == 2:
            _ellipses(ax, q)
        elif d.shape[0] > 1 and d.shape[1] > 1:
            cs = ax.contour(x, y, d, levels=[LEVELS_2D["68"], LEVELS_2D["95"]],
                            colors=["w", "0.8"])  # fmt: skip
            ax.clabel(cs, fmt={LEVELS_2D["68"]: "68%", LEVELS_2D["95"]: "95%"}, fontsize=7)
        if truth:
            ax.plot(truth.get("inclination", np.nan), truth.get("spin", np.nan), "r*", ms=12,
                    label="truth")  # fmt: skip
            ax.legend(fontsize=8)
        ax.set(xlabel="inclination θo [deg]", ylabel="spin a",
               title="coarse grid" if key == "grid" else "local profile grid")  # fmt: skip
    return fig


def _ellipses(ax: Any, q: dict[str, Any]) -> None:
    """Joint 68 % / 95 % regions Δχ² = 2.30 / 6.18 of the quadratic profile (spin, incl.)."""
    cov = np.asarray(q["cov1"])
    vals, vecs = np.linalg.eigh(cov)
    t = np.linspace(0, 2 * np.pi, 200)
    for cov_name, col in (("68", "w"), ("95", "0.8")):
        r = np.sqrt(LEVELS_2D[cov_name] * vals)
        pts = vecs @ np.stack([r[0] * np.cos(t), r[1] * np.sin(t)])
        ax.plot(q["vertex"][1] + pts[1], q["vertex"][0] + pts[0], color=col, lw=1.2,
                label=f"{cov_name} % joint")  # fmt: skip
