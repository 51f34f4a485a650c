"""Julia backend: its own test suite, the subprocess bridge, and agreement with torch.

All tests here are marked ``julia``: skipped locally without a Julia executable, failing under
``CI=true`` (see tests/conftest.py). One worker serves the whole session.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.special as sp

from kerrfield import julia_bridge as jb

pytestmark = pytest.mark.julia

ROOT = Path(__file__).resolve().parents[1]


def test_julia_package_test_suite():
    """``julia --project=julia julia/test/runtests.jl`` passes (offline, stdlib only)."""
    exe = jb.find_julia()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [exe, "--startup-file=no", "--color=no", f"--project={jb.bundled_project()}",
         str(jb.bundled_project() / "test" / "runtests.jl")],
        capture_output=True, text=True, timeout=900,
    )
    elapsed = time.perf_counter() - t0
    print(proc.stdout[-3000:])
    print(f"Julia test suite: {elapsed:.1f} s")
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]


def test_import_does_not_start_julia():
    code = (
        "import kerrfield, kerrfield.julia_bridge as jb, sys; "
        "assert jb._WORKER is None and jb._JL is None; "
        "assert 'juliacall' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_julia_info(julia_worker):
    info = jb.julia_info()
    assert info["path"] in ("subprocess", "juliacall")
    assert info["julia_version"].count(".") == 2
    assert info["threads"] >= 1
    assert Path(info["project"], "Project.toml").is_file()


def test_transport_roundtrip(julia_worker):
    a = np.arange(24.0).reshape(2, 3, 4)
    v = np.linspace(-1, 1, 7)
    _, out = julia_worker.call("echo", {}, {"a": a, "v": v, "e": np.zeros(0)})
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["v"], v)
    assert out["e"].shape == (0,)


RNG = np.random.default_rng(3)


@pytest.mark.parametrize(
    ("name", "args", "ref"),
    [
        ("elliprf", (RNG.random(200) * 3, RNG.random(200) * 3, RNG.random(200) * 3 + 0.1),
         sp.elliprf),
        ("elliprd", (RNG.random(200) * 3, RNG.random(200) * 3, RNG.random(200) * 3 + 0.1),
         sp.elliprd),
        ("elliprj", (RNG.random(200) * 3, RNG.random(200) * 3 + 0.1, RNG.random(200) * 3 + 0.1,
                     RNG.random(200) * 3 + 0.1), sp.elliprj),
        ("ellipkinc", (RNG.uniform(-4, 4, 200), RNG.uniform(-20, 0.99, 200)), sp.ellipkinc),
        ("ellipeinc", (RNG.uniform(-4, 4, 200), RNG.uniform(-20, 0.99, 200)), sp.ellipeinc),
    ],
)
def test_elliptic_against_scipy(julia_worker, name, args, ref):
    out = jb.evaluate_elliptic(name, *args)
    expected = ref(*args)
    rel = np.max(np.abs(out - expected) / np.abs(expected))
    print(f"{name}: max relative difference to scipy {rel:.2e}")
    assert rel < 1e-13


def test_jacobi_against_scipy(julia_worker):
    u = RNG.uniform(-10, 10, 300)
    m = RNG.uniform(0, 0.999, 300)
    sn, cn, dn, _ = sp.ellipj(u, m)
    for name, expected in (("sn", sn), ("cn", cn), ("dn", dn)):
        out = jb.evaluate_elliptic(name, u, m)
        assert np.max(np.abs(out - expected)) < 1e-12, name


def test_julia_error_becomes_python_exception(julia_worker):
    with pytest.raises(jb.JuliaError, match="unknown elliptic function"):
        jb.evaluate_elliptic("no_such_function", np.ones(3))
    with pytest.raises(jb.JuliaError, match="unequal length"):
        jb.evaluate_elliptic("elliprf", np.ones(3), np.ones(2), np.ones(3))
    # the worker survives errors
    assert julia_worker.ping()["protocol"] == str(jb.PROTOCOL)


def test_killed_worker_is_restarted(julia_worker):
    pid = julia_worker.pid
    restarts = julia_worker.restarts
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    out = jb.evaluate_elliptic("ellipk", np.array([0.5]))  # transparently restarted
    assert out[0] == pytest.approx(sp.ellipk(0.5), rel=1e-14)
    assert julia_worker.pid != pid and julia_worker.restarts == restarts + 1


def test_hung_worker_times_out_and_restarts(julia_worker):
    t0 = time.perf_counter()
    with pytest.raises(jb.JuliaWorkerError, match="timed out"):
        julia_worker.call("sleep", {"seconds": 60.0}, timeout=1.0)
    assert time.perf_counter() - t0 < 10
    assert not julia_worker.alive
    assert julia_worker.ping()["protocol"] == str(jb.PROTOCOL)
