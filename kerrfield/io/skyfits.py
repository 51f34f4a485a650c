"""FITS sky images the AIPS/ehtim way: RA to the left (CDELT1 < 0), north up, no rotation.

Written images follow ehtim's ``save_im_fits`` layout (``RA---SIN``/``DEC--SIN``, CDELT1 =
−pixel, CDELT2 = +pixel, CRPIX at the image centre, ``BUNIT = JY/PIXEL``, ``OBJECT``,
``MJD``, ``FREQ``) so ehtim, AIPS, DS9 and astropy all read the same sky: any position angle
is applied to the *pixels* (tools such as ehtim ignore PC/CROTA rotation cards). The exact
pixel coordinates are also stored in two small extensions (``RA_UAS``, ``DEC_UAS``) so that
:func:`read_fits_image` returns precisely the coordinates that were written.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.time import Time

from .._validate import check_sky_placement
from .atomic import atomic_write
from .sky import SKY_DIMS, image_axes, label_sky, sky_image

__all__ = ["read_fits_image", "write_fits_image"]

UAS_PER_DEG = 3600.0 * 1e6


def write_fits_image(image: xr.DataArray, path: str | os.PathLike, *,
                     theta_g: float | None = None, position_angle: float = 0.0,
                     flux: float | None = None, source: str = "", ra: float = 0.0,
                     dec: float = 0.0, frequency: float | None = None,
                     mjd: float | None = None, header: Mapping[str, object] | None = None,
                     overwrite: bool = False) -> Path:
    """Write a sky image (or a screen image placed on the sky) as an ehtim-style FITS file.

    Parameters
    ----------
    image : xarray.DataArray
        Sky image on ``("dec", "ra")`` in µas offsets (Jy/pixel), or a screen image on
        ``("beta", "alpha")`` in M, which is first resampled north-up with
        :func:`~kerrfield.io.sky.sky_image` (then ``theta_g`` is required and
        ``position_angle`` is the spin axis' PA east of north).
    path : str or os.PathLike
        Destination, written atomically.
    theta_g, position_angle, flux
        See :func:`~kerrfield.io.sky.sky_image`; ``flux`` rescales sky images too.
    source : str
        ``OBJECT`` card (e.g. ``'M87'``).
    ra, dec : float
        Phase centre in degrees (``CRVAL1/2``, ``OBSRA/OBSDEC``).
    frequency : float, optional
        Observing frequency in Hz (``FREQ``).
    mjd : float, optional
        Modified Julian date of the image (``MJD`` and ``DATE-OBS``).
    header : mapping, optional
        Extra header cards (keys upper-cased, at most 8 characters).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        Bad dims or pixel scale, a screen image without ``theta_g``, non-square pixels,
        ``theta_g`` not finite and > 0, ``flux`` not finite and >= 0, ``position_angle`` not
        finite.
    """
    theta_g, position_angle, flux = check_sky_placement(theta_g, position_angle, flux)
    a, b, screen = image_axes(image)
    if screen:
        if theta_g is None:
            raise ValueError("theta_g (µas per M) is required to put a screen image on the sky")
        image = sky_image(image, theta_g, position_angle, flux)
        a, b, _ = image_axes(image)
    elif flux is not None:
        image = image * (float(flux) / float(image.sum()))
    img = image.transpose(*SKY_DIMS).sortby("dec").sortby("ra", ascending=False)
    ra_uas = np.asarray(img["ra"].values, float)
    dec_uas = np.asarray(img["dec"].values, float)
    step = float(dec_uas[1] - dec_uas[0])
    ra_step = float(ra_uas[0] - ra_uas[1])
    if not np.isclose(ra_step, step, rtol=1e-6) and "alpha" not in img.coords:
        # an unrotated screen keeps its own (possibly unequal) pixel sides; ehtim reads square
        # pixels only
        raise ValueError("image: pixels must be square (equal ra and dec spacing)")
    out = Path(path)
    if out.exists() and not overwrite:
        raise FileExistsError(f"path: {out} exists; pass overwrite=True to replace it")
    h = fits.Header()
    h["OBJECT"] = source or "UNKNOWN"
    h["CTYPE1"], h["CTYPE2"] = "RA---SIN", "DEC--SIN"
    h["CDELT1"], h["CDELT2"] = -ra_step / UAS_PER_DEG, step / UAS_PER_DEG
    # ra(i) = CDELT1·(i − CRPIX1), i from 1; rounded so a centred grid reads N/2 + 0.5
    h["CRPIX1"] = round(1.0 + float(ra_uas[0]) / ra_step, 9)
    h["CRPIX2"] = round(1.0 - float(dec_uas[0]) / step, 9)
    h["CRVAL1"], h["CRVAL2"] = float(ra), float(dec)
    h["CUNIT1"], h["CUNIT2"] = "deg", "deg"
    h["OBSRA"], h["OBSDEC"] = float(ra), float(dec)
    h["RADESYS"], h["EQUINOX"] = "ICRS", 2000.0
    if frequency is not None:
        h["FREQ"] = (float(frequency), "observing frequency [Hz]")
    if mjd is not None:
        h["MJD"] = (float(mjd), "modified Julian date")
        h["DATE-OBS"] = Time(float(mjd), format="mjd").isot
    h["TELESCOP"], h["BUNIT"], h["STOKES"] = "VLBI", "JY/PIXEL", "I"
    # the same cards and comments as kerrfield.io.fits.to_fits writes for screen images
    for key, card, comment in (("theta_g_uas", "THETAG", "GM/(c^2 D) [uas]: one screen unit M"),
                               ("position_angle_deg", "BHPA",
                                "spin-axis position angle [deg E of N]")):  # fmt: skip
        if key in image.attrs:
            h[card] = (float(image.attrs[key]), comment)
    for key, val in (header or {}).items():
        h[str(key)[:8].upper()] = val
    h["ORIGIN"] = "kerrfield"
    hdus = [fits.PrimaryHDU(np.asarray(img.values, np.float64), header=h),
            fits.ImageHDU(ra_uas, name="RA_UAS"), fits.ImageHDU(dec_uas, name="DEC_UAS")]
    if "alpha" in img.coords and "beta" in img.coords:  # exact screen axes (PA = 0)
        hdus += [fits.ImageHDU(np.asarray(img["alpha"].values, float), name="ALPHA_M"),
                 fits.ImageHDU(np.asarray(img["beta"].values, float), name="BETA_M")]
    hdul = fits.HDUList(hdus)
    return atomic_write(lambda tmp: hdul.writeto(tmp, output_verify="exception"), out)


def _axis(h: fits.Header, j: int, n: int, path: Path) -> np.ndarray:
    if f"CDELT{j}" not in h or float(h[f"CDELT{j}"]) == 0.0:
        raise ValueError(f"path: {path} has no pixel scale (CDELT{j} missing or zero)")
    return (np.arange(1, n + 1) - float(h.get(f"CRPIX{j}", (n + 1) / 2))) * float(
        h[f"CDELT{j}"]) * UAS_PER_DEG


def _read_hdus(path: Path) -> tuple[Any, Any, dict[str, np.ndarray]]:
    """Primary header and data and the coordinate extensions; a truncated or corrupt file
    raises one :class:`~kerrfield.io.readers.CorruptFileError` naming it."""
    import warnings

    from .readers import _corrupt

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=fits.verify.VerifyWarning)
            warnings.filterwarnings("error", message=".*truncated.*")
            with fits.open(path, memmap=False) as hdul:
                h = hdul[0].header
                data = hdul[0].data
                extra = {n: np.asarray(hdul[n].data, float)
                         for n in ("RA_UAS", "DEC_UAS", "ALPHA_M", "BETA_M") if n in hdul}
    except Exception as exc:  # astropy: OSError, TypeError 'buffer is too small', warnings
        raise _corrupt(path, "FITS image", exc, "Write it again (kerrfield.to_fits).") from exc
    return h, data, extra


def read_fits_image(path: str | os.PathLike) -> xr.DataArray:
    """Read a FITS sky image (ehtim/AIPS/kerrfield) onto ``("dec", "ra")`` in µas.

    Parameters
    ----------
    path : str or os.PathLike
        2-D image, or with degenerate leading axes (Stokes, frequency), with
        ``CDELT1/2`` in degrees and axes along RA and Dec (no rotation).

    Returns
    -------
    xarray.DataArray
        The image on ``("dec", "ra")``, in Jy/pixel (``attrs["units"]``) where ``BUNIT``
        is a flux density (``JY/BEAM`` converted with BMAJ, BMIN), else in the file's
        ``BUNIT`` as written; ``ra`` is the east offset (decreasing along the
        columns when CDELT1 < 0), attrs ``source``, ``ra``, ``dec`` (deg), ``frequency``,
        ``mjd`` where present; for images written from a screen at PA = 0 also the exact
        screen axes as coordinates ``alpha`` (on ra) and ``beta`` (on dec), in M.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file; no image data, no pixel scale, a rotated grid, or ``JY/BEAM`` without
        beam size.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no FITS image at {path}")
    h, data, extra = _read_hdus(path)
    if data is None:
        raise ValueError(f"path: {path} has no image in its primary HDU")
    if h.get("GROUPS"):  # random groups: visibilities, not an image
        raise ValueError(f"path: {path} is a uvfits (random-groups) file of visibilities, "
                         "not a FITS image; read it with kerrfield.load_uvfits")
    data = np.asarray(data, float)
    data = data.reshape(data.shape[-2:]) if data.ndim > 2 and np.prod(
        data.shape[:-2]) == 1 else (data[(0,) * (data.ndim - 2)] if data.ndim > 2 else data)
    if data.ndim != 2:
        raise ValueError(f"path: {path} image has shape {data.shape}, not 2-D")
    if any(float(h.get(k, 0.0)) != 0.0 for k in ("CROTA1", "CROTA2", "PC1_2", "PC2_1")) or (
            "CD1_1" in h):
        raise ValueError(f"path: {path} has a rotated or CD-matrix pixel grid; only "
                         "RA/Dec-aligned grids (CDELT1/CDELT2) are supported")
    ny, nx = data.shape
    ra_uas = extra.get("RA_UAS", _axis(h, 1, nx, path))
    dec_uas = extra.get("DEC_UAS", _axis(h, 2, ny, path))
    raw_unit = str(h.get("BUNIT", "JY/PIXEL")).strip()
    bunit = raw_unit.upper()
    if "BEAM" in bunit:
        if "BMAJ" not in h or "BMIN" not in h:
            raise ValueError(f"path: {path} is in {bunit} without BMAJ/BMIN to convert to Jy/pixel")
        beam = np.pi * float(h["BMAJ"]) * float(h["BMIN"]) / (4.0 * np.log(2.0))
        data = data * abs(float(h["CDELT1"]) * float(h["CDELT2"])) / beam
    # Jy/pixel for flux densities (Jy/beam converted above); any other BUNIT, e.g. the
    # arbitrary intensity of a model image written without total_flux, is kept as written
    units = "Jy/pixel" if bunit.replace(" ", "") in ("JY/PIXEL", "JY/PIX", "JY") or (
        "BEAM" in bunit) else raw_unit
    attrs = {"units": units, "source": str(h.get("OBJECT", "")).strip(),
             "ra": float(h.get("OBSRA", h.get("CRVAL1", 0.0))),
             "dec": float(h.get("OBSDEC", h.get("CRVAL2", 0.0)))}
    for key, card in (("frequency", "FREQ"), ("mjd", "MJD"), ("theta_g_uas", "THETAG"),
                      ("position_angle_deg", "BHPA")):
        if card in h:
            attrs[key] = float(h[card])
    coords = {"dec": dec_uas, "ra": ra_uas}
    if "ALPHA_M" in extra and "BETA_M" in extra:
        coords.update(alpha=("ra", extra["ALPHA_M"]), beta=("dec", extra["BETA_M"]))
    return label_sky(xr.DataArray(data, dims=SKY_DIMS, coords=coords, attrs=attrs))
