"""The first hour at the command line: Ctrl-C, a missing Julia, defaults in --help, several
outputs, huge screens refused up front, progress, and no noise warnings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings

import pytest
import xarray as xr

import kerrfield as kf
from kerrfield.cli import build_parser, main


@pytest.mark.parametrize("command", ["synth", "fit", "render"])
def test_help_shows_defaults(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    out = capsys.readouterr().out
    assert "(default: " in out
    if command != "render":
        assert "(default: 30)" in out  # --npix


@pytest.mark.parametrize("command", ["synth", "render", "fit-obs", "demo"])
def test_help_states_each_default_once(command, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in out and "(default: False)" not in out
    assert "(default: [])" not in out and ") (default:" not in out


def test_raytrace_writes_every_output(tmp_path, capsys):
    nc, png, nc2 = tmp_path / "a.nc", tmp_path / "b.png", tmp_path / "c.nc"
    assert main(["raytrace", "--npix", "6", "--orders", "0", "-o", str(nc), "-o", str(png),
                 "-o", str(nc2)]) == 0
    assert xr.load_dataset(nc).sizes["alpha"] == 6 and nc2.exists()
    assert png.read_bytes()[:4] == b"\x89PNG"
    # a small trace into a log (stderr no terminal) draws no bar: it used to always draw one
    err = capsys.readouterr().err
    assert "ray tracing" not in err and "chunk" not in err, err


@pytest.mark.parametrize("opts", [["--png", "x.jpg"], ["-o", "out.txt"], ["-o", "a.nc", "-o", "b"]])
def test_raytrace_refuses_an_output_it_would_write_in_another_format(tmp_path, capsys, opts):
    opts = [str(tmp_path / o) if i % 2 else o for i, o in enumerate(opts)]
    assert main(["raytrace", "--npix", "4", "--orders", "0", *opts]) == 2
    err = capsys.readouterr().err
    assert ("--png" if opts[0] == "--png" else "--output") in err and ".png" in err
    assert not any(p.is_file() for p in tmp_path.iterdir())  # refused before tracing


def test_missing_julia_is_one_line_with_a_working_command(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERRFIELD_JULIA", str(tmp_path / "no-julia"))
    monkeypatch.setenv("KERRFIELD_JULIA_BRIDGE", "subprocess")
    monkeypatch.setenv("PATH", str(tmp_path))
    import kerrfield.bridge.worker as worker

    monkeypatch.setattr(worker, "_WORKER", None)
    rc = main(["raytrace", "--npix", "4", "--backend", "julia", "-o", str(tmp_path / "x.nc")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "make julia" in err and "--backend torch" in err
    assert 'kerrfield[julia]' not in err
    from kerrfield.bridge.discovery import HOW_TO_GET_JULIA

    assert 'pip install "kerrfield[julia]"' not in HOW_TO_GET_JULIA


def _ctrl_c(tmp_path, args, ready, settle):
    """Run ``kerrfield ARGS`` in ``tmp_path``, send SIGINT ``settle`` s after the path
    ``ready`` appears; returns (exit status, non-empty stderr lines, stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "kerrfield.cli", *args], cwd=tmp_path,
                            env=env, stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (tmp_path / ready).exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail(f"{ready} never appeared: {proc.communicate()[1][-2000:]}")
        time.sleep(0.2)
    time.sleep(settle)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, [line for line in err.splitlines() if line.strip()], err


def test_ctrl_c_prints_one_line(tmp_path):
    """SIGINT during `kerrfield infer`: one line with the saved units, exit status 130."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        '[target.synthetic]\nemission = "ring"\nnpix = 8\nfov = 8.0\n[fit]\nsteps = 100000\n'
        '[mode]\nkind = "scan"\ninclination = [20.0, 30.0]\nspin = 0.5\nfit_spin = false\n'
        '[output]\ndirectory = "out"\nprogress = false\nplots = false\n')
    rc, lines, err = _ctrl_c(tmp_path, ["infer", str(cfg), "-q"], "out/target.nc", 1.0)
    assert rc == 130, err
    assert len(lines) == 1 and "interrupted" in lines[0] and "0 units saved" in lines[0], err
    assert "rerun to resume" in lines[0] and "Traceback" not in err


def test_ctrl_c_in_fit_ends_at_a_step_with_its_checkpoint(tmp_path):
    """SIGINT during `kerrfield fit`: the step in progress ends, the checkpoint is written,
    one line says after which step and how to resume, exit status 130."""
    args = ["fit", "--emission", "ring", "--npix", "8", "--fov", "8", "--fix-geometry",
            "--checkpoint-every", "20", "--no-progress", "--output", "out",
            "--steps", "10000000"]  # fmt: skip
    # the first checkpoint shows the loop is running (SIGINT before it is a plain interrupt)
    rc, lines, err = _ctrl_c(tmp_path, args, "out/checkpoint.pt", 0.5)
    assert rc == 130, err
    assert "interrupted; after step" in lines[-1] and "rerun with --resume" in lines[-1], err
    assert "Traceback" not in err
    import torch

    done = torch.load(tmp_path / "out" / "checkpoint.pt", weights_only=False)["step"]
    assert f"after step {done} of 10000000" in lines[-1] and done >= 20


def test_huge_screen_is_refused_with_the_estimate(monkeypatch, capsys, tmp_path):
    from kerrfield.physics._memory import trace_bytes

    assert 19e9 < trace_bytes(8192**2, 3) < 23e9  # ~20 GiB for 8192² and n = 0, 1, 2
    monkeypatch.setenv("KERRFIELD_MEMORY_LIMIT_GB", "0.05")
    t0 = time.perf_counter()
    with pytest.raises(MemoryError, match=r"needs about .* GiB.*0\.0 GiB is available.*npix <="):
        kf.raytrace(0.5, 30.0, npix=8192, orders=(0, 1, 2))
    assert time.perf_counter() - t0 < 2  # refused before tracing
    # a PNG needs the Dataset in memory: refused in one line (netCDF-only output streams)
    assert main(["raytrace", "--npix", "8192", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "GiB" in err
    kf.raytrace(0.5, 30.0, npix=16, orders=(0,))  # small screens still fit


def test_no_requires_grad_warning_in_infer(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = {"target": {"synthetic": {"emission": "ring", "npix": 8, "fov": 8.0}},
           "field": {"width": 4, "depth": 1}, "fit": {"steps": 2},
           "mode": {"kind": "joint", "spin": 0.5, "inclination": 40.0},
           "output": {"directory": "out", "progress": False, "plots": False}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        summary = kf.run_inference(cfg)
    # the resolution-independent figure is reported beside the loss
    assert 0 < summary["best"]["relative_residual"] < 2


def test_infer_shows_progress_inside_each_unit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    cfg = {"target": {"synthetic": {"emission": "ring", "npix": 8, "fov": 8.0}},
           "field": {"width": 4, "depth": 1}, "fit": {"steps": 3},
           "mode": {"kind": "joint", "spin": 0.5, "inclination": 40.0},
           "output": {"directory": "out", "progress": True, "plots": False}}
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: per-step bars
    kf.run_inference(cfg)
    err = capsys.readouterr().err
    assert "joint fits" in err and "fit:" in err and "resid=" in err
    # piped into a log: the units' bar only (one line per unit, not one per step)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    kf.run_inference({**cfg, "output": {**cfg["output"], "directory": "out2"}})
    err = capsys.readouterr().err
    assert "joint fits" in err and "resid=" not in err


def test_render_checks_the_reference_before_tracing(tmp_path, capsys, monkeypatch):
    import kerrfield.cli.render as cli_render

    model = kf.kerr_image_model(kf.EmissionField(seed=0, width=4, depth=1), 0.5, 30.0,
                                npix=6, fov=5.0)
    d = kf.save_model(model, tmp_path / "m")
    ref = kf.synthesize("ring", 0.5, 30.0, npix=8, fov=5.0)
    ref.to_netcdf(tmp_path / "ref.nc")
    traced = []
    monkeypatch.setattr(cli_render, "render", lambda *a, **k: traced.append(1))
    assert main(["render", str(d), "--npix", "6", "--reference", str(tmp_path / "ref.nc"),
                 "-o", str(tmp_path / "x.png")]) == 2
    assert "--npix 8" in capsys.readouterr().err
    assert main(["render", str(d), "--npix", "8", "--fov", "4", "--reference",
                 str(tmp_path / "ref.nc"), "-o", str(tmp_path / "x.png")]) == 2
    assert "--fov 5" in capsys.readouterr().err
    (tmp_path / "bad.nc").write_bytes(b"garbage")
    assert main(["render", str(d), "--npix", "8", "--reference", str(tmp_path / "bad.nc")]) == 2
    assert "bad.nc" in capsys.readouterr().err
    assert traced == []  # nothing was traced
    monkeypatch.undo()
    outs = [tmp_path / "r.png", tmp_path / "r.nc"]
    assert main(["render", str(d), "--npix", "8", "--reference", str(tmp_path / "ref.nc"),
                 "-o", str(outs[0]), "-o", str(outs[1])]) == 0
    assert all(p.exists() for p in outs)


def test_progress_auto_draws_bars_in_a_notebook_and_on_a_terminal(monkeypatch):
    """progress=None: bars in a Jupyter kernel (stderr is no terminal there) and on a
    terminal, none in a piped log."""
    from types import SimpleNamespace

    from kerrfield._progress import show_progress

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: None))
    assert not show_progress(None) and show_progress(True) and not show_progress(False)
    kernel = SimpleNamespace(config={"IPKernelApp": {"connection_file": "k.json"}})
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: kernel))
    assert show_progress(None) and not show_progress(False)
    monkeypatch.setitem(sys.modules, "IPython", SimpleNamespace(get_ipython=lambda: None))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert show_progress(None)


@pytest.mark.parametrize("opts, says", [
    (["--weights", "cphase=1"], "--weights: options of a fit to an observation"),
    (["--gains", "--method", "dft"], "--gains, --method"),
    (["--geometry", "GEO", "--spin0", "0.2"], "--spin0: options of a joint fit"),
    (["--geometry", "GEO", "--coarse-steps", "2"], "--coarse-steps: options of a joint fit"),
])
def test_fit_refuses_options_it_would_ignore(tmp_path, capsys, opts, says):
    geo = tmp_path / "geo.nc"
    assert main(["raytrace", "--npix", "6", "--fov", "8", "--orders", "0", "1",
                 "-o", str(geo)]) == 0  # fmt: skip
    opts = [str(geo) if o == "GEO" else o for o in opts]
    out = tmp_path / "fit"
    assert main(["fit", "--emission", "ring", "--npix", "6", "--fov", "8", "--steps", "1",
                 "--no-progress", "-o", str(out), *opts]) == 2  # fmt: skip
    assert says in capsys.readouterr().err and not out.exists()


def test_fit_refuses_a_netcdf_that_is_not_an_image(tmp_path, capsys):
    """A fit's own history.nc (no image, no screen) given as --target: one clear line."""
    hist = tmp_path / "history.nc"
    xr.Dataset({"loss": ("step", [1.0, 0.5])}).to_netcdf(hist)
    assert main(["fit", "--target", str(hist), "--steps", "1", "--no-progress",
                 "-o", str(tmp_path / "fit")]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "--target" in err and "neither an image" in err and "'image'" in err
    assert "loss" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, says", [
    (["--spin0", "1.5"], "--spin0 1.5 must lie in (-0.999, 0.999)"),
    (["--spin0", "0.9995"], "--spin0 0.9995 must lie in (-0.999, 0.999)"),
    (["--inclination0", "190"], "--inclination0 190 must lie in (0, 180)"),
    (["--loss", "chi2"], "--loss chi2 needs the target's per-pixel noise"),
])
def test_fit_errors_name_the_command_line_option(tmp_path, capsys, argv, says):
    out = tmp_path / "fit"
    assert main(["fit", "--emission", "ring", "--npix", "6", "--fov", "8", "--steps", "1",
                 "--no-progress", "-o", str(out), *argv]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert says in err and "target.sigma_variable" not in err


def test_unknown_option_shows_the_subcommand_usage_and_a_hint(capsys):
    with pytest.raises(SystemExit) as info:
        main(["fit", "--emission", "ring", "--spin-init", "0.5"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: kerrfield fit ")
    assert "unrecognized arguments: --spin-init 0.5" in err and "did you mean --spin" in err


def test_outputs_and_configs_of_the_wrong_kind_are_named(tmp_path, capsys):
    """synth writes netCDF only (it wrote x.txt silently); infer given a folder says so."""
    assert main(["synth", "--npix", "4", "-o", str(tmp_path / "x.txt")]) == 2
    assert "synth writes netCDF; name a file ending in one of .nc" in capsys.readouterr().err
    assert not (tmp_path / "x.txt").exists()
    assert main(["infer", str(tmp_path)]) == 2
    assert "is a folder; give the TOML file" in capsys.readouterr().err


def test_warnings_from_the_shell_are_one_line(tmp_path, monkeypatch, capsys):
    """`kerrfield ...` run from a shell (main() reads sys.argv) shows a warning as
    'kerrfield CMD: warning: ...', not Python's 'path.py:88: UserWarning:' and source line."""
    import warnings

    monkeypatch.setattr(sys, "argv", ["kerrfield", "raytrace", "--inclination", "0.5",
                                      "--npix", "4", "-o", str(tmp_path / "w.nc")])
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # as a fresh interpreter shows a first warning
        assert main() == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("kerrfield raytrace: warning: inclination = 0.5 deg"), lines
