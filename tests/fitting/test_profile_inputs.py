"""kf.profile_intervals refuses grids it cannot interpret, naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from kerrfield.fitting.profile import profile_intervals

AXES = {"spin": np.array([0.1, 0.5, 0.9]), "inclination": np.array([20.0, 40.0])}
CHI2 = np.array([[9.0, 5.0], [4.0, 1.0], [6.0, 3.0]])


@pytest.mark.parametrize("axes, chi2, chi2_min, match", [
    (AXES, CHI2[:2], 1.0, r"chi2 must have shape \(n_spin, n_inclination\) = \(3, 2\), got "
                          r"\(2, 2\)"),
    (AXES, CHI2[:, 0], 1.0, r"chi2 must have shape"),
    ({"spin": AXES["spin"]}, CHI2, 1.0, r"axes must have a 'inclination' grid"),
    (AXES, CHI2, 7.0, r"chi2_min must be finite and at most the grid's smallest chi2 \(1\)"),
    (AXES, CHI2, float("nan"), r"chi2_min must be finite"),
])  # fmt: skip
def test_bad_grids_are_refused(axes, chi2, chi2_min, match):
    with pytest.raises(ValueError, match=match):
        profile_intervals(axes, chi2, chi2_min)


def test_a_refined_minimum_below_the_grid_is_allowed():
    """chi2_min may come from a joint refinement off the grid: Δχ² then starts above 0."""
    out = profile_intervals(AXES, CHI2, 0.5)
    assert min(out["spin"]["delta_chi2"]) == pytest.approx(0.5)
    assert out["spin"]["estimate"] == pytest.approx(0.5, abs=0.2)
