"""Scripted inference: TOML configs run end to end, resume, validation errors."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from kerrfield import cli
from kerrfield.fitting import runner as inference
from kerrfield.fitting.config import MODES, ConfigError, load_inference_config
from kerrfield.fitting.plan import plan_units
from kerrfield.fitting.runner import run_inference


@pytest.fixture(autouse=True)
def _ray_tracer(monkeypatch, tmp_path):
    """Run in tmp_path so relative output directories land there (real ray tracer)."""
    monkeypatch.chdir(tmp_path)


TINY = """
seed = 0

[target.synthetic]
emission = "ring"
spin = 0.6
inclination = 30.0
npix = 8
fov = 8.0

[field]
width = 6
depth = 1

[fit]
steps = 4
lr = 0.02
geometry_lr = 0.02
"""


def _write(tmp_path: Path, mode: str, name: str = "cfg.toml", plots: bool = False) -> Path:
    text = TINY + textwrap.dedent(mode) + '\n[output]\ndirectory = "out"\nprogress = false\n'
    text += f"plots = {str(plots).lower()}\n"
    path = tmp_path / name
    path.write_text(text)
    return path


def test_joint_fit_cli_end_to_end(tmp_path, capsys):
    cfg = _write(tmp_path, '[mode]\nkind = "joint"\nspin = 0.4\ninclination = 40.0\n', plots=True)
    assert cli.main(["infer", str(cfg), "--quiet"]) == 0
    assert "best spin" in capsys.readouterr().out
    out = tmp_path / "out"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["mode"] == "joint"
    assert summary["truth"]["spin"] == pytest.approx(0.6)
    assert summary["best"]["loss_name"] == "normalised MSE"  # as in a search's best
    for f in ("results.nc", "target.nc", "images.png", "history.png", "units/joint.nc"):
        assert (out / f).is_file(), f
        assert f in summary["files"]
    unit = xr.load_dataset(out / "units" / "joint.nc")
    assert unit.sizes["iteration"] == 4
    assert unit.model.dims == ("beta", "alpha") and unit.model.shape == (8, 8)
    assert -1 < unit.attrs["spin"] < 1 and 0 < unit.attrs["inclination"] < 180
    # the fit actually moved the free geometry away from its start
    assert unit.attrs["spin"] != pytest.approx(0.4, abs=1e-9)
    assert not list((out / "units").glob("*.ckpt.pt"))  # checkpoints are cleaned up


def test_scan_resume_skips_completed_points(tmp_path, monkeypatch):
    cfg_path = _write(
        tmp_path,
        '[mode]\nkind = "scan"\ninclination = [20.0, 30.0, 40.0]\nspin = 0.6\nfit_spin = false\n',
        plots=True,
    )
    cfg = load_inference_config(cfg_path)
    assert cfg.inclination == [20.0, 30.0, 40.0] and not cfg.fit_spin

    # an "interrupted" run: only the first two grid points get done
    s1 = run_inference(cfg_path, max_units=2, progress=False)
    assert not s1["complete"] and s1["n_done"] == 2
    units = tmp_path / "out" / "units"
    done = sorted(p.name for p in units.glob("*.nc"))
    assert done == ["spin000_inc000.nc", "spin000_inc001.nc"]
    mtimes = {p: os.stat(units / p).st_mtime_ns for p in done}
    assert not (tmp_path / "out" / "results.nc").exists()

    calls = []
    real = inference._fit_unit

    def counting(cfg, unit, target, checkpoint=None):
        calls.append(unit.name)
        return real(cfg, unit, target, checkpoint)

    monkeypatch.setattr(inference, "_fit_unit", counting)
    s2 = run_inference(cfg_path, progress=False)
    assert calls == ["spin000_inc002"]  # the finished points were not redone
    assert {p: os.stat(units / p).st_mtime_ns for p in done} == mtimes
    assert s2["complete"] and s2["timing"]["units_resumed"] == 2
    prof = s2["profile_inclination"]
    assert prof["grid"] == [20.0, 30.0, 40.0] and len(prof["loss"]) == 3
    assert 20.0 <= prof["recovered"] <= 40.0
    # a minimum on the first or last grid value is reported as a bound
    assert prof["at_grid_edge"] == (int(np.argmin(prof["loss"])) in (0, 2))
    res = xr.load_dataset(tmp_path / "out" / "results.nc")
    assert res.loss.dims == ("spin_grid", "inclination_grid") and res.loss.shape == (1, 3)
    # grid points were fitted with the inclination held at the grid value
    assert res.inclination_fit.values.ravel().tolist() == pytest.approx([20.0, 30.0, 40.0])
    assert (tmp_path / "out" / "profile_inclination.png").is_file()

    calls.clear()
    s3 = run_inference(cfg_path, progress=False)
    assert calls == [] and s3["timing"]["units_fitted"] == 0

    # a changed configuration refuses to mix with the old results ...
    text = cfg_path.read_text().replace("steps = 4", "steps = 5")
    cfg_path.write_text(text)
    with pytest.raises(ConfigError, match="different configuration"):
        run_inference(cfg_path, progress=False)
    # ... unless told to start again
    calls.clear()
    run_inference(cfg_path, progress=False, overwrite=True)
    assert len(calls) == 3


def test_ensemble_spread(tmp_path):
    cfg = _write(
        tmp_path,
        '[mode]\nkind = "ensemble"\nseeds = [3, 4]\nspin = 0.5\ninclination = 35.0\n'
        "init_jitter = { spin = 0.1, inclination = 5.0 }\n",
        plots=True,
    )
    s = run_inference(cfg, progress=False)
    e = s["ensemble"]
    assert e["n"] == 2 and e["spin_std"] >= 0 and e["inclination_std"] >= 0
    res = xr.load_dataset(tmp_path / "out" / "results.nc")
    assert res.seed.values.tolist() == [3, 4]
    assert res.spin_init.values[0] != res.spin_init.values[1]  # jittered starts
    assert (tmp_path / "out" / "ensemble.png").is_file()


def test_file_target_relative_to_config(tmp_path):
    from kerrfield.models.synthetic import synthesize

    synthesize("ring", 0.3, 50.0, npix=8, fov=8.0).to_netcdf(tmp_path / "target.nc")
    (tmp_path / "c.toml").write_text(
        '[target]\nfile = "target.nc"\n[field]\nwidth = 4\ndepth = 1\n[fit]\nsteps = 2\n'
        '[mode]\nkind = "joint"\nfit_spin = false\n[output]\ndirectory = "res"\n'
        "progress = false\nplots = false\n"
    )
    s = run_inference(tmp_path / "c.toml")
    assert s["complete"] and s["truth"] == {"spin": pytest.approx(0.3),
                                             "inclination": pytest.approx(50.0)}
    assert s["units"][0]["spin"] == pytest.approx(0.5)  # held at its (default) start value
    assert not (tmp_path / "res" / "images.png").exists()


def test_file_target_noise_sigma_is_used_by_default(tmp_path):
    """A target written by synthesize with noise carries ``sigma``: the loaded target uses it
    (so a search fits χ², not nmse) unless ``sigma_variable = ""``; a named variable that
    is missing or not an image is a config error before any fit."""
    from kerrfield.models.synthetic import synthesize

    t = synthesize("ring", 0.3, 50.0, npix=8, fov=8.0, noise=0.02, noise_seed=1)
    t["sigma2"] = 2.0 * t["sigma"]
    t["flat"] = ("n", [1.0, 2.0])
    t.to_netcdf(tmp_path / "target.nc")

    def load(extra: str) -> xr.Dataset:
        (tmp_path / "c.toml").write_text(f'[target]\nfile = "target.nc"\n{extra}')
        return inference._load_target(load_inference_config(tmp_path / "c.toml"))

    assert float(load("")["sigma"].mean()) == pytest.approx(float(t["sigma"].mean()))
    assert "sigma" not in load('sigma_variable = ""\n')
    assert float(load('sigma_variable = "sigma2"\n')["sigma"].mean()) == pytest.approx(
        2.0 * float(t["sigma"].mean()))
    with pytest.raises(ConfigError, match="'target.sigma_variable': 'nope' is not in"):
        load('sigma_variable = "nope"\n')
    with pytest.raises(ConfigError, match="must be on"):
        load('sigma_variable = "flat"\n')
    with pytest.raises(ConfigError, match="must be a string"):
        load("sigma_variable = 3\n")
    with pytest.raises(ConfigError, match="'target.variable': 'flat' must be on"):
        load('variable = "flat"\n')
    with pytest.raises(ConfigError, match="'target.variable': 'img' is not in"):
        load('variable = "img"\n')
    s = run_inference({"target": {"file": str(tmp_path / "target.nc")},
                       "field": {"width": 4, "depth": 1}, "fit": {"steps": 2},
                       "mode": {"kind": "search", "spin": {"start": 0.1, "stop": 0.5, "num": 2},
                                "inclination": {"start": 40.0, "stop": 60.0, "num": 2}},
                       "search": {"refine": 1, "profile_points": 3, "profile_rounds": 1,
                                  "refine_steps": 2, "polish_steps": 2, "profile_steps": 2},
                       "output": {"directory": "srch", "progress": False, "plots": False}})
    assert s["search"]["statistical"] and s["search"]["estimate"]["loss"] == "chi2"


def test_cli_check_lists_units(tmp_path, capsys):
    cfg = _write(tmp_path, '[mode]\nkind = "scan"\nspin = [0.2, 0.8]\ninclination = 30.0\n')
    assert cli.main(["infer", str(cfg), "--check"]) == 0
    out = capsys.readouterr().out
    assert "2 fit(s)" in out and "spin001_inc000" in out and "(free)" in out
    assert not (tmp_path / "out").exists()


def test_cli_check_search_says_what_follows_the_grid(tmp_path, capsys):
    cfg = _write(tmp_path, '[mode]\nkind = "search"\nspin = [0.2, 0.5, 0.8]\n'
                 'inclination = [20.0, 40.0]\n[search]\nrefine = 9\nprofile_points = 5\n')
    assert cli.main(["infer", str(cfg), "--check"]) == 0
    out = capsys.readouterr().out
    # at most one refinement per grid point; a round's grid spans both free axes
    assert "6 grid point(s) x 2 field seeds = 12 fits (the grid" in out
    assert "up to 6 joint refinement(s)" in out
    assert "up to 4 local profile grid(s) of 25 point(s) over spin x inclination" in out


BASE = {"target": {"synthetic": {"npix": 8}}}


@pytest.mark.parametrize(
    "patch, match",
    [
        ({"mode": {"kind": "grid"}}, r"'mode.kind' must be one of"),
        ({"mode": {"inclinaton": 3}}, r"unknown config key 'mode.inclinaton' \(did you mean "
                                      r"'inclination'\?\)"),
        ({"mode": {"kind": "joint", "inclination": [10, 20]}}, r"'mode.inclination' is a grid"),
        ({"mode": {"kind": "scan"}}, r"needs a grid"),
        ({"mode": {"kind": "scan", "inclination": [10, 200]}},
         r"'mode.inclination\[1\]' must lie in \(0, 180\)"),
        ({"mode": {"kind": "scan", "spin": {"start": 0, "stop": 0.5}}}, r"'mode.spin.num'"),
        ({"mode": {"kind": "scan", "spin": [0.1, 0.2], "fit_spin": True}}, r"'mode.fit_spin'"),
        ({"mode": {"kind": "joint", "seeds": [1, 2]}}, r"'mode.seeds'.*ensemble"),
        ({"fit": {"steps": 0}}, r"'fit.steps' must be >= 1"),
        ({"fit": {"lr": -1.0}}, r"'fit.lr' must be > 0"),
        ({"fit": {"loss": "l1"}}, r"'fit.loss' must be one of"),
        ({"fit": {"iterations": 5}}, r"unknown config key 'fit.iterations'"),
        ({"field": {"widht": 5}}, r"unknown config key 'field.widht' \(did you mean 'width'"),
        ({"field": {"head": "softplus"}}, r"'field.head' \(did you mean 'output'"),
        ({"model": {"orders": [0, -1]}}, r"'model.orders'"),
        ({"target": {}}, r"exactly one of 'target.file', 'target.synthetic' or "
                           r"'target.observation'"),
        ({"target": {"file": "/nonexistent.nc"}}, r"'target.file': no such file"),
        ({"target": {"synthetic": {"spin": 1.5}}}, r"'target.synthetic.spin' must lie in"),
        ({"target": {"synthetic": {"emission": "jet"}}}, r"'target.synthetic.emission'"),
        ({"outptu": {}}, r"unknown config key 'outptu' \(did you mean 'output'"),
        ({"data": {"day": 6}}, r"unknown config key 'data' \(\[data\] is a section of "
                               r"`kerrfield fit-obs` configurations"),
        ({"output": {"plots": "yes"}}, r"'output.plots' must be true or false"),
        ({"search": {"interval_scale": 0.0}}, r"'search.interval_scale' must be > 0"),
    ],
)
def test_config_errors_name_the_key(patch, match):
    raw = {**BASE, **patch}
    with pytest.raises(ConfigError, match=match):
        load_inference_config(raw)


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_inference_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[mode\nkind = 1\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_inference_config(bad)
    assert cli.main(["infer", str(bad)]) == 2  # the CLI reports instead of raising


# scripted-inference configs; examples with a [data] table are `kerrfield fit-obs` configs
# (tests/fitting/test_observation.py runs those)
EXAMPLES = sorted(p for p in (Path(__file__).parents[2] / "examples").glob("*.toml")
                  if "\n[data]" not in p.read_text())  # fmt: skip


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid(example):
    cfg = load_inference_config(example)
    assert cfg.mode in MODES
    assert len(plan_units(cfg)) >= 1
