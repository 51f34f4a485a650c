"""Observations as targets: ``kf.fit``, ``kerrfield fit`` and ``kerrfield infer`` (tiny fits)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

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
    _check_fit_figure(res)


def _check_fit_figure(res):
    """kf.plot_observation_fit: labelled panels whose titles carry the summary's numbers."""
    fig = kf.plot_observation_fit(res)
    amp, cp, lca, img = fig.axes[:4]
    assert amp.get_xlabel() == "baseline length [Gλ]" and amp.get_ylabel() == "|V| [Jy]"
    assert cp.get_title() == (f"closure phases: {res.terms.closures['cphase'].sizes['closure']}"
                              f", reduced χ² = {res.chi2['cphase']:.2f}")
    assert "log closure amplitude" in lca.get_ylabel() and "(data − model) / σ" in lca.get_ylabel()
    s = res.summary()
    if np.isfinite(s["ring_diameter_uas"]):
        assert f"d = {s['ring_diameter_uas']:.1f} µas" in img.get_title()
    assert img.get_xlabel() == "RA offset (east) [µas]"
    assert "θ_g = " in fig._suptitle.get_text() and "spin-axis PA" in fig._suptitle.get_text()
    assert "sharp model" in kf.plot_observation_fit(res, resolution_uas=0).axes[3].get_title()
    with pytest.raises(ValueError, match="resolution_uas must be a finite FWHM >= 0"):
        kf.plot_observation_fit(res, resolution_uas=-1)


def test_fit_observation_bad_options(small_obs):
    m = _model(npix=6)
    for kw, match in ((dict(loss="chi2"), "loss='chi2' does not apply"),
                      (dict(batch_size=10), "batch_size"),
                      (dict(checkpoint="x.pt"), "checkpoint"),
                      (dict(device="meta"), "device="),
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
    with pytest.raises(FileNotFoundError, match="target: no such file"):
        load_observation("missing.uvfits")
    assert check_observation_options({"position_angle": 30}) == {"position_angle": 30.0}
    # the multi-start search of fit_observation: several theta_g starts, rounds, finalists
    opts = {"theta_g": [3, 4.5], "scout_rounds": 2, "finalists": 2}
    assert check_observation_options(opts) == {"theta_g": [3.0, 4.5], "scout_rounds": 2,
                                               "finalists": 2}
    for bad, match in (({"theta_g": [3.0, -1.0]}, "observation.theta_g"),
                       ({"theta_g": []}, "empty"), ({"finalists": 0}, "finalists"),
                       ({"scout_rounds": 1.5}, "scout_rounds")):
        with pytest.raises((ValueError, TypeError), match=match):
            check_observation_options(bad)


def test_cli_fit_observation(small_uvfits, tmp_path, capsys):
    from kerrfield import cli

    out = tmp_path / "fit"
    argv = ["fit", "--target", str(small_uvfits), "--fix-geometry", "--spin0", "0.94",
            "--inclination0", "163", "--fov", "8", "--npix", "10", "--orders", "0",
            "--width", "6", "--depth", "1", "--axisymmetric", "--steps", "3",
            "--position-angle", "0", "180", "--scout-steps", "2", "--weights", "cphase=1",
            "lcamp=0.5", "--systematic", "0.03", "--uv-min", "0", "--no-progress", "-o",
            str(out)]
    assert cli.main(argv) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["uv_min"] == 0.0 and s["n_rows_used"] == s["n_rows"]  # every row
    assert s["scan_average"] is True  # the default: n_rows counts scan averages
    for key in ("theta_g_uas", "position_angle_deg", "ring_diameter_uas", "ring_width_uas",
                "brightness_pa_deg", "chi2_cphase", "chi2_lcamp", "chi2_total"):
        assert key in s, key
    assert s["weights"] == {"cphase": 1.0, "lcamp": 0.5} and s["systematic"] == 0.03
    assert s["spin"] == pytest.approx(0.94) and np.isfinite(s["chi2_total"])
    assert read_fits_image(out / "image.fits").sum() == pytest.approx(0.6, rel=1e-6)
    assert not list(out.glob("*.tmp*"))  # written atomically, nothing left over
    capsys.readouterr()
    assert cli.main(argv) == 2  # a second fit into the same folder: refused ...
    assert "holds an earlier fit" in capsys.readouterr().err
    assert cli.main([*argv, "--coarse-steps", "5"]) == 2  # ... as are image-fit options
    assert "--coarse-steps" in capsys.readouterr().err
    assert cli.main([*argv, "--loss", "chi2"]) == 2  # named as an option, before any fit
    err = capsys.readouterr()
    assert "--loss: options of an image fit" in err.err and "--weights" in err.err
    assert "fitting spin and inclination too" not in err.out
    assert cli.main([*argv, "--resume"]) == 2
    assert "--resume: an observation fit writes no checkpoint" in capsys.readouterr().err
    assert cli.main([*argv[:-1], str(tmp_path / "g"), "--gain-sigma", "LM=1"]) == 2
    assert "--gain-sigma sets the prior of station gains; it needs --gains" in (
        capsys.readouterr().err)
    # gains cancel in every closure: with closure weights only they are refused, not fitted
    assert cli.main([*argv[:-1], str(tmp_path / "g"), "--gains"]) == 2
    err = capsys.readouterr()
    assert "--gains: station gains cancel in closure phases" in err.err and not err.out
    with pytest.raises(SystemExit):
        cli.main([*argv[:-1], str(tmp_path / "g"), "--uv-min", "-1"])
    assert "argument --uv-min: expected a finite baseline length >= 0" in (
        capsys.readouterr().err)
    assert not (tmp_path / "g").exists()
    # an image fit's folder overwritten by an observation fit keeps none of its files
    img = tmp_path / "img"
    assert cli.main(["fit", "--npix", "8", "--steps", "1", "--fix-geometry", "--width", "4",
                     "--depth", "1", "--no-progress", "-o", str(img)]) == 0
    assert (img / "model.pt").exists()
    assert cli.main([*argv[:-1], str(img)]) == 2
    assert cli.main([*argv[:-1], str(img), "--overwrite"]) == 0
    assert sorted(p.name for p in img.iterdir()) == ["fit.png", "image.fits", "summary.json"]
    capsys.readouterr()
    # a refused option with --overwrite leaves the earlier fit in place
    assert cli.main([*argv, "--loss", "chi2", "--overwrite"]) == 2
    assert "--loss: options of an image fit" in capsys.readouterr().err
    assert (out / "summary.json").exists() and (out / "image.fits").exists()
    assert cli.main([*argv, "--weights", "cp=1", "--overwrite"]) == 2
    assert "unknown term 'cp'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse's own usage error
        cli.main([*argv, "--weights", "cphase"])
    assert "expected TERM=WEIGHT (e.g. cphase=1), got 'cphase'" in capsys.readouterr().err
    assert cli.main([*argv, "--theta-g", "inf", "--overwrite"]) == 2
    assert "theta_g must be a finite number in (0, inf), got inf" in capsys.readouterr().err
    # an observation fit saves no model: render says so instead of "no model.json"
    assert cli.main(["render", str(out), "--output", str(tmp_path / "r.png")]) == 2
    assert "read_fits_image" in capsys.readouterr().err
    assert cli.main(["fit-obs", str(tmp_path / "nope.toml")]) == 2
    assert "config file" in capsys.readouterr().err


def _scan_config(uvfits, out, **mode):
    return {"seed": 0, "target": {"observation": {"uvfits": str(uvfits)}},
            "model": {"npix": 8, "orders": [0], "match_steps": 10},
            "field": {"width": 4, "depth": 1},
            "fit": {"steps": 2, "observation": {"position_angle": [0.0, 180.0],
                                                "scout_steps": 1}},
            "mode": {"kind": "scan", "spin": [0.5, 0.94], "inclination": 163.0, **mode},
            "output": {"directory": str(out), "progress": False}}  # fmt: skip


def test_infer_observation_scan_resumes(small_uvfits, tmp_path):
    from kerrfield.fitting.runner import run_inference

    cfg = _scan_config(small_uvfits, tmp_path / "scan")
    cfg["fit"]["field_seeds"] = 2
    part = run_inference(cfg, max_units=1)
    assert not part["complete"] and part["n_done"] == 1 and "profile" not in part
    first = (tmp_path / "scan" / "units" / "spin000_inc000.nc").stat().st_mtime_ns
    s = run_inference(cfg)
    assert s["complete"] and s["timing"] == {**s["timing"], "units_fitted": 1, "units_resumed": 1}
    assert (tmp_path / "scan" / "units" / "spin000_inc000.nc").stat().st_mtime_ns == first
    for key in ("theta_g_uas", "position_angle_deg", "ring_diameter_uas", "ring_width_uas",
                "brightness_pa_deg", "chi2_cphase", "chi2_lcamp", "chi2_total", "n_data"):
        assert key in s, key
    rows = {r["unit"]: r for r in s["units"]}
    assert s["best"]["loss"] == min(r["chi2_total"] for r in rows.values())
    r = rows[s["best"]["unit"]]
    assert r["chi2_total"] == pytest.approx(r["chi2_cphase"] * s["n_cphase"]
                                            + r["chi2_lcamp"] * s["n_lcamp"])
    assert len(r["chi2_seeds"]) == 2 and r["chi2_total"] == min(r["chi2_seeds"])
    assert s["optimiser_scatter"]["n_seeds"] == 2 and s["optimiser_scatter"]["median"] >= 0
    prof = s["profile"]["spin"]
    assert prof["grid"] == [0.5, 0.94] and min(prof["delta_chi2"]) == 0.0
    assert "inclination" not in s["profile"] and s["constraints"][0].startswith("spin")
    out = tmp_path / "scan"
    assert {"results.nc", "image.fits", "profile.png", "summary.json"} <= set(s["files"])
    assert read_fits_image(out / "image.fits").sum() == pytest.approx(0.6, rel=1e-6)
    assert json.loads((out / "summary.json").read_text())["best"] == s["best"]


def test_infer_check_observation(small_uvfits, tmp_path, capsys):
    from kerrfield import cli
    from kerrfield.fitting.config import ConfigError, load_inference_config

    (tmp_path / "d.uvfits").write_bytes(small_uvfits.read_bytes())
    good = """
[target.observation]
uvfits = "d.uvfits"
[fit.observation]
weights = { cphase = 1.0, amp = 0.5 }
gains = true
[mode]
spin = [0.5, 0.94]
inclination = { start = 150.0, stop = 170.0, num = 3 }
"""
    path = tmp_path / "scan.toml"
    path.write_text(good)
    assert cli.main(["infer", str(path), "--check"]) == 0
    text = capsys.readouterr().out
    assert "valid; mode scan, 6 fit(s)" in text and "d.uvfits" in text
    assert "spin001_inc002: spin 0.94 (fixed), inclination 170 (fixed)" in text
    assert not (tmp_path / "kerrfield-results").exists()  # --check fits nothing
    cfg = load_inference_config(path)
    assert cfg.field["scale"] == 10.0 and cfg.model["velocity"] == "keplerian"
    assert cfg.fit["observation"]["weights"] == {"cphase": 1.0, "amp": 0.5}
    bad = {
        'uvfits = "d.uvfits"': ('uvfits = "missing.uvfits"', "no such file"),
        "cphase = 1.0, amp": ("cp = 1.0, amp", "unknown term 'cp'"),
        "amp = 0.5 }": ("amp = -0.5 }", "fit.observation.weights.amp"),
        "gains = true": ("gains = 1", "fit.observation.gains"),
        "[mode]": ('[mode]\nkind = "joint"', "must be 'scan' or 'search'"),
        "[fit.observation]": ('[fit]\nloss = "chi2"\n[fit.observation]', "fit.loss"),
        "spin = [0.5, 0.94]": ("spin = [0.5, 0.94]\nfit_inclination = true",
                               "mode.fit_inclination"),
    }
    for old, (new, match) in bad.items():
        path.write_text(good.replace(old, new))
        with pytest.raises(ConfigError, match=match):
            load_inference_config(path)
        assert cli.main(["infer", str(path), "--check"]) == 2
    capsys.readouterr()


def test_observation_example_smoke(small_uvfits, tmp_path):
    """CI smoke version of the shipped observation scan and search: same physics and mode,
    tiny sizes."""
    import sys
    from pathlib import Path

    from kerrfield.fitting.runner import run_inference

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    root = Path(__file__).parents[2] / "examples"
    for example in sorted(root.glob("*.toml")):
        if "[target.observation]" not in example.read_text():
            continue
        raw = tomllib.loads(example.read_text())
        raw["target"]["observation"] = {"uvfits": str(small_uvfits)}  # 1500 rows of April 6
        raw["model"].update(npix=8, match_steps=5)
        raw["field"].update(width=4, depth=1)
        raw["fit"]["steps"] = 2
        raw["fit"]["observation"].update(scout_steps=1, position_angle=[0.0])
        raw["mode"].update(spin=raw["mode"]["spin"][:2], inclination=raw["mode"]["inclination"][-1])
        refine = 0
        if raw["mode"]["kind"] == "search":  # one short refinement of the best grid point
            raw["search"] = {"refine": (refine := 1), "refine_steps": 2}
        raw["output"] = {"directory": str(tmp_path / example.stem), "progress": False,
                         "plots": False}  # fmt: skip
        s = run_inference(raw)
        assert s["complete"] and s["n_units"] == 2 + refine and "spin" in s["profile"], example.name
        assert s["mode"] == raw["mode"]["kind"] and ("estimate" in s) == bool(refine)
        assert (tmp_path / example.stem / "image.fits").is_file()


def test_fit_observation_learns_geometry(small_obs):
    """With a differentiable model, spin and inclination move with the sky parameters."""
    field = kf.EmissionField(width=4, depth=1, scale=10.0, seed=0)
    model = observation_image_model(field, 0.9, 160.0, fov=8.0, npix=6, orders=(0,),
                                    match_steps=5, learn_geometry=True, relinearize_every=2)
    res = kf.fit(model, small_obs, steps=2, geometry_lr=0.05, progress=False,
                 observation={"position_angle": 0.0})  # fmt: skip
    s = res.summary(ring=False)  # no ring on a 6² screen after 2 steps
    assert s["spin"] != pytest.approx(0.9, abs=1e-6)
    assert s["inclination_deg"] != pytest.approx(160.0, abs=1e-6)
    with pytest.raises(ValueError, match="need learn_geometry=True"):
        observation_image_model(field, 0.9, 160.0, npix=6, match_steps=0, relinearize_every=2)


@pytest.mark.parametrize("auto", ["auto", " AUTO "])
def test_observation_fit_takes_device_auto_on_a_cuda_host(small_obs, monkeypatch, auto):
    """'auto' (any case, as check_device reads it) means the CPU for an observation fit,
    even where CUDA exists."""

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    res = kf.fit(_model(npix=6), small_obs, steps=1, progress=False, device=auto,
                 observation={"scout_steps": 1, "scout_rounds": 1, "finalists": 1,
                              "theta_g": 3.8, "position_angle": 0.0})  # fmt: skip
    assert np.isfinite(res.summary()["chi2_cphase"])
    with pytest.raises(ValueError, match="observation fits run on the CPU"):
        kf.fit(_model(npix=6), small_obs, steps=1, progress=False, device="cuda")


def test_netcdf_observation_target(small_obs, tmp_path, capsys):
    """An observation saved as netCDF (complex vis as a compound type) is read back complex
    and fitted from a path, in Python and by the CLI; a bad target type names the options."""
    from kerrfield import cli
    from kerrfield.io.readers import load_netcdf

    path = tmp_path / "obs.nc"
    small_obs.to_netcdf(path, auto_complex=True)
    back = load_netcdf(path)
    assert back["vis"].dtype == np.complex128
    np.testing.assert_array_equal(back["vis"].values, small_obs["vis"].values)
    opts = {"scout_steps": 1, "scout_rounds": 1, "finalists": 1, "theta_g": 3.8,
            "position_angle": 0.0}  # fmt: skip
    a = kf.fit(_model(npix=6), path, steps=1, progress=False, observation=opts)
    b = kf.fit(_model(npix=6), small_obs, steps=1, progress=False, observation=opts)
    assert a.chi2["cphase"] == pytest.approx(b.chi2["cphase"], rel=1e-12)
    out = tmp_path / "fit"
    assert cli.main(["fit", "--target", str(path), "--fix-geometry", "--npix", "6", "--orders",
                     "0", "--width", "4", "--depth", "1", "--steps", "1", "--scout-steps",
                     "1", "--position-angle", "0", "--no-progress", "-o", str(out)]) == 0
    assert (out / "image.fits").exists()
    capsys.readouterr()
    with pytest.raises(TypeError, match=r"\.nc/\.uvfits path; got dict"):
        kf.fit(_model(npix=6), {"vis": 1}, steps=1, progress=False)


def test_ring_at_the_screen_edge_is_flagged(small_obs):
    """A 'ring' at the model screen's boundary is the boundary: flagged in the summary and
    said on the figure; a ring well inside is not."""
    from kerrfield.fitting.observation import fit_observation
    from kerrfield.models.synthetic import AnalyticEmission

    geo = kf.raytrace(0.94, 163.0, fov=8.0, npix=16, orders=(0,))
    for radius, edge in ((4.5, False), (7.6, True)):
        model = kf.fixed_image_model(AnalyticEmission("ring", radius=radius, width=0.8), geo,
                                     k=0.0)  # fmt: skip
        res = fit_observation(model, small_obs, steps=0, scout_steps=0, theta_g=3.8)
        s = res.summary()
        assert s["ring_at_screen_edge"] is edge, (radius, s["ring_diameter_model_uas"])
        assert (s["flux_at_screen_edge"] > 0.1) is edge, s["flux_at_screen_edge"]
        title = kf.plot_observation_fit(res).axes[3].get_title()
        assert ("model screen's edge" in title) is edge


def test_flux_at_the_screen_edge():
    """edge_flux against the analytic share of a Gaussian's on-screen flux outside the inner
    90 % box (σ = half-width/3), and
    the summary reports it: large for a ring cut by the screen, small for one inside."""
    from scipy.special import erf

    from kerrfield.fitting.observation_result import edge_flux

    x = np.linspace(-9.0, 9.0, 721)
    sig = 3.0
    img = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * sig**2))
    da = xr.DataArray(img, dims=("beta", "alpha"), coords={"beta": x, "alpha": x})
    inside = erf(8.1 / (sig * np.sqrt(2))) / erf(9.0 / (sig * np.sqrt(2)))  # of the screen's
    assert edge_flux(da) == pytest.approx(1 - inside**2, rel=0.02)  # 0.85 %
    assert np.isnan(edge_flux(da * 0))
