"""The critical curve exists for every inclination, nearly face-on included (issue 12, item 5).

Near θo = 0 or 180°, Θ(θo) = η̃ + a²cos²θo − λ̃²cot²θo ≥ 0 only on a sliver of photon-shell
radii around λ̃ = 0, narrower than the search grid: the curve is now bracketed from that
radius. Checks: finite closed curves, the exact face-on limit (a circle of radius
√(η̃(r₀) + a²) with λ̃(r₀) = 0), continuity with the grid branch, and ray tracing (rays just
inside fall in, just outside escape).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerrfield as kf
from kerrfield.physics.kerr import _shell_conserved, _zero_lambda_radius

FACE_ON = [1e-8, 1e-6, 1e-4, 2e-4, 1e-3, 180.0 - 1e-3, 179.9999, 180.0 - 1e-8]


def _face_on_radius(a: float) -> float:
    lo = 2.0 * (1.0 + np.cos(2.0 / 3.0 * np.arccos(-abs(a))))
    hi = 2.0 * (1.0 + np.cos(2.0 / 3.0 * np.arccos(abs(a))))
    r0 = _zero_lambda_radius(a, min(lo, hi), max(lo, hi))
    _, eta = _shell_conserved(a, np.array([r0]))
    return float(np.sqrt(eta[0] + a * a))


@pytest.mark.parametrize("spin", [0.5, 0.94, -0.7, 0.01, 1e-5])
@pytest.mark.parametrize("incl", FACE_ON)
def test_face_on_critical_curve_tends_to_its_limit(spin, incl):
    al, be = kf.critical_curve(spin, incl, 64)
    assert al.shape == be.shape and np.isfinite(al).all() and np.isfinite(be).all()
    rad = np.hypot(al, be)
    # closed through β ≈ 0 at both ends: r̃ resolves them only to ~eps r̃/sin θo in α, and
    # worse as a → 0 (the photon shell shrinks to r̃ = 3 while λ̃ carries 1/a): known limit
    assert al[0] == al[-1] and be[0] == -be[-1]
    if abs(spin) >= 0.1:
        assert abs(be[0]) < 5e-3 * rad.mean()
    # the radius moves by O(θo) (the sliver of r̃ has width ∝ sin θo); a → 0 adds O(a)
    th = np.radians(min(incl, 180.0 - incl))
    tol = 3.0 * th + (3.0 * abs(spin) if abs(spin) < 1e-3 else 0.0)
    assert np.abs(rad - _face_on_radius(spin)).max() < tol


@pytest.mark.parametrize("spin", [0.5, -0.7])
def test_continuous_with_the_grid_branch(spin):
    """θo just above and below where the grid stops resolving the visible sliver."""
    for incl in (0.002, 0.005, 0.01, 0.05):
        a_lo, b_lo = kf.critical_curve(spin, incl * 0.999, 64)
        a_hi, b_hi = kf.critical_curve(spin, incl * 1.001, 64)
        assert np.abs(np.hypot(a_lo, b_lo) - np.hypot(a_hi, b_hi)).max() < 1e-3 * incl


@pytest.mark.parametrize("spin,incl", [(0.5, 1e-4), (0.94, 179.9999), (-0.7, 2e-4)])
def test_face_on_critical_curve_separates_captured_and_escaping_rays(spin, incl):
    al, be = kf.critical_curve(spin, incl, 32)
    for scale, status in ((0.999, 1), (1.001, 2)):
        out = kf.trace_rays(
            spin, incl, torch.tensor(al * scale), torch.tensor(be * scale), orders=(4,)
        )
        assert set(out["status"].flatten().tolist()) == {status}
