"""Read uvfits files (AIPS random-groups format) into an :class:`xarray.Dataset` of visibilities.

Conventions follow AIPS Memo 117 (Greisen 2016, "The FITS interferometry data interchange
format") and ehtim's ``load_obs_uvfits``: u, v are stored in light seconds (``PSCAL = 1/ν``)
and are returned in wavelengths at the reference frequency; the baseline code is
``256·ant1 + ant2 + (subarray − 1)/100``; the date is the sum of the ``DATE`` parameters
(Julian date); visibilities are in Jy with weights 1/σ².
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits

from kerrfield.vlbi._uvfits_write import sefd_from_file

__all__ = ["load_uvfits", "save_uvfits"]

_UU = ("UU---SIN", "UU", "UU--")
_VV = ("VV---SIN", "VV", "VV--")
_WW = ("WW---SIN", "WW", "WW--")
#: Stokes codes of the FITS standard (Greisen & Calabretta 2002, Table 7)
STOKES_CODES = {1: "I", 2: "Q", 3: "U", 4: "V", -1: "RR", -2: "LL", -3: "RL", -4: "LR",
                -5: "XX", -6: "YY", -7: "XY", -8: "YX"}


def _par_index(names: list[str], choices: tuple[str, ...], path: Path) -> int:
    upper = [n.upper().strip() for n in names]
    for c in choices:
        if c in upper:
            return upper.index(c)
    raise ValueError(f"path: {path} has no random-group parameter {choices[0]!r} "
                     f"(parameters present: {names}); not a uvfits visibility file")


def _axis_values(header: fits.Header, name: str) -> tuple[int, np.ndarray] | None:
    """FITS axis number and world values of the data axis whose CTYPE starts with ``name``."""
    for j in range(2, int(header["NAXIS"]) + 1):
        if str(header.get(f"CTYPE{j}", "")).strip().upper().startswith(name):
            n = int(header[f"NAXIS{j}"])
            crval = float(header.get(f"CRVAL{j}", 0.0))
            cdelt = float(header.get(f"CDELT{j}", 1.0))
            crpix = float(header.get(f"CRPIX{j}", 1.0))
            return j, crval + (np.arange(n) + 1 - crpix) * cdelt
    return None


def _read_antennas(hdul: fits.HDUList, path: Path) -> list[dict]:
    """One dict per AN table (sub-array): names, NOSTA numbers, STABXYZ and SEFD."""
    tables = [h for h in hdul[1:] if str(h.header.get("EXTNAME", "")).strip() == "AIPS AN"]
    if not tables:
        raise ValueError(f"path: {path} has no 'AIPS AN' antenna table, so the station names "
                         "of the baselines are unknown")
    out = []
    for k, t in enumerate(tables):
        cols = [c.upper() for c in t.columns.names]
        if "ANNAME" not in cols:
            raise ValueError(f"path: {path} AN table {k + 1} has no ANNAME column")
        d = t.data
        n = len(d)
        names = [str(s).strip() for s in d["ANNAME"]]
        nosta = np.asarray(d["NOSTA"], int) if "NOSTA" in cols else np.arange(1, n + 1)
        xyz = (np.asarray(d["STABXYZ"], float).reshape(n, 3) if "STABXYZ" in cols
               else np.zeros((n, 3)))
        sefd = (sefd_from_file(np.asarray(d["SEFD"], float).reshape(n)) if "SEFD" in cols
                else np.full(n, np.nan))
        out.append({"subarray": int(t.header.get("EXTVER", k + 1)), "names": names,
                    "nosta": nosta, "xyz": xyz, "sefd": sefd})
    return out


def _stokes_i(data: np.ndarray, header: fits.Header, path: Path):
    """Weighted Stokes I over pols/IFs/channels: (vis, total weight, nan-only mask, pol names)."""
    naxis = int(header["NAXIS"])
    st = _axis_values(header, "STOKES")
    if st is None:
        raise ValueError(f"path: {path} has no STOKES axis in its data")
    j, codes = st
    pols = [STOKES_CODES.get(int(round(c)), str(c)) for c in codes]
    use = ["I"] if "I" in pols else [p for p in ("RR", "LL", "XX", "YY") if p in pols]
    if not use:
        raise ValueError(f"path: {path} holds polarisations {pols}, none of which give Stokes I")
    arr = np.moveaxis(data, 1 + naxis - j, -2)  # (N, ..., stokes, complex)
    arr = arr.reshape(arr.shape[0], -1, arr.shape[-2], arr.shape[-1])
    sel = arr[:, :, [pols.index(p) for p in use], :].astype(np.float64)
    re, im, w = sel[..., 0], sel[..., 1], sel[..., 2]
    finite = np.isfinite(re) & np.isfinite(im)
    good = (w > 0) & np.isfinite(w) & finite
    nan_only = ~np.any(good, axis=(1, 2)) & np.any((w > 0) & np.isfinite(w), axis=(1, 2))
    w = np.where(good, w, 0.0)
    wsum = w.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        vis = (np.where(good, re + 1j * im, 0.0) * w).sum(axis=(1, 2)) / wsum
    return vis, wsum, nan_only, use


def _header_attrs(header: fits.Header, hdul: fits.HDUList) -> dict:
    ra = _axis_values(header, "RA")
    dec = _axis_values(header, "DEC")
    freq = _axis_values(header, "FREQ")
    j_freq = freq[0] if freq else None
    attrs = {
        "source": str(header.get("OBJECT", "")).strip(),
        "ra": float(header.get("OBSRA", ra[1][0] if ra else np.nan)),
        "dec": float(header.get("OBSDEC", dec[1][0] if dec else np.nan)),
        "frequency": float(header[f"CRVAL{j_freq}"]) if j_freq else np.nan,
        "bandwidth": float(abs(header.get(f"CDELT{j_freq}", np.nan))) if j_freq else np.nan,
        "telescope": str(header.get("TELESCOP", "")).strip(),
        "instrument": str(header.get("INSTRUME", "")).strip(),
    }
    if "AIPS FQ" in hdul and "TOTAL BANDWIDTH" in hdul["AIPS FQ"].columns.names:
        attrs["bandwidth"] = float(np.sum(hdul["AIPS FQ"].data["TOTAL BANDWIDTH"][0]))
    return {**attrs, **OBS_ATTR_UNITS}


#: units of an observation's numeric attrs, stored beside them (``attrs["ra_units"]``, ...)
OBS_ATTR_UNITS = {"ra_units": "deg", "dec_units": "deg", "frequency_units": "Hz",
                  "bandwidth_units": "Hz"}


def _baselines(groups, names: list[str], path: Path):
    ib = _par_index(names, ("BASELINE",), path)
    code = np.asarray(groups.par(ib), np.float64)
    big = code >= 65536  # AIPS convention for > 255 antennas: 2048·a1 + a2 + 65536
    icode = np.floor(code + 1e-6).astype(np.int64)
    a1 = np.where(big, (icode - 65536) // 2048, icode // 256)
    a2 = np.where(big, (icode - 65536) % 2048, icode % 256)
    sub = np.rint((code - icode) * 100).astype(int) + 1
    if "SUBARRAY" in [n.upper() for n in names]:
        sub = np.asarray(groups.par(names.index("SUBARRAY")), int)
    return a1, a2, sub


def _station_lookup(antennas: list[dict], a1, a2, sub, path: Path):
    """Union station table and per-row union indices of both antennas."""
    union: list[str] = []
    xyz, sefd = [], []
    lookup = {}
    for tab in antennas:
        for name, no, p, s in zip(tab["names"], tab["nosta"], tab["xyz"], tab["sefd"],
                                  strict=True):
            if name not in union:
                union.append(name)
                xyz.append(p)
                sefd.append(s)
            lookup[(tab["subarray"], int(no))] = union.index(name)
    i1 = np.empty(len(a1), int)
    i2 = np.empty(len(a1), int)
    for k, (x, y, s) in enumerate(zip(a1, a2, sub, strict=True)):
        try:
            i1[k], i2[k] = lookup[(int(s), int(x))], lookup[(int(s), int(y))]
        except KeyError as err:
            raise ValueError(f"path: {path} row {k} refers to antenna {err} (sub-array, "
                             "number) missing from the AN tables") from None
    return union, np.array(xyz, float).reshape(-1, 3), np.array(sefd, float), i1, i2


def _check_complete(hdul: fits.HDUList, path: Path) -> None:
    """ValueError when the file ends before the data its headers promise (a cut download):
    astropy only warns, and the read fails later on a reshape that names neither."""
    size = path.stat().st_size
    for hdu in hdul:
        info = hdu.fileinfo()
        need = info["datLoc"] + info["datSpan"] if info else 0
        if need > size:
            raise ValueError(f"path: {path} is truncated: its headers promise at least {need} "
                             f"bytes, the file has {size} (an interrupted download or copy?)")


def load_uvfits(path: str | os.PathLike) -> xr.Dataset:
    """Read a uvfits file into an :class:`xarray.Dataset` with one row per visibility.

    Parallel hands (RR and LL, or XX and YY; or Stokes I directly) and all IFs and channels
    are combined into Stokes I by the inverse-variance weighted mean, ``I = Σ wV / Σ w`` and
    ``σ = (Σ w)^(-1/2)`` (for RR and LL of equal weight this is ``(RR + LL)/2`` with the
    propagated σ, as ehtim's ``load_obs_uvfits`` does). Records with no positive weight
    (flagged), with only NaN values, and autocorrelations are dropped and counted in the
    attributes. Baselines are ordered so that t1 comes before t2 in the station table
    (conjugating ``vis`` and flipping ``u, v`` where needed).

    Parameters
    ----------
    path : str or os.PathLike
        The uvfits file (AIPS random groups with an ``AIPS AN`` table per sub-array).

    Returns
    -------
    xarray.Dataset
        Dimension ``row`` (one visibility each) with variables ``time`` (hours UTC since
        0 h of the day ``attrs['mjd']``), ``mjd`` (full MJD, days), ``t1``, ``t2`` (station
        names), ``u``, ``v`` (wavelengths), ``vis`` (complex, Jy), ``sigma`` (Jy), ``tint`` (s) and
        ``subarray``; dimension ``station`` with ``station_xyz`` (m, geocentric STABXYZ) and
        ``sefd`` (Jy, NaN when unknown: no SEFD column, or 0 in the file). Attributes:
        ``source``, ``ra``, ``dec`` (deg), ``frequency``, ``bandwidth`` (Hz), ``mjd``,
        ``telescope``, ``polarizations``, ``n_records``, ``n_flagged``, ``n_nan``,
        ``n_autocorrelations``, ``n_conjugated``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not random groups, lacks the AN table, a u/v/baseline/date parameter
        or a Stokes axis, or if every record is flagged.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike (a .uvfits file), got "
                        f"{type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no uvfits file at {path}")
    try:
        hdul = fits.open(path, memmap=False)
    except OSError as exc:  # astropy: "No SIMPLE card found, this file does not appear..."
        if exc.errno is not None:  # a real I/O error (permissions, a failing disk) stays one
            raise
        # astropy's own hint (ignore_missing_simple=True) is no kerrfield option: say what is
        hint = (" (an observation saved as netCDF is read with kerrfield.load_observation)"
                if path.suffix.lower() in (".nc", ".nc4", ".h5", ".cdf") else "")
        raise ValueError(f"path: {path} is not a FITS file: it does not start with the "
                         f"SIMPLE card every FITS file begins with{hint}") from None
    with hdul:
        _check_complete(hdul, path)
        if not isinstance(hdul[0], fits.GroupsHDU):
            raise ValueError(f"path: {path} is not a random-groups (uvfits) FITS file")
        header = hdul[0].header
        groups = hdul[0].data
        names = list(groups.parnames)
        antennas = _read_antennas(hdul, path)
        attrs = _header_attrs(header, hdul)
        iu, iv = _par_index(names, _UU, path), _par_index(names, _VV, path)
        dates = [i for i, n in enumerate(names) if n.upper().strip() == "DATE"]
        if not dates:
            raise ValueError(f"path: {path} has no DATE random-group parameter")
        jd = sum(np.asarray(groups.par(i), np.float64) for i in dates)
        u = np.asarray(groups.par(iu), np.float64) * attrs["frequency"]
        v = np.asarray(groups.par(iv), np.float64) * attrs["frequency"]
        tint = (np.asarray(groups.par(names.index("INTTIM")), np.float64)
                if "INTTIM" in names else np.zeros(len(jd)))
        a1, a2, sub = _baselines(groups, names, path)
        vis, wsum, nan_only, pols = _stokes_i(np.asarray(groups.data), header, path)
    union, xyz, sefd, i1, i2 = _station_lookup(antennas, a1, a2, sub, path)
    auto = i1 == i2
    keep = (wsum > 0) & ~auto
    n_rec = len(keep)
    if not np.any(keep):
        hands = "/".join(pols)
        raise ValueError(f"path: all {n_rec} records of {path} are flagged (no positive "
                         f"weight in {hands}, the polarisations that give Stokes I; cross "
                         "hands are not used) or autocorrelations; nothing to load")  # fmt: skip
    conj = i1 > i2
    vis = np.where(conj, np.conj(vis), vis)
    u, v = np.where(conj, -u, u), np.where(conj, -v, v)
    i1, i2 = np.where(conj, i2, i1), np.where(conj, i1, i2)
    mjd_full = jd - 2400000.5
    day = int(np.floor(mjd_full[keep].min()))
    names_arr = np.array(union, dtype=object)
    k = keep
    ds = xr.Dataset(
        {
            "time": ("row", (mjd_full[k] - day) * 24.0, {"units": "hours UTC"}),
            "mjd": ("row", mjd_full[k], {"units": "d"}),
            "t1": ("row", names_arr[i1[k]].astype(str)),
            "t2": ("row", names_arr[i2[k]].astype(str)),
            "u": ("row", u[k], {"units": "wavelengths"}),
            "v": ("row", v[k], {"units": "wavelengths"}),
            "vis": ("row", vis[k], {"units": "Jy"}),
            "sigma": ("row", 1.0 / np.sqrt(wsum[k]), {"units": "Jy"}),
            "tint": ("row", tint[k], {"units": "s"}),
            "subarray": ("row", sub[k]),
            "station_xyz": (("station", "xyz"), xyz, {"units": "m"}),
            "sefd": ("station", sefd, {"units": "Jy"}),
        },
        coords={"station": np.array(union, dtype=str), "xyz": ["x", "y", "z"]},
        attrs={**attrs, "mjd": day, "polarizations": ",".join(pols), "n_records": n_rec,
               "n_flagged": int(np.sum((wsum <= 0) & ~auto & ~nan_only)),
               "n_nan": int(np.sum(nan_only & ~auto)), "n_autocorrelations": int(auto.sum()),
               "n_conjugated": int(np.sum(conj & keep)), "file": path.name},
    )
    return ds


def save_uvfits(obs: xr.Dataset, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write an observation (as returned by :func:`load_uvfits`) to a uvfits file, atomically.

    Stokes I is written as RR = LL = I with weights ``1/(2σ²)`` each and RL, LR with zero
    weight, as in the EHT 2017 release, so AIPS, ehtim and :func:`load_uvfits` read back
    ``vis`` and ``sigma`` exactly (to float32). One AN table per sub-array.

    Parameters
    ----------
    obs : xarray.Dataset
        Observation with the variables of :func:`load_uvfits`.
    path : str or os.PathLike
        Destination; written to a temporary file first and moved into place.
    overwrite : bool
        Replace an existing file (as :func:`kerrfield.write_fits_image`); default False.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        If a needed variable is missing, ``sigma`` is not finite and > 0, or ``obs`` joins
        several observations (:func:`~kerrfield.vlbi.concat_observations`).
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    from kerrfield.vlbi._uvfits_write import write_uvfits

    if Path(path).exists() and not overwrite:
        raise FileExistsError(f"path: {path} exists; pass overwrite=True to replace it")

    return write_uvfits(obs, path)
