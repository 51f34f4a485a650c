"""Closure phases and log closure amplitudes on the real M87 data."""

from __future__ import annotations

import contextlib
import io
from itertools import combinations

import numpy as np
import pytest
import xarray as xr

from kerrfield.vlbi.closures import add_systematic, closure_phases, log_closure_amplitudes


def _with_gains(obs, seed=0):
    rng = np.random.default_rng(seed)
    _, tkey = np.unique(obs.time.values, return_inverse=True)
    st = {s: k for k, s in enumerate(obs.station.values)}
    g = rng.uniform(0.5, 2.0, (tkey.max() + 1, len(st))) * np.exp(
        2j * np.pi * rng.random((tkey.max() + 1, len(st))))
    i1 = np.array([st[s] for s in obs.t1.values])
    i2 = np.array([st[s] for s in obs.t2.values])
    out = obs.copy()
    out["vis"] = ("row", obs.vis.values * g[tkey, i1] * np.conj(g[tkey, i2]))
    return out


@pytest.mark.parametrize("minimal", [True, False])
def test_invariant_to_station_gains(m87_obs, minimal):
    corrupted = _with_gains(m87_obs)
    a, b = closure_phases(m87_obs, minimal=minimal), closure_phases(corrupted, minimal=minimal)
    dpsi = np.angle(np.exp(1j * np.deg2rad(a.cphase.values - b.cphase.values)))
    assert np.max(np.abs(dpsi)) < 1e-9
    la = log_closure_amplitudes(m87_obs, minimal=minimal)
    lb = log_closure_amplitudes(corrupted, minimal=minimal)
    np.testing.assert_allclose(la.lcamp, lb.lcamp, atol=1e-9)
    # and the amplitudes/phases themselves did change
    assert np.mean(np.abs(corrupted.vis - m87_obs.vis)) > 0.1


def _complete(n, ntimes=3):
    names = [f"S{k}" for k in range(n)]
    rows = [(t, a, b) for t in range(ntimes) for a, b in combinations(range(n), 2)]
    rng = np.random.default_rng(n)
    return xr.Dataset(
        {"time": ("row", [float(t) for t, _, _ in rows]),
         "t1": ("row", [names[a] for _, a, _ in rows]),
         "t2": ("row", [names[b] for _, _, b in rows]),
         "u": ("row", rng.normal(size=len(rows)) * 1e9),
         "v": ("row", rng.normal(size=len(rows)) * 1e9),
         "vis": ("row", rng.uniform(0.1, 1, len(rows)) * np.exp(1j * rng.normal(size=len(rows)))),
         "sigma": ("row", np.full(len(rows), 0.01))},
        coords={"station": names})


@pytest.mark.parametrize("n", [3, 4, 5, 8])
def test_minimal_set_sizes(n):
    obs = _complete(n)
    cp = closure_phases(obs)
    assert cp.sizes["closure"] == 3 * (n - 1) * (n - 2) // 2
    assert closure_phases(obs, minimal=False).sizes["closure"] == 3 * n * (n - 1) * (n - 2) // 6
    if n >= 4:
        assert log_closure_amplitudes(obs).sizes["closure"] == 3 * n * (n - 3) // 2
        full = log_closure_amplitudes(obs, minimal=False).sizes["closure"]
        assert full == 3 * 3 * n * (n - 1) * (n - 2) * (n - 3) // 24


def test_real_minimal_counts(m87_obs):
    cp = closure_phases(m87_obs)
    lc = log_closure_amplitudes(m87_obs)
    for t in np.unique(m87_obs.time.values)[::50]:
        sel = m87_obs.isel(row=np.flatnonzero(m87_obs.time.values == t))
        st = set(sel.t1.values) | set(sel.t2.values)
        n = len(st)
        if sel.sizes["row"] == n * (n - 1) // 2 and n >= 4:  # all baselines present
            assert int((cp.time == t).sum()) == (n - 1) * (n - 2) // 2
            assert int((lc.time == t).sum()) == n * (n - 3) // 2


def test_too_few_stations():
    obs = _complete(3)
    with pytest.raises(ValueError, match="at least 4 stations"):
        log_closure_amplitudes(obs)
    two = obs.where((obs.t1 != "S2") & (obs.t2 != "S2"), drop=True)
    with pytest.raises(ValueError, match="at least 3 stations"):
        closure_phases(two)
    bad = obs.copy()
    bad["sigma"] = bad.sigma * 0
    with pytest.raises(ValueError, match="sigma"):
        closure_phases(bad)
    nan = obs.copy()
    nan["vis"] = nan.vis.where(np.arange(nan.sizes["row"]) != 1)  # one NaN record
    with pytest.raises(ValueError, match=r"obs.vis has 1 non-finite value"):
        closure_phases(nan)
    for gap in (-5.0, 0.0, float("nan"), True):
        with pytest.raises(ValueError, match="scan_gap must be a finite number of seconds > 0"):
            closure_phases(obs, scan_average=True, scan_gap=gap)


def test_zero_amplitudes_and_non_bool_flags_are_refused():
    """A zero |V| on a leg (e.g. array_obs before anything is observed) would give an infinite
    σ and a closure that drops out of χ² unnoticed; "no" for a flag would act as True."""
    obs = _complete(4)
    zero = obs.copy()
    zero["vis"] = zero.vis.where(np.arange(zero.sizes["row"]) != 2, 0.0)
    for func, name in ((closure_phases, "cphase"), (log_closure_amplitudes, "lcamp")):
        with pytest.raises(ValueError, match=r"1 zero-amplitude record\(s\) on the legs .*"
                                             r"\(rows \[2\]\)"):
            func(zero)
        for flag in ("minimal", "scan_average"):
            with pytest.raises(TypeError, match=f"{flag} must be True or False, got 'no'"):
                func(obs, **{flag: "no"})
        assert np.isfinite(func(obs)[name]).all()


def test_scan_average_and_systematic(m87_obs):
    cp = closure_phases(m87_obs, minimal=False)
    avg = closure_phases(m87_obs, minimal=False, scan_average=True)
    assert avg.sizes["closure"] < cp.sizes["closure"] / 10
    key = (avg.scan.values[0], avg.baselines.values[0])
    members = cp.where((cp.scan == key[0]) & (cp.baselines == key[1]), drop=True)
    w = 1 / members.sigma_cphase.values**2
    assert avg.sigma_cphase.values[0] == pytest.approx(1 / np.sqrt(w.sum()))
    mean = np.rad2deg(np.angle(np.sum(w * np.exp(1j * np.deg2rad(members.cphase.values)))))
    assert avg.cphase.values[0] == pytest.approx(mean)
    sys = closure_phases(m87_obs, minimal=False, systematic=0.02)
    assert np.all(sys.sigma_cphase >= cp.sigma_cphase)
    s = add_systematic(m87_obs, 0.02).sigma
    np.testing.assert_allclose(s**2, m87_obs.sigma**2 + (0.02 * abs(m87_obs.vis)) ** 2)
    for bad in (-0.1, 2.0):  # 2 is most likely "2 %"; the config refuses it too
        with pytest.raises(ValueError, match=r"systematic must be a fraction of \|V\| in "
                                             r"\[0, 1\] \(0.02 for 2 %\), got"):
            add_systematic(m87_obs, bad)


@pytest.mark.filterwarnings("ignore::numpy.exceptions.ComplexWarning")
def test_agrees_with_ehtim(m87_path, m87_obs, eh):
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
        o = eh.obsdata.load_uvfits(str(m87_path))
        ecp = o.c_phases(mode="all", count="max", vtype="vis", ang_unit="deg")
    ours = closure_phases(m87_obs, minimal=False)
    table = {(round(t, 6), frozenset((a, b, c))): (p, s) for t, a, b, c, p, s in zip(
        ours.time.values, ours.t1.values, ours.t2.values, ours.t3.values,
        ours.cphase.values, ours.sigma_cphase.values, strict=True)}
    n = 0
    for row in ecp:
        key = (round(float(row["time"]), 6), frozenset((row["t1"], row["t2"], row["t3"])))
        if key in table:
            p, s = table[key]
            # ehtim's triangle may be traversed the other way round: ψ → −ψ
            d = min(abs(np.angle(np.exp(1j * np.deg2rad(p - row["cphase"])))),
                    abs(np.angle(np.exp(1j * np.deg2rad(p + row["cphase"])))))
            assert d < 1e-6 and s == pytest.approx(row["sigmacp"], rel=1e-5)
            n += 1
    assert n >= 0.9 * len(ecp) and n > 1000


@pytest.mark.parametrize("scan_average", [False, True])
def test_units_attributes(m87_obs, scan_average):
    cp = closure_phases(m87_obs, scan_average=scan_average)
    lc = log_closure_amplitudes(m87_obs, scan_average=scan_average)
    assert cp.cphase.attrs["units"] == "deg" and cp.sigma_cphase.attrs["units"] == "deg"
    assert lc.lcamp.attrs["units"] == "dimensionless"
    assert lc.sigma_lcamp.attrs["units"] == "dimensionless"
    assert cp.time.attrs["units"] == lc.time.attrs["units"] == "hours UTC"


def _short(obs):
    return np.hypot(obs.u.values, obs.v.values) < 1e8


@pytest.mark.parametrize("minimal", [True, False])
def test_uv_min_leaves_out_the_intra_site_legs(m87_obs, minimal):
    """uv_min = 0.1 Gλ: no leg on ALMA-APEX or SMA-JCMT, the same closures as the data
    without those rows (ehtim's cp_uv_min), and the untouched default keeps them."""
    short = _short(m87_obs)
    assert 500 < short.sum() < 2000  # the intra-site records of April 6
    dropped = m87_obs.isel(row=np.flatnonzero(~short))
    for fn, name in ((closure_phases, "cphase"), (log_closure_amplitudes, "lcamp")):
        cut = fn(m87_obs, minimal=minimal, uv_min=1e8)
        assert not short[cut.row.values].any() and cut.attrs["uv_min"] == 1e8
        ref = fn(dropped, minimal=minimal)
        np.testing.assert_array_equal(cut.baselines.values, ref.baselines.values)
        np.testing.assert_allclose(cut[name].values, ref[name].values, rtol=0, atol=1e-12)
        assert short[fn(m87_obs, minimal=minimal).row.values].any()  # default: all baselines


def test_uv_min_matches_ehtim_flag_uvdist(m87_path, m87_obs, eh):
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
        o = eh.obsdata.load_uvfits(str(m87_path)).flag_uvdist(uv_min=1e8)
        ecp = o.c_phases(mode="all", count="max", vtype="vis", ang_unit="deg")
    ours = closure_phases(m87_obs, minimal=False, uv_min=1e8)
    keys = {(round(t, 6), frozenset(s)) for t, *s in zip(
        ours.time.values, ours.t1.values, ours.t2.values, ours.t3.values, strict=True)}
    theirs = {(round(float(r["time"]), 6), frozenset((r["t1"], r["t2"], r["t3"]))) for r in ecp}
    assert len(theirs) > 1000 and len(theirs - keys) <= 0.01 * len(theirs)


def test_uv_min_errors():
    obs = _complete(5)
    for bad in (-1.0, float("nan"), "1e8"):
        with pytest.raises(ValueError, match="uv_min must be a finite baseline length"):
            closure_phases(obs, uv_min=bad)
    with pytest.raises(ValueError, match=r"baselines of at least uv_min = 1e\+12"):
        log_closure_amplitudes(obs, uv_min=1e12)
    with pytest.warns(UserWarning, match=r"uv_min = 0.1 is in wavelengths, not Gλ"):
        closure_phases(obs, uv_min=0.1)  # 0.1 Gλ meant
