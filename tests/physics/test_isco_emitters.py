"""Emitters at and inside the ISCO (issue 12, items 7 and 8).

Item 7: r_isco keeps the spin in the autograd graph, so ∂g/∂a is right inside the ISCO for
every velocity model (GeneralVelocity(ξ < 1) was 0.484 against 0.887). Item 8: the plunging
radial velocity is closed form (Mummery & Balbus 2022 for ξ = 1, a factored radial
potential for ξ < 1), so g just inside the ISCO is accurate to ~1e-14, against mpmath.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
import torch

import kerrfield as kf
from kerrfield.physics.kerr import isco, isco_differentiable
from kerrfield.physics.redshift import GeneralVelocity, redshift

F64 = torch.float64
MODELS = [
    "zamo",
    "keplerian",
    GeneralVelocity(0.8, 1.0, 1.0),
    GeneralVelocity(0.5, 0.3, 0.7),
    GeneralVelocity(1.0, 0.0, 0.0),
]
# a = 0.5, θo = 30°: n = 0 pixels landing inside (r_s < r_isco = 4.233) and outside the ISCO
ALPHA = [-2.0, 2.5, 0.0, 6.0, -7.0]
BETA = [3.2, 3.0, -3.6, 1.0, -2.0]


def _g(spin, incl, al, be, velocity):
    return kf.trace_rays(spin, incl, al, be, orders=(0,), velocity=velocity)


@pytest.mark.parametrize("velocity", MODELS, ids=str)
def test_redshift_gradients_inside_and_outside_the_isco(velocity):
    a0, th0 = 0.5, 30.0
    al0, be0 = torch.tensor(ALPHA, dtype=F64), torch.tensor(BETA, dtype=F64)
    r_s = _g(a0, th0, al0, be0, velocity)["r_s"][0]
    ri = isco(a0)
    assert (r_s < ri - 0.2).sum() >= 2 and (r_s > ri + 0.2).sum() >= 2
    sp = torch.tensor(a0, dtype=F64, requires_grad=True)
    inc = torch.tensor(th0, dtype=F64, requires_grad=True)
    al = al0.clone().requires_grad_(True)
    be = be0.clone().requires_grad_(True)
    g = _g(sp, inc, al, be, velocity)["g"][0]
    rows = [torch.autograd.grad(g[i], (sp, inc, al, be), retain_graph=True) for i in range(5)]
    h = 1e-6
    for i in range(5):
        fd_a = (_g(a0 + h, th0, al0, be0, velocity)["g"][0, i]
                - _g(a0 - h, th0, al0, be0, velocity)["g"][0, i]) / (2 * h)  # fmt: skip
        fd_t = (_g(a0, th0 + h, al0, be0, velocity)["g"][0, i]
                - _g(a0, th0 - h, al0, be0, velocity)["g"][0, i]) / (2 * h)  # fmt: skip
        e = torch.zeros(5, dtype=F64)
        e[i] = h
        fd_al = (_g(a0, th0, al0 + e, be0, velocity)["g"][0, i]
                 - _g(a0, th0, al0 - e, be0, velocity)["g"][0, i]) / (2 * h)  # fmt: skip
        fd_be = (_g(a0, th0, al0, be0 + e, velocity)["g"][0, i]
                 - _g(a0, th0, al0, be0 - e, velocity)["g"][0, i]) / (2 * h)  # fmt: skip
        got = [float(rows[i][0]), float(rows[i][1]), float(rows[i][2][i]), float(rows[i][3][i])]
        ref = [float(fd_a), float(fd_t), float(fd_al), float(fd_be)]
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-8, err_msg=f"pixel {i}")


def test_isco_value_and_derivative():
    for a in (-0.9, -0.3, 0.0, 1e-9, 0.3, 0.7, 0.95):
        t = torch.tensor(a, dtype=F64, requires_grad=True)
        r = isco_differentiable(t)
        assert float(r) == isco(a)
        (d,) = torch.autograd.grad(r, t)
        h = 1e-6 if abs(a) < 0.9 else 1e-7
        fd = (isco(a + h) - isco(a - h)) / (2 * h)
        assert abs(float(d) - fd) < 1e-7 * max(1.0, abs(fd)), (a, float(d), fd)
    # the a → 0 cancellation of BPT eq. 2.21 is gone: r_isco = 6 − 4√(2/3) a + O(a²)
    assert abs(isco(1e-8) - (6.0 - 4.0 * math.sqrt(2.0 / 3.0) * 1e-8)) < 1e-15


def _g_reference(a: float, ri: float, xi: float, lam: float, eta: float, r: float, nu_r: float):
    """g at r < r_isco in 100-digit arithmetic from the defining formulas (naive u^r)."""
    mp.mp.dps = 100
    a, ri, r, lam, eta = (mp.mpf(v) for v in (a, ri, r, lam, eta))

    def metric(rr):
        dl = rr * rr - 2 * rr + a * a
        big_a = (rr * rr + a * a) ** 2 - a * a * dl
        return -(1 - 2 / rr), -2 * a / rr, big_a / (rr * rr), rr * rr / dl

    gtt, gtp, gpp, _ = metric(ri)
    sr = mp.sqrt(ri)
    ell = xi * (ri * ri - 2 * a * sr + a * a) / (ri * sr - 2 * sr + a)
    om = -(gtp + ell * gtt) / (gpp + ell * gtp)
    energy = -(gtt + gtp * om) / mp.sqrt(-(gtt + 2 * gtp * om + gpp * om * om))
    ang = energy * ell
    gtt, gtp, gpp, grr = metric(r)
    det = gtt * gpp - gtp * gtp
    ut = -(gpp / det) * energy - (gtp / det) * ang
    uphi = (gtp / det) * energy + (gtt / det) * ang
    # r_isco is the float isco(a), not exactly the triple root of ξ = 1: (u^r)² may be
    # −1e-45 at δ = 1e-15, where u^r ~ 1e-23 anyway
    ur = -mp.sqrt(max((-1 + energy * ut - ang * uphi) / grr, 0))
    dl = r * r - 2 * r + a * a
    big_r = (r * r + a * a - a * lam) ** 2 - dl * (eta + (lam - a) ** 2)
    p_r = nu_r * mp.sqrt(big_r) / dl
    return float(1 / (ut - lam * uphi - p_r * ur))


@pytest.mark.parametrize("xi", [1.0, 0.8])
@pytest.mark.parametrize("a", [0.0, 0.5, 0.94, -0.7])
def test_redshift_just_inside_the_isco_against_mpmath(a, xi):
    ri = isco(a)
    deltas = [1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-6]
    r = torch.tensor([ri * (1.0 - d) for d in deltas], dtype=F64)
    # r_s is reached at r < r_isco by a ray with these λ, η (R(r) > 0) going in or out
    lam, eta = torch.full_like(r, 1.0), torch.full_like(r, 5.0)
    velocity = "keplerian" if xi == 1.0 else GeneralVelocity(xi, 1.0, 1.0)
    for nu_r in (1.0, -1.0):
        g = redshift(velocity, torch.tensor(a, dtype=F64), lam, eta, r, math.pi / 2,
                     torch.full_like(r, nu_r))  # fmt: skip
        ref = [_g_reference(a, ri, xi, 1.0, 5.0, float(rr), nu_r) for rr in r]
        np.testing.assert_allclose(g.numpy(), ref, rtol=2e-15, atol=0)
