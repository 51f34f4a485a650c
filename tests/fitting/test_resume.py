"""Resumed fits equal uninterrupted ones bit for bit (CPU) in every geometry mode.

Each mode runs N steps uninterrupted, then again with a checkpoint stopped at step k (by the
callback, or by ``kill -9`` of a subprocess right after a checkpoint was written), resumes
and compares every parameter, every buffer and the whole history bitwise.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import kerrfield as kf
from kerrfield.fitting.steps import CheckpointError

STEPS, STOP = 12, 5  # stop after STOP + 1 steps


def _target(tracer):
    return kf.synthesize("ring", 0.8, 30.0, npix=10, fov=8.0, orders=(0, 1))


def _model(mode, target):
    field = kf.EmissionField(seed=3, width=8, depth=1, scale=8.0)
    if mode == "fixed":
        geo = kf.raytrace(0.8, 30.0, fov=8.0, npix=10, orders=(0, 1))
        return kf.fixed_image_model(field, geo)
    rel = {"exact": 1, "linearised": 4, "multiscale": 3}[mode]
    return kf.kerr_image_model(
        field, 0.5, 45.0, alpha=torch.tensor(target.alpha.values),
        beta=torch.tensor(target.beta.values), relinearize_every=rel,
        relinearize_tol=(0.05, 2.0) if mode == "multiscale" else None,
    )


def _run(mode, target, **kw):
    model = _model(mode, target)
    common = dict(progress=False, schedule="cosine", seed=0)
    if mode == "multiscale":
        res = kf.fit_multiscale(model, target, factors=(2, 1), steps=(STEPS // 2, STEPS // 2),
                                lr=(2e-2, 1e-2), geometry_lr=(2e-2, 1e-2), **common, **kw)
    else:
        res = kf.fit(model, target, steps=STEPS, lr=2e-2, batch_size=60 if mode == "fixed"
                     else None, **common, **kw)
    return model, res


def assert_bitwise(model_a, res_a, model_b, res_b):
    sa, sb = model_a.state_dict(), model_b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    for var in ("loss", "spin", "inclination", "lr"):
        np.testing.assert_array_equal(res_a.history[var].values, res_b.history[var].values)
    assert res_a.initial_loss == res_b.initial_loss
    assert res_a.final_loss == res_b.final_loss


@pytest.mark.parametrize("mode", ["fixed", "exact", "linearised", "multiscale"])
def test_resume_is_bitwise(mode, tmp_path, tracer):
    target = _target(tracer)
    full_model, full = _run(mode, target)
    ck = tmp_path / "ck.pt"
    if mode == "multiscale":  # stop inside the *coarse* stage and inside the fine one
        _run(mode, target, checkpoint=ck, callback=lambda s, l, m: s == STOP - 3)
        assert (tmp_path / "ck.stage0.pt").exists() and not ck.exists()
    else:
        _run(mode, target, checkpoint=ck, callback=lambda s, l, m: s == STOP)
        assert torch.load(ck, weights_only=False)["step"] == STOP + 1
    if mode == "linearised":
        assert torch.load(ck, weights_only=False)["lin"] is not None
    model, res = _run(mode, target, checkpoint=ck, resume=True)
    assert_bitwise(model, res, full_model, full)


@pytest.mark.parametrize("mode", ["fixed", "exact"])
def test_ctrl_c_ends_at_a_step_boundary_with_a_checkpoint(mode, tmp_path, tracer):
    """The first SIGINT is noted; the step in progress finishes, the checkpoint is written
    and KeyboardInterrupt says so: resuming equals the uninterrupted fit bit for bit. A
    second SIGINT interrupts at once."""
    target = _target(tracer)
    full_model, full = _run(mode, target)
    ck = tmp_path / "ck.pt"
    handler = signal.getsignal(signal.SIGINT)

    def ctrl_c(step, loss, model):
        if step == STOP:
            os.kill(os.getpid(), signal.SIGINT)

    done = f"after step {STOP + 1} of {STEPS}; checkpoint .* written"
    with pytest.raises(KeyboardInterrupt, match=done):
        _run(mode, target, checkpoint=ck, callback=ctrl_c)
    assert signal.getsignal(signal.SIGINT) is handler  # the caller's handler is back
    assert torch.load(ck, weights_only=False)["step"] == STOP + 1
    model, res = _run(mode, target, checkpoint=ck, resume=True)
    assert_bitwise(model, res, full_model, full)

    def twice(step, loss, model):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt) as info:
        _run(mode, target, callback=twice)
    assert "after step" not in str(info.value)
    assert signal.getsignal(signal.SIGINT) is handler


def test_a_fit_off_the_main_thread_is_not_deferred(tracer):
    """Signals belong to the main thread: a fit on another thread (a dask worker's, a
    notebook's background job) runs without touching SIGINT handling."""
    import threading

    target = _target(tracer)
    out: dict = {}
    worker = threading.Thread(target=lambda: out.update(res=_run("fixed", target)[1]))
    worker.start()
    worker.join(timeout=120)
    assert "res" in out and out["res"].steps == STEPS


def test_resume_twice_inside_multiscale_fine_stage(tmp_path, tracer):
    target = _target(tracer)
    full_model, full = _run("multiscale", target)
    ck = tmp_path / "ck.pt"
    calls = []

    def stop(step, loss, model):  # stop at the 3rd step of the fine stage
        calls.append(step)
        return len(calls) == STEPS // 2 + 3

    _run("multiscale", target, checkpoint=ck, callback=stop)
    assert torch.load(ck, weights_only=False)["step"] == 3
    model, res = _run("multiscale", target, checkpoint=ck, resume=True)
    assert_bitwise(model, res, full_model, full)


_KILLER = """
import os, signal, sys
import kerrfield.fitting.steps as steps
import kerrfield.fitting.loop as loop
real = steps.save_checkpoint
def killing(st, path, step):
    real(st, path, step)
    if path is not None and step == int(os.environ["KF_KILL_AT"]):
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 right after the checkpoint landed
loop.save_checkpoint = killing
sys.argv = ["kerrfield"] + sys.argv[1:]
from kerrfield.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _killed_cli(tmp_path, args, kill_at):
    script = tmp_path / "killer.py"
    script.write_text(_KILLER)
    env = {**os.environ, "KF_KILL_AT": str(kill_at), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, str(script), *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]


CLI_MODES = {
    "fixed": ["--geometry", "GEO"],
    "exact": ["--relinearize-every", "1"],
    "linearised": ["--relinearize-every", "4"],  # kerrfield fit's default mode (K = 100)
    "multiscale": ["--relinearize-every", "4", "--coarse-steps", "6"],
}


@pytest.mark.parametrize("mode", list(CLI_MODES))
def test_cli_fit_kill9_resume_bitwise(tmp_path, mode):
    """``kerrfield fit`` killed -9 right after a checkpoint, resumed with --resume: the
    final model and history equal an uninterrupted run's bit for bit, in every mode."""
    from kerrfield.cli import main

    extra = list(CLI_MODES[mode])
    if mode == "fixed":
        geo = tmp_path / "geo.nc"
        kf.raytrace(0.94, 20.0, fov=8.0, npix=10, orders=(0, 1)).to_netcdf(geo)
        extra[1] = str(geo)
    args = ["fit", "--emission", "ring", "--npix", "10", "--fov", "8", "--steps", "12",
            "--checkpoint-every", "5", "--width", "8", "--depth", "1", "--no-progress",
            "--device", "cpu", "--batch-size", "50", *extra]
    assert main([*args, "-o", str(tmp_path / "full")]) == 0
    # fixed/exact/linearised: killed at step 5 of 12; multiscale: inside the coarse stage
    _killed_cli(tmp_path, [*args, "-o", str(tmp_path / "cut")], kill_at=5)
    assert list((tmp_path / "cut").glob("checkpoint*.pt"))
    assert main([*args, "-o", str(tmp_path / "cut"), "--resume"]) == 0
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=False)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["history"] == b["history"] and a["step"] == b["step"] == 12
    import xarray as xr

    ha = xr.load_dataset(tmp_path / "full" / "history.nc")
    hb = xr.load_dataset(tmp_path / "cut" / "history.nc")
    for var in ("loss", "spin", "inclination"):
        np.testing.assert_array_equal(ha[var].values, hb[var].values)


INFER = """
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
steps = 10
lr = 0.02
geometry_lr = 0.02
checkpoint_every = 4
[mode]
kind = "joint"
spin = 0.4
inclination = 40.0
[output]
directory = "OUT"
progress = false
plots = false
"""


SCAN_MODE = """[mode]
kind = "scan"
inclination = [30.0, 40.0]
spin = 0.4
fit_spin = false
"""


@pytest.mark.parametrize("kind", ["joint", "scan"])
def test_infer_kill9_resume_bitwise(tmp_path, monkeypatch, kind):
    """infer killed -9 inside a unit (joint: exact geometry; scan: fixed geometry per grid
    point), then rerun: every unit equals an uninterrupted run's bit for bit."""
    text = INFER if kind == "joint" else INFER.replace(
        '[mode]\nkind = "joint"\nspin = 0.4\ninclination = 40.0\n', SCAN_MODE)
    assert f'kind = "{kind}"' in text
    for name in ("full", "cut"):
        (tmp_path / f"{name}.toml").write_text(text.replace("OUT", name))
    from kerrfield.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["infer", "full.toml", "--quiet"]) == 0
    _killed_cli(tmp_path, ["infer", "cut.toml", "--quiet"], kill_at=4)
    assert list((tmp_path / "cut" / "units").glob("*.ckpt.pt"))
    assert main(["infer", "cut.toml", "--quiet"]) == 0
    import xarray as xr

    names = sorted(p.name for p in (tmp_path / "full" / "units").glob("*.nc"))
    assert names == sorted(p.name for p in (tmp_path / "cut" / "units").glob("*.nc"))
    for unit in names:
        a = xr.load_dataset(tmp_path / "full" / "units" / unit)
        b = xr.load_dataset(tmp_path / "cut" / "units" / unit)
        for v in ("model", "loss_history", "spin_history", "inclination_history"):
            np.testing.assert_array_equal(a[v].values, b[v].values)
        assert a.attrs["spin"] == b.attrs["spin"] and a.attrs["loss"] == b.attrs["loss"]
    sa = json.loads((tmp_path / "full" / "summary.json").read_text())["best"]
    sb = json.loads((tmp_path / "cut" / "summary.json").read_text())["best"]
    assert sa == sb


def test_truncated_checkpoint_is_one_clear_error(tmp_path, tracer):
    target = _target(tracer)
    ck = tmp_path / "ck.pt"
    _run("fixed", target, checkpoint=ck, callback=lambda s, l, m: s == 2)
    data = ck.read_bytes()
    ck.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"ck\.pt.*cannot be read.*delete it"):
        _run("fixed", target, checkpoint=ck, resume=True)
    ck.write_bytes(b"")
    with pytest.raises(CheckpointError, match="ck.pt"):
        _run("fixed", target, checkpoint=ck, resume=True)


def test_cli_fit_refuses_existing_checkpoint(tmp_path, capsys):
    from kerrfield.cli import main

    out = tmp_path / "o"
    args = ["fit", "--emission", "ring", "--npix", "8", "--steps", "3", "--width", "4",
            "--depth", "1", "--no-progress", "--device", "cpu", "-o", str(out)]
    assert main(args) == 0
    before = (out / "checkpoint.pt").read_bytes()
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "checkpoint.pt" in err and "--resume" in err and "--overwrite" in err
    assert (out / "checkpoint.pt").read_bytes() == before  # untouched
    assert main([*args, "--resume", "--overwrite"]) == 2
    assert main([*args, "--overwrite"]) == 0
    assert main([*args, "--resume"]) == 0  # finished fit: resumes to the same end
    # a different field width: the message names the parameter and both shapes, in one line
    wide = [a if a != "4" or args[i - 1] != "--width" else "6" for i, a in enumerate(args)]
    capsys.readouterr()
    assert main([*wide, "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "different model" in err
    assert "(6, 2) in the model, (4, 2) in the checkpoint" in err and "--overwrite" in err


def test_resume_with_more_steps_warns_and_counts_every_session(tmp_path, tracer):
    """The cosine schedule is recomputed for the new length (said, not silent), and the
    wall time (hence steps/s) covers the earlier session too."""
    target = _target(tracer)
    ck = tmp_path / "ck.pt"
    _, first = _run("fixed", target, checkpoint=ck)
    model = _model("fixed", target)
    with pytest.warns(UserWarning, match=rf"planned for {STEPS} steps with steps={STEPS + 4}"):
        res = kf.fit(model, target, steps=STEPS + 4, lr=2e-2, progress=False, schedule="cosine",
                     seed=0, checkpoint=ck, resume=True, batch_size=60)  # fmt: skip
    assert res.steps == STEPS + 4
    assert res.wall_time > first.wall_time
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same length again: nothing to say
        kf.fit(_model("fixed", target), target, steps=STEPS + 4, lr=2e-2, progress=False,
               schedule="cosine", seed=0, checkpoint=ck, resume=True, batch_size=60)  # fmt: skip
    # another learning rate, loss or target would splice two different fits: refused
    for change, says in ((dict(lr=0.5), "lr 0.02 -> 0.5"), (dict(loss="mse"), "loss 'nmse' -> "
                         "'mse'"), (dict(target=target * 2), "target_sha256")):  # fmt: skip
        kw = dict(steps=STEPS + 8, lr=2e-2, progress=False, schedule="cosine", seed=0,
                  checkpoint=ck, resume=True, batch_size=60, target=target) | change
        with pytest.raises(CheckpointError, match=f"other settings \\(.*{says}"):
            kf.fit(_model("fixed", target), **kw)
