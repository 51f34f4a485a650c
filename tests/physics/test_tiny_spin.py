"""The a → 0 limit is continuous for every variable, in both backends (issue 12, item 3).

r₋ = 1 − √(1 − a²) rounded to 0 below |a| ~ 1e-8 and r₂ = −z + √d₁₂ kept an absolute error
~1e-16 while the true r₂ ~ a²η/B: the case-3 r₋ characteristic then degenerated (NaN φ_s,
t_s, x, y for |a| ≲ 2e-6). Now r₋ = a²/r₊, r₂ = C/(r₁r₃r₄) where it would cancel, and
∫dτ/(r − r₋) switches to the elementary ∫dτ/(r − r₂) when r₋ is within round-off of r₂.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.reference import trace_numeric

import kerrfield as kf

VARS = ("r_s", "phi_s", "phi_ks", "t_s", "x", "y", "g")
SPINS = [1e-300, 1e-16, -1e-12, 1e-10, 1e-8 * (1 - 1e-9), 1e-8 * (1 + 1e-9), -3e-7, 2e-6, 1e-5]
AXIS = np.concatenate([np.linspace(-9.0, 9.0, 19), [0.0, 1e-7, -3e-6]])


@pytest.fixture(scope="module")
def at_zero():
    return kf.raytrace(0.0, 30.0, alpha=AXIS, beta=AXIS, orders=(0, 1))


@pytest.mark.parametrize("spin", SPINS)
def test_tiny_spins_are_finite_and_tend_to_the_a_zero_values(spin, at_zero):
    ds = kf.raytrace(spin, 30.0, alpha=AXIS, beta=AXIS, orders=(0, 1))
    ok = (ds.status.values == 0) & (at_zero.status.values == 0)
    if abs(spin) > 1e-10:  # a ray passing λ ≲ a from a pole: φ depends on a/λ at O(1)
        ok &= np.abs(ds.alpha.values)[None, None, :] > 1e-2
    assert np.isfinite(ds.r_s.values[ds.status.values == 0]).all()
    if abs(spin) <= 1e-8:  # larger spins may move a pixel next to the critical curve across it
        assert (ds.status.values == at_zero.status.values).all()
    for v in VARS:
        vals, ref = ds[v].values[ok], at_zero[v].values[ok]
        assert np.isfinite(vals).all(), (spin, v, int((~np.isfinite(vals)).sum()))
        # values move linearly in a (|∂/∂a| reaches ~2.4e3 next to the photon ring here)
        err = np.abs(vals - ref)
        assert err.max() <= 1e-12 + 5e3 * abs(spin), (spin, v, err.max())


def test_no_jump_where_the_r_minus_terms_start():
    """At |a| = 1e-8 the r₋ terms of I_φ, I_t (~a²λ/2) switch on: no visible step."""
    lo = kf.raytrace(1e-8 * (1 - 1e-9), 30.0, alpha=AXIS, beta=AXIS, orders=(0, 1))
    hi = kf.raytrace(1e-8 * (1 + 1e-9), 30.0, alpha=AXIS, beta=AXIS, orders=(0, 1))
    for v in VARS:
        np.testing.assert_allclose(hi[v].values, lo[v].values, rtol=0, atol=1e-14, err_msg=v)


@pytest.mark.parametrize("spin", [1e-12, -2e-6, 1e-4])
def test_tiny_spin_against_numerical_integration(spin):
    al = [3.8740157480314963, 0.3, -2.0, 5.5]
    be = [-0.6614173228346463, 5.0, 3.5, 1.0]
    ds = kf.raytrace(spin, 30.0, alpha=al, beta=be, orders=(0, 1))
    for i, (x, y) in enumerate(zip(al, be, strict=True)):
        ref = trace_numeric(spin, 30.0, x, y, nmax=1)
        for n, (st, r, phi, t) in enumerate(ref):
            got = ds.isel(n=n, alpha=i, beta=i)
            assert int(got.status) == st
            if st == 0:
                assert abs(float(got.r_s) - r) < 1e-8
                assert abs(float(got.phi_s) - phi) < 1e-8
                assert abs(float(got.t_s) - t) < 1e-7


@pytest.mark.julia
@pytest.mark.parametrize("spin", [1e-12, 1e-8 * (1 + 1e-9), 2e-6])
def test_julia_agrees_at_tiny_spins(spin, julia_worker):
    th = kf.raytrace(spin, 30.0, alpha=AXIS, beta=AXIS, orders=(0, 1))
    jl = kf.raytrace(spin, 30.0, alpha=AXIS, beta=AXIS, orders=(0, 1), backend="julia")
    assert (th.status.values == jl.status.values).all()
    for v in VARS:
        # t_s inside the critical curve is regularised at r_o = 1e6 M in both backends: ~1e-9
        # apart until the closed-form regularisation of cases 3-4 (issue 12, item 9) lands
        tol = 1e-8 if v == "t_s" else 1e-12
        np.testing.assert_allclose(jl[v].values, th[v].values, rtol=tol, atol=tol, err_msg=v)
