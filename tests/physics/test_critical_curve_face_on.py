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
from scipy.optimize import minimize_scalar

import kerrfield as kf

FACE_ON = [1e-8, 1e-6, 1e-4, 2e-4, 1e-3, 180.0 - 1e-3, 179.9999, 180.0 - 1e-8]


def _face_on_radius(a: float) -> float:
    """Independent of kerrfield.physics.kerr: a face-on ray has λ = 0, so
    R(r) = (r² + a²)² − Δ(η + a²) and its screen radius is b = √(η + a²) (α² + β² at θo = 0).
    The critical ray is the one whose R has a double root, i.e. b² is the minimum of
    (r² + a²)²/Δ outside the horizon (rays with smaller b fall in)."""
    rp = 1.0 + np.sqrt(1.0 - a * a)
    res = minimize_scalar(lambda r: (r * r + a * a) ** 2 / (r * r - 2.0 * r + a * a),
                          bounds=(rp + 1e-6, 10.0), method="bounded",
                          options={"xatol": 1e-10})  # fmt: skip
    return float(np.sqrt(res.fun))


def test_face_on_reference_radius():
    """The reference itself: b = √27 for Schwarzschild, and at a = 0.94 the value from the
    polar photon orbit r³ − 3r² + a²r + a² = 0 (λ̃ = 0 of GL20b eq. 38, roots by numpy)."""
    assert _face_on_radius(1e-9) == pytest.approx(np.sqrt(27.0), rel=1e-12)
    a = 0.94
    r0 = max(r.real for r in np.roots([1.0, -3.0, a * a, a * a]) if abs(r.imag) < 1e-12)
    assert _face_on_radius(a) == pytest.approx(np.sqrt((r0 * r0 + a * a) ** 2
                                                       / (r0 * r0 - 2 * r0 + a * a)), rel=1e-12)


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
