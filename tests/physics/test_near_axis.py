"""Azimuth of rays passing close to the spin axis, and of nearly face-on observers (issue 12,
item 2).

1 − u₊ ∝ λ² and the characteristic 1 − u₊s² of Π were formed by subtraction: φ_s jumped by
up to 0.2 rad for 2.5e-7 ≲ |α| ≲ 1e-5 and by ~1 rad at θo = 1e-6°. Now 1 − u₊ = 2λ²u₊/(D + q)
and 1 − u₊s² = (1 − u₊) + u₊c². The exact limits are smooth (linear in α, in θo), so each
sweep is checked against the straight line through its end points, and against the value the
issue quotes from a numerical geodesic.
"""

from __future__ import annotations

import numpy as np
import pytest

import kerrfield as kf

ALPHAS = np.array([1e-2, 3e-3, 1e-3, 1e-4, 1e-5, 3e-6, 1e-6, 2.818e-7, 1e-7, 1e-8, 1e-10, 1e-14])
INCLS = np.array([1e-1, 3e-2, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8])
ANGLES = ("phi_s", "phi_ks")


def _linear_limit(x: np.ndarray, v: np.ndarray, what: str) -> None:
    """v(x) for x → 0 (x sorted decreasing): |v − v(0⁺)| ≤ 2·slope·x + 1e-11, slope from
    the largest x."""
    v0 = v[-1]
    slope = abs(v[0] - v0) / x[0]
    dev = np.abs(v - v0)
    assert (dev <= 2.0 * slope * x + 1e-11).all(), (what, dev, 2.0 * slope * x)


@pytest.mark.parametrize("spin,incl", [(0.94, 60.0), (-0.5, 30.0), (0.3, 120.0), (0.99, 5.0)])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_azimuth_is_continuous_through_the_spin_axis(spin, incl, sign):
    ds = kf.raytrace(spin, incl, alpha=sign * ALPHAS, beta=[6.5, -5.5, 9.0], orders=(0, 1))
    for v in ANGLES:
        for n in range(2):
            for k in range(3):
                if (ds.status.values[n, k] == 0).all():
                    _linear_limit(ALPHAS, ds[v].values[n, k], f"{v} n={n} β#{k}")


@pytest.mark.parametrize("spin", [0.5, -0.7, 0.94])
def test_azimuth_is_continuous_as_the_observer_goes_face_on(spin):
    al, be = np.array([4.0, -6.0, 2.0]), np.array([3.0, 0.5, -5.0])
    phis = []
    for th in INCLS:
        ds = kf.raytrace(spin, th, alpha=al, beta=be, orders=(0, 1))
        phis.append([ds.phi_s.values[n].diagonal() for n in range(2)])
    phis = np.array(phis)  # (incl, n, pixel)
    for n in range(2):
        for k in range(3):
            if np.isfinite(phis[:, n, k]).all():
                _linear_limit(INCLS, phis[:, n, k], f"n={n} pixel {k}")


def test_reproducer_from_the_issue():
    """a = 0.94, θo = 60°, α = 2.818e-7, β = 6.5: the numerical geodesic gives φ_s = 2.98882."""
    ds = kf.raytrace(0.94, 60.0, alpha=[2.818e-7], beta=[6.5], orders=(0,))
    assert abs(float(ds.phi_s.values.item()) - 2.98882) < 1e-5


@pytest.mark.julia
def test_julia_agrees_near_the_axis_and_face_on(julia_worker):
    for spin, incl, al in ((0.94, 60.0, ALPHAS), (0.5, 1e-5, np.array([4.0, -6.0, 2.0]))):
        th = kf.raytrace(spin, incl, alpha=al, beta=[6.5, -5.5, 3.0], orders=(0, 1))
        jl = kf.raytrace(spin, incl, alpha=al, beta=[6.5, -5.5, 3.0], orders=(0, 1),
                         backend="julia")  # fmt: skip
        assert (th.status.values == jl.status.values).all()
        for v in (*ANGLES, "x", "y", "r_s", "g"):
            np.testing.assert_allclose(jl[v].values, th[v].values, rtol=1e-12, atol=1e-12)
