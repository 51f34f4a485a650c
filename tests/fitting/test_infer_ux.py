"""What ``kerrfield infer`` says: offline errors, refused folders, ``--check`` on a folder
with results, progress bars in piped logs."""

from __future__ import annotations

import pytest

from kerrfield.cli import main

_DAY_TOML = """[target.observation]
day = 6
band = "hi"
[model]
npix = 8
orders = [0]
[mode]
kind = "scan"
spin = [0.5, 0.9]
inclination = 163.0
[output]
directory = "out"
"""


def test_no_network_is_one_line_and_status_2(tmp_path, monkeypatch, capsys):
    """Neither a local copy nor network: the data module's ConnectionError, through the
    real fetch, becomes one ``error:`` line (exit 2) and nothing is written."""
    import pooch
    import requests

    from kerrfield.vlbi import dataset

    class Offline:
        def fetch(self, name, **kw):
            raise requests.exceptions.ConnectionError("Name or service not known")

    monkeypatch.delenv("KERRFIELD_DATA_DIR", raising=False)
    monkeypatch.setattr(dataset, "_cache_dir", lambda cache: tmp_path / "cache")
    monkeypatch.setattr(pooch, "create", lambda **kw: Offline())
    monkeypatch.chdir(tmp_path)
    (tmp_path / "scan.toml").write_text(_DAY_TOML)
    assert main(["infer", "scan.toml", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("kerrfield infer: error: could not download "
                                               "SR1_M87_2017_096_hi")  # fmt: skip
    assert "set KERRFIELD_DATA_DIR" in err[0] and "KERRFIELD_DATA_DIR is not set" in err[0]
    assert not (tmp_path / "out").exists()


def test_other_os_errors_keep_their_traceback(tmp_path, monkeypatch):
    """Only a missing file or network is a one-line error; a failing disk is not hidden."""
    from kerrfield.cli import infer

    def disk_error(*a, **k):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(infer, "run_inference", disk_error)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(_DAY_TOML)
    with pytest.raises(OSError, match="Input/output"):
        main(["infer", "c.toml", "-q"])


_SCAN = """[target.synthetic]
emission = "ring"
npix = 8
fov = 8.0
[fit]
steps = 2
[mode]
kind = "scan"
spin = 0.5
inclination = [30.0, 40.0, 50.0]
[output]
directory = "out"
progress = false
plots = false
"""


def test_check_reports_reused_units_and_refusal_says_what_changed(tmp_path, monkeypatch,
                                                                 capsys):  # fmt: skip
    from kerrfield.fitting.config import ConfigError
    from kerrfield.fitting.runner import run_inference

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "c.toml"
    path.write_text(_SCAN)
    assert main(["infer", "c.toml", "--check"]) == 0
    assert "output folder" not in capsys.readouterr().out  # nothing there yet
    assert run_inference(path, max_units=2)["n_done"] == 2
    units = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out" / "units").glob("*.nc")}
    assert main(["infer", "c.toml", "--check"]) == 0
    out = capsys.readouterr().out
    assert "  output folder: 2 of 3 grid units already done (will be reused" in out
    assert {p.name: p.stat().st_mtime_ns
            for p in (tmp_path / "out" / "units").glob("*.nc")} == units  # nothing fitted
    # another configuration: --check says so, the run refuses and names what changed
    path.write_text(_SCAN.replace("steps = 2", "steps = 3").replace(
        'emission = "ring"', 'emission = "ring"\nnoise = 0.01'))
    assert main(["infer", "c.toml", "--check"]) == 0
    out = capsys.readouterr().out
    assert "different configuration" in out and "fit.steps: 2 → 3" in out
    with pytest.raises(ConfigError) as err:
        run_inference(path)
    assert "changed: fit.steps: 2 → 3, target.synthetic.noise: (unset) → 0.01" in str(err.value)
    path.write_text(_SCAN.replace('directory = "out"', 'directory = "elsewhere"'))
    assert main(["infer", "c.toml", "--check"]) == 0  # output is not part of the comparison
    assert "output folder" not in capsys.readouterr().out


def test_config_changes_nested_and_ignores_output():
    from kerrfield.fitting.plan import config_changes

    old = {"fit": {"steps": 20, "observation": {"weights": {"cphase": 1.0}}},
           "output": {"directory": "a"}, "mode": {"spin": [0.1, 0.5]}}
    new = {"fit": {"steps": 25, "observation": {"weights": {"cphase": 2.0}}},
           "output": {"directory": "b"}, "mode": {"spin": [0.1, 0.5]}, "seed": 1}
    assert config_changes(old, new) == ["fit.observation.weights.cphase: 1.0 → 2.0",
                                        "fit.steps: 20 → 25", "seed: (unset) → 1"]
    assert config_changes(new, new) == []


def test_progress_bars_only_on_a_terminal_by_default(m87_obs, monkeypatch, capsys):
    """progress=None draws tqdm bars only when stderr is a terminal (capsys' is not);
    explicit True/False are unchanged."""
    import sys

    import kerrfield as kf
    from kerrfield.fitting.observation import Axisymmetric, fit_observation

    obs = m87_obs.isel(row=slice(0, 300))
    geo = kf.raytrace(0.5, 163.0, fov=12.0, npix=8, orders=(0,))

    def bar_drawn(progress):
        field = Axisymmetric(kf.EmissionField(in_features=2, width=4, depth=1, seed=0))
        capsys.readouterr()
        # 300 records of 10 s: their scan averages would hold no quadrangle
        fit_observation(kf.fixed_image_model(field, geo, k=3.0), obs, steps=2,
                        scout_steps=1, position_angle=[0.0, 90.0], progress=progress,
                        scan_average=False)
        err = capsys.readouterr().err
        # each bar says which start, round or finalist it is
        assert ("scout 2/2 (θ_g 3.8 µas, PA 90°)" in err) is ("final 1/1" in err)
        return "scout 1/2 (θ_g 3.8 µas, PA 0°)" in err

    assert not sys.stderr.isatty()
    assert [bar_drawn(p) for p in (None, True, False)] == [False, True, False]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert bar_drawn(None)


def test_inference_fits_ask_for_terminal_only_bars(monkeypatch):
    """A scripted observation run with output.progress asks each fit for bars only on a
    terminal (its per-unit lines are printed by the run); without it, for none."""
    from kerrfield.fitting import loop
    from kerrfield.fitting.observation_infer import fit_seed
    from kerrfield.fitting.plan import Unit

    asked = []

    def spy(*a, progress, **k):
        asked.append(progress)
        raise RuntimeError("stop")

    monkeypatch.setattr(loop, "fit", spy)

    class Cfg:
        model = {"fov": 8.0, "npix": 8, "orders": [0], "k": 3.0, "velocity": "keplerian",
                 "surface": "equatorial", "axisymmetric": True, "match_steps": 0}
        field = {"width": 4, "depth": 1}
        fit = {"steps": 2, "observation": {}}

    for progress, want in ((True, None), (False, False)):
        cfg = Cfg()
        cfg.progress = progress
        with pytest.raises(RuntimeError, match="stop"):
            fit_seed(cfg, Unit("u", 0, 0.5, 163.0, False, False, {}), None, 0)
        assert asked.pop() is want
