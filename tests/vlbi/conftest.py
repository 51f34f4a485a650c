"""Fixtures for the vlbi tests: the EHT 2017 M87 release in ``../shared/data``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
M87_APR06_HI = "SR1_M87_2017_096_hi_hops_netcal_StokesI.uvfits"


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
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
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
    """ehtim (imported quietly), or skip with the reason it is unavailable."""
    import contextlib
    import io
    import warnings

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import ehtim
        except Exception as err:  # noqa: BLE001 - any import failure means "not installable"
            pytest.skip(f"ehtim is not installed/importable here ({err}); pip install ehtim")
    return ehtim
