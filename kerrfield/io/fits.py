"""FITS images of kerrfield screens, written so that EHT tools (ehtim, AIPS) read the same sky.

Images on ``(beta, alpha)`` in units of M are placed on the sky with the angle θ_g = GM/(c²D)
of one screen unit (:func:`kerrfield.gravitational_angle`) and the projected spin axis at a
position angle east of north; the rotation is applied to the *pixels* (ehtim ignores PC and
CROTA cards), RA increases to the left (``CDELT1 < 0``, the AIPS convention) and
:func:`from_fits` returns exactly the screen coordinates written. The sky layer is
:mod:`kerrfield.io.skyfits`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits

from .skyfits import read_fits_image, write_fits_image
from .units import SOURCES, _resolve, _uniform_axis, gravitational_angle, source_name

__all__ = ["to_fits", "from_fits"]


def to_fits(
    image: xr.DataArray,
    path: str | os.PathLike[str],
    mass: Any | None = None,
    distance: Any | None = None,
    *,
    source: str | None = None,
    ra: float | None = None,
    dec: float | None = None,
    position_angle: float = 0.0,
    celestial: bool = True,
    total_flux: float | None = None,
    bunit: str | None = None,
    frequency: float | None = None,
    mjd: float | None = None,
    header: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an image on ``(beta, alpha)`` to a FITS file with a WCS in sky angles.

    The observer's screen is mapped to the sky with the projected spin axis (``+beta``) at
    ``position_angle`` east of north and ``+alpha`` towards the west for
    ``position_angle = 0`` (astronomical images show east to the left, so the picture
    looks as it does in kerrfield's own plots). Pixel ``(i, j)`` of the FITS array is
    ``image.sel(beta=beta[j], alpha=alpha[i])``.

    Parameters
    ----------
    image : xarray.DataArray
        2-D image with uniformly spaced, increasing ``alpha`` and ``beta`` coordinates in
        units of M (any dimension order; other dimensions must be selected away first).
    path : str or os.PathLike
        Output file (``.fits``).
    mass, distance, source
        As in :func:`gravitational_angle`. With ``source`` the sky position defaults to
        the source's (RA, Dec).
    ra, dec : float, optional
        Reference sky position of the black hole in degrees (default 0, 0).
        ``dec`` must lie in [-90, 90].
    position_angle : float
        Position angle of the projected spin axis, degrees east of north.
    celestial : bool
        ``True`` writes ``RA---SIN``/``DEC--SIN`` axes; ``False`` plain angular offsets
        (``OFFSETX``/``OFFSETY`` in degrees, zero at the black hole).
    total_flux : float, optional
        Rescale the image so that its pixel sum is ``total_flux`` (Jy); ``BUNIT`` then
        defaults to ``"JY/PIXEL"``.
    bunit : str, optional
        ``BUNIT`` header value (default: ``"JY/PIXEL"`` with ``total_flux``, else the
        image's ``attrs["units"]`` or ``"arbitrary"``).
    frequency : float, optional
        Observing frequency in Hz, stored as ``FREQ``.
    mjd : float, optional
        Modified Julian date, stored as ``MJD`` and ``DATE-OBS``.
    header : mapping, optional
        Extra header cards (keys up to 8 characters).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> import numpy as np, xarray as xr, kerrfield as kf
    >>> ax = np.linspace(-10, 10, 32)
    >>> img = xr.DataArray(np.random.rand(32, 32), dims=("beta", "alpha"),
    ...                    coords={"beta": ax, "alpha": ax})
    >>> path = kf.to_fits(img, "m87.fits", source="M87", total_flux=0.6,
    ...                   overwrite=True)  # doctest: +SKIP
    """
    if not isinstance(image, xr.DataArray):
        raise TypeError(f"image must be an xarray.DataArray, got {type(image).__name__}")
    if set(image.dims) != {"alpha", "beta"}:
        raise ValueError(
            f"image must have exactly the dimensions ('beta', 'alpha'), got {image.dims}; "
            "select other dimensions (e.g. image.sel(n=0)) first"
        )
    img = image.transpose("beta", "alpha")
    _uniform_axis(img["alpha"].values, "alpha")
    _uniform_axis(img["beta"].values, "beta")
    theta_g = gravitational_angle(mass, distance, source=source)
    if source is not None:
        source = source_name(source)
        ra = SOURCES[source]["ra"] if ra is None else ra
        dec = SOURCES[source]["dec"] if dec is None else dec
    ra = 0.0 if ra is None else float(ra)
    dec = 0.0 if dec is None else float(dec)
    if not -90.0 <= dec <= 90.0:
        raise ValueError(f"dec must lie in [-90, 90] degrees, got {dec}")
    if not np.isfinite(position_angle):
        raise ValueError(f"position_angle must be finite, got {position_angle}")
    if total_flux is not None:
        if not (np.isfinite(total_flux) and total_flux > 0):
            raise ValueError(f"total_flux must be finite and > 0 (Jy), got {total_flux}")
        if float(np.nansum(img.values)) <= 0:
            raise ValueError("cannot rescale to total_flux: the image sums to <= 0")
    if bunit is None:
        bunit = "JY/PIXEL" if total_flux is not None else str(image.attrs.get("units", "arbitrary"))
    m_q, d_q = _resolve(mass, distance, source)
    cards: dict[str, Any] = {
        "BUNIT": bunit, "BTYPE": "Intensity",
        "MASS": (float(m_q.value), "black-hole mass [Msun]"),
        "DISTANCE": (float(d_q.value), "distance [Mpc]"),
        "THETAG": (float(theta_g.value), "GM/(c^2 D) [uas]: one screen unit M"),
        "BHPA": (float(position_angle), "spin-axis position angle [deg E of N]"),
    }  # fmt: skip
    for key, card in (("spin", "SPIN"), ("inclination", "INCL"), ("n", "SUBIMG")):
        val = image.attrs.get(key, image.coords[key].values if key in image.coords else None)
        if val is not None and np.ndim(val) == 0:
            cards[card] = float(val)
    if not celestial:  # plain angular offsets from the black hole
        cards.update(CTYPE1="OFFSETX", CTYPE2="OFFSETY", CRVAL1=0.0, CRVAL2=0.0)
    cards.update({str(k)[:8].upper(): v for k, v in (header or {}).items()})
    return write_fits_image(
        img, path, theta_g=float(theta_g.to_value(u.uas)), position_angle=position_angle,
        flux=total_flux, source=source or "", ra=ra, dec=dec, frequency=frequency, mjd=mjd,
        header=cards, overwrite=overwrite,
    )  # fmt: skip


def from_fits(path: str | os.PathLike[str]) -> xr.DataArray:
    """Read a FITS image written by :func:`to_fits` back onto ``(beta, alpha)`` in units of M.

    Parameters
    ----------
    path : str or os.PathLike
        A FITS file written by :func:`to_fits` at ``position_angle = 0`` (rotated images are
        sky images; read them with :func:`kerrfield.io.skyfits.read_fits_image`).

    Returns
    -------
    xarray.DataArray
        The image with exactly the ``alpha``/``beta`` coordinates written (M) and the header
        cards in ``attrs``.

    Raises
    ------
    ValueError
        The file has no screen coordinates (not written by :func:`to_fits` at PA 0).

    Examples
    --------
    >>> import kerrfield as kf
    >>> img = kf.from_fits("m87.fits")  # doctest: +SKIP
    """
    sky = read_fits_image(path)
    if "alpha" not in sky.coords or "beta" not in sky.coords:
        raise ValueError(
            f"{path}: no screen coordinates (a rotated image, BHPA != 0, or not written by "
            "kerrfield.to_fits); read it as a sky image with kerrfield.read_fits_image"
        )
    with fits.open(path) as hdul:
        h = hdul[0].header
        attrs = {k: h[k] for k in ("BUNIT", "THETAG", "MASS", "DISTANCE") if k in h}
    img = sky.swap_dims(ra="alpha", dec="beta").drop_vars(["ra", "dec"])
    img = img.transpose("beta", "alpha").sortby("alpha").sortby("beta")
    img.attrs = {**sky.attrs, **attrs}
    return img
