"""Closure phases and log closure amplitudes per timestamp, full and minimal sets.

Definitions (EHT Collaboration 2019, Paper IV, Eqs. 9-12; Blackburn et al. 2020, ApJ 894,
31 for the independent sets): on the triangle (i, j, k)

    ψ = arg V_ij + arg V_jk + arg V_ki,     σ_ψ = (Σ (σ/|V|)²)^(1/2)  [rad],

and on the quadrangle (i, j, k, l)

    ln A = ln|V_ij| + ln|V_kl| − ln|V_ik| − ln|V_jl|,     σ = (Σ (σ/|V|)²)^(1/2),

both to first order in σ/|V|. Station gains cancel. The *minimal* set is a maximal linearly
independent subset of the full set (greedy over the closures through the best-connected
station first): (N−1)(N−2)/2 closure phases and N(N−3)/2 log closure amplitudes for N
stations with all baselines present.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from itertools import combinations
from numbers import Real

import numpy as np
import xarray as xr

from kerrfield.vlbi._uvfits_write import check_obs
from kerrfield.vlbi.combine import segment_of

__all__ = ["UV_MIN", "add_systematic", "check_records", "check_uv_min", "closure_phases",
           "log_closure_amplitudes", "scans"]

#: the shortest baseline the fits use by default, wavelengths: the EHT 2017 pipelines'
#: ``uv_zblcut`` (0.1 Gλ), below which lie only the intra-site baselines
UV_MIN = 1e8


def check_uv_min(uv_min: float) -> float:
    """``uv_min`` as a float, or ValueError naming it unless it is a finite length >= 0."""
    if not (isinstance(uv_min, Real) and not isinstance(uv_min, bool) and np.isfinite(uv_min)
            and uv_min >= 0):
        raise ValueError(f"uv_min must be a finite baseline length >= 0 (wavelengths), "
                         f"got {uv_min!r}")
    if 0 < uv_min < 1e5:  # shorter than any VLBI baseline (1e5 λ is 130 m at 230 GHz)
        warnings.warn(f"uv_min = {uv_min:g} is in wavelengths, not Gλ: it removes no "
                      f"baseline. The EHT's 0.1 Gλ cut is uv_min = 1e8.", UserWarning,
                      stacklevel=3)  # fmt: skip
    return float(uv_min)


def add_systematic(obs: xr.Dataset, fraction: float) -> xr.Dataset:
    """Add a fractional systematic error in quadrature: σ² → σ² + (fraction·|V|)².

    Raises
    ------
    ValueError
        If ``fraction`` is not within [0, 1].
    """
    if not (np.isfinite(fraction) and 0 <= fraction <= 1):
        raise ValueError(f"systematic must be a fraction of |V| in [0, 1] (0.02 for 2 %), "
                         f"got {fraction}")  # fmt: skip
    out = obs.copy()
    out["sigma"] = np.sqrt(obs.sigma**2 + (fraction * np.abs(obs.vis)) ** 2)
    out.attrs["systematic"] = float(fraction)
    return out


def scans(time_hours: np.ndarray, gap: float = 60.0,
          segment: np.ndarray | None = None) -> np.ndarray:
    """Scan number of each time: a new scan starts after a gap longer than ``gap`` seconds,
    and with each ``segment`` (the observation a row came from, see
    :func:`~kerrfield.vlbi.concat_observations`), whose scans are numbered after the previous
    segment's."""
    t = np.asarray(time_hours, float)
    seg = np.zeros(t.shape, np.int64) if segment is None else np.asarray(segment, np.int64)
    keys, inv = np.unique(np.stack([seg, t]), axis=1, return_inverse=True)
    new = np.concatenate([[True], (np.diff(keys[0]) != 0) | (np.diff(keys[1]) * 3600.0 > gap)])
    return (np.cumsum(new) - 1)[np.ravel(inv)]


def _station_index(obs: xr.Dataset) -> dict[str, int]:
    names = ([str(s) for s in obs.station.values] if "station" in obs.coords else [])
    for s in np.concatenate([obs.t1.values, obs.t2.values]):
        if str(s) not in names:
            names.append(str(s))
    return {s: i for i, s in enumerate(names)}


def _rows(n: int, pairs: tuple[tuple[int, ...], ...], quad: bool) -> np.ndarray:
    """Design matrix rows on the baselines of ``n`` stations for triangles/quadrangles."""
    index = {b: k for k, b in enumerate(combinations(range(n), 2))}
    m = np.zeros((len(pairs), len(index)))
    for r, p in enumerate(pairs):
        if quad:
            (a, b), (c, d), (e, f), (g, h) = p[0:2], p[2:4], p[4:6], p[6:8]
            m[r, index[(a, b)]] += 1
            m[r, index[(c, d)]] += 1
            m[r, index[(e, f)]] -= 1
            m[r, index[(g, h)]] -= 1
        else:
            i, j, k = p
            m[r, index[(i, j)]], m[r, index[(j, k)]], m[r, index[(i, k)]] = 1, 1, -1
    return m


def _independent(m: np.ndarray) -> list[int]:
    """Greedy maximal linearly independent subset of the rows (Gram-Schmidt)."""
    basis: list[np.ndarray] = []
    keep = []
    for r, row in enumerate(m):
        res = row.copy()
        for q in basis:
            res -= (q @ res) * q
        norm = np.linalg.norm(res)
        if norm > 1e-8:
            basis.append(res / norm)
            keep.append(r)
    return keep


@lru_cache(maxsize=4096)
def _closures(baselines: frozenset, quad: bool, minimal: bool) -> tuple:
    """Closures available on a set of baselines (i < j), as station tuples."""
    stations = sorted({s for b in baselines for s in b})
    degree = {s: sum(s in b for b in baselines) for s in stations}
    ref = max(stations, key=lambda s: (degree[s], -s))
    out = []
    for combo in combinations(stations, 4 if quad else 3):
        if quad:
            a, b, c, d = combo
            cands = [((a, b), (c, d), (a, c), (b, d)), ((a, b), (c, d), (a, d), (b, c)),
                     ((a, c), (b, d), (a, d), (b, c))]
            out += [q for q in cands if all(e in baselines for e in q)]
        elif all(e in baselines for e in combinations(combo, 2)):
            out.append(combo)
    out.sort(key=lambda c: ref not in np.ravel(c))  # through the reference station first
    if minimal and out:
        n = max(stations) + 1
        flat = [tuple(np.ravel(c)) for c in out]
        out = [out[k] for k in _independent(_rows(n, tuple(flat), quad))]
    return tuple(out)


def _table(obs: xr.Dataset, quad: bool, minimal: bool, uv_min: float = 0.0):
    """Per closure: rows into obs (legs), conjugation signs, station indices and time.

    Rows on baselines shorter than ``uv_min`` (wavelengths) are not used as legs."""
    index = _station_index(obs)
    usable = np.hypot(np.asarray(obs.u.values, float), np.asarray(obs.v.values, float))
    usable = usable >= uv_min
    i1 = np.array([index[str(s)] for s in obs.t1.values])
    i2 = np.array([index[str(s)] for s in obs.t2.values])
    flip = i1 > i2
    lo, hi = np.minimum(i1, i2), np.maximum(i1, i2)
    stamp = np.round(np.asarray(obs.time.values, float) * 3.6e5)  # 10 ms ticks
    _, tkey = np.unique(np.stack([segment_of(obs), stamp]), axis=1, return_inverse=True)
    tkey = np.ravel(tkey)
    rows, signs, stat, times, labels = [], [], [], [], []
    for t in np.unique(tkey):
        sel = np.flatnonzero(tkey == t)
        lookup = {}
        for r in sel[usable[sel]]:
            lookup.setdefault((int(lo[r]), int(hi[r])), int(r))
        if not lookup:
            continue
        for c in _closures(frozenset(lookup), quad, minimal):
            legs = c if quad else (c[0:2], c[1:3], (c[0], c[2]))
            rr = [lookup[e] for e in legs]
            rows.append(rr)
            signs.append([1, 1, -1] if not quad else [1, 1, -1, -1])
            stat.append(sorted({s for e in legs for s in e}))
            times.append(int(sel[0]))
            labels.append(legs)
    if not rows:
        kind = "quadrangle" if quad else "triangle"
        cut = f" of at least uv_min = {uv_min:.3g} λ" if uv_min > 0 else ""
        raise ValueError(f"obs has no timestamp where a {kind} of stations has all its "
                         f"baselines{cut}; no closure quantities can be formed")
    rows, signs = np.array(rows), np.array(signs)
    if not quad:  # conjugate legs stored as t1 > t2 in station order
        signs = np.where(flip[rows], -signs, signs)
    names = np.array(list(index))
    text = np.array(["-".join(names[list(e)]) for e in np.array(labels).reshape(-1, 2)])
    text = text.reshape(len(labels), -1)
    labels = np.array([",".join(r) for r in text])
    return rows, signs, names[np.array(stat)], np.array(times), labels


def check_records(obs: xr.Dataset, scan_gap: float) -> None:
    """ValueError unless ``obs`` is an observation with finite visibilities (one NaN would
    spread to every closure or scan average it enters) and ``scan_gap`` a finite number of
    seconds > 0."""
    check_obs(obs)
    bad = int(np.sum(~np.isfinite(np.asarray(obs["vis"].values))))
    if bad:  # load_uvfits drops such records
        raise ValueError(f"obs.vis has {bad} non-finite value(s); drop those rows first "
                         "(e.g. obs.isel(row=np.isfinite(obs.vis)))")  # fmt: skip
    if not (isinstance(scan_gap, Real) and not isinstance(scan_gap, bool)
            and np.isfinite(scan_gap) and scan_gap > 0):
        raise ValueError(f"scan_gap must be a finite number of seconds > 0, got {scan_gap!r}")


def _check(obs: xr.Dataset, need: int, what: str, scan_gap: float,
           uv_min: float = 0.0, **flags: object) -> None:
    for name, value in flags.items():  # "no" or None would silently act as True/False
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    check_records(obs, scan_gap)
    check_uv_min(uv_min)
    n = len(set(obs.t1.values) | set(obs.t2.values))
    if n < need:
        raise ValueError(f"{what} need at least {need} stations; obs has {n}")


#: ``units`` attribute of each closure quantity and its sigma (as ``obs.vis`` carries "Jy")
CLOSURE_UNITS = {"cphase": "deg", "lcamp": "dimensionless"}


def _nonzero_legs(amp: np.ndarray, rows: np.ndarray, what: str) -> None:
    """ValueError for zero-amplitude legs: their σ/|V| is infinite and a closure through them
    would be NaN or drop out of a χ² unnoticed (e.g. array_obs before anything is observed)."""
    zero = np.unique(rows[amp[rows] == 0])
    if zero.size:
        raise ValueError(f"obs.vis has {zero.size} zero-amplitude record(s) on the legs of "
                         f"{what} (rows {zero[:5].tolist()}{' ...' if zero.size > 5 else ''}): "
                         "closure quantities need |V| > 0; drop them (obs.isel(row=abs(obs.vis)"
                         " > 0)) or observe a model first")  # fmt: skip


def _finish(obs, table, values, sigma, name, legs_names, avg, gap):
    rows, signs, stat, trow, labels = table
    ds = xr.Dataset(
        {name: ("closure", values), f"sigma_{name}": ("closure", sigma),
         "baselines": ("closure", labels),
         "time": ("closure", obs.time.values[trow]),
         "row": (("closure", "leg"), rows), "sign": (("closure", "leg"), signs)},
        coords={"leg": np.arange(rows.shape[1])}, attrs=dict(obs.attrs))
    for k, n in enumerate(legs_names):
        ds[n] = ("closure", stat[:, k])
    seg = segment_of(obs)[trow]
    if "segment" in obs:
        ds["segment"] = ("closure", seg)
    ds["scan"] = ("closure", scans(ds.time.values, gap, seg))
    ds.attrs["n_stations"] = int(len(set(obs.t1.values) | set(obs.t2.values)))
    out = _scan_average(ds, name) if avg else ds
    unit = CLOSURE_UNITS[name]
    out[name].attrs["units"] = unit
    out[f"sigma_{name}"].attrs["units"] = unit
    out["time"].attrs["units"] = "hours UTC"
    return out


def _scan_average(ds: xr.Dataset, name: str) -> xr.Dataset:
    """Weighted scan means (circular for phases); legs of the member nearest the mean time."""
    key = np.char.add(ds.scan.values.astype(str), np.char.add("|", ds.baselines.values))
    ident = np.unique(key, return_inverse=True)[1].ravel()
    w = 1.0 / ds[f"sigma_{name}"].values ** 2
    x = ds[name].values
    pick, val, sig = [], [], []
    for g in range(ident.max() + 1):
        m = np.flatnonzero(ident == g)
        tm = np.sum(w[m] * ds.time.values[m]) / w[m].sum()
        pick.append(m[np.argmin(np.abs(ds.time.values[m] - tm))])
        if name == "cphase":
            val.append(np.rad2deg(np.angle(np.sum(w[m] * np.exp(1j * np.deg2rad(x[m]))))))
        else:
            val.append(np.sum(w[m] * x[m]) / w[m].sum())
        sig.append(1.0 / np.sqrt(w[m].sum()))
    out = ds.isel(closure=np.array(pick))
    out[name] = ("closure", np.array(val))
    out[f"sigma_{name}"] = ("closure", np.array(sig))
    out.attrs["scan_averaged"] = 1
    return out


def closure_phases(obs: xr.Dataset, *, minimal: bool = True, scan_average: bool = False,
                   systematic: float = 0.0, scan_gap: float = 60.0,
                   uv_min: float = 0.0) -> xr.Dataset:
    """Closure phases of every timestamp's triangles.

    Parameters
    ----------
    obs : xarray.Dataset
        Observation from :func:`~kerrfield.vlbi.load_uvfits` / ``observe``.
    minimal : bool
        Minimal independent set ((N−1)(N−2)/2 per timestamp) instead of all triangles.
    scan_average : bool
        Average each triangle over a scan (weighted circular mean, σ = (Σ σ⁻²)^(-1/2));
        the legs (``row``) are those of the member nearest the scan's mean time.
    systematic : float
        Fractional systematic error added to every |V| in quadrature before forming closures.
    scan_gap : float
        Seconds without data that separate scans.
    uv_min : float
        Baselines shorter than this (wavelengths) are not used as legs, as ehtim's
        ``cp_uv_min``. The EHT 2017 pipelines set 0.1 Gλ (``1e8``): the intra-site baselines
        (ALMA-APEX, SMA-JCMT) see M87's extended jet (≈ 1.1 Jy against ≈ 0.6 Jy in the
        compact ring; Paper IV, Sec. 4), which a compact model cannot explain; closures
        through them would carry that flux ratio. 0 (default) uses every baseline.

    Returns
    -------
    xarray.Dataset
        On dim ``closure``: ``cphase`` and ``sigma_cphase`` (degrees; ``units`` attribute
        ``"deg"``), ``time`` (hours),
        ``t1, t2, t3`` (stations), ``baselines`` (the legs as text), ``scan``, ``row`` and
        ``sign`` (closure, leg): the obs rows of the legs and ±1 such that
        ψ = Σ sign·arg V[row].

    Raises
    ------
    ValueError
        Fewer than 3 stations, no complete triangle, σ ≤ 0, non-finite ``vis``, a leg with
        |V| = 0, bad ``systematic`` or ``scan_gap``.
    TypeError
        ``minimal`` or ``scan_average`` not a bool.
    """
    _check(obs, 3, "closure phases", scan_gap, uv_min, minimal=minimal,
           scan_average=scan_average)  # fmt: skip
    if systematic:
        obs = add_systematic(obs, systematic)
    table = _table(obs, False, minimal, uv_min)
    rows, signs = table[0], table[1]
    vis, sig = np.asarray(obs.vis.values), np.asarray(obs.sigma.values)
    _nonzero_legs(np.abs(vis), rows, "closure phases")
    psi = np.angle(np.prod(np.where(signs > 0, vis[rows], np.conj(vis[rows])), axis=1))
    sigma = np.sqrt(np.sum((sig[rows] / np.abs(vis[rows])) ** 2, axis=1))
    out = _finish(obs, table, np.rad2deg(psi), np.rad2deg(sigma), "cphase",
                  ["t1", "t2", "t3"], scan_average, scan_gap)
    out.attrs["uv_min"] = float(uv_min)
    return out


def log_closure_amplitudes(obs: xr.Dataset, *, minimal: bool = True,
                           scan_average: bool = False, systematic: float = 0.0,
                           scan_gap: float = 60.0, uv_min: float = 0.0) -> xr.Dataset:
    """Log closure amplitudes ln|V_ij V_kl / (V_ik V_jl)| of every timestamp's quadrangles.

    Parameters and errors as :func:`closure_phases` (at least 4 stations); the minimal set
    has N(N−3)/2 per timestamp.

    Returns
    -------
    xarray.Dataset
        On dim ``closure``: ``lcamp``, ``sigma_lcamp`` (natural log of a ratio: ``units``
        attribute ``"dimensionless"``), ``time``, ``t1..t4`` (the four
        stations, sorted), ``scan``, ``row`` and ``sign`` (legs 0, 1 in the numerator: +1;
        legs 2, 3 in the denominator: −1).
    """
    _check(obs, 4, "log closure amplitudes", scan_gap, uv_min, minimal=minimal,
           scan_average=scan_average)  # fmt: skip
    if systematic:
        obs = add_systematic(obs, systematic)
    table = _table(obs, True, minimal, uv_min)
    rows, signs = table[0], table[1]
    amp, sig = np.abs(np.asarray(obs.vis.values)), np.asarray(obs.sigma.values)
    _nonzero_legs(amp, rows, "log closure amplitudes")
    lca = np.sum(signs * np.log(amp[rows]), axis=1)
    sigma = np.sqrt(np.sum((sig[rows] / amp[rows]) ** 2, axis=1))
    out = _finish(obs, table, lca, sigma, "lcamp", ["t1", "t2", "t3", "t4"], scan_average,
                  scan_gap)
    out.attrs["uv_min"] = float(uv_min)
    return out
