"""The M87* orientation convention (docs/conventions.md): screen → sky → brightness PA.

For a prograde Keplerian flow the Doppler-boosted side is at α < 0, a quarter turn from the
projected spin axis (+β). Placed with the spin axis at PA 108° (θo = 163°, the jet's 288°
minus 180°) it must land in the south; with the spin axis at the jet's own PA (θo = 17°) in
the north. These are the numbers the docs figure shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import make_docs_figures as figures  # noqa: E402

import kerrfield as kf  # noqa: E402


def _angle_diff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.mark.parametrize(("inc", "spin_pa", "expected"), [
    (163.0, figures.M87_JET_PA - 180.0, 198.0),   # spin away from us: bright south
    (17.0, figures.M87_JET_PA, 18.0),             # spin towards us: bright north
])
def test_bright_side_follows_the_spin_axis(inc, spin_pa, expected):
    """Pure Doppler boosting predicts PA(spin axis) + 90°; lensing and the g³ weighting of
    both orders move it by less than 30° at θo = 17° / 163°."""
    pa = kf.ring_features(figures.m87_sky(0.94, inc, spin_pa, npix=64))["brightness_pa_deg"]
    assert _angle_diff(pa, expected) < 30.0, pa


def test_figure_renders(tmp_path):
    figures.m87_convention(tmp_path / "m87.png")
    assert (tmp_path / "m87.png").stat().st_size > 20_000
