"""Shared pytest configuration.

Tests marked ``@pytest.mark.julia`` need a Julia executable: without one they are skipped
locally (with the reason) but *fail* under ``CI=true``, where scripts/install-julia.sh must have
provided Julia. The ``julia_worker`` fixture hands out the session's single subprocess worker
(Julia start-up and compilation are paid once per pytest session).
"""

from __future__ import annotations

import os

import pytest


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
    import importlib
    import sys

    from support import standin as _standin

    from kerrfield import cli

    for name in cli._SUBCOMMAND_MODULES:  # bind their imports to the real module first
        importlib.import_module(f"kerrfield.cli.{name}")
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
