"""Image, fit and history figures (the helpers every kerrfield figure shares live here too)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

__all__ = [
    "plot_emission_and_image",
    "plot_fit",
    "plot_loss",
    "plot_parameters",
    "plot_image",
]


class NotebookFigure(Figure):
    """A :class:`~matplotlib.figure.Figure` that Jupyter displays as a PNG by itself."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


def _figure(**kwargs: Any) -> NotebookFigure:
    return NotebookFigure(layout="constrained", **kwargs)


#: colour-bar labels with units
INTENSITY = "intensity [arb. units]"


def geometry_title(attrs: dict[str, Any]) -> str:
    """``a = 0.940, θo = 17.0°, keplerian velocity`` from Dataset attrs (what is known)."""
    parts = []
    if attrs.get("spin") is not None and np.isfinite(float(attrs["spin"])):
        parts.append(f"a = {float(attrs['spin']):.3f}")
    if attrs.get("inclination") is not None and np.isfinite(float(attrs["inclination"])):
        parts.append(f"θo = {float(attrs['inclination']):.1f}°")
    vel = attrs.get("velocity")
    if vel == "general":
        parts.append(f"general velocity (ξ={attrs.get('velocity_xi')}, "
                     f"βr={attrs.get('velocity_beta_r')}, βφ={attrs.get('velocity_beta_phi')})")
    elif vel:
        parts.append(f"{vel} velocity")
    if attrs.get("surface") == "cone":
        parts.append(f"cone θs = {attrs.get('surface_theta_deg')}°")
    return ", ".join(parts)


CMAP = "afmhot"


def _edges(c: np.ndarray) -> tuple[float, float]:
    step = float(c[1] - c[0]) if c.size > 1 else 1.0
    return float(c[0]) - step / 2, float(c[-1]) + step / 2


def pixel_extent(xs: Any, ys: Any) -> tuple[float, float, float, float]:
    """imshow ``extent`` of a regular grid with pixel *centres* at ``xs``, ``ys``: the outer
    pixel edges, half a spacing beyond the first and last centres (as xarray's ``.plot()``
    draws them; centres at the edges would shrink the image by (N − 1)/N)."""
    return (*_edges(np.asarray(xs, dtype=float)), *_edges(np.asarray(ys, dtype=float)))


def _as_image(img: Any) -> tuple[np.ndarray, tuple[float, float, float, float] | None]:
    """Array and imshow extent (alpha, beta in M) of a DataArray / tensor / array."""
    extent = None
    if isinstance(img, xr.Dataset):
        img = img["image"]
    if isinstance(img, xr.DataArray):
        dims = [d for d in img.dims]
        if len(dims) == 2:
            ydim, xdim = dims
            extent = pixel_extent(img[xdim].values, img[ydim].values)
        img = img.values
    if hasattr(img, "detach"):
        img = img.detach().cpu().numpy()
    return np.asarray(img, dtype=float), extent


def _show(ax, img, title: str, xlabel="α [M]", ylabel="β [M]", cmap=CMAP, robust=False,
          log=False, vmin=None, vmax=None):  # fmt: skip
    arr, extent = _as_image(img)
    limits: dict[str, Any] = {"vmin": vmin, "vmax": vmax}
    finite = arr[np.isfinite(arr)]
    if robust and finite.size and vmin is None and vmax is None:
        # percentile limits: rays grazing the critical curve reach r_s ~ 10^3 M; they are a
        # few per cent of an n >= 1 ring, so log panels stop at the 95th percentile
        limits = {"vmin": np.percentile(finite, 1), "vmax": np.percentile(finite,
                                                                          95 if log else 99)}
    if log and finite.size and finite.min() > 0:
        lo = limits["vmin"] if limits["vmin"] is not None else finite.min()
        hi = limits["vmax"] if limits["vmax"] is not None else finite.max()
        limits = {"norm": LogNorm(vmin=lo, vmax=max(hi, lo * 1.0001))}
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
    fig = _figure(figsize=(9, 4))
    ax = fig.subplots(1, 2)
    fig.colorbar(_show(ax[0], emission, "emission model", "x [M]", "y [M]"), ax=ax[0],
                 label="emissivity [arb. units]")  # fmt: skip
    fig.colorbar(_show(ax[1], image, "lensed image"), ax=ax[1], label=INTENSITY)
    attrs = getattr(image, "attrs", {})
    title = title or geometry_title(attrs)
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
    suptitle: str | None = None,
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
    suptitle : str, optional
        Figure title (default: spin, inclination and velocity model from the target's attrs).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        Images of different shapes, ``losses`` not a pair, ``titles`` not three.

    Examples
    --------
    >>> import numpy as np
    >>> fig = plot_fit(np.eye(3), np.ones((3, 3)), np.eye(3), losses=(1e-3, 1e-7))
    >>> fig.axes[2].get_title()
    'fitted state (loss=1.00e-07)'
    """
    shapes = [_as_image(img)[0].shape for img in (target, start, fitted)]
    if len(set(shapes)) != 1 or len(shapes[0]) != 2:
        raise ValueError(f"target, start and fitted must be 2-D images of one shape, got "
                         f"shapes {shapes}")  # fmt: skip
    if losses is not None and (isinstance(losses, str) or len(losses) != 2):
        raise ValueError(f"losses must be a pair (start, fitted), got {losses!r}")
    if isinstance(titles, str) or len(titles) != 3:
        raise ValueError(f"titles must be three strings, got {titles!r}")
    fig = _figure(figsize=(12, 4))
    axes = fig.subplots(1, 3)
    labels = list(titles)
    if losses is not None:
        labels[1] = f"{labels[1]} (loss={losses[0]:.2e})"
        labels[2] = f"{labels[2]} (loss={losses[1]:.2e})"
    # one colour scale: every panel carries the target's total flux (the normalised loss
    # leaves the model's flux scale free), shown between the target's min and max
    ref, _ = _as_image(target)
    flux = np.nansum(ref)
    images = [target]
    for img in (start, fitted):
        arr, _ = _as_image(img)
        total = np.nansum(arr)
        images.append(_rescaled(img, flux / total if total and flux else 1.0))
    lo, hi = float(np.nanmin(ref)), float(np.nanmax(ref))
    for ax, img, label in zip(axes, images, labels, strict=True):
        im = _show(ax, img, label, vmin=lo, vmax=hi)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label=f"{INTENSITY}, flux-matched")
    title = suptitle if suptitle is not None else geometry_title(getattr(target, "attrs", {}))
    if title:
        fig.suptitle(title)
    return fig


def _rescaled(img: Any, factor: float) -> Any:
    if isinstance(img, xr.Dataset):
        img = img["image"]
    if isinstance(img, xr.DataArray):
        return img * factor
    arr, _ = _as_image(img)
    return arr * factor


def plot_loss(history: xr.Dataset, *, logy: bool = True) -> Figure:
    """Training loss against step, and beside it the relative residual ``|I - T| / |T|``.

    The normalised MSE scales as 1/N² with the number of pixels N; the relative residual
    (in the history of every :func:`kerrfield.fit`) does not, so it reads the same at any
    resolution.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> h = xr.Dataset({"loss": ("step", np.logspace(0, -3, 10)),
    ...                 "relative_residual": ("step", np.logspace(0, -1, 10))})
    >>> [ax.get_ylabel() for ax in plot_loss(h).axes]
    ['training loss', 'relative residual |I − T| / |T|']
    """
    rel = history.get("relative_residual")
    panels = [("loss", "training loss")]
    if rel is not None and np.isfinite(np.asarray(rel.values)).any():
        panels.append(("relative_residual", "relative residual |I − T| / |T|"))
    fig = _figure(figsize=(6 * len(panels), 4))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (var, label) in zip(axes, panels, strict=True):
        values = np.asarray(history[var].values)
        ax.plot(np.arange(values.size), values, lw=1)
        if logy and np.all(values[np.isfinite(values)] > 0):
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
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
    if not isinstance(history, xr.Dataset) or not {"spin", "inclination"} & set(history):
        raise ValueError("history must be a fit history (xarray.Dataset with 'spin' and/or "
                         "'inclination' per step), e.g. kerrfield.FitResult.history")
    fig = _figure(figsize=(9, 3.5))
    axes = fig.subplots(1, 2)
    for ax, name, label in zip(axes, ("spin", "inclination"), ("spin a/M", "inclination θo [deg]"),
                               strict=True):  # fmt: skip
        if name in history:
            ax.plot(np.asarray(history[name].values), lw=1.2, label="fit")
        if truth and truth.get(name) is not None and np.isfinite(truth[name]):
            ax.axhline(truth[name], color="k", ls="--", lw=1, label="truth")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return fig


def plot_image(image: xr.DataArray, fov: float | None = None) -> Figure:
    """One image: a screen image on ``(beta, alpha)`` in M, titled with its spin and
    inclination attrs, or a sky image on ``(dec, ra)`` in µas (east to the left, as on the
    sky), titled with its θ_g and position angle attrs. ``fov`` (screen only, > 0) zooms to
    the square ±fov M; pixels are drawn at their coordinates, edges half a pixel beyond the
    outer centres.

    Raises
    ------
    TypeError
        ``image`` is not a DataArray.
    ValueError
        Its dims are neither (beta, alpha) nor (dec, ra); ``fov`` is not positive.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ax = np.linspace(-5, 5, 8)
    >>> img = xr.DataArray(np.ones((8, 8)), dims=("beta", "alpha"),
    ...                    coords={"beta": ax, "alpha": ax}, attrs={"spin": 0.5,
    ...                    "inclination": 30.0})
    >>> plot_image(img).axes[0].get_xlabel()
    'α [M]'
    >>> sky = xr.DataArray(np.ones((8, 8)), dims=("dec", "ra"), coords={"dec": 4 * ax,
    ...                    "ra": -4 * ax})
    >>> plot_image(sky).axes[0].get_xlabel()
    'RA offset (east) [µas]'
    """
    from .._validate import check_positive
    from ..io.sky import image_axes

    if not isinstance(image, xr.DataArray):
        raise TypeError("image must be an xarray.DataArray on (beta, alpha) or (dec, ra), got "
                        f"{type(image).__name__}")  # fmt: skip
    _, _, screen = image_axes(image)
    fig = _figure(figsize=(5, 4.3))
    ax = fig.subplots()
    if screen:
        img = image.transpose("beta", "alpha").sortby("beta").sortby("alpha")
        im = ax.imshow(img.values, origin="lower", cmap=CMAP,
                       extent=pixel_extent(img["alpha"].values, img["beta"].values))
        if fov is not None:  # a zoom: the axes show ±fov, the pixels keep their coordinates
            fov = check_positive(fov, "fov")
            ax.set_xlim(-fov, fov)
            ax.set_ylim(-fov, fov)
        ax.set_xlabel("α [M]")
        ax.set_ylabel("β [M]")
        ax.set_title(geometry_title(image.attrs), fontsize=10)
    else:
        img = image.transpose("dec", "ra").sortby("dec").sortby("ra", ascending=False)
        im = ax.imshow(img.values, origin="lower", cmap=CMAP,
                       extent=pixel_extent(img["ra"].values, img["dec"].values))
        ax.set_xlabel("RA offset (east) [µas]")
        ax.set_ylabel("Dec offset [µas]")
        a = image.attrs
        if "theta_g_uas" in a:
            ax.set_title(f"θ_g = {a['theta_g_uas']:.3g} µas, spin axis PA = "
                         f"{a.get('position_angle_deg', 0.0):.0f}°", fontsize=10)  # fmt: skip
    fig.colorbar(im, ax=ax, label=f"intensity [{image.attrs['units']}]"
                 if image.attrs.get("units") not in (None, "arbitrary") else INTENSITY)
    return fig

