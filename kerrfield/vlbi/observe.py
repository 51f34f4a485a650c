"""Synthetic observations: an image seen with a real (u, v) coverage or a station array.

Baseline coordinates follow the uvfits convention (antenna 1 minus antenna 2, AIPS Memo
117) with Thompson, Moran & Swenson (2017) Eq. 4.1 for the projection:

    u = ( sin H·Bx + cos H·By) / λ
    v = (−sin δ cos H·Bx + sin δ sin H·By + cos δ·Bz) / λ

with H the Greenwich hour angle of the source (Greenwich mean sidereal time minus the
J2000 RA: (u, v, w) in the J2000 frame, which reproduces the u, v of the EHT 2017 files to a
median 4e-6 and at most 1.3e-4 of the baseline length) and B = r₁ − r₂ in geocentric (ITRF)
metres. The thermal noise of a
baseline is σ = √(SEFD₁ SEFD₂ / (2 Δν τ)) / η with η = 0.88 for 2-bit sampling (TMS Eq.
6.50; the per-component σ of a complex visibility).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from kerrfield._validate import check_sky_placement
from kerrfield.io.sky import MUAS_TO_RAD
from kerrfield.vlbi._uvfits_write import check_obs
from kerrfield.vlbi.closures import scans
from kerrfield.vlbi.combine import segment_of
from kerrfield.vlbi.uvfits import OBS_ATTR_UNITS
from kerrfield.vlbi.visibilities import visibilities

__all__ = ["array_obs", "observe", "uv_from_stations"]

C_LIGHT = 299792458.0
ETA_QUANT = 0.88


def _hour_angle(mjd: np.ndarray, ra: float, dec: float) -> tuple[np.ndarray, np.ndarray]:
    """Greenwich hour angle and declination (radians) at UTC MJDs (J2000 frame)."""
    from astropy import units as u
    from astropy.time import Time
    from astropy.utils import iers

    iers.conf.auto_download = False
    mjd = np.asarray(mjd, float)
    uniq, inv = np.unique(mjd, return_inverse=True)
    t = Time(uniq, format="mjd", scale="utc")
    gmst = t.sidereal_time("mean", "greenwich").to_value(u.rad)[inv].reshape(mjd.shape)
    return gmst - np.deg2rad(ra), np.full(mjd.shape, np.deg2rad(dec))


def uv_from_stations(xyz1: np.ndarray, xyz2: np.ndarray, mjd: np.ndarray, ra: float,
                     dec: float, frequency: float) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) in wavelengths of baselines r₁ − r₂ (metres, shape (N, 3)) at UTC MJDs (N,).

    Returns
    -------
    u, v : numpy.ndarray
        Shape (N,).
    """
    h, d = _hour_angle(mjd, ra, dec)
    b = (np.asarray(xyz1, float) - np.asarray(xyz2, float)) * (frequency / C_LIGHT)
    u = np.sin(h) * b[:, 0] + np.cos(h) * b[:, 1]
    v = -np.sin(d) * np.cos(h) * b[:, 0] + np.sin(d) * np.sin(h) * b[:, 1] + np.cos(d) * b[:, 2]
    return u, v


def _elevation(xyz: np.ndarray, h: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Geocentric elevation (radians) of the source at station positions (N, 3)."""
    s = np.stack([np.cos(d) * np.cos(h), -np.cos(d) * np.sin(h), np.sin(d)], axis=-1)
    r = xyz / np.linalg.norm(xyz, axis=-1, keepdims=True)
    return np.arcsin(np.clip(np.sum(s * r, axis=-1), -1, 1))


def array_obs(stations: Mapping[str, Sequence[float]], sefd: Mapping[str, float], *,
              ra: float, dec: float, mjd: int, times: np.ndarray, frequency: float = 230e9,
              bandwidth: float = 2e9, tint: float = 10.0, elevation_min: float = 10.0,
              source: str = "") -> xr.Dataset:
    """An empty observation (vis = 0) of a source by an array tracking it with Earth rotation.

    Parameters
    ----------
    stations : mapping
        Name → geocentric (ITRF) position (x, y, z) in metres, e.g. the AN table's STABXYZ.
    sefd : mapping
        Name → system equivalent flux density in Jy.
    ra, dec : float
        Source position (ICRS, degrees).
    mjd : int
        Observing day (UTC).
    times : array_like
        UTC hours of the integrations.
    frequency, bandwidth : float
        Hz.
    tint : float
        Integration time, s.
    elevation_min : float
        Stations see the source above this elevation (degrees).
    source : str
        Source name.

    Returns
    -------
    xarray.Dataset
        Rows for every time and baseline with both stations above ``elevation_min``, in the
        layout of :func:`~kerrfield.vlbi.load_uvfits`, with thermal ``sigma``.

    Raises
    ------
    ValueError
        Fewer than 2 stations, a station without SEFD, non-positive SEFD, ``dec`` outside
        [−90°, 90°], non-finite ``ra`` or ``times``, ``frequency``, ``bandwidth`` or ``tint``
        not positive, nothing visible.
    """
    for name, value in (("frequency", frequency), ("bandwidth", bandwidth), ("tint", tint)):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be finite and > 0 (Hz for frequency and bandwidth, "
                             f"s for tint), got {value!r}")  # fmt: skip
    if not (np.isfinite(dec) and -90.0 <= dec <= 90.0):
        raise ValueError(f"dec must be a declination in degrees within [-90, 90], got {dec!r}")
    if not np.isfinite(ra):
        raise ValueError(f"ra must be a finite right ascension in degrees, got {ra!r}")
    names = list(stations)
    if len(names) < 2:
        raise ValueError(f"stations: need at least 2, got {len(names)}")
    if missing := [s for s in names if s not in sefd]:
        raise ValueError(f"sefd: no SEFD for the station(s) {missing} (give one in Jy for "
                         "every station in stations)")  # fmt: skip
    for s in names:
        if not (np.isfinite(sefd[s]) and sefd[s] > 0):
            raise ValueError(f"sefd[{s!r}] must be a positive SEFD in Jy, got {sefd[s]!r}")
    xyz = np.array([stations[s] for s in names], float).reshape(-1, 3)
    t = np.asarray(times, float)
    if t.ndim != 1 or t.size == 0 or not np.isfinite(t).all():
        raise ValueError("times must be a non-empty 1-D array of finite UTC hours")
    h, d = _hour_angle(mjd + t / 24.0, ra, dec)
    el = np.stack([_elevation(np.broadcast_to(p, (len(t), 3)), h, d) for p in xyz], axis=1)
    up = el > np.deg2rad(elevation_min)
    k, i, j = (a.ravel() for a in np.meshgrid(np.arange(len(t)), np.arange(len(names)),
                                               np.arange(len(names)), indexing="ij"))
    keep = (i < j) & up[k, i] & up[k, j]
    k, i, j = k[keep], i[keep], j[keep]
    if k.size == 0:
        raise ValueError("times: no baseline sees the source above elevation_min")
    u, v = uv_from_stations(xyz[i], xyz[j], mjd + t[k] / 24.0, ra, dec, frequency)
    sefds = np.array([sefd[s] for s in names])
    sigma = np.sqrt(sefds[i] * sefds[j] / (2 * bandwidth * tint)) / ETA_QUANT
    st = np.array(names)
    return xr.Dataset(
        {"time": ("row", t[k]), "mjd": ("row", mjd + t[k] / 24.0), "t1": ("row", st[i]),
         "t2": ("row", st[j]), "u": ("row", u), "v": ("row", v),
         "vis": ("row", np.zeros(k.size, complex)), "sigma": ("row", sigma),
         "tint": ("row", np.full(k.size, float(tint))), "subarray": ("row", np.ones(k.size, int)),
         "station_xyz": (("station", "xyz"), xyz), "sefd": ("station", sefds)},
        coords={"station": st, "xyz": ["x", "y", "z"]},
        attrs={"source": source, "ra": float(ra), "dec": float(dec),
               "frequency": float(frequency), "bandwidth": float(bandwidth), "mjd": int(mjd),
               "telescope": "VLBI", "instrument": "kerrfield", **OBS_ATTR_UNITS})


def observe(image: xr.DataArray | str | os.PathLike, like: xr.Dataset, *, noise: bool = True,
            seed: int | None = 0, theta_g: float | None = None, position_angle: float = 0.0,
            flux: float | None = None, gain_error: float = 0.0, phase_error: bool = False,
            pixel: str = "box", method: str = "dft", scan_gap: float = 60.0,
            extended_flux: float = 0.0, extended_fwhm: float = 1000.0) -> xr.Dataset:
    """Observe an image with the (u, v) coverage and σ of an observation.

    Parameters
    ----------
    image : xarray.DataArray or path
        As :func:`~kerrfield.vlbi.visibilities.visibilities` accepts.
    like : xarray.Dataset
        Observation whose rows (u, v, σ, stations, times) are reused: a loaded uvfits file or
        :func:`array_obs`.
    noise : bool
        Add complex Gaussian thermal noise with σ per real and imaginary part.
    seed : int or None
        Seed of the noise and gain draws (``numpy.random.default_rng``). The default 0 makes
        every call draw the same noise (reproducible synthetic data); pass a different seed
        per realisation, or None for fresh entropy.
    theta_g, position_angle, flux, pixel, method
        Passed to :func:`~kerrfield.vlbi.visibilities.visibilities`.
    gain_error : float
        Standard deviation of per-station, per-scan gain amplitudes around 1 (0: none).
    phase_error : bool
        Also give each station and scan a uniformly random gain phase (closure quantities
        are unaffected; visibility phases are scrambled as by the atmosphere).
    scan_gap : float
        Seconds separating scans for the gains.
    extended_flux, extended_fwhm : float
        Flux (Jy) and FWHM (µas) of a centred circular Gaussian added to the visibilities
        outside the image: large-scale emission that only the shortest baselines see. For
        M87 in 2017 ≈ 0.5 Jy (≈ 1.1 Jy on ALMA-APEX against ≈ 0.6 Jy in the compact ring,
        EHT 2019 Paper IV, Sec. 4); the default FWHM of 1 mas is unresolved on the
        intra-site baselines (≤ 2 Mλ) and resolved out beyond ≈ 0.4 Gλ (|V| < 1e-6 of its
        flux), i.e. on every inter-site baseline of 2017 (the shortest is ≈ 1.25 Gλ).

    Returns
    -------
    xarray.Dataset
        A copy of ``like`` with the model ``vis`` (and ``attrs['synthetic'] = 1``).

    Raises
    ------
    ValueError
        From :func:`visibilities` (e.g. ``theta_g`` not finite and > 0, ``flux`` not finite
        and >= 0, ``position_angle`` not finite), for a negative ``gain_error`` or
        ``extended_flux``, or ``extended_fwhm`` not finite and > 0.
    TypeError
        ``seed`` neither an int >= 0 nor None.
    """
    theta_g, position_angle, flux = check_sky_placement(theta_g, position_angle, flux)
    check_obs(like, "like")
    if not (np.isfinite(gain_error) and gain_error >= 0):
        raise ValueError(f"gain_error must be a finite fraction >= 0, got {gain_error}")
    if not (np.isfinite(extended_flux) and extended_flux >= 0):
        raise ValueError(f"extended_flux must be a finite flux >= 0 in Jy, got {extended_flux}")
    if not (np.isfinite(extended_fwhm) and extended_fwhm > 0):
        raise ValueError(f"extended_fwhm must be a finite FWHM > 0 in µas, got {extended_fwhm}")
    if seed is not None and not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise TypeError(f"seed must be an int >= 0 or None, got {seed!r}")
    vis = visibilities(image, like.u.values, like.v.values, theta_g=theta_g,
                       position_angle=position_angle, flux=flux, pixel=pixel, method=method)
    if extended_flux:
        q = np.hypot(like.u.values, like.v.values)
        fwhm = extended_fwhm * MUAS_TO_RAD
        vis = vis + extended_flux * np.exp(-((np.pi * fwhm * q) ** 2) / (4 * np.log(2)))
    rng = np.random.default_rng(seed)
    if gain_error > 0 or phase_error:
        names = list(dict.fromkeys([*like.t1.values, *like.t2.values]))
        idx = {s: k for k, s in enumerate(names)}
        sc = scans(like.time.values, scan_gap, segment_of(like))
        shape = (len(names), int(sc.max()) + 1)
        g = np.abs(1.0 + gain_error * rng.standard_normal(shape))
        if phase_error:
            g = g * np.exp(2j * np.pi * rng.random(shape))
        i1 = np.array([idx[s] for s in like.t1.values])
        i2 = np.array([idx[s] for s in like.t2.values])
        vis = vis * g[i1, sc] * np.conj(g[i2, sc])
    if noise:
        s = like.sigma.values
        vis = vis + s * (rng.standard_normal(vis.shape) + 1j * rng.standard_normal(vis.shape))
    out = like.copy()
    out["vis"] = ("row", vis, {"units": "Jy"})
    out.attrs.update({"synthetic": 1, "noise": int(bool(noise)), "gain_error": float(gain_error),
                      "extended_flux": float(extended_flux)})
    return out
