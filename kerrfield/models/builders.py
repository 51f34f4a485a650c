"""Building and rendering lensed image models: screens, fixed and differentiable geometries.

:func:`fixed_image_model` wraps crossings precomputed by any backend (a
:func:`kerrfield.raytrace` Dataset); :func:`kerr_image_model` re-traces spin and inclination
every call through :func:`kerrfield.trace_rays`. :func:`render` images a field at any spin,
inclination and resolution; :func:`psnr` compares images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from .._validate import (
    check_device,
    check_npoints,
    check_orders,
    check_positive,
    warn_if_radians,
)
from ..physics._memory import check_trace_memory
from ..physics._spec import spec_from_attrs
from .lensed import _GEOMETRY_VARS, LensedImage, _image_dataarray

__all__ = ["screen", "fixed_image_model", "kerr_image_model", "render", "psnr"]


def screen(
    fov: float = 10.0, npix: int = 64, dtype: torch.dtype = torch.float64, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The default regular screen ``alpha = beta = linspace(-fov, fov, npix)`` (in M).

    Examples
    --------
    >>> a, b = screen(10.0, 30)
    >>> float(a[0]), float(a[-1]), len(b)
    (-10.0, 10.0, 30)
    """
    fov = check_positive(fov, "fov")
    npix = check_npoints(npix, "npix", minimum=2)
    a = torch.linspace(-fov, fov, npix, dtype=dtype, device=device)
    return a, a.clone()


def fixed_image_model(
    field: nn.Module,
    geometry: xr.Dataset,
    *,
    k: float = 1.0,
    orders: Sequence[int] | None = None,
    beam_fwhm: float | None = None,
    device: torch.device | str | None = None,
) -> LensedImage:
    """Lensed image model on a precomputed (fixed) geometry.

    Parameters
    ----------
    field : nn.Module
        Emission field taking ``(N, d)`` coordinates in M (``d = field.in_features``).
    geometry : xarray.Dataset
        Output of :func:`kerrfield.raytrace` (any backend) with dims ``(n, beta, alpha)``
        and variables ``x, y, g, status`` (plus ``r_s, theta_s`` for 3-D fields).
    k : float
        Redshift power: the image is ``sum_n g_n**k * f``.
    orders : sequence of int, optional
        Image orders to sum (subset of ``geometry.n``); all by default.
    beam_fwhm : float, optional
        FWHM (M) of a circular Gaussian telescope beam applied to the model image.
    device : torch device, optional
        Where to put the model (the geometry is moved there once).

    Returns
    -------
    LensedImage

    Examples
    --------
    >>> import kerrfield as kf
    >>> ds = kf.raytrace(0.94, 20.0, npix=16)  # doctest: +SKIP
    >>> model = kf.fixed_image_model(kf.EmissionField(seed=0), ds)  # doctest: +SKIP
    >>> model.image().shape  # doctest: +SKIP
    torch.Size([16, 16])
    """
    if not isinstance(geometry, xr.Dataset):
        raise TypeError(f"geometry must be an xarray.Dataset, got {type(geometry).__name__}")
    missing = [v for v in _GEOMETRY_VARS if v not in geometry]
    if missing:
        raise ValueError(f"geometry is missing variables {missing}")
    avail = [int(n) for n in np.atleast_1d(geometry["n"].values)] if "n" in geometry.dims else [0]
    orders = tuple(avail if orders is None else check_orders(orders))
    try:
        surface, velocity = spec_from_attrs(dict(geometry.attrs))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"geometry attrs: unreadable surface/velocity ({exc})") from None
    bad = [n for n in orders if n not in avail]
    if bad:
        raise ValueError(f"orders {bad} not in the geometry (it has n = {avail})")
    ds = geometry.sel(n=list(orders)) if "n" in geometry.dims else geometry.expand_dims(n=[0])
    ds = ds.transpose("n", "beta", "alpha")
    n_ord = len(orders)

    def flat(name, fill=np.nan):
        arr = ds[name].values if name in ds else np.full(ds["x"].shape, fill)
        return torch.tensor(np.array(arr).reshape(n_ord, -1))

    status = flat("status").to(torch.int64)
    valid = status == 0
    if "r_s" in ds and "theta_s" in ds:
        z = flat("r_s") * torch.cos(flat("theta_s"))
    else:
        z = torch.zeros_like(flat("x"))
    geo = {"x": flat("x"), "y": flat("y"), "z": z, "g": flat("g"), "status": status}
    for name in ("x", "y", "g"):
        if not torch.isfinite(geo[name][valid]).all():
            raise ValueError(f"geometry variable {name!r} is not finite where status == 0")
    alpha = torch.tensor(np.asarray(ds["alpha"].values, dtype=np.float64))
    beta = torch.tensor(np.asarray(ds["beta"].values, dtype=np.float64))
    model = LensedImage(
        field, alpha, beta, k=k, orders=orders, kind="fixed",
        spin=float(geometry.attrs.get("spin", math.nan)),
        inclination=float(geometry.attrs.get("inclination", math.nan)),
        surface=surface, velocity=velocity, geometry=geo, beam_fwhm=beam_fwhm,
    )  # fmt: skip
    return model.to(check_device(device)) if device is not None else model


def kerr_image_model(
    field: nn.Module,
    spin: float = 0.5,
    inclination: float = 60.0,
    *,
    fov: float = 10.0,
    npix: int = 30,
    alpha: torch.Tensor | np.ndarray | None = None,
    beta: torch.Tensor | np.ndarray | None = None,
    k: float = 1.0,
    orders: Sequence[int] = (0, 1),
    surface: str = "equatorial",
    velocity: str = "zamo",
    learn_geometry: bool = True,
    spin_bound: float = 0.999,
    relinearize_every: int = 1,
    trust_radius: float = 1.0,
    relinearize_tol: tuple[float, float] | None = None,
    sensitivity_cut: tuple[float, float] | None = None,
    beam_fwhm: float | None = None,
    device: torch.device | str | None = None,
) -> LensedImage:
    """Differentiable lensed image model: spin and inclination re-ray-traced every call.

    ``spin = spin_bound * tanh(u)`` and ``inclination = 180° * sigmoid(v)`` with ``u, v``
    trainable (``learn_geometry=True``), so Adam can never leave the physical range.

    Parameters
    ----------
    field : nn.Module
        Emission field taking coordinates in M.
    spin : float
        Initial dimensionless spin ``a/M`` in ``(-spin_bound, spin_bound)``.
    inclination : float
        Initial observer inclination in degrees, in ``(0, 180)``.
    fov, npix : float, int
        Default screen ``alpha = beta = linspace(-fov, fov, npix)`` (in M).
    alpha, beta : array-like, optional
        Explicit regular screen axes (in M), overriding ``fov``/``npix``.
    k : float
        Redshift power in ``sum_n g_n**k f``.
    orders : sequence of int
        Image orders (0 = direct, 1 = first photon-ring image, ...).
    surface, velocity : str
        Passed to :func:`kerrfield.trace_rays`.
    learn_geometry : bool
        Make spin and inclination trainable (else fixed buffers, still traced).
    spin_bound : float
        Bound of the spin reparametrisation.
    relinearize_every : int
        1 (default): every training call re-traces the rays exactly, with autograd through
        :func:`kerrfield.trace_rays`. ``K > 1``: the crossings and redshifts are traced
        exactly every ``K`` training calls together with their finite-difference Jacobian
        in (spin, inclination), and in between follow the first-order expansion around
        that point (gradients to spin and inclination flow through the Jacobian). Values
        are exact at each re-linearisation, so a converged fit sits at a stationary point
        of the exact loss; the ray tracer then costs ~3 untracked traces per ``K`` steps.
        Evaluation without gradients (``to_xarray``, ``render``) always traces exactly.
    trust_radius : float
        Soft bound (M) on the linear change of ``x, y, z`` between re-linearisations
        (0.1 for ``g``), taming pixels near the critical curve.
    relinearize_tol : (float, float), optional
        ``(spin, inclination in degrees)``: also re-linearise as soon as the geometry has
        moved further than this from the last exact trace, so ``relinearize_every`` can be
        large once the fit settles.
    sensitivity_cut : (float, float), optional
        ``(M per unit spin, M per degree)``: pixels whose crossing moves faster than this
        (next to the critical curve, unresolved by the screen) keep their exact values but
        get no Jacobian, i.e. do not steer spin and inclination (linearised mode only).
    beam_fwhm : float, optional
        FWHM (M) of a circular Gaussian telescope beam applied to the model image
        (differentiable; see :func:`kerrfield.models.forward.gaussian_beam`).
    device : torch device, optional

    Returns
    -------
    LensedImage

    Examples
    --------
    >>> import kerrfield as kf
    >>> model = kf.kerr_image_model(kf.EmissionField(seed=0), 0.5, 60.0, npix=30)
    >>> round(model.spin.item(), 6), round(model.inclination.item(), 6)
    (0.5, 60.0)
    """
    if isinstance(inclination, (int, float)):
        warn_if_radians(float(inclination))
    if alpha is None or beta is None:
        npix = check_npoints(npix, "npix", minimum=2)
        # the whole screen is traced at once: refuse before allocating it
        check_trace_memory(npix, npix, len(check_orders(orders)))
        a, b = screen(fov, npix)
        alpha = a if alpha is None else alpha
        beta = b if beta is None else beta
    # a copy for arrays (xarray's .values may be read-only, which torch warns about)
    alpha, beta = (t.to(torch.float64) if isinstance(t, torch.Tensor) else
                   torch.tensor(np.asarray(t, dtype=np.float64)) for t in (alpha, beta))
    model = LensedImage(
        field, alpha, beta, k=k, orders=orders, kind="kerr", spin=spin,
        inclination=inclination, learn_geometry=learn_geometry,
        spin_bound=spin_bound, surface=surface, velocity=velocity,
        relinearize_every=relinearize_every, trust_radius=trust_radius,
        relinearize_tol=relinearize_tol, sensitivity_cut=sensitivity_cut, beam_fwhm=beam_fwhm,
    )  # fmt: skip
    return model.to(check_device(device)) if device is not None else model


@torch.no_grad()
def render(
    field: nn.Module,
    spin: float,
    inclination: float,
    *,
    fov: float = 10.0,
    npix: int = 128,
    k: float = 1.0,
    orders: Sequence[int] | None = None,
    surface: str = "equatorial",
    velocity: str = "zamo",
    geometry: xr.Dataset | None = None,
    beam_fwhm: float | None = None,
    chunk: int = 65536,
    device: torch.device | str | None = None,
) -> xr.DataArray:
    """Render a (fitted) emission field at any resolution, spin or inclination.

    Parameters
    ----------
    field : nn.Module
        Emission field.
    spin, inclination : float
        Geometry (inclination in degrees); ignored when ``geometry`` is given.
    fov, npix : float, int
        Screen half-width (M) and pixels per side.
    k, surface, velocity
        As in :func:`kerr_image_model`.
    orders : sequence of int, optional
        Image orders; by default all of ``geometry``'s orders, or ``(0, 1)`` when tracing.
    geometry : xarray.Dataset, optional
        Precomputed geometry to render on instead of ray tracing.
    beam_fwhm : float, optional
        FWHM (M) of a Gaussian telescope beam applied to the image.
    chunk : int
        Pixels evaluated per call (>= 1), bounding memory at large ``npix``.
    device : torch device, optional

    Returns
    -------
    xarray.DataArray
        Image on ``(beta, alpha)`` with ``spin``, ``inclination``, ``k`` attrs.

    Examples
    --------
    >>> import kerrfield as kf
    >>> img = kf.render(kf.EmissionField(seed=0), 0.94, 20.0, npix=64)  # doctest: +SKIP
    >>> img.shape  # doctest: +SKIP
    (64, 64)
    """
    chunk = check_npoints(chunk, "chunk")
    if device is not None:
        device = check_device(device)
        field = field.to(device)
    if geometry is not None:
        model = fixed_image_model(field, geometry, k=k, orders=orders, beam_fwhm=beam_fwhm,
                                  device=device)  # fmt: skip
    else:
        model = kerr_image_model(
            field, spin, inclination, fov=fov, npix=npix, k=k,
            orders=(0, 1) if orders is None else orders, surface=surface, velocity=velocity,
            learn_geometry=False, beam_fwhm=beam_fwhm, device=device,
        )  # fmt: skip
    was_training = field.training
    field.eval()
    idx = torch.arange(model.npix, device=model.pix_alpha.device)
    if model.beam_fwhm:  # the beam couples pixels: one full image
        flat = model()
    else:
        flat = torch.cat([model(i) for i in torch.split(idx, chunk)])
    field.train(was_training)
    img = flat.reshape(model.shape).cpu().numpy()
    return _image_dataarray(
        img, model.alpha.cpu().numpy(), model.beta.cpu().numpy(), "image",
        spin=model.spin.item(), inclination=model.inclination.item(), k=float(k),
        orders=list(model.orders), beam_fwhm=model.beam_fwhm,
    )  # fmt: skip


def psnr(
    image: Any, reference: Any, *, normalize: bool = False, data_range: float | None = None
) -> float:
    """Peak signal-to-noise ratio ``10 log10(range^2 / MSE)`` in dB.

    Parameters
    ----------
    image, reference : array-like, torch.Tensor or xarray.DataArray
        Images of equal shape (DataArrays must share their ``alpha``/``beta`` coordinates).
    normalize : bool
        Rescale ``image`` to the total flux of ``reference`` first (for fits with the
        scale-free normalised loss).
    data_range : float, optional
        Peak-to-peak range; ``max(reference) - min(reference)`` by default.

    Returns
    -------
    float
        PSNR in dB (``inf`` for identical images).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.ones((4, 4)); ref[0, 0] = 0.0
    >>> round(psnr(ref + 0.01, ref), 3)
    40.0
    """
    a = _as_numpy("image", image, reference)
    b = _as_numpy("reference", reference, None)
    if a.shape != b.shape:
        raise ValueError(f"image shape {a.shape} differs from reference shape {b.shape}")
    if a.size == 0:
        raise ValueError("image and reference are empty")
    if normalize:
        if a.sum() == 0 or b.sum() == 0:
            raise ValueError("normalize=True needs a non-zero total flux in image and "
                             f"reference (sums {a.sum():g}, {b.sum():g})")
        a = a * (b.sum() / a.sum())
    rng = float(b.max() - b.min()) if data_range is None else float(data_range)
    if not rng > 0:
        raise ValueError("reference has zero dynamic range; pass data_range")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(rng**2 / mse)


def _as_numpy(name, value, other) -> np.ndarray:
    if isinstance(value, xr.DataArray) and isinstance(other, xr.DataArray):
        for c in ("alpha", "beta"):
            if c not in value.coords or c not in other.coords:
                continue
            va, vb = value[c].values, other[c].values
            if va.shape != vb.shape or not np.allclose(va, vb):
                raise ValueError(f"{name} and reference are on different screens ({c} differs)")
    if isinstance(value, xr.DataArray):
        value = value.values
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr
