"""The profile of an observation search: flat, bounded, dip and range-edge flags."""

from __future__ import annotations

import numpy as np
import pytest


def test_observation_profile_flat_and_bounded():
    from kerrfield.fitting.observation_report import observation_profile

    axes = {"spin": [-0.5, 0.0, 0.5, 0.9], "inclination": [150.0, 160.0, 170.0]}
    inc_term = np.array([40.0, 0.0, 40.0])
    chi2 = 1000.0 + 0.2 * np.arange(4)[:, None] + inc_term[None, :]
    p = observation_profile(axes, chi2, n_data=2000)
    assert p["spin"]["flat"] and "unconstrained" in p["spin"]["constraint"]
    assert not p["inclination"]["flat"] and p["inflation"] == 1.0
    lo, hi = p["inclination"]["68"]["lo"], p["inclination"]["68"]["hi"]
    assert 150.0 < lo < 160.0 < hi < 170.0
    # chi2_min / n = 2 > 1: the Δχ² are halved before the intervals are read
    q = observation_profile(axes, chi2, n_data=500)
    assert q["inflation"] == pytest.approx(2.0)
    assert q["inclination"]["68"]["hi"] - q["inclination"]["68"]["lo"] > hi - lo
    # a profile within 1 + 2 x the optimiser scatter at both grid ends is flat too
    r = observation_profile(axes, chi2, n_data=2000, scatter=25.0)
    assert r["inclination"]["flat"] and "optimiser scatter" in r["inclination"]["constraint"]
    assert r["inclination"]["consistent"] == axes["inclination"]
    r = observation_profile(axes, chi2, n_data=2000, scatter=5.0)
    e = r["inclination"]
    assert not e["flat"] and e["consistent"] == [160.0] and e["contiguous"]
    assert "ignores that error" in e["constraint"]
    broken = observation_profile(axes, 1000.0 + np.array([[0.0, 25.0, 16.0]]).repeat(4, 0),
                                 2000, scatter=10.0)["inclination"]  # fmt: skip
    assert broken["consistent"] == [150.0, 170.0] and broken["flat"] and not broken["contiguous"]
    assert broken["excursion"] == {"delta_chi2": 9.0, "at": 170.0}
    # a dip larger than the seeds' spread is the profile's error: Δχ² 90 then 5 says the
    # units missed their minima by >= 85 (or a second basin): flat, whatever the seeds say
    dip = observation_profile(axes, 1000.0 + np.array([[0.0, 90.0, 5.0]]).repeat(4, 0), 2000,
                              scatter=10.0)["inclination"]  # fmt: skip
    assert dip["flat"] and dip["unconstrained"] and dip["excursion"]["delta_chi2"] == 85.0
    assert "profile's own dip (170" in dip["constraint"]
    gap = observation_profile(axes, 1000.0 + np.array([[50.0, 0.0, 9.0]]).repeat(4, 0), 2000,
                              scatter=5.0)["inclination"]  # fmt: skip
    assert gap["consistent"] == [160.0, 170.0] and gap["contiguous"] and not gap["flat"]


def test_observation_profile_flags_dip_and_edge():
    """The M87 scan's spin profile (Δχ² 82, 162, 180, 0, 98; two-seed scatter 18.9) falls
    by 98 walking to -0.94: unconstrained, as a second basin or missed minima; and a
    minimum on the grid's edge bounds the inclination on one side only."""
    from kerrfield.fitting.observation_report import observation_profile

    spins, incs = [-0.94, -0.5, 0.0, 0.5, 0.94], [150.0, 158.0, 163.0, 170.0]
    chi2 = 7000.0 + np.add.outer([82.0, 162.0, 180.0, 0.0, 98.0], [0.0, 300.0, 600.0, 900.0])
    p = observation_profile({"spin": spins, "inclination": incs}, chi2, 8285, 18.85)
    s, i = p["spin"], p["inclination"]
    assert s["unconstrained"] and s["flat"] and s["excursion"] == {"delta_chi2": 98.0,
                                                                   "at": -0.94}
    assert i["unconstrained"] and not i["flat"] and i["at_edge"] == "lower"
    assert i["constraint"].startswith("inclination unconstrained: the profile's minimum is on "
                                      "the grid's lower edge (150)")
    # the same profile without its dip (monotonic on both sides) and an interior minimum
    mono = observation_profile({"spin": spins, "inclination": incs},
                               7000.0 + np.add.outer([300.0, 200.0, 100.0, 0.0, 98.0],
                                                     [300.0, 0.0, 600.0, 900.0]),
                               8285, 18.85)  # fmt: skip
    for name in ("spin", "inclination"):
        e = mono[name]
        assert not e["unconstrained"] and e["at_edge"] is None, name
        assert e["excursion"]["delta_chi2"] == 0.0 and e["consistent"] == [
            {"spin": 0.5, "inclination": 158.0}[name]]
    # the upper edge, and without a measured scatter
    up = observation_profile({"spin": spins, "inclination": [163.0]},
                             np.array([[40.0], [30.0], [20.0], [10.0], [0.0]]), 100)["spin"]
    assert up["at_edge"] == "upper" and up["unconstrained"] and not up["flat"]
