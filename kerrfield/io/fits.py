"""FITS images of kerrfield screens: a world coordinate system in sky angles.

Images on ``(beta, alpha)`` in units of M are written with the angle θ_g = GM/(c²D) of one
screen unit (:func:`kerrfield.gravitational_angle`), the projected spin axis at a position
angle east of north, RA increasing to the left (``CDELT1 < 0``, the AIPS convention), and
read back with :func:`from_fits`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from .atomic import atomic_write
from .units import SOURCES, _resolve, _uniform_axis, gravitational_angle

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
    from astropy.io import fits

    if not isinstance(image, xr.DataArray):
        raise TypeError(f"image must be an xarray.DataArray, got {type(image).__name__}")
    if set(image.dims) != {"alpha", "beta"}:
        raise ValueError(
            f"image must have exactly the dimensions ('beta', 'alpha'), got {image.dims}; "
            "select other dimensions (e.g. image.sel(n=0)) first"
        )
    img = image.transpose("beta", "alpha")
    a0, da = _uniform_axis(img["alpha"].values, "alpha")
    b0, db = _uniform_axis(img["beta"].values, "beta")
    theta_g = gravitational_angle(mass, distance, source=source)

    if source is not None:
        ra = SOURCES[source]["ra"] if ra is None else ra
        dec = SOURCES[source]["dec"] if dec is None else dec
    ra = 0.0 if ra is None else float(ra)
    dec = 0.0 if dec is None else float(dec)
    if not -90.0 <= dec <= 90.0:
        raise ValueError(f"dec must lie in [-90, 90] degrees, got {dec}")
    if not np.isfinite(position_angle):
        raise ValueError(f"position_angle must be finite, got {position_angle}")

    data = np.asarray(img.values, dtype=np.float64)
    if total_flux is not None:
        if not (np.isfinite(total_flux) and total_flux > 0):
            raise ValueError(f"total_flux must be finite and > 0 (Jy), got {total_flux}")
        s = float(np.nansum(data))
        if s <= 0:
            raise ValueError("cannot rescale to total_flux: the image sums to <= 0")
        data = data * (total_flux / s)
    if bunit is None:
        bunit = "JY/PIXEL" if total_flux is not None else str(image.attrs.get("units", "arbitrary"))

    hdu = fits.PrimaryHDU(data.astype(np.float32))
    _wcs_cards(hdu.header, a0, da, b0, db, theta_g, position_angle, celestial, ra, dec)
    h = hdu.header
    h["BUNIT"] = bunit
    h["BTYPE"] = "Intensity"
    m_q, d_q = _resolve(mass, distance, source)
    h["MASS"] = (float(m_q.value), "black-hole mass [Msun]")
    h["DISTANCE"] = (float(d_q.value), "distance [Mpc]")
    h["THETAG"] = (float(theta_g.value), "GM/(c^2 D) [uas]: one screen unit M")
    h["BHPA"] = (float(position_angle), "spin-axis position angle [deg E of N]")
    if frequency is not None:
        h["FREQ"] = (float(frequency), "observing frequency [Hz]")
    for key in ("spin", "inclination", "n"):
        val = image.attrs.get(key, image.coords[key].values if key in image.coords else None)
        if val is not None and np.ndim(val) == 0:
            card = {"spin": "SPIN", "inclination": "INCL", "n": "SUBIMG"}[key]
            h[card] = float(val)
    for key, val in (header or {}).items():
        h[str(key)[:8].upper()] = val
    h["ORIGIN"] = "kerrfield"

    out = Path(path)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True to replace it")
    return atomic_write(lambda tmp: hdu.writeto(tmp, overwrite=True), out)


def _wcs_cards(h, a0, da, b0, db, theta_g, position_angle, celestial, ra, dec) -> None:
    """Reference pixel, increments, rotation and axis types of :func:`to_fits`'s WCS."""
    scale_deg = theta_g.to_value(u.deg)
    # Pixel axis 1 = alpha, axis 2 = beta. The intermediate world coordinates are
    # (x, y) = (east offset, north offset) in degrees; for PA = 0, +alpha points west and
    # +beta north, and the rotation turns +beta towards the east by PA.
    pa = np.deg2rad(position_angle)
    c, s_ = np.cos(pa), np.sin(pa)
    # east = -cos(PA) alpha + sin(PA) beta,  north = sin(PA) alpha + cos(PA) beta  (times theta_g)
    h["CRPIX1"] = 1.0 + (0.0 - a0) / da
    h["CRPIX2"] = 1.0 + (0.0 - b0) / db
    h["CDELT1"] = -da * scale_deg  # RA axes conventionally decrease to the right (east left)
    h["CDELT2"] = db * scale_deg
    h["PC1_1"] = c
    h["PC1_2"] = -s_ * db / da
    h["PC2_1"] = s_ * da / db
    h["PC2_2"] = c
    if celestial:
        h["CTYPE1"], h["CTYPE2"] = "RA---SIN", "DEC--SIN"
        h["CRVAL1"], h["CRVAL2"] = ra, dec
        h["RADESYS"] = "ICRS"
        h["OBSRA"], h["OBSDEC"] = ra, dec
    else:
        h["CTYPE1"], h["CTYPE2"] = "OFFSETX", "OFFSETY"
        h["CRVAL1"], h["CRVAL2"] = 0.0, 0.0
    h["CUNIT1"], h["CUNIT2"] = "deg", "deg"


def _read_primary(path: str | os.PathLike[str]) -> tuple[Any, np.ndarray]:
    """Header and 2-D float64 data of the primary HDU; one clear error for a bad file."""
    import warnings

    from astropy.io import fits

    from .readers import CorruptFileError, _corrupt, _existing

    p = _existing(path, "FITS image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=fits.verify.VerifyWarning)
            warnings.filterwarnings("error", message=".*truncated.*")
            with fits.open(p) as hdul:
                h = hdul[0].header
                data = np.asarray(hdul[0].data, dtype=np.float64)
    except Exception as exc:  # astropy: OSError, TypeError 'buffer is too small', warnings
        raise _corrupt(p, "FITS image", exc, "Write it again with kerrfield.to_fits.") from exc
    if data.ndim != 2:
        raise CorruptFileError(f"FITS image {p}: primary HDU holds no 2-D image "
                               f"(shape {data.shape}); not written by kerrfield.to_fits")
    return h, data


def from_fits(path: str | os.PathLike[str]) -> xr.DataArray:
    """Read a FITS image written by :func:`to_fits` back onto ``(beta, alpha)`` in units of M.

    Parameters
    ----------
    path : str or os.PathLike
        A FITS file written by :func:`to_fits` (it needs the ``THETAG`` card and an
        unrotated grid, ``BHPA = 0``, to recover the screen).

    Returns
    -------
    xarray.DataArray
        The image with ``alpha``/``beta`` coordinates in M and the header cards in
        ``attrs``.

    Examples
    --------
    >>> import kerrfield as kf
    >>> img = kf.from_fits("m87.fits")  # doctest: +SKIP
    """
    h, data = _read_primary(path)
    if "THETAG" not in h:
        raise ValueError(f"{path}: no THETAG card; not written by kerrfield.to_fits")
    if float(h.get("BHPA", 0.0)) != 0.0:
        raise ValueError(f"{path}: rotated image (BHPA != 0) cannot be put back on the screen")
    scale_deg = (float(h["THETAG"]) * u.uas).to_value(u.deg)
    ny, nx = data.shape
    da = -float(h["CDELT1"]) / scale_deg
    db = float(h["CDELT2"]) / scale_deg
    alpha = (np.arange(1, nx + 1) - float(h["CRPIX1"])) * da
    beta = (np.arange(1, ny + 1) - float(h["CRPIX2"])) * db
    attrs = {k: h[k] for k in ("BUNIT", "THETAG", "MASS", "DISTANCE") if k in h}
    return xr.DataArray(
        data, dims=("beta", "alpha"), coords={"beta": beta, "alpha": alpha}, attrs=attrs
    )
