"""Shared pytest configuration.

Tests marked ``@pytest.mark.julia`` need a Julia executable: without one they are skipped
locally (with the reason) but *fail* under ``CI=true``, where scripts/install-julia.sh must have
provided Julia. The ``julia_worker`` fixture hands out the session's single subprocess worker
(Julia start-up and compilation are paid once per pytest session).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
M87_APR06_HI = "SR1_M87_2017_096_hi_hops_netcal_StokesI.uvfits"


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require_julia() -> str:
    """Return the Julia executable, or skip (locally) / fail (under CI=true) without one."""
    from kerrfield import bridge as jb

    try:
        exe = jb.find_julia()
        reason = "no `julia` on PATH and KERRFIELD_JULIA unset"
    except jb.JuliaNotFoundError as exc:
        exe, reason = None, str(exc).splitlines()[0]
    if exe is None:
        msg = f"{reason}; get Julia with `make julia` (scripts/install-julia.sh) or juliaup"
        if _under_ci():
            pytest.fail(f"CI=true requires Julia for the julia-marked tests: {msg}", pytrace=False)
        pytest.skip(msg)
    return exe


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("julia") is not None:
        require_julia()


@pytest.fixture(scope="session")
def julia_worker():
    """The process-wide Julia subprocess worker (started once, closed at the end)."""
    require_julia()
    from kerrfield import bridge as jb

    worker = jb.get_worker()
    yield worker
    jb.close_worker()


@pytest.fixture
def toy(monkeypatch):
    """Force the toy test-double geometry (exact flat-space formulas, tests/support/standin.py)."""
    import sys

    from support import standin as _standin

    from kerrfield import cli

    cli.build_parser()  # the CLI modules bind their imports to the real ray tracer first
    monkeypatch.setitem(sys.modules, "kerrfield.physics.raytrace", _standin)
    return _standin


@pytest.fixture
def tracer():
    """The package's real ray-tracer module (never silently replaced by the test double)."""
    from support import standin as _standin

    rt = _standin.real_raytrace_module()
    if rt is None:
        pytest.fail("kerrfield.physics.raytrace must be importable")
    return rt


# -- the EHT 2017 M87 release in ../shared/data and ehtim (vlbi, io, fitting tests) --------
def shared_data() -> Path | None:
    """``../shared/data`` of the project (also from a git worktree one level deeper)."""
    env = os.environ.get("KERRFIELD_DATA_DIR")
    candidates = ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data",
                                                 ROOT.parent.parent / "shared" / "data"]
    for c in candidates:
        if (c / "eht-m87-2017" / "uvfits" / M87_APR06_HI).is_file():
            return c
    return None


def _require_data() -> Path:
    d = shared_data()
    if d is None:
        msg = "../shared/data/eht-m87-2017 is absent (CI provides it)"
        if _under_ci():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    return _require_data()


@pytest.fixture(scope="session")
def m87_path(shared_data_dir) -> Path:
    return shared_data_dir / "eht-m87-2017" / "uvfits" / M87_APR06_HI


@pytest.fixture(scope="session")
def m87_obs(m87_path):
    from kerrfield.vlbi import load_uvfits

    return load_uvfits(m87_path)


@pytest.fixture(scope="session")
def eh():
    """ehtim (imported quietly); skipped with the reason locally, a failure under CI=true."""
    import contextlib
    import io
    import warnings

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import ehtim
        except Exception as err:  # noqa: BLE001 - any import failure means "not installable"
            msg = f"ehtim is not installed/importable here ({err}); pip install ehtim"
            if _under_ci():  # the Makefile installs it (dev extra): CI must run these checks
                pytest.fail(msg, pytrace=False)
            pytest.skip(msg)
    return ehtim
