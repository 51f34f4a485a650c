"""Bad input beyond the argument matrix of test_bad_inputs.py: impossible recorded truths,
non-numeric analytic emission parameters in a config, inclinations that look like radians,
and the helpers (psnr, figures, θ_g) named errors instead of NaN or a deep traceback."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import kerrfield as kf
from kerrfield.fitting.config import ConfigError, load_inference_config


@pytest.mark.parametrize("key,value", [("spin", 1.5), ("spin", "high"), ("inclination", 0.0),
                                       ("inclination", 190.0)])
def test_impossible_recorded_truth_is_refused_before_fitting(key, value):
    target = kf.synthesize("ring", 0.5, 30.0, npix=8, seed=0)
    target.attrs[key] = value
    model = kf.kerr_image_model(kf.EmissionField(seed=1), 0.5, 30.0, npix=8)
    with pytest.raises(ValueError, match=rf"target attrs\['{key}'\] = .*the recorded truth"):
        kf.fit(model, target, steps=1, progress=False)
    assert kf.target_truth({"spin": 0.94, "inclination": 163.0}) == {"spin": 0.94,
                                                                     "inclination": 163.0}


def test_analytic_emission_params_are_numbers_named_by_their_key():
    raw = {"target": {"synthetic": {"emission": "ring", "npix": 8,
                                    "emission_params": {"radius": "6 M", "width": 1.5}}},
           "mode": {"kind": "joint", "spin": 0.5, "inclination": 40.0}}
    with pytest.raises(ConfigError, match=r"'target\.synthetic\.emission_params\.radius' must "
                       r"be a number, got '6 M'"):
        load_inference_config(raw)
    raw["target"]["synthetic"]["emission_params"]["radius"] = 6.0
    assert load_inference_config(raw).target["synthetic"]["emission_params"]["radius"] == 6.0


def test_an_inclination_that_looks_like_radians_warns():
    with pytest.warns(UserWarning, match=r"inclination = 0\.3 deg .*as radians, 0\.3 would "
                      r"be 17\.2 deg"):
        kf.raytrace(0.5, 0.3, npix=4)
    with pytest.warns(UserWarning, match="in degrees"):
        kf.kerr_image_model(kf.EmissionField(seed=0), 0.5, 1.2, npix=4)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kf.raytrace(0.5, 17.0, npix=4)  # degrees: no warning


@pytest.mark.parametrize("call, error, match", [
    (lambda: kf.psnr(np.zeros((4, 4)), np.eye(4), normalize=True), ValueError,
     "non-zero total flux"),
    (lambda: kf.psnr(np.zeros(0), np.zeros(0)), ValueError, "empty"),
    (lambda: kf.plot_fit(np.ones((4, 4)), np.ones((5, 5)), np.ones((4, 4))), ValueError,
     r"one shape, got shapes \[\(4, 4\), \(5, 5\)"),
    (lambda: kf.plot_fit(np.eye(4), np.eye(4), np.eye(4), losses=(1.0,)), ValueError,
     "losses must be a pair"),
    (lambda: kf.plot_parameters(xr.Dataset()), ValueError, "history must be a fit history"),
    (lambda: kf.plot_fit(np.eye(4), np.eye(4), np.eye(4), titles=("a", "b")), ValueError,
     "titles must be three strings"),
    (lambda: kf.theta_g_uas("x", 16.8), TypeError, "mass must be a number in solMass"),
    (lambda: kf.theta_g_uas(6.5e9, "far"), TypeError, "distance must be a number in Mpc"),
    (lambda: kf.fit(kf.fixed_image_model(kf.EmissionField(seed=0, width=4),
                                          kf.raytrace(0.5, 30.0, npix=4)),
                    np.ones((4, 4)).tolist(), steps=1),  # a list means observations
     TypeError, r"target\[0\]\[0\] must be an observation.*image target is an array"),
])
def test_helpers_name_what_is_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_joint_fit_with_spin_and_inclination_both_fixed_is_refused():
    raw = {"target": {"synthetic": {"emission": "ring", "npix": 8}},
           "mode": {"kind": "joint", "spin": 0.5, "inclination": 40.0, "fit_spin": False,
                    "fit_inclination": False}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"'joint' fits the field with the spin and/or the "
                       r"inclination: set 'mode\.fit_spin' or 'mode\.fit_inclination' true"):
        load_inference_config(raw)


def test_a_ranged_grid_through_zero_has_zero_on_it():
    """The default search spin grid, −0.9 … 0.9 in 7, printed −1.11e-16 for its middle."""
    cfg = load_inference_config({"target": {"synthetic": {"emission": "ring", "npix": 8}},
                                 "mode": {"kind": "search"}})  # fmt: skip
    assert cfg.spin[3] == 0.0 and str(cfg.spin[3]) == "0.0"


def test_misspelt_observation_keys_get_a_suggestion():
    from pathlib import Path

    from kerrfield.fitting.observation_config import _merge
    from kerrfield.fitting.observation_target import check_observation_options

    with pytest.raises(ValueError, match=r"'scout_step' \(did you mean 'scout_steps'\?\)"):
        check_observation_options({"scout_step": 5}, "fit.observation")
    with pytest.raises(ValueError, match=r"'systematc': did you mean 'systematic'\?"):
        _merge({"fit": {"systematc": 0.1}}, Path("."))


@pytest.mark.parametrize("section, key, value, match", [
    ("model", "npix", -3, r"config \[model\]\.npix must be >= 2"),
    ("model", "inclination", 200.0, r"config \[model\]\.inclination must be in degrees"),
    ("model", "orders", [0, 0], r"config \[model\]\.orders must be distinct"),
    ("data", "day", 7, r"config \[data\]: day must be an April 2017 observing day"),
])
def test_fit_obs_config_errors_name_section_and_key(section, key, value, match):
    """Checked when the config is read, before any data (they surfaced in raytrace or the
    download, without the config's names)."""
    from pathlib import Path

    from kerrfield.fitting.observation_config import _merge

    with pytest.raises(ValueError, match=match):
        _merge({section: {key: value}}, Path("."))


def test_an_oversized_render_is_refused_before_allocating(monkeypatch):
    """MemoryError naming the largest screen that fits (the limit set here, so the test
    does not depend on this machine's free memory)."""
    monkeypatch.setenv("KERRFIELD_MEMORY_LIMIT_GB", "1")
    with pytest.raises(MemoryError, match=r"npix <= \d+"):
        kf.render(kf.EmissionField(seed=0, width=4), 0.5, 30.0, npix=100000)
