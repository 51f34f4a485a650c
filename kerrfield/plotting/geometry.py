"""Ray-traced maps per image order: :func:`plot_geometry`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

from .figures import CMAP, _figure, _show, geometry_title

_VAR_LABELS = {"r_s": "emission radius r_s [M]", "g": "redshift factor g",
               "x": "x [M]", "y": "y [M]", "t_s": "t_s [M]"}  # fmt: skip
# per-pixel variables: one value per ray, whatever its orders
_PER_RAY = ("lam", "eta")
# a ray's fate (raytrace's ``status``), one colour each: categories, not a scale
_STATUS = ("crosses", "horizon", "escapes", "misses surface")
_STATUS_CMAP = ListedColormap(["#f2b134", "#222222", "#4a90c2", "#b8b8b8"])


def plot_geometry(ds: xr.Dataset, variables: Sequence[str] = ("r_s", "g")) -> Figure:
    """Ray-traced maps (default ``r_s`` and ``g``) for every image order ``n``.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`kerrfield.raytrace` (dims ``n, beta, alpha``; one order selected
        with ``.sel(n=...)`` also works).
    variables : sequence of str
        Variables to show (rows); orders are columns. Per-pixel variables without an order
        (``lam``, ``eta``) take one panel. Masked pixels (NaN) are blank and an order with
        no crossing says so; colour limits are the 1st-99th percentiles; ``status`` is drawn
        as its four categories.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        ``variables`` is empty or names a variable ``ds`` does not have.
    """
    variables = list(variables)
    if not variables or any(v not in ds.data_vars for v in variables):
        raise ValueError(f"variables must name some of {sorted(map(str, ds.data_vars))}, got "
                         f"{variables!r}")  # fmt: skip
    if "n" in ds.dims:
        orders = list(np.atleast_1d(ds["n"].values))
    else:  # one order selected: its scalar coordinate names it
        orders = [int(ds["n"]) if "n" in ds.coords else None]
    fig = _figure(figsize=(4.2 * len(orders), 3.6 * len(variables) + 0.4))
    axes = np.atleast_2d(fig.subplots(len(variables), len(orders), squeeze=False))
    for i, var in enumerate(variables):
        per_order = "n" in ds[var].dims or ("n" not in ds.dims and var not in _PER_RAY)
        for j, n in enumerate(orders):
            if j and not per_order:
                axes[i, j].set_visible(False)
                continue
            da = ds[var].sel(n=n) if "n" in ds[var].dims else ds[var]
            _panel(fig, axes[i, j], var, da, "" if not per_order else f"n = {n}")
    title = geometry_title(ds.attrs)
    if title:
        fig.suptitle(title)
    return fig


def _panel(fig: Figure, ax, var: str, da: xr.DataArray, title: str) -> None:
    units = da.attrs.get("units", "")
    label = _VAR_LABELS.get(var, f"{var} [{units}]" if units and units != "1" else var)
    da = da.transpose("beta", "alpha")
    if var == "status":
        im = _show(ax, da, title, cmap=_STATUS_CMAP, robust=False)
        im.set_norm(BoundaryNorm(np.arange(-0.5, 4.5), _STATUS_CMAP.N))
        cb = fig.colorbar(im, ax=ax, shrink=0.85, ticks=range(4))
        cb.ax.set_yticklabels(_STATUS)
        return
    if not np.isfinite(da.values).any():  # e.g. an order no ray of this screen reaches
        _show(ax, da, title)
        ax.text(0.5, 0.5, "no crossings", transform=ax.transAxes, ha="center", va="center")
        return
    # per-panel percentile limits (log for r_s): the n >= 1 rings span a narrow range of
    # radii that a linear min-max scale over grazing rays would hide
    im = _show(ax, da, title, cmap="viridis" if var == "g" else CMAP, robust=True,
               log=var == "r_s")  # fmt: skip
    cb = fig.colorbar(im, ax=ax, shrink=0.85, label=label)
    if var == "r_s":  # plain numbers at 1, 2, 5 x 10^k on the log colour bar
        cb.ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        cb.ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
        cb.ax.yaxis.set_minor_formatter(NullFormatter())
