"""Writer behind :func:`kerrfield.vlbi.save_uvfits` (AIPS Memo 117 random groups)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.time import Time

from kerrfield.io.atomic import atomic_write

_NEEDED = ("time", "t1", "t2", "u", "v", "vis", "sigma")


def sefd_from_file(sefd: np.ndarray) -> np.ndarray:
    """SEFDs as read (AIPS AN table, ehtim array): 0 means "not known" there, NaN here."""
    sefd = np.asarray(sefd, dtype=float)
    return np.where(sefd > 0, sefd, np.nan)


def sefd_to_file(sefd: np.ndarray) -> np.ndarray:
    """SEFDs to write: NaN ("not known") back to the files' 0."""
    return np.nan_to_num(np.asarray(sefd, dtype=float), nan=0.0)


def check_obs(obs: object, name: str = "obs", needed: tuple[str, ...] = _NEEDED) -> xr.Dataset:
    """Check that ``obs`` is an observation Dataset with the variables ``needed`` and σ > 0.

    Raises
    ------
    TypeError
        If ``obs`` is not an :class:`xarray.Dataset`.
    ValueError
        If a variable is missing, there are no rows, or ``sigma`` is not finite and > 0.
    """
    if not isinstance(obs, xr.Dataset):
        raise TypeError(f"{name} must be an xarray.Dataset from load_uvfits/observe, "
                        f"got {type(obs).__name__}")
    missing = [v for v in needed if v not in obs]
    if missing:
        raise ValueError(f"{name} lacks the variable(s) {missing}")
    if obs.sizes.get("row", 0) == 0:
        raise ValueError(f"{name} has no visibilities (dimension 'row' is empty)")
    if "sigma" in needed:
        s = np.asarray(obs["sigma"].values, float)
        if not np.all(np.isfinite(s) & (s > 0)):
            bad = int(np.sum(~(np.isfinite(s) & (s > 0))))
            raise ValueError(f"{name}.sigma must be finite and > 0; {bad} value(s) are not "
                             "(zero or negative σ would give infinite weight)")
    return obs


def check_single(obs: xr.Dataset, holds: str, verb: str) -> None:
    """ValueError for a joint observation (:func:`~kerrfield.vlbi.concat_observations`, more
    than one ``segment``) given to a format that ``holds`` one observation only; the message
    says to ``verb`` each segment instead."""
    if "segment" in obs and np.unique(obs["segment"].values).size > 1:
        raise ValueError(f"obs joins several observations (concat_observations); {holds}: "
                         f"{verb} each segment, kerrfield.vlbi.select_segment(obs, k)")


def _stations(obs: xr.Dataset) -> tuple[list[str], np.ndarray, np.ndarray]:
    if "station" in obs.coords:
        names = [str(s) for s in obs["station"].values]
    else:
        names = []
    for s in np.concatenate([obs["t1"].values, obs["t2"].values]):
        if str(s) not in names:
            names.append(str(s))
    n = len(names)
    xyz, sefd = np.zeros((n, 3)), np.zeros(n)
    if "station_xyz" in obs:
        m = obs.sizes["station"]
        xyz[:m] = obs["station_xyz"].values
    if "sefd" in obs:
        sefd[: obs.sizes["station"]] = sefd_to_file(obs["sefd"].values)
    return names, xyz, sefd


def _an_table(names, xyz, sefd, subarray: int, freq: float, date: str) -> fits.BinTableHDU:
    n = len(names)
    cols = [
        fits.Column("ANNAME", "8A", array=np.array(names)),
        fits.Column("STABXYZ", "3D", unit="METERS", array=xyz),
        fits.Column("ORBPARM", "0D", array=np.zeros((n, 0))),
        fits.Column("NOSTA", "1J", array=np.arange(1, n + 1)),
        fits.Column("MNTSTA", "1J", array=np.zeros(n, int)),
        fits.Column("STAXOF", "1E", unit="METERS", array=np.zeros(n)),
        fits.Column("POLTYA", "1A", array=np.array(["R"] * n)),
        fits.Column("POLAA", "1E", unit="DEGREES", array=np.zeros(n)),
        fits.Column("POLCALA", "3E", array=np.zeros((n, 3))),
        fits.Column("POLTYB", "1A", array=np.array(["L"] * n)),
        fits.Column("POLAB", "1E", unit="DEGREES", array=np.full(n, 90.0)),
        fits.Column("POLCALB", "3E", array=np.zeros((n, 3))),
        fits.Column("SEFD", "1D", array=sefd),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="AIPS AN")
    h = hdu.header
    h["EXTVER"] = subarray
    for key, val in (("ARRAYX", 0.0), ("ARRAYY", 0.0), ("ARRAYZ", 0.0), ("RDATE", date),
                     ("GSTIA0", 0.0), ("DEGPDY", 360.9856), ("UT1UTC", 0.0), ("DATUTC", 0.0),
                     ("TIMESYS", "UTC"), ("FREQ", freq), ("POLARX", 0.0), ("POLARY", 0.0),
                     ("ARRNAM", "VLBA"), ("XYZHAND", "RIGHT"), ("FRAME", "????"),
                     ("NUMORB", 0), ("NO_IF", 1), ("NOPCAL", 0), ("POLTYPE", "VLBI"),
                     ("FREQID", 1)):
        h[key] = val
    return hdu


def _primary(obs: xr.Dataset, names: list[str], freq: float, mjd: int) -> fits.GroupsHDU:
    nvis = obs.sizes["row"]
    index = {s: i + 1 for i, s in enumerate(names)}
    a1 = np.array([index[str(s)] for s in obs["t1"].values])
    a2 = np.array([index[str(s)] for s in obs["t2"].values])
    sub = np.asarray(obs["subarray"].values, int) if "subarray" in obs else np.ones(nvis, int)
    baseline = 256 * a1 + a2 + (sub - 1) / 100.0
    vis = np.asarray(obs["vis"].values, complex)
    w = 0.5 / np.asarray(obs["sigma"].values, float) ** 2
    data = np.zeros((nvis, 1, 1, 1, 1, 4, 3), np.float32)
    for p in (0, 1):
        data[:, 0, 0, 0, 0, p] = np.stack([vis.real, vis.imag, w], axis=-1)
    jd0 = 2400000.5 + mjd
    frac = np.asarray(obs["time"].values, float) / 24.0
    tint = np.asarray(obs["tint"].values, float) if "tint" in obs else np.zeros(nvis)
    wcol = np.asarray(obs["w"].values, float) if "w" in obs else np.zeros(nvis)
    parnames = ["UU---SIN", "VV---SIN", "WW---SIN", "BASELINE", "DATE", "DATE", "INTTIM"]
    # raw u, v, w in wavelengths with PSCAL = 1/ν (light seconds on reading), as AIPS writes
    # them. astropy's GroupData(parbscales=...) garbles the values, so the scales go into the
    # header after the raw values are in place.
    pardata = [np.asarray(obs["u"].values, float), np.asarray(obs["v"].values, float),
               wcol, baseline, np.full(nvis, jd0), frac, tint]
    gd = fits.GroupData(data, parnames=parnames, pardata=pardata, bitpix=-32)
    hdu = fits.GroupsHDU(gd)
    h = hdu.header
    for j in (1, 2, 3):
        h[f"PSCAL{j}"] = 1.0 / freq
    ra, dec = float(obs.attrs.get("ra", 0.0)), float(obs.attrs.get("dec", 0.0))
    date = Time(mjd, format="mjd").isot[:10]
    for key, val in (("OBSRA", ra), ("OBSDEC", dec),
                     ("OBJECT", str(obs.attrs.get("source", "")) or "UNKNOWN"), ("MJD", float(mjd)),
                     ("DATE-OBS", date), ("BSCALE", 1.0), ("BZERO", 0.0), ("BUNIT", "JY"),
                     ("VELREF", 3), ("EQUINOX", "J2000"), ("ALTRPIX", 1.0), ("ALTRVAL", 0.0),
                     ("TELESCOP", str(obs.attrs.get("telescope", "")) or "VLBA"),
                     ("INSTRUME", str(obs.attrs.get("instrument", "")) or "VLBA"),
                     ("OBSERVER", "kerrfield")):
        h[key] = val
    bw = float(obs.attrs.get("bandwidth", 0.0)) or 1.0
    axes = [("COMPLEX", 1.0, 1.0), ("STOKES", -1.0, -1.0), ("FREQ", freq, bw), ("IF", 1.0, 1.0),
            ("RA", ra, 1.0), ("DEC", dec, 1.0)]
    for j, (ctype, crval, cdelt) in enumerate(axes, start=2):
        h[f"CTYPE{j}"], h[f"CRVAL{j}"], h[f"CDELT{j}"] = ctype, crval, cdelt
        h[f"CRPIX{j}"], h[f"CROTA{j}"] = 1.0, 0.0
    return hdu


def write_uvfits(obs: xr.Dataset, path: str | os.PathLike) -> Path:
    """See :func:`kerrfield.vlbi.save_uvfits`."""
    check_obs(obs)
    check_single(obs, "a uvfits file holds one", "write")
    freq = float(obs.attrs.get("frequency", np.nan))
    if not np.isfinite(freq) or freq <= 0:
        raise ValueError(f"obs.attrs['frequency'] must be a positive frequency in Hz, got {freq}")
    if "mjd" in obs.attrs:
        mjd = int(obs.attrs["mjd"])
    else:
        raise ValueError("obs.attrs['mjd'] (integer MJD of the observing day) is missing")
    names, xyz, sefd = _stations(obs)
    date = Time(mjd, format="mjd").isot[:10]
    hdus = [_primary(obs, names, freq, mjd)]
    subs = np.unique(obs["subarray"].values) if "subarray" in obs else [1]
    for s in range(1, int(max(subs)) + 1):
        hdus.append(_an_table(names, xyz, sefd, s, freq, date))
    fq = fits.BinTableHDU.from_columns(
        [fits.Column("FRQSEL", "1J", array=[1]), fits.Column("IF FREQ", "1D", array=[0.0]),
         fits.Column("CH WIDTH", "1E", array=[float(obs.attrs.get("bandwidth", 0.0))]),
         fits.Column("TOTAL BANDWIDTH", "1E", array=[float(obs.attrs.get("bandwidth", 0.0))]),
         fits.Column("SIDEBAND", "1J", array=[1])], name="AIPS FQ")
    fq.header["NO_IF"] = 1
    hdus.append(fq)
    hdul = fits.HDUList(hdus)
    return atomic_write(lambda tmp: hdul.writeto(tmp, output_verify="exception"), path)
