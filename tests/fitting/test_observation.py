"""Fitting a lensed model to an interferometric observation (small, fast settings)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerrfield as kf
from kerrfield.fitting.observation import (
    Axisymmetric,
    SkyModel,
    fit_observation,
    match_emission,
    relative_entropy,
)
from kerrfield.fitting.observation_result import position_angle_ambiguous
from kerrfield.models.synthetic import AnalyticEmission
from kerrfield.vlbi import load_uvfits, observe, read_fits_image


@pytest.fixture(scope="module")
def setting(m87_path):
    obs = load_uvfits(m87_path).isel(row=slice(0, 1500))
    geo = kf.raytrace(0.94, 163.0, fov=12.0, npix=16, orders=(0,), velocity="keplerian")
    truth = kf.fixed_image_model(AnalyticEmission("disk", R=4.5, p1=3.0, p2=4.0), geo, k=3.0)
    data = observe(truth.to_xarray(), like=obs, theta_g=3.8, position_angle=200.0, flux=0.6,
                   seed=1)
    return data, geo


def _model(geo):
    field = Axisymmetric(kf.EmissionField(in_features=2, width=8, depth=1, scale=10.0, seed=0))
    match_emission(field, AnalyticEmission("disk"), steps=50, npts=16)
    return kf.fixed_image_model(field, geo, k=3.0)


def test_fit_improves_and_reports(setting, tmp_path):
    data, geo = setting
    model = _model(geo)
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    res = fit_observation(model, data, theta_g=4.2, position_angle=[150.0, 250.0],
                          steps=25, scout_steps=5, systematic=0.01, tv=0.01, mem=0.01,
                          method="nufft", seed=3)
    assert torch.equal(torch.rand(3), expected)  # the seed did not leak into the caller's RNG
    assert res.history[-1]["loss"] < res.history[0]["loss"]
    s = res.summary()
    for key in ("theta_g_uas", "position_angle_deg", "chi2_cphase", "chi2_lcamp"):
        assert np.isfinite(s[key]), key
    # a 25-step smoke fit need not have formed a ring yet: then the ring features are NaN
    # (never a made-up number); benchmarks/bench_m87_fit.py measures them on real fits
    assert {"ring_diameter_uas", "ring_width_uas", "brightness_pa_deg"} <= set(s)
    # headline features at the EHT resolution, the sharp image's beside them
    assert s["ring_resolution_uas"] == 20.0 and "brightness_pa_model_deg" in s
    sharp = res.summary(resolution_uas=0.0)
    for key in ("ring_diameter", "ring_width", "brightness_pa"):
        unit = "_deg" if key == "brightness_pa" else "_uas"
        np.testing.assert_equal(sharp[key + unit], sharp[key + "_model" + unit])
        np.testing.assert_equal(sharp[key + "_model" + unit], s[key + "_model" + unit])
    with pytest.raises(ValueError, match="resolution_uas"):
        res.summary(resolution_uas=-1.0)
    fits = res.to_fits(tmp_path / "fit.fits", source="M87")
    img = read_fits_image(fits)
    assert float(img.sum()) == pytest.approx(0.6, rel=1e-6)
    # the file is the model: the model's own pixels, 8 x finer, over the rotated screen
    # (bilinear at the screen's resolution was 30 % off in χ²(cp) on the M87 April 6 fit)
    model = res.model_visibilities()
    from_file = kf.visibilities(fits, res.terms.obs)
    assert np.abs(from_file - model).max() < 2e-3 * 0.6
    _, chi2 = res.terms(torch.as_tensor(from_file))
    for term in ("cphase", "lcamp"):
        assert float(chi2[term]) == pytest.approx(res.chi2[term], rel=0.01), term
    assert set(res.model_closures()) == {"cphase", "lcamp"}


def test_dft_and_nufft_agree(setting):
    data, geo = setting
    sky = SkyModel(_model(geo), theta_g=3.8, position_angle=30.0)
    u, v = (torch.as_tensor(data[k].values) for k in ("u", "v"))
    a = sky(u, v)
    sky.method = "nufft"
    torch.testing.assert_close(sky(u, v), a, rtol=1e-9, atol=1e-10)


def test_bad_arguments(setting):
    data, geo = setting
    with pytest.raises(ValueError, match="theta_g"):
        SkyModel(_model(geo), theta_g=-1.0)
    with pytest.raises(ValueError, match="learn"):
        SkyModel(_model(geo), learn=("spin_axis",))
    with pytest.raises(ValueError, match="tv"):
        fit_observation(_model(geo), data, tv=-1.0, steps=1)
    assert float(relative_entropy(torch.ones(4, 4))) == pytest.approx(0.0, abs=1e-12)


def test_config_run_and_cli(setting, tmp_path, monkeypatch):
    import argparse
    import json

    from kerrfield.cli import observe as cli_observe
    from kerrfield.fitting.observation_config import run_observation_config

    data, _ = setting
    path = tmp_path / "d.uvfits"
    kf_vlbi = __import__("kerrfield.vlbi", fromlist=["save_uvfits"])
    kf_vlbi.save_uvfits(data, path)
    toml = tmp_path / "c.toml"
    toml.write_text(f"""
[data]
uvfits = "{path.name}"
[model]
npix = 12
orders = [0]
width = 8
depth = 1
[sky]
position_angle = [180.0]
[fit]
steps = 3
[output]
directory = "out"
""")
    # data.uvfits is relative to the config file, output.directory to the working directory
    # (as in kerrfield infer)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    parser = argparse.ArgumentParser()
    cli_observe.add_cli(parser.add_subparsers())
    args = parser.parse_args(["fit-obs", str(toml), "--no-progress"])
    assert args.func(args) == 0
    summary = json.loads((work / "out" / "summary.json").read_text())
    assert summary["source"] == "M87" and np.isfinite(summary["chi2_cphase"])
    # the same summary as `kerrfield fit --target X.uvfits` and `kerrfield infer`
    assert summary["n_data"] == summary["n_cphase"] + summary["n_lcamp"] > 0
    assert summary["chi2_total"] == pytest.approx(
        summary["chi2_cphase"] * summary["n_cphase"] + summary["chi2_lcamp"] * summary["n_lcamp"])
    assert summary["weights"] == {"cphase": 1.0, "lcamp": 1.0}
    assert (work / "out" / "image.fits").is_file()
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="unknown key"):
        run_observation_config({"fit": {"stepz": 3}})
    # a kerrfield infer name is pointed to its fit-obs twin
    with pytest.raises(ValueError, match=r"infer's fit.tv_weight is fit.tv here"):
        run_observation_config({"fit": {"tv_weight": 1.0}})
    with pytest.raises(ValueError, match=r"infer's \[field\] width/depth are \[model\]"):
        run_observation_config({"field": {"width": 8}})
    with pytest.raises(ValueError, match="steps must be >= 0"):
        run_observation_config(toml, steps=-3)
    with pytest.raises(ValueError, match=r"\[sky\] learn must be a list of 'theta_g'"):
        run_observation_config({"sky": {"learn": ["thetag"]}})
    with pytest.raises(FileNotFoundError, match=r"config \[data\] uvfits: no such file"):
        run_observation_config({"data": {"uvfits": str(tmp_path / "nope.uvfits")}})
    bad = tmp_path / "bad.toml"
    bad.write_text("[fit\nsteps = 3\n")
    with pytest.raises(ValueError, match=r"config file .*bad\.toml: not valid TOML"):
        run_observation_config(bad)
    # an earlier fit is not replaced unless asked (as kerrfield fit), and values are checked
    # as kf.fit checks them, before any data are read
    stamp = (work / "out" / "summary.json").stat().st_mtime_ns
    with pytest.raises(ValueError, match="holds an earlier fit"):
        run_observation_config(toml, steps=0)
    assert (work / "out" / "summary.json").stat().st_mtime_ns == stamp
    with pytest.raises(ValueError, match=r"config \[fit\].systematic must be a finite number "
                       r"in \[0, 1\], got 2"):
        run_observation_config({"fit": {"systematic": 2}, "data": {"uvfits": "nope"}})
    with pytest.raises(ValueError, match=r"config \[sky\].theta_g must be a finite number"):
        run_observation_config({"sky": {"theta_g": [3.0, -1.0]}})
    assert cli_observe._cli_fit_obs(parser.parse_args(
        ["fit-obs", str(toml), "--no-progress", "--steps", "0", "-o", str(tmp_path / "o2")])) == 0
    assert (tmp_path / "o2" / "summary.json").is_file()
    # 0 steps means no final steps after the scouts, not fit.steps
    none, two = (run_observation_config(toml, steps=n, overwrite=True)[0] for n in (0, 2))
    assert len(two.history) - len(none.history) == 2


def test_multi_start_search_and_profile(setting):
    from kerrfield.fitting.observation_profile import profile_observation

    data, geo = setting
    res = fit_observation(_model(geo), data, theta_g=[3.0, 4.5], position_angle=[150.0, 250.0],
                          steps=4, scout_steps=3, scout_rounds=2, finalists=2,
                          method="nufft")
    assert len(res.scouts) == 4
    assert sorted(s["scout_steps"] for s in res.scouts) == [3, 3, 6, 6]
    best = min((s for s in res.scouts if s["scout_steps"] == 6), key=lambda s: s["loss"])
    assert {(s["theta_g_start"], s["position_angle_start"]) for s in res.scouts} == {
        (3.0, 150.0), (3.0, 250.0), (4.5, 150.0), (4.5, 250.0)}
    assert len(res.history) == 10 and np.isfinite(best["loss"])
    # both finalists' ends, the fit's first: a runner-up basin is reported, not dropped
    ends = res.finalists
    assert len(ends) == 2 and ends[0]["loss"] <= ends[1]["loss"]
    # evaluated at the finalist's final state, as the fit's own χ² is (not at its last step,
    # which is one update short)
    assert ends[0]["loss"] != res.history[-1]["loss"]
    assert ends[0]["position_angle_deg"] == res.history[-1]["position_angle_deg"]
    # the fit's own η and ring are the summary's (the same image, the same 20 µas beam)
    summ = res.summary()
    for key in ("brightness_pa_deg", "ring_diameter_uas"):
        assert ends[0][key] == pytest.approx(summ[key], rel=1e-9, nan_ok=True), key
        assert all(key in e for e in ends)
    from kerrfield.fitting.observation_target import observation_summary

    summary = observation_summary(res)
    assert summary["finalists"] == ends
    # the winner's total χ² is the fit's: its final reduced χ² times the closure counts
    n = {k: v.sizes["closure"] for k, v in res.terms.closures.items()}
    assert ends[0]["chi2_total"] == pytest.approx(sum(res.chi2[t] * n[t] for t in n),
                                                  rel=1e-12)  # fmt: skip
    assert ends[0]["delta_chi2"] == 0.0
    assert ends[1]["delta_chi2"] == pytest.approx(ends[1]["chi2_total"] - ends[0]["chi2_total"])
    assert summary["position_angle_ambiguous"] is position_angle_ambiguous(ends)
    rows = profile_observation(_model(geo), data, "position_angle", [100.0, 200.0], steps=3,
                               method="nufft", ring=False)
    assert [r["value"] for r in rows] == [100.0, 200.0]
    for r in rows:
        assert r["position_angle_deg"] == pytest.approx(r["value"])
        assert r["loss"] == pytest.approx(r["chi2_cphase"] + r["chi2_lcamp"])
    with pytest.raises(ValueError, match="parameter"):
        profile_observation(_model(geo), data, "spin", [0.5])


def test_per_station_gain_prior(setting):
    """gain_sigma per station: a loose prior lets that station's gains absorb a calibration
    error (the LMT in 2017) that a tight one holds back; bad names and widths are refused."""
    data, geo = setting
    stations = sorted(set(data.t1.values) | set(data.t2.values))
    loose = stations[0]
    off = data.copy()
    scale = np.where((data.t1 == loose) | (data.t2 == loose), 1.5, 1.0)  # |g| = 1.5 there
    off["vis"] = data.vis * scale
    kw = dict(weights={"amp": 1.0}, gains=True, steps=60, scout_steps=0, theta_g=3.8,
              position_angle=200.0, learn=(), lr=0.0, sky_lr=0.05, seed=0)

    def gain_of(res):
        st = res.terms.gains.stations
        return float(res.terms.gains.log_amp.detach()[list(st).index(loose)].mean().exp())

    tight = fit_observation(_model(geo), off, gain_sigma=0.05, **kw)
    per_station = fit_observation(_model(geo), off, gain_sigma={"default": 0.05, loose: 1.0},
                                  **kw)
    assert gain_of(per_station) > gain_of(tight) + 0.1
    assert per_station.chi2["amp"] < tight.chi2["amp"]
    with pytest.raises(ValueError, match=r"gain_sigma: unknown station\(s\) \['XX'\]"):
        fit_observation(_model(geo), off, gain_sigma={"XX": 1.0}, **kw)
    with pytest.raises(ValueError, match=r"gain_sigma must be a finite number > 0"):
        fit_observation(_model(geo), off, gain_sigma=0.0, **kw)
    with pytest.raises(ValueError, match=rf"gain_sigma\['{loose}'\] must be a finite number"):
        fit_observation(_model(geo), off, gain_sigma={loose: float("nan")},
                        **{**kw, "gains": False})  # checked with or without gains
    from kerrfield.fitting.observation_target import check_observation_options

    got = check_observation_options({"gain_sigma": {"LM": 1, "default": 0.1}, "uv_min": 0})
    assert got == {"gain_sigma": {"LM": 1.0, "default": 0.1}, "uv_min": 0.0}
    with pytest.raises(ValueError, match=r"observation.gain_sigma.LM"):
        check_observation_options({"gain_sigma": {"LM": -1.0}})
    with pytest.raises(ValueError, match=r"observation.uv_min"):
        check_observation_options({"uv_min": -5.0})


def test_position_angle_ambiguous():
    """Another PA basin (> 20° away, across 0°/360° too) within Δχ² < 4 leaves the PA open."""
    from kerrfield.fitting.observation_result import rival_basin

    def ends(*rows):
        return [{"position_angle_deg": pa, "delta_chi2": d} for pa, d in rows]

    assert position_angle_ambiguous(ends((23.0, 0.0))) is None
    assert position_angle_ambiguous([]) is None
    assert position_angle_ambiguous(ends((23.0, 0.0), (98.0, 1.3))) is True
    assert position_angle_ambiguous(ends((23.0, 0.0), (98.0, 11.0))) is False
    assert position_angle_ambiguous(ends((355.0, 0.0), (10.0, 0.5))) is False  # one basin
    assert position_angle_ambiguous(ends((355.0, 0.0), (30.0, 0.5))) is True  # 35° apart
    rows = ends((0.0, 0.0), (90.0, 3.0), (180.0, 1.0), (5.0, 0.1))
    assert rival_basin(rows) == rows[2]
