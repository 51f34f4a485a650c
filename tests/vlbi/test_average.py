"""Coherent scan averaging: against ehtim's avg_coherent on the M87 data, gains, segments."""

from __future__ import annotations

import numpy as np
import pytest

from kerrfield.vlbi import DataTerms, average_scans, closure_phases, concat_observations
from kerrfield.vlbi.closures import scans


def test_average_scans_equals_ehtim_avg_coherent(eh, m87_path, m87_obs):
    """The same rows, visibilities, σ and (u, v) as ehtim's avg_coherent(0, scan_avg=True)
    on April 6 (hi), to the float32 precision of the file."""
    import contextlib
    import io
    import warnings

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = eh.obsdata.load_uvfits(str(m87_path))
        e.add_scans()
        ref = e.avg_coherent(0.0, scan_avg=True).switch_polrep("stokes").data
    avg = average_scans(m87_obs)
    assert avg.sizes["row"] == len(ref) == 284 and m87_obs.sizes["row"] == 9081
    assert avg.attrs["scan_averaged"] == 1 and avg.attrs["n_records_averaged"] == 9081
    for i in range(avg.sizes["row"]):
        same = ref[(ref["t1"] == avg.t1.values[i]) & (ref["t2"] == avg.t2.values[i])]
        r = same[np.argmin(np.hypot(same["u"] - avg.u.values[i], same["v"] - avg.v.values[i]))]
        assert avg.u.values[i] == pytest.approx(r["u"], rel=1e-12)
        assert avg.v.values[i] == pytest.approx(r["v"], rel=1e-12)
        assert avg.vis.values[i] == pytest.approx(r["vis"], rel=1e-6)
        assert avg.sigma.values[i] == pytest.approx(r["sigma"], rel=1e-6)
    # a scan's time is its mean record time (ehtim: the first record's)
    assert np.all(np.diff(avg.time.values) >= 0)


def test_average_scans_keeps_closure_invariance_and_thermal_sigma(m87_obs):
    """Gains constant within a scan cancel in the closures of scan averages; averaging n
    records of equal σ gives σ/√n; a second average changes nothing."""
    obs = m87_obs
    rng = np.random.default_rng(3)
    scan = scans(obs.time.values)
    names = sorted(set(obs.t1.values) | set(obs.t2.values))
    g = {(s, k): rng.lognormal(0, 0.2) * np.exp(2j * np.pi * rng.random())
         for s in names for k in np.unique(scan)}  # fmt: skip
    gains = np.array([g[(a, k)] * np.conj(g[(b, k)])
                      for a, b, k in zip(obs.t1.values, obs.t2.values, scan, strict=True)])
    gained = obs.copy()
    gained["vis"] = ("row", obs.vis.values * gains)
    cp0 = closure_phases(average_scans(obs)).cphase.values
    cp1 = closure_phases(average_scans(gained)).cphase.values
    assert np.max(np.abs(np.angle(np.exp(1j * np.deg2rad(cp1 - cp0))))) < 1e-9
    flat = obs.copy()
    flat["sigma"] = ("row", np.full(obs.sizes["row"], 0.3))
    avg = average_scans(flat)
    key = [f"{k}|{a}|{b}" for a, b, k in zip(obs.t1.values, obs.t2.values, scan, strict=True)]
    names, counts = np.unique(key, return_counts=True)
    assert sorted(0.3 / avg.sigma.values**2 * 0.3) == pytest.approx(sorted(counts), rel=1e-9)
    assert len(names) == avg.sizes["row"]
    assert average_scans(avg) is avg


def test_average_scans_never_merges_segments(m87_obs):
    """Two files of a joint fit observed at the same times stay two sets of scans."""
    a = m87_obs.isel(row=slice(0, 500))
    b = a.assign_attrs(file="other.uvfits").assign(vis=a.vis * 1.1)
    both = concat_observations([a, b])
    avg = average_scans(both)
    assert avg.sizes["row"] == 2 * average_scans(a).sizes["row"]
    assert set(np.unique(avg.segment.values)) == {0, 1}


def test_data_terms_scan_average_then_systematic(m87_obs):
    """DataTerms(scan_average=True) works on the scan averages and adds the systematic error
    to them (not to the 10 s records, where averaging would shrink it)."""
    terms = DataTerms(m87_obs, {"cphase": 1.0, "lcamp": 1.0}, systematic=0.02,
                      scan_average=True)  # fmt: skip
    avg = average_scans(m87_obs)
    assert terms.obs.sizes["row"] == avg.sizes["row"] == terms.u.numel()
    np.testing.assert_allclose(terms.obs.sigma.values,
                               np.hypot(avg.sigma.values, 0.02 * np.abs(avg.vis.values)))
    assert terms.closures["cphase"].sizes["closure"] < 300


@pytest.mark.parametrize("gap", [0.0, -1.0, float("nan"), True, "60"])
def test_average_scans_refuses_bad_gap(m87_obs, gap):
    with pytest.raises(ValueError, match="scan_gap must be a finite number of seconds > 0"):
        average_scans(m87_obs, scan_gap=gap)


def test_average_scans_refuses_non_finite_records(m87_obs):
    nan = m87_obs.copy()
    nan["vis"] = nan.vis.where(np.arange(nan.sizes["row"]) != 1)  # one NaN record
    with pytest.raises(ValueError, match=r"obs.vis has 1 non-finite value"):
        average_scans(nan)
