"""Conversion to and from :class:`ehtim.obsdata.Obsdata` (optional: ``pip install ehtim``).

ehtim (Chael et al. 2016, 2018) stores Stokes I visibilities with the same (u, v), σ and
sign convention as :func:`kerrfield.vlbi.load_uvfits`, RA in hours and the station table
(``tarr``) with positions and SEFDs.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import xarray as xr

from kerrfield.vlbi._uvfits_write import check_obs, check_single, sefd_from_file, sefd_to_file

__all__ = ["from_ehtim", "to_ehtim"]


def _ehtim():
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            import ehtim
    except ImportError as err:
        raise ImportError("ehtim is not installed: pip install 'kerrfield[ehtim]'") from err
    return ehtim


def to_ehtim(obs: xr.Dataset):
    """An :class:`ehtim.obsdata.Obsdata` (Stokes I) holding the observation's visibilities.

    Parameters
    ----------
    obs : xarray.Dataset
        One observation in the layout of :func:`~kerrfield.vlbi.load_uvfits`: ``time``
        (hours), ``t1``, ``t2``, ``u``, ``v`` (wavelengths), ``vis`` and ``sigma`` (Jy) on
        ``row``; optional ``tint`` (s), ``station_xyz`` (m) and ``sefd`` (Jy; NaN written
        as ehtim's 0, unknown). Attributes ``ra``, ``dec`` (degrees; 0 if absent),
        ``frequency``, ``bandwidth`` (Hz; 230 GHz and 1 Hz if absent), ``source``, ``mjd``.
        Not a joint observation (:func:`~kerrfield.vlbi.concat_observations`): an Obsdata
        has one day and one frequency, so convert one
        :func:`~kerrfield.vlbi.select_segment` at a time.

    Returns
    -------
    ehtim.obsdata.Obsdata
        ``polrep="stokes"``, RA in hours (ehtim's convention), the same (u, v), ``vis``,
        ``sigma`` (also as the Q, U, V σ) and baseline order; the station table (``tarr``)
        lists the ``station`` coordinate first, then any other station in ``t1``/``t2``
        (position 0 and SEFD 0 where unknown).

    Raises
    ------
    ImportError
        Without ehtim.
    TypeError
        If ``obs`` is not an :class:`xarray.Dataset`.
    ValueError
        If ``obs`` lacks a needed variable, has no rows, has σ not finite and > 0, or joins
        several observations.
    """
    check_obs(obs)
    check_single(obs, "an ehtim Obsdata holds one day at one frequency", "convert")
    eh = _ehtim()
    from ehtim.const_def import DTARR, DTPOL_STOKES

    names = list(dict.fromkeys([*(obs.station.values if "station" in obs.coords else []),
                                *obs.t1.values, *obs.t2.values]))
    xyz = {s: (obs.station_xyz.sel(station=s).values if "station_xyz" in obs and s in
               obs.station.values else np.zeros(3)) for s in names}
    sefd = {s: (float(sefd_to_file(obs.sefd.sel(station=s).values))
                if "sefd" in obs and s in obs.station.values else 0.0) for s in names}
    tarr = np.array([(str(s), *xyz[s], sefd[s], sefd[s], 0j, 0j, 0.0, 0.0, 0.0)
                     for s in names], dtype=DTARR)
    n = obs.sizes["row"]
    data = np.zeros(n, dtype=DTPOL_STOKES)
    for name in ("time", "u", "v", "vis", "sigma"):
        data[name] = obs[name].values
    data["tint"] = obs.tint.values if "tint" in obs else 0.0
    data["t1"], data["t2"] = obs.t1.values, obs.t2.values
    data["qsigma"] = data["usigma"] = data["vsigma"] = data["sigma"]
    a = obs.attrs
    with contextlib.redirect_stdout(io.StringIO()):
        return eh.obsdata.Obsdata(float(a.get("ra", 0.0)) / 15.0, float(a.get("dec", 0.0)),
                                  float(a.get("frequency", 230e9)),
                                  float(a.get("bandwidth", 0.0)) or 1.0, data, tarr,
                                  source=str(a.get("source", "")) or "UNKNOWN",
                                  mjd=int(a.get("mjd", 0)), polrep="stokes")


def from_ehtim(obsdata) -> xr.Dataset:
    """The observation Dataset (layout of :func:`load_uvfits`) of an ehtim Obsdata.

    Parameters
    ----------
    obsdata : ehtim.obsdata.Obsdata
        Any ``polrep`` (a circular one is converted to Stokes by ehtim first).

    Returns
    -------
    xarray.Dataset
        On ``row``: ``time`` (hours), ``mjd`` (days), ``t1``, ``t2``, ``u``, ``v``
        (wavelengths), ``vis`` and ``sigma`` (Stokes I, Jy), ``tint`` (s), ``subarray``
        (1); on ``station``: ``station_xyz`` (m) and ``sefd`` (Jy, ``sefdr``; NaN where ≤ 0).
        Baselines are ordered as the stations in ``tarr`` (``vis`` conjugated and ``u, v``
        negated where flipped, counted in ``attrs["n_conjugated"]``). Attributes ``source``,
        ``ra``, ``dec`` (degrees; ehtim's RA hours × 15), ``frequency``, ``bandwidth`` (Hz),
        ``mjd``, ``telescope``.

    Raises
    ------
    TypeError
        If ``obsdata`` has no ``data``/``tarr`` (not an Obsdata).
    """
    if not (hasattr(obsdata, "data") and hasattr(obsdata, "tarr")):
        raise TypeError(f"obsdata must be an ehtim Obsdata, got {type(obsdata).__name__}")
    if getattr(obsdata, "polrep", "stokes") != "stokes":
        with contextlib.redirect_stdout(io.StringIO()):
            obsdata = obsdata.switch_polrep("stokes")
    d, tarr = obsdata.data, obsdata.tarr
    names = [str(s) for s in tarr["site"]]
    idx = {s: k for k, s in enumerate(names)}
    t1, t2 = d["t1"].astype(str), d["t2"].astype(str)
    vis, u, v = d["vis"].astype(complex), d["u"].astype(float), d["v"].astype(float)
    flip = np.array([idx[a] > idx[b] for a, b in zip(t1, t2, strict=True)], bool)
    vis = np.where(flip, np.conj(vis), vis)
    u, v = np.where(flip, -u, u), np.where(flip, -v, v)
    t1, t2 = np.where(flip, t2, t1), np.where(flip, t1, t2)
    xyz = np.stack([tarr["x"], tarr["y"], tarr["z"]], axis=1).astype(float)
    mjd = int(obsdata.mjd)
    return xr.Dataset(
        {"time": ("row", d["time"].astype(float)),
         "mjd": ("row", mjd + d["time"].astype(float) / 24.0),
         "t1": ("row", t1), "t2": ("row", t2), "u": ("row", u), "v": ("row", v),
         "vis": ("row", vis), "sigma": ("row", d["sigma"].astype(float)),
         "tint": ("row", d["tint"].astype(float)), "subarray": ("row", np.ones(len(d), int)),
         "station_xyz": (("station", "xyz"), xyz),
         "sefd": ("station", sefd_from_file(tarr["sefdr"]))},
        coords={"station": np.array(names), "xyz": ["x", "y", "z"]},
        attrs={"source": str(obsdata.source), "ra": float(obsdata.ra) * 15.0,
               "dec": float(obsdata.dec), "frequency": float(obsdata.rf),
               "bandwidth": float(obsdata.bw), "mjd": mjd, "telescope": "VLBI",
               "n_conjugated": int(flip.sum())})
