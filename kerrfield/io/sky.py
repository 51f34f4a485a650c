"""Placing an image on the sky: angular scale θ_g, position angle and total flux.

Sky images are :class:`xarray.DataArray` objects on dimensions ``("dec", "ra")`` whose
coordinates are offsets from the phase centre in µas: ``ra`` is the eastward offset
(ΔRA·cos δ, east positive), ``dec`` the northward offset. kerrfield screen images are on
``("beta", "alpha")`` in units of M; with the projected spin axis (+β) at position angle
PA east of north and +α towards the west at PA = 0 (docs/conventions.md), the map to the
sky is

    east  = θ_g (−cos PA · α + sin PA · β)
    north = θ_g ( sin PA · α + cos PA · β)

with θ_g = GM/(c²D) (EHT Collaboration 2019, Paper VI, Eq. 1).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import xarray as xr

from kerrfield._validate import check_sky_placement

__all__ = ["FITS_OVERSAMPLE", "MUAS_TO_RAD", "image_axes", "sky_image", "sky_matrix",
           "theta_g_uas"]

#: One microarcsecond in radians
MUAS_TO_RAD = math.pi / (180.0 * 3600.0 * 1e6)
#: ``sky_image(oversample=...)`` of the FITS files kerrfield writes from screen images: on
#: an M87 April 6 fit (40² screen, PA 100°) their visibilities are within 7e-5 Jy of the
#: model's and the closure-phase χ² within 0.02 % (bilinear at the screen's resolution:
#: +31 %)
FITS_OVERSAMPLE = 8
#: point samples per output pixel and axis of the box-pixel (``oversample``) resampling
_SUB = 4

SKY_DIMS = ("dec", "ra")
SCREEN_DIMS = ("beta", "alpha")


def theta_g_uas(mass: Any = 6.5e9, distance: Any = 16.8) -> float:
    """Angular gravitational radius θ_g = GM/(c²D) in µas.

    Parameters
    ----------
    mass : float or astropy.units.Quantity
        Black-hole mass; a bare number is in solar masses (default: M87*, 6.5e9, Paper VI).
    distance : float or astropy.units.Quantity
        Distance; a bare number is in Mpc (default: M87, 16.8 Mpc).

    Returns
    -------
    float
        θ_g in µas (3.8 µas for the defaults).

    Raises
    ------
    ValueError
        If mass or distance is not finite and > 0 or has the wrong physical type.
    TypeError
        If either is neither a number nor a Quantity.

    Examples
    --------
    >>> round(theta_g_uas(6.5e9, 16.8), 2)
    3.82
    """
    from astropy import constants as c
    from astropy import units as u

    from .units import _quantity

    m = _quantity(mass, u.Msun, "mass", "mass")
    d = _quantity(distance, u.Mpc, "distance", "length")
    theta = (c.G * m / (c.c**2 * d)).to(u.dimensionless_unscaled).value
    return float(theta / MUAS_TO_RAD)


def sky_matrix(theta_g: float | torch.Tensor = 1.0,
               position_angle: float | torch.Tensor = 0.0,
               screen: bool = True) -> torch.Tensor:
    """2×2 matrix M with (east, north) [µas] = M @ (a, b) for image axes (a, b).

    For a screen image (a, b) = (α, β) in M: ``M = θ_g [[−cos PA, sin PA], [sin PA, cos PA]]``.
    For a sky image (a, b) = (ra, dec) in µas, rotated by PA east of north and scaled by
    ``theta_g`` (1 = unchanged): ``M = θ_g [[cos PA, sin PA], [−sin PA, cos PA]]``.

    Parameters
    ----------
    theta_g : float or torch.Tensor
        µas per image unit (θ_g for screens; a scale factor for sky images).
    position_angle : float or torch.Tensor
        Degrees east of north; tensors keep the graph (θ_g and PA can be fitted).
    screen : bool
        Whether the image axes are the screen's (α, β).

    Returns
    -------
    torch.Tensor
        Shape (2, 2).
    """
    tg = torch.as_tensor(theta_g, dtype=torch.float64)
    pa = torch.deg2rad(torch.as_tensor(position_angle, dtype=tg.dtype if not isinstance(
        position_angle, torch.Tensor) else position_angle.dtype))
    c, s = torch.cos(pa), torch.sin(pa)
    if screen:
        rows = [torch.stack([-c, s]), torch.stack([s, c])]
    else:
        rows = [torch.stack([c, s]), torch.stack([-s, c])]
    return torch.stack(rows) * tg


def image_axes(image: xr.DataArray, name: str = "image") -> tuple[np.ndarray, np.ndarray, bool]:
    """Column and row coordinates of a screen or sky image and whether it is a screen.

    Returns
    -------
    a, b : numpy.ndarray
        Coordinates along the columns (α or ra) and rows (β or dec), uniformly spaced.
    screen : bool
        True for ``("beta", "alpha")`` images (units of M), False for ``("dec", "ra")``.

    Raises
    ------
    ValueError
        If the dimensions are neither, a coordinate is missing (no pixel scale), or the
        spacing is not uniform.
    """
    dims = tuple(image.dims)
    if set(dims) == set(SCREEN_DIMS):
        screen, (rows, cols) = True, SCREEN_DIMS
    elif set(dims) == set(SKY_DIMS):
        screen, (rows, cols) = False, SKY_DIMS
    else:
        raise ValueError(f"{name} must be on dims ('beta', 'alpha') in units of M or "
                         f"('dec', 'ra') in µas, got {dims}")
    out = []
    for d in (cols, rows):
        if d not in image.coords:
            raise ValueError(f"{name} has no coordinate {d!r}, so its pixel scale is unknown")
        x = np.asarray(image[d].values, float)
        step = np.diff(x)
        if x.size < 2 or not np.all(np.isfinite(x)) or np.any(step == 0) or not np.allclose(
                step, step[0], rtol=1e-6, atol=0):
            raise ValueError(f"{name} coordinate {d!r} must be uniformly spaced (pixel scale)")
        out.append(x)
    return out[0], out[1], screen


def sky_image(image: xr.DataArray, theta_g: float, position_angle: float = 0.0,
              flux: float | None = None, npix: int | None = None,
              fov: float | None = None, oversample: int | None = None) -> xr.DataArray:
    """Resample a screen image (units of M) onto a north-up sky grid in µas.

    Parameters
    ----------
    image : xarray.DataArray
        On ``("beta", "alpha")``.
    theta_g : float
        µas per M.
    position_angle : float
        Position angle of the projected spin axis, degrees east of north.
    flux : float, optional
        Total flux in Jy; the output is scaled so its pixels sum to it (Jy/pixel).
    npix : int, optional
        Output pixels per side (default: the input's).
    fov : float, optional
        Output field of view in µas (default: the input's width times θ_g).
    oversample : int, optional
        Instead of ``npix``/``fov``: a grid ``oversample`` times finer than the screen's
        pixels that covers the whole rotated screen, filled with the screen's own box
        pixels (nearest-neighbour). Its visibilities are those of the screen image (the
        fitted model's) up to the staircase of the rotated pixel edges: use it for FITS
        files that others evaluate or fit (kerrfield writes :data:`FITS_OVERSAMPLE`). Bilinear
        resampling, the default, smooths the image, and a rotated screen loses its corners.

    Returns
    -------
    xarray.DataArray
        On ``("dec", "ra")`` with ``ra`` *decreasing* (east to the left, as displayed),
        attrs ``theta_g_uas``, ``position_angle_deg``. Bilinear resampling (nearest with
        ``oversample``); zero beyond the screen's outer pixel edges. At PA = 0 without
        ``npix``/``fov``/``oversample`` the pixels are kept exactly (ra = −θ_g α,
        dec = θ_g β) and the screen axes ride along as coordinates ``alpha``, ``beta``.

    Raises
    ------
    ValueError
        Not a screen image; ``theta_g`` missing, not finite or <= 0; ``flux`` not finite
        and >= 0; ``position_angle`` not finite; an image that sums to <= 0 with ``flux``;
        ``oversample`` not an int >= 1, or given with ``npix`` or ``fov``.
    """
    from scipy.ndimage import map_coordinates

    tg, position_angle, flux = check_sky_placement(theta_g, position_angle, flux)
    if tg is None:
        raise ValueError("theta_g (µas per M) is required to put a screen image on the sky")
    theta_g = tg
    a, b, screen = image_axes(image)
    if not screen:
        raise ValueError("image must be a screen image on ('beta', 'alpha') in units of M")
    img = image.transpose(*SCREEN_DIMS).values.astype(float)
    if oversample is None and npix is None and fov is None and \
            float(position_angle) % 360.0 == 0.0:  # fmt: skip
        return _unrotated(img, a, b, theta_g, flux)
    order = 1
    if oversample is not None:
        if not (isinstance(oversample, int) and not isinstance(oversample, bool)
                and oversample >= 1) or npix is not None or fov is not None:
            raise ValueError(f"oversample must be an int >= 1 and replaces npix and fov, got "
                             f"oversample={oversample!r}, npix={npix!r}, fov={fov!r}")
        rad = np.deg2rad(float(position_angle))
        cover = abs(np.cos(rad)) + abs(np.sin(rad))  # the rotated square's bounding box
        n_screen = int(np.ceil(max(img.shape) * cover - 1e-9))
        n, order = n_screen * oversample, 0
        width = n_screen * abs(a[1] - a[0]) * theta_g
    else:
        n = int(npix or max(img.shape))
        width = float(fov) if fov is not None else (a[-1] - a[0] + a[1] - a[0]) * theta_g
    step = width / n
    ra = (np.arange(n)[::-1] - (n - 1) / 2) * step
    dec = (np.arange(n) - (n - 1) / 2) * step
    # nearest (box pixels) is point-sampled SUB x SUB times per output pixel and averaged,
    # so a pixel cut by a rotated screen-pixel edge takes its share of both sides
    sub = _SUB if order == 0 else 1
    fine = (np.arange(n * sub) - (n * sub - 1) / 2) * step / sub
    east, north = np.meshgrid(fine[::-1], fine)
    m_inv = np.linalg.inv(sky_matrix(theta_g, position_angle).numpy())
    alpha = m_inv[0, 0] * east + m_inv[0, 1] * north
    beta = m_inv[1, 0] * east + m_inv[1, 1] * north
    # one dark pixel around the screen: a point within half a pixel outside the outer
    # centres still lies in the edge pixel (scipy's cval would drop it)
    ia, ib = (alpha - a[0]) / (a[1] - a[0]) + 1, (beta - b[0]) / (b[1] - b[0]) + 1
    out = map_coordinates(np.pad(np.nan_to_num(img), 1), [ib, ia], order=order, cval=0.0)
    out = out.reshape(n, sub, n, sub).mean(axis=(1, 3))
    # conserve surface brightness × pixel area: Jy/pixel scales with the pixel area ratio
    out *= step**2 / abs((a[1] - a[0]) * (b[1] - b[0]) * theta_g**2)
    if flux is not None:
        total = out.sum()
        if not total > 0:
            raise ValueError("cannot scale to flux: the image sums to <= 0 on the sky grid")
        out *= flux / total
    return label_sky(xr.DataArray(out, dims=SKY_DIMS, coords={"dec": dec, "ra": ra},
                                  attrs={"units": "Jy/pixel" if flux is not None else "arbitrary",
                                         "theta_g_uas": float(theta_g),
                                         "position_angle_deg": float(position_angle)}))


def label_sky(image: xr.DataArray) -> xr.DataArray:
    """Set the units and names of a sky image's coordinates (in place; returns it): ``ra``
    and ``dec`` offsets in µas, and the screen ``alpha``/``beta`` in M where present."""
    image["ra"].attrs.update(units="µas", long_name="RA offset (east)")
    image["dec"].attrs.update(units="µas", long_name="Dec offset (north)")
    for c in ("alpha", "beta"):
        if c in image.coords:
            image[c].attrs.update(units="M")
    return image


def _unrotated(img: np.ndarray, a: np.ndarray, b: np.ndarray, theta_g: float,
               flux: float | None) -> xr.DataArray:
    """PA = 0: the screen pixels are sky pixels (ra = −θ_g α, dec = θ_g β); no resampling."""
    out = np.nan_to_num(img)
    if flux is not None:
        total = out.sum()
        if not total > 0:
            raise ValueError("cannot scale to flux: the image sums to <= 0")
        out = out * (flux / total)
    return label_sky(xr.DataArray(
        out, dims=SKY_DIMS,
        coords={"dec": b * theta_g, "ra": -a * theta_g, "beta": ("dec", b), "alpha": ("ra", a)},
        attrs={"units": "Jy/pixel" if flux is not None else "arbitrary",
               "theta_g_uas": float(theta_g), "position_angle_deg": 0.0}))
