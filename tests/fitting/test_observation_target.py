"""Observations as targets: ``kf.fit``, ``kerrfield fit`` and ``kerrfield infer`` (tiny fits)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import kerrfield as kf
from kerrfield.fitting.observation_result import ObservationFit
from kerrfield.fitting.observation_target import (
    check_observation_options,
    is_observation,
    load_observation,
    observation_image_model,
    observation_summary,
)
from kerrfield.vlbi import read_fits_image, save_uvfits


@pytest.fixture(scope="module")
def small_obs(m87_obs):
    return m87_obs.isel(row=slice(0, 1500))


@pytest.fixture(scope="module")
def small_uvfits(small_obs, tmp_path_factory):
    path = tmp_path_factory.mktemp("obs") / "m87_part.uvfits"
    save_uvfits(small_obs, path)
    return path


def _model(npix=10):
    field = kf.EmissionField(width=6, depth=1, scale=10.0, seed=0)
    return observation_image_model(field, 0.94, 163.0, fov=8.0, npix=npix, orders=(0,),
                                   match_steps=20)  # fmt: skip


def test_fit_dispatches_on_observation(small_obs, small_uvfits, tmp_path):
    opts = {"weights": {"cphase": 1.0, "lcamp": 0.5}, "systematic": 0.02, "theta_g": 3.9,
            "position_angle": [0.0, 180.0], "scout_steps": 2, "method": "nufft"}
    res = kf.fit(_model(), small_obs, steps=4, lr=5e-3, seed=1, progress=False,
                 tv_weight=0.01, observation=opts)  # fmt: skip
    assert isinstance(res, ObservationFit)
    assert len(res.history) >= 4  # the best scouted PA start's steps, then 4 steps
    assert res.summary()["theta_g_uas"] != pytest.approx(3.9)  # theta_g was fitted
    s = observation_summary(res)
    assert s["n_cphase"] > 0 and s["n_lcamp"] > 0 and s["n_data"] == s["n_cphase"] + s["n_lcamp"]
    assert s["chi2_total"] == pytest.approx(
        s["chi2_cphase"] * s["n_cphase"] + s["chi2_lcamp"] * s["n_lcamp"])
    for key in ("theta_g_uas", "position_angle_deg", "ring_diameter_uas", "ring_width_uas",
                "brightness_pa_deg"):
        assert key in s
    # a uvfits path is an observation too, with the same result for the same seed
    res2 = kf.fit(_model(), small_uvfits, steps=4, lr=5e-3, seed=1, progress=False,
                  tv_weight=0.01, observation=opts)  # fmt: skip
    assert res2.chi2["cphase"] == pytest.approx(res.chi2["cphase"], rel=1e-6)
    img = read_fits_image(res.to_fits(tmp_path / "best.fits"))
    assert float(img.sum()) == pytest.approx(0.6, rel=1e-6)


def test_fit_observation_bad_options(small_obs):
    m = _model(npix=6)
    for kw, match in ((dict(loss="chi2"), "loss='chi2' does not apply"),
                      (dict(batch_size=10), "batch_size"),
                      (dict(checkpoint="x.pt"), "checkpoint"),
                      (dict(observation={"weights": {"cp": 1.0}}), "unknown term 'cp'"),
                      (dict(observation={"weights": {"cphase": 0.0}}), "at least one"),
                      (dict(observation={"steps": 3}), "kerrfield.fit's own argument"),
                      (dict(observation={"systematic": 2.0}), "observation.systematic"),
                      (dict(observation={"method": "fft"}), "observation.method")):
        with pytest.raises(ValueError, match=match):
            kf.fit(m, small_obs, steps=1, progress=False, **kw)
    with pytest.raises(ValueError, match="need an observation target"):
        kf.fit(m, np.zeros(m.shape), steps=1, progress=False, observation={})
    assert is_observation("a.UVFITS") and not is_observation("a.nc")
    with pytest.raises(ValueError, match="no such file"):
        load_observation("missing.uvfits")
    assert check_observation_options({"position_angle": 30}) == {"position_angle": 30.0}


def test_cli_fit_observation(small_uvfits, tmp_path, capsys):
    from kerrfield import cli

    out = tmp_path / "fit"
    argv = ["fit", "--target", str(small_uvfits), "--fix-geometry", "--spin0", "0.94",
            "--inclination0", "163", "--fov", "8", "--npix", "10", "--orders", "0",
            "--width", "6", "--depth", "1", "--axisymmetric", "--steps", "3",
            "--position-angle", "0", "180", "--scout-steps", "2", "--weights", "cphase=1",
            "lcamp=0.5", "--systematic", "0.03", "--no-progress", "-o", str(out)]
    assert cli.main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    for key in ("theta_g_uas", "position_angle_deg", "ring_diameter_uas", "ring_width_uas",
                "brightness_pa_deg", "chi2_cphase", "chi2_lcamp", "chi2_total"):
        assert key in s, key
    assert s["weights"] == {"cphase": 1.0, "lcamp": 0.5} and s["systematic"] == 0.03
    assert s["spin"] == pytest.approx(0.94) and np.isfinite(s["chi2_total"])
    assert read_fits_image(out / "image.fits").sum() == pytest.approx(0.6, rel=1e-6)
    assert not list(out.glob("*.tmp*"))  # written atomically, nothing left over
    capsys.readouterr()
    assert cli.main([*argv, "--loss", "chi2"]) == 2
    assert "loss='chi2' does not apply" in capsys.readouterr().err
    assert cli.main([*argv, "--weights", "cp=1"]) == 2
    assert "unknown term 'cp'" in capsys.readouterr().err
