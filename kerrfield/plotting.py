"""Matplotlib figures for emission fields, lensed images and fits ('afmhot', Agg-safe).

Every function builds its own :class:`matplotlib.figure.Figure` (no pyplot state, so it
works headless and in threads) and returns it; save it with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = [
    "plot_emission_and_image",
    "plot_fit",
    "plot_loss",
    "plot_parameters",
    "plot_geometry",
]

CMAP = "afmhot"


def _as_image(img: Any) -> tuple[np.ndarray, tuple[float, float, float, float] | None]:
    """Array and imshow extent (alpha, beta in M) of a DataArray / tensor / array."""
    extent = None
    if isinstance(img, xr.Dataset):
        img = img["image"]
    if isinstance(img, xr.DataArray):
        dims = [d for d in img.dims]
        if len(dims) == 2:
            ydim, xdim = dims
            xs, ys = img[xdim].values, img[ydim].values
            extent = (float(xs[0]), float(xs[-1]), float(ys[0]), float(ys[-1]))
        img = img.values
    if hasattr(img, "detach"):
        img = img.detach().cpu().numpy()
    return np.asarray(img, dtype=float), extent


def _show(ax, img, title: str, xlabel="α [M]", ylabel="β [M]", cmap=CMAP, robust=False):
    arr, extent = _as_image(img)
    limits = {}
    finite = arr[np.isfinite(arr)]
    if robust and finite.size:
        # percentile limits: a few rays grazing the critical curve reach r_s ~ 10^3 M
        limits = {"vmin": np.percentile(finite, 1), "vmax": np.percentile(finite, 99)}
    im = ax.imshow(arr, origin="lower", cmap=cmap, extent=extent, interpolation="nearest",
                   **limits)  # fmt: skip
    ax.set_title(title, fontsize=10)
    if extent is not None:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
    return im


def plot_emission_and_image(emission: Any, image: Any, *, title: str | None = None) -> Figure:
    """Emission map (equatorial plane, x/y in M) beside its lensed image (α/β in M).

    Parameters
    ----------
    emission : xarray.DataArray or array
        E.g. :func:`kerrfield.emission_map` of a field, or a synthetic target's
        ``emission`` variable.
    image : xarray.DataArray, Dataset (``image``), tensor or array
        The lensed image.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_emission_and_image(np.eye(4), np.ones((4, 4)))
    >>> len(fig.axes)
    4
    """
    fig = Figure(figsize=(9, 4), layout="constrained")
    ax = fig.subplots(1, 2)
    fig.colorbar(_show(ax[0], emission, "emission model", "x [M]", "y [M]"), ax=ax[0])
    fig.colorbar(_show(ax[1], image, "lensed image"), ax=ax[1])
    if title:
        fig.suptitle(title)
    return fig


def plot_fit(
    target: Any,
    start: Any,
    fitted: Any,
    *,
    losses: Sequence[float] | None = None,
    titles: Sequence[str] = ("target", "starting state", "fitted state"),
) -> Figure:
    """Target / start / fitted triptych (Krang's figure), losses in the titles.

    Parameters
    ----------
    target, start, fitted : image-like
        Images on the same screen.
    losses : (float, float), optional
        Start and fitted losses, shown as ``loss=...`` in the titles.
    titles : sequence of str
        Panel titles.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_fit(np.eye(3), np.ones((3, 3)), np.eye(3), losses=(1e-3, 1e-7))
    >>> fig.axes[2].get_title()
    'fitted state (loss=1.00e-07)'
    """
    fig = Figure(figsize=(12, 4), layout="constrained")
    axes = fig.subplots(1, 3)
    labels = list(titles)
    if losses is not None:
        labels[1] = f"{labels[1]} (loss={losses[0]:.2e})"
        labels[2] = f"{labels[2]} (loss={losses[1]:.2e})"
    for ax, img, label in zip(axes, (target, start, fitted), labels, strict=True):
        fig.colorbar(_show(ax, img, label), ax=ax, shrink=0.8)
    return fig


def plot_loss(history: xr.Dataset, *, logy: bool = True) -> Figure:
    """Training loss against step.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> h = xr.Dataset({"loss": ("step", np.logspace(0, -3, 10))})
    >>> plot_loss(h).axes[0].get_yscale()
    'log'
    """
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    loss = np.asarray(history["loss"].values)
    ax.plot(np.arange(loss.size), loss, lw=1)
    if logy and np.all(loss[np.isfinite(loss)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    return fig


def plot_parameters(history: xr.Dataset, *, truth: dict[str, float] | None = None) -> Figure:
    """Spin and inclination trajectories, with the true values dashed if given.

    Parameters
    ----------
    history : xarray.Dataset
        :attr:`kerrfield.FitResult.history`.
    truth : dict, optional
        ``{"spin": ..., "inclination": ...}``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> h = xr.Dataset({"spin": ("step", np.linspace(.5, .9, 5)),
    ...                 "inclination": ("step", np.linspace(60, 20, 5))})
    >>> len(plot_parameters(h, truth={"spin": 0.94}).axes)
    2
    """
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, name, label in zip(axes, ("spin", "inclination"), ("spin a/M", "inclination [deg]"),
                               strict=True):  # fmt: skip
        if name in history:
            ax.plot(np.asarray(history[name].values), lw=1.2, label="fit")
        if truth and truth.get(name) is not None and np.isfinite(truth[name]):
            ax.axhline(truth[name], color="k", ls="--", lw=1, label="truth")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def plot_geometry(ds: xr.Dataset, variables: Sequence[str] = ("r_s", "g")) -> Figure:
    """Ray-traced maps (default ``r_s`` and ``g``) for every image order ``n``.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`kerrfield.raytrace` (dims ``n, beta, alpha``).
    variables : sequence of str
        Variables to show (rows); orders are columns. Masked pixels (NaN) are blank; colour
        limits are the 1st-99th percentiles.

    Returns
    -------
    matplotlib.figure.Figure
    """
    orders = list(np.atleast_1d(ds["n"].values)) if "n" in ds.dims else [None]
    fig = Figure(figsize=(4.2 * len(orders), 3.6 * len(variables)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(variables), len(orders), squeeze=False))
    for i, var in enumerate(variables):
        for j, n in enumerate(orders):
            da = ds[var] if n is None else ds[var].sel(n=n)
            units = ds[var].attrs.get("units", "")
            label = f"{var} [{units}]" if units else var
            im = _show(axes[i, j], da.transpose("beta", "alpha"), f"{label}, n = {n}",
                       cmap="viridis" if var == "g" else CMAP, robust=True)  # fmt: skip
            fig.colorbar(im, ax=axes[i, j], shrink=0.85)
    return fig


def plot_image(image: xr.DataArray, fov: float | None = None) -> Figure:
    """One image on ``(beta, alpha)`` in M, titled with its spin and inclination attrs.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ax = np.linspace(-5, 5, 8)
    >>> img = xr.DataArray(np.ones((8, 8)), dims=("beta", "alpha"),
    ...                    coords={"beta": ax, "alpha": ax}, attrs={"spin": 0.5,
    ...                    "inclination": 30.0})
    >>> plot_image(img).axes[0].get_xlabel()
    'α [M]'
    """
    fov = float(np.abs(image["alpha"].values).max()) if fov is None else fov
    fig = Figure(figsize=(5, 4.3), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(image.values, origin="lower", cmap=CMAP, extent=(-fov, fov, -fov, fov))
    ax.set_xlabel("α [M]")
    ax.set_ylabel("β [M]")
    ax.set_title(f"a = {image.attrs['spin']:.3f}, θo = {image.attrs['inclination']:.2f}°")
    fig.colorbar(im, ax=ax)
    return fig
