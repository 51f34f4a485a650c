"""Elliptic integrals and Jacobi functions against scipy.special, mpmath and quadrature."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.special as sp
import torch
from scipy.integrate import quad

from kerrfield.physics import elliptic as el
from kerrfield.physics.geodesics.radial_integrals import (
    _r1_integral,
    _r2_integral,
    _s1_integral,
    _s2_integral,
)

RNG = np.random.default_rng(20261122)
T = lambda x: torch.as_tensor(x, dtype=torch.float64)  # noqa: E731


def rel_err(got, ref) -> float:
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    return float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)))


def _xyz(n=600):
    x, y, z, p = (RNG.uniform(0, 10, n) for _ in range(4))
    x[:100] = 0.0
    y[100:200] = 10.0 ** RNG.uniform(-12, -3, 100)  # strongly disparate arguments
    z[200:300] = 10.0 ** RNG.uniform(3, 9, 100)
    return x, y, z, p


def test_carlson_rf_rd_rj_rc_vs_scipy():
    x, y, z, p = _xyz()
    assert rel_err(el.elliprf(T(x), T(y), T(z)), sp.elliprf(x, y, z)) < 1e-13
    assert rel_err(el.elliprd(T(x), T(y), T(z)), sp.elliprd(x, y, z)) < 1e-13
    assert rel_err(el.elliprj(T(x), T(y), T(z), T(p)), sp.elliprj(x, y, z, p)) < 1e-13
    yc = RNG.uniform(-5, 5, 600)
    assert rel_err(el.elliprc(T(x), T(yc)), sp.elliprc(x, yc)) < 1e-13
    # R_C's closed forms at the edges: y ≪ x, y ≈ x (series), y < 0 with |y| ≪ x, x = 0
    xe = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1e-30, 5.0, 1.0, 1.0, 2.0, 0.0])
    ye = np.array(
        [1e-20, 1 - 1e-9, 1 + 1e-9, 1 + 2e-3, 1 - 2e-3, 1.0, -1e-12, -1e12, 1e20, 0.9999, 3.0]
    )
    assert rel_err(el.elliprc(T(xe), T(ye)), sp.elliprc(xe, ye)) < 1e-13


def test_rj_principal_value_for_negative_p():
    x, y, z, _ = _xyz(500)
    p = -(10.0 ** RNG.uniform(-3, 1, 500))
    got = el.elliprj(T(x[100:]), T(y[100:]), T(z[100:]), T(p[100:])).numpy()
    ref = sp.elliprj(x[100:], y[100:], z[100:], p[100:])
    # the principal value can pass through zero: mix of relative and absolute tolerance
    assert (
        np.max(
            np.abs(got - ref) / (np.abs(ref) + 1e-3 * np.abs(sp.elliprf(x[100:], y[100:], z[100:])))
        )
        < 1e-12
    )


def test_legendre_forms_any_amplitude_and_m_to_one():
    m = np.concatenate([RNG.uniform(-5, 1, 450), 1 - 10.0 ** RNG.uniform(-15, -1, 150)])
    phi = RNG.uniform(-25, 25, 600)  # large amplitudes, several periods
    assert rel_err(el.ellipkinc(T(phi), T(m)), sp.ellipkinc(phi, m)) < 1e-13
    assert rel_err(el.ellipeinc(T(phi), T(m)), sp.ellipeinc(phi, m)) < 1e-13
    assert rel_err(el.ellipk(T(m)), sp.ellipk(m)) < 1e-13
    assert rel_err(el.ellipe(T(m)), sp.ellipe(m)) < 1e-13


def test_third_kind_against_quadrature_and_mpmath_principal_values():
    n = RNG.uniform(-5, 0.95, 100)
    phi = RNG.uniform(-8, 8, 100)  # several half-periods: quasi-periodic extension
    m = RNG.uniform(-2, 0.99, 100)

    def integrand(t, nn, mm):
        s2 = np.sin(t) ** 2
        return 1.0 / ((1.0 - nn * s2) * np.sqrt(1.0 - mm * s2))

    ref = [
        quad(integrand, 0, b, args=(a, c), epsabs=1e-15, epsrel=1e-14, limit=200)[0]
        for a, b, c in zip(n, phi, m, strict=False)
    ]
    assert rel_err(el.ellippiinc(T(n), T(phi), T(m)), ref) < 1e-12
    # n sin²φ > 1 and n > 1: Cauchy principal values (mpmath's convention)
    npv = RNG.uniform(1.5, 6, 20)
    phipv = RNG.uniform(1.0, 1.55, 20)
    mpv = RNG.uniform(-1, 0.9, 20)
    refpv = [float(mpmath.ellippi(a, b, c).real) for a, b, c in zip(npv, phipv, mpv, strict=False)]
    assert rel_err(el.ellippiinc(T(npv), T(phipv), T(mpv)), refpv) < 1e-11
    refc = [float(mpmath.ellippi(a, c).real) for a, c in zip(npv, mpv, strict=False)]
    assert rel_err(el.ellippi(T(npv), T(mpv)), refc) < 1e-12


def test_jacobi_vs_scipy_and_mpmath_near_m_one():
    m = np.concatenate([RNG.uniform(0, 1, 450), 1 - 10.0 ** RNG.uniform(-9, -1, 150)])
    u = RNG.uniform(-30, 30, 600)
    sn, cn, dn, am = (t.numpy() for t in el.ellipj(T(u), T(m)))
    ssn, scn, sdn, sam = sp.ellipj(u, m)
    assert np.max(np.abs(sn - ssn)) < 1e-13
    assert np.max(np.abs(cn - scn)) < 1e-13
    assert np.max(np.abs(am - sam)) < 1e-13
    assert np.max(np.abs(dn - sdn)) < 1e-12
    # near m → 1 and |u| ~ 30, dn ~ √(1 − m) is small and its relative error grows like
    # |u|·eps/√(1 − m); mpmath at 30 digits is the reference there
    idx = np.argsort(m)[-20:]
    with mpmath.workdps(30):
        ref = np.array(
            [
                float(mpmath.ellipfun("dn", float(a), m=float(b)))
                for a, b in zip(u[idx], m[idx], strict=True)
            ]
        )
    assert rel_err(dn[idx], ref) < 1e-10


def test_gradients_match_finite_differences():
    phi = T([0.3, 1.2, 2.9]).requires_grad_()
    m = T([0.2, -1.5, 0.9]).requires_grad_()
    n = T([0.4, -2.0, 0.7]).requires_grad_()
    assert torch.autograd.gradcheck(lambda p, q: el.ellipkinc(p, q), (phi, m))
    assert torch.autograd.gradcheck(lambda p, q: el.ellipeinc(p, q), (phi, m))
    assert torch.autograd.gradcheck(lambda a, p, q: el.ellippiinc(a, p, q), (n, phi, m))
    u = T([0.4, 2.5, -7.0]).requires_grad_()
    mj = T([0.1, 0.5, 0.95]).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: torch.stack(el.ellipj(a, b)), (u, mj))


@pytest.mark.parametrize(
    "alpha,phi,k", [(2.5, 1.0, 0.3), (0.5, 2.5, 0.7), (-0.4, 1.2, 0.2), (1.7, 0.9, 0.5)]
)
def test_radial_antiderivatives_r1_r2_against_quadrature(alpha, phi, k):
    x = sp.ellipkinc(phi, k)

    def cn(v):
        return sp.ellipj(v, k)[1]

    q1 = quad(lambda v: 1 / (1 + alpha * cn(v)), 0, x, epsabs=1e-14, epsrel=1e-13)[0]
    q2 = quad(lambda v: 1 / (1 + alpha * cn(v)) ** 2, 0, x, epsabs=1e-14, epsrel=1e-13)[0]
    assert float(_r1_integral(T(alpha), T(phi), T(k))) == pytest.approx(q1, rel=1e-11)
    assert float(_r2_integral(T(alpha), T(phi), T(k))) == pytest.approx(q2, rel=1e-11)


@pytest.mark.parametrize("alpha,phi,k", [(0.5, 1.0, 0.3), (1.5, 2.0, 0.6), (3.0, 1.3, 0.9)])
def test_radial_antiderivatives_s1_s2_against_quadrature(alpha, phi, k):
    x = sp.ellipkinc(phi, k)

    def f(v, p):
        s, c, _, _ = sp.ellipj(v, k)
        return (c / (c + alpha * s)) ** p

    kk = sp.ellipk(k)
    q1 = quad(f, 0, x, args=(1,), points=[kk] if x > kk else None, epsabs=1e-14, epsrel=1e-13)[0]
    q2 = quad(f, 0, x, args=(2,), points=[kk] if x > kk else None, epsabs=1e-14, epsrel=1e-13)[0]
    assert float(_s1_integral(T(alpha), T(phi), T(k))) == pytest.approx(q1, rel=1e-11)
    assert float(_s2_integral(T(alpha), T(phi), T(k))) == pytest.approx(q2, rel=1e-11)
