"""``kerrfield infer --check`` validates everything the run will."""

from __future__ import annotations

import pytest

from kerrfield.cli import main

BASE = """
[target.synthetic]
emission = "ring"
npix = 8
fov = 8.0
[fit]
steps = 2
[mode]
kind = "joint"
spin = 0.5
inclination = 40.0
[output]
directory = "out"
progress = false
plots = false
"""


@pytest.mark.parametrize("section, line, key", [
    ("model", 'velocity = "foo"', "model.velocity"),
    ("model", "orders = [0, 0]", "model.orders"),
    ("model", 'surface = "cone:abc"', "model.surface"),
    ("model", 'velocity = "general:2,0,0"', "model.velocity"),
    ("field", 'activation = "gelu"', "field"),
    ("fit", 'device = "meta"', "fit.device"),
])
def test_check_rejects_what_the_run_would(tmp_path, monkeypatch, capsys, section, line, key):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(BASE + f"[{section}]\n{line}\n"
                                     if section != "fit" else
                                     BASE.replace("[fit]\n", f"[fit]\n{line}\n"))
    assert main(["infer", "c.toml", "--check"]) == 2
    err = capsys.readouterr().err
    assert key in err and len(err.strip().splitlines()) == 1


def test_cone_and_general_velocity_configs_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(
        BASE + '[model]\nsurface = "cone:75"\nvelocity = "general:0.8,0.5,0.9"\n')
    assert main(["infer", "c.toml", "--check"]) == 0
    assert main(["infer", "c.toml", "--quiet"]) == 0
    assert (tmp_path / "out" / "results.nc").exists()


def test_check_runs_the_target_checks_and_the_option_checks(tmp_path, monkeypatch, capsys):
    """A beam wider than the screen is refused by --check as by the run; so are --workers 0
    and --workers with --scheduler; --check --overwrite says the earlier run is discarded."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(BASE.replace('fov = 8.0', 'fov = 8.0\nblur_fwhm = 50.0'))
    assert main(["infer", "c.toml", "--check"]) == 2
    assert "50 M is not smaller than the screen" in capsys.readouterr().err
    (tmp_path / "c.toml").write_text(BASE)
    for opts, says in ((["--workers", "0"], "--workers must be >= 1"),
                       (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--scheduler")):
        assert main(["infer", "c.toml", "--check", *opts]) == 2
        assert says in capsys.readouterr().err
    assert main(["infer", "c.toml", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["infer", "c.toml", "--check", "--overwrite"]) == 0
    assert "--overwrite discards it" in capsys.readouterr().out
    assert main(["infer", "c.toml", "--check"]) == 0
    assert "1 of 1 units already done (will be reused" in capsys.readouterr().out


@pytest.mark.parametrize("old, new, key", [
    ("inclination = 40.0", "inclination = 0.7", "mode.inclination = 0.7 deg"),
    ('kind = "joint"\nspin = 0.5\ninclination = 40.0',
     'kind = "search"\nspin = [0.0, 0.5]\ninclination = [0.3, 0.6, 1.2]',
     "mode.inclination = 1.2 deg"),
    ("fov = 8.0", "fov = 8.0\nspin = 0.3\ninclination = 0.5",
     "target.synthetic.inclination = 0.5 deg"),
])
def test_check_warns_of_an_inclination_in_radians(tmp_path, monkeypatch, old, new, key):
    """Inclinations are in degrees; values that all lie below π/2 are most likely radians,
    and --check says so before any fitting (as raytrace and kerr_image_model do)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(BASE.replace(old, new))
    with pytest.warns(UserWarning, match=key.replace(".", r"\.") + r".*is in degrees"):
        assert main(["infer", "c.toml", "--check"]) == 0


def test_new_data_at_the_same_path_is_not_resumed(tmp_path, monkeypatch, capsys):
    """The fingerprint hashes the target file's contents: rewritten in place, the folder
    fitted to the old data is refused (naming the change), by --check and by the run."""
    import kerrfield as kf

    monkeypatch.chdir(tmp_path)
    kf.synthesize("ring", 0.8, 40.0, npix=8, fov=8.0).to_netcdf(tmp_path / "t.nc")
    cfg = BASE.replace('[target.synthetic]\nemission = "ring"\nnpix = 8\nfov = 8.0\n',
                       '[target]\nfile = "t.nc"\n')
    (tmp_path / "c.toml").write_text(cfg)
    assert main(["infer", "c.toml", "--quiet"]) == 0
    assert main(["infer", "c.toml", "--check"]) == 0
    assert "1 of 1 units already done" in capsys.readouterr().out
    kf.synthesize("ring", -0.5, 70.0, npix=8, fov=8.0).to_netcdf(tmp_path / "t.nc")
    assert main(["infer", "c.toml", "--check"]) == 0
    assert "changed: the target file's contents (sha256)" in capsys.readouterr().out
    assert main(["infer", "c.toml", "--quiet"]) == 2
    assert "the target file's contents (sha256)" in capsys.readouterr().err


@pytest.mark.parametrize("section, line, key", [
    ("fit", "checkpoint_every = 10", "fit.checkpoint_every"),
    ("output", "save_models = true", "output.save_models"),
])  # fmt: skip
def test_search_refuses_options_it_would_ignore(tmp_path, monkeypatch, capsys, section, line,
                                                key):
    """A search does not checkpoint its units or save models (its units keep the field
    parameters): saying so beats accepting the option and doing nothing."""
    monkeypatch.chdir(tmp_path)
    cfg = BASE.replace('kind = "joint"\nspin = 0.5\ninclination = 40.0',
                       'kind = "search"\nspin = [0.0, 0.5]\ninclination = [30.0, 50.0]')
    (tmp_path / "c.toml").write_text(cfg.replace(f"[{section}]\n", f"[{section}]\n{line}\n"))
    assert main(["infer", "c.toml", "--check"]) == 2
    assert f"'{key}' is not used by mode.kind = 'search'" in capsys.readouterr().err
    (tmp_path / "c.toml").write_text(cfg.replace('kind = "search"', 'kind = "scan"').replace(
        f"[{section}]\n", f"[{section}]\n{line}\n"))
    assert main(["infer", "c.toml", "--check"]) == 0  # a scan uses both


def test_overwrite_removes_every_earlier_output(tmp_path, monkeypatch):
    """Figures, models and results of the earlier run go, so none is mistaken for the new
    run's (a scan's profile figure next to a search's map, say)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(BASE)
    assert main(["infer", "c.toml", "--quiet"]) == 0
    stale = [tmp_path / "out" / "delta_chi2_map.png", tmp_path / "out" / "models" / "u" / "x"]
    for f in stale:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("old")
    assert main(["infer", "c.toml", "--quiet", "--overwrite"]) == 0
    assert not any(f.exists() for f in stale)
    assert (tmp_path / "out" / "summary.json").exists()


def test_a_folder_started_by_another_version_is_reused_with_a_warning(tmp_path, monkeypatch,
                                                                      capsys):  # fmt: skip
    """The stamp records the kerrfield version that started the folder; same settings under
    another version reuse the finished units, and both --check and the run say so."""
    import json

    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(BASE)
    assert main(["infer", "c.toml", "--quiet"]) == 0
    stamp = tmp_path / "out" / "config.json"
    from kerrfield import __version__

    assert json.loads(stamp.read_text())["kerrfield_version"] == __version__
    old = {**json.loads(stamp.read_text()), "kerrfield_version": "0.0.9"}
    stamp.write_text(json.dumps(old))
    capsys.readouterr()
    assert main(["infer", "c.toml", "--check"]) == 0
    assert f"1 of 1 units already done, by kerrfield 0.0.9 (this is {__version__})" in (
        capsys.readouterr().out)
    with pytest.warns(RuntimeWarning, match=r"started by kerrfield 0\.0\.9.*reused"):
        assert main(["infer", "c.toml", "--quiet"]) == 0
    assert json.loads(stamp.read_text())["kerrfield_version"] == "0.0.9"
