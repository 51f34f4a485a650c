"""Closed-form derivatives of sn, cn, dn, am (kerrfield.physics.elliptic._jacobi_grad).

References are independent of the rules under test: mpmath's numerical derivatives of its own
ellipfun (and of the amplitude solved from mpmath.ellipf) at 30 digits, finite differences
(gradcheck), and autograd through the AGM and Landen steps (``autograd_through_sweep``).
"""

from __future__ import annotations

import math
import sys

import mpmath
import numpy as np
import pytest
import torch
from support.grads import ray_vjps

import kerrfield as kf
from kerrfield.physics import elliptic as el
from kerrfield.physics.elliptic import jacobi
from kerrfield.physics.geodesics import radial_cases

RNG = np.random.default_rng(20261130)
T = lambda x: torch.as_tensor(x, dtype=torch.float64)  # noqa: E731

# (u, m): m = 0, 1e-8, 1e-3, 0.5, 0.99, 1 − 1e-6; |u| over several quarter periods (am
# unwrapped past π/2), u < 0; u on both sides of SMALL_U and of the R_D switch (1 − m)u² = ILL
POINTS = [
    (0.7, 0.0), (-2.5, 0.0), (1.3, 1e-8), (-4.0, 1e-8), (0.9, 1e-3), (9.0, 1e-3), (0.5, 0.5),
    (-3.0, 0.5), (12.0, 0.5), (-20.0, 0.6), (2.0, 0.99), (-7.0, 0.99), (15.0, 0.99),
    (1.0, 1 - 1e-6), (-8.0, 1 - 1e-6), (20.0, 1 - 1e-6), (1e-3, 0.5), (-0.0299, 0.3),
    (0.0301, 0.3), (0.05, 0.999), (1.0, 1 - 0.99e-5), (1.0, 1 - 1.01e-5), (6.0, 1 - 1e-4),
    (0.3, 1 - 1.2e-4), (0.3, 1 - 1e-4),
]  # fmt: skip


def _mp_partials(u: float, m: float) -> list[list[float]]:
    """[[∂/∂u, ∂/∂m] of sn, cn, dn, am] by mpmath at 30 digits; am(u|m) solves F(am|m) = u
    from the float64 amplitude."""
    guess = float(el.ellipj(T(u), T(m))[3])
    with mpmath.workdps(30):

        def am(v, q):
            return mpmath.findroot(lambda p: mpmath.ellipf(p, q) - v, mpmath.mpf(guess))

        def jac(w):
            return lambda v, q: mpmath.re(mpmath.ellipfun(w, v, m=q))

        x, q = mpmath.mpf(u), mpmath.mpf(m)
        out = []
        for f in (jac("sn"), jac("cn"), jac("dn"), am):
            d_u = mpmath.diff(lambda v, f=f: f(v, q), x)
            d_m = mpmath.diff(lambda t, f=f: f(x, t), q)
            out.append([float(d_u), float(d_m)])
        return out


def _torch_partials(u: float, m: float) -> list[list[float]]:
    out = []
    for k in range(4):
        ut, mt = T(u).requires_grad_(), T(m).requires_grad_()
        out.append([float(g) for g in torch.autograd.grad(el.ellipj(ut, mt)[k], (ut, mt))])
    return out


@pytest.mark.parametrize("u,m", POINTS)
def test_partials_match_mpmath(u, m):
    """≤ 1e-10 relative everywhere, m = 1 − 1e-6 included (measured: ≤ 4.7e-11, at the switch
    to the R_D form, (1 − m)u² = 1e-5; ≤ 1e-12 elsewhere, mostly a few eps); the old path
    misses by 1e-9 at m = 1e-8 and by 1e-9 at m = 1 − 1e-6."""
    got, ref = _torch_partials(u, m), _mp_partials(u, m)
    for g_row, r_row in zip(got, ref, strict=True):
        for g, r in zip(g_row, r_row, strict=True):
            assert abs(g - r) <= 1e-10 * abs(r) + 1e-300, (u, m, g, r)


def test_amplitude_is_unwrapped_and_m_zero_closed_form():
    u = T([-9.0, 4.0, 12.0])
    am = el.ellipj(u, T(0.5))[3]
    assert bool((am.abs() > 0.5 * math.pi).all())
    # m = 0 exactly (the sweep takes no step): ∂am/∂m = (sin u cos u − u)/4
    ut, mt = u.clone(), torch.zeros(3, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(el.ellipj(ut, mt)[3].sum(), mt)
    ref = (torch.sin(u) * torch.cos(u) - u) / 4.0
    assert torch.allclose(g, ref, rtol=1e-14, atol=0.0)


def test_gradcheck():
    u = T([0.4, 2.5, -7.0, 0.01, 14.0, -0.8, 3.3]).requires_grad_()
    m = T([0.1, 0.5, 0.95, 0.3, 0.7, 1e-6, 0.999]).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: torch.stack(el.ellipj(a, b)), (u, m))
    for k in range(4):  # one output at a time: the others' gradients arrive as None
        assert torch.autograd.gradcheck(lambda a, b, k=k: el.ellipj(a, b)[k], (u, m))
    # m broadcast from 0-d: its gradient sums the lanes
    m0 = T(0.6).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: torch.stack(el.ellipj(a, b)), (u, m0))


def _grads(u: torch.Tensor, m: torch.Tensor, old: bool):
    u, m = u.detach().clone().requires_grad_(), m.detach().clone().requires_grad_()
    with el.autograd_through_sweep(old):
        out = torch.stack(el.ellipj(u, m))
    w = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
    return out.detach(), torch.autograd.grad((w * out).sum(), (u, m))


def test_values_bit_identical_and_gradients_equal_the_sweep_path():
    u = T(np.concatenate([RNG.uniform(-30, 30, 400), [0.0, 1e-9, 0.02, 0.5]]))
    m = T(np.concatenate([RNG.uniform(1e-2, 0.999, 400), [0.4, 0.9, 0.5, 0.999]]))
    plain = torch.stack(el.ellipj(u, m))
    v_new, g_new = _grads(u, m, old=False)
    v_old, g_old = _grads(u, m, old=True)
    assert torch.equal(v_new, v_old) and torch.equal(v_new, plain)
    for a, b in zip(g_new, g_old, strict=True):
        assert bool(((a - b).abs() <= 1e-10 * b.abs() + 1e-14).all())


def test_double_backward_raises():
    u, m = T(0.7).requires_grad_(), T(0.4).requires_grad_()
    (g,) = torch.autograd.grad(el.ellipj(u, m)[0] ** 2, m, create_graph=True)
    with pytest.raises(RuntimeError, match="twice"):
        g.backward()


@pytest.fixture
def jacobi_calls(monkeypatch):
    """Record (radial case, u, m) of every ellipj call of the radial solver, and give the
    Jacobi rules their own switch so that the Legendre rules stay the same in both runs."""
    calls: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    orig = radial_cases.ellipj

    def spy(u, m):
        calls.append((sys._getframe(1).f_code.co_name, u.detach(), m.detach()))
        return orig(u, m)

    monkeypatch.setattr(radial_cases, "ellipj", spy)
    monkeypatch.setattr(jacobi, "_MODE", {"closed_form": True})
    return calls


def _screen(spin: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A 16² screen across the critical curve (radial cases 2 and 3), and vortical points
    (η < 0, case 4: |α| < |a|, β² < (a² − α²)cos²θo at θo = 30°)."""
    axis = torch.linspace(-8.0, 8.0, 16, dtype=torch.float64)
    bb, aa = torch.meshgrid(axis, axis + 0.13, indexing="ij")
    al = T(RNG.uniform(-0.95, 0.95, 24)) * abs(spin)
    co = math.cos(math.radians(30.0))
    be = T(RNG.uniform(-0.95, 0.95, 24)) * torch.sqrt(spin * spin - al * al) * co
    return torch.cat([aa.reshape(-1), al]), torch.cat([bb.reshape(-1), be])


@pytest.mark.parametrize(
    "spin,inc,velocity,surface",
    [(0.5, 60.0, "zamo", "equatorial"), (0.99, 89.0, "keplerian", "equatorial"),
     (0.94, 30.0, "zamo", 20.0)],
)  # fmt: skip
def test_tracer_gradients_equal_the_sweep_path(spin, inc, velocity, surface, jacobi_calls):
    """Orders 0-2 of kf.trace_rays, gradients of x, y, g, t_s in spin and inclination, with the
    Jacobi rules against autograd through the sweep (Legendre rules the same in both runs).
    Measured: ≤ 4.4e-12 relative (0.99, 89°, where k → 1 next to the critical curve and the
    old path itself is off by up to ~1e-10 per lane); tolerance 1e-11."""
    alpha, beta = _screen(spin)
    surf = surface if isinstance(surface, str) else kf.Cone(surface)
    res = {}
    for old in (False, True):
        jacobi._MODE["closed_form"] = not old
        a, i = T(spin).requires_grad_(), T(inc).requires_grad_()
        rays = kf.trace_rays(a, i, alpha, beta, orders=(0, 1, 2), velocity=velocity,
                             surface=surf)  # fmt: skip
        res[old] = ray_vjps(rays, (a, i))
    cases = {c[0] for c in jacobi_calls}
    assert {"_case2", "_case3"} <= cases and ("_case4" in cases) == (surface != "equatorial")
    assert torch.equal(torch.nan_to_num(res[False][0]), torch.nan_to_num(res[True][0]))
    for a, b in zip(res[False][1], res[True][1], strict=True):
        assert torch.isfinite(a).all() and bool(((a - b).abs() <= 1e-11 * b.abs()).all()), (a, b)


def test_tracer_inputs_match_mpmath(jacobi_calls):
    """Per lane, on the tracer's own (u, m): the lanes closest to m = 1 (next to the critical
    curve) and a few of each radial case, against mpmath at 1e-10."""
    axis = torch.linspace(-8.0, 8.0, 12, dtype=torch.float64)
    bb, aa = torch.meshgrid(axis, axis + 0.13, indexing="ij")
    kf.trace_rays(T(0.94), T(63.0), aa.reshape(-1), bb.reshape(-1), orders=(0, 1, 2))
    picks: list[tuple[float, float]] = []
    for _, u, m in jacobi_calls:
        u, m = u.reshape(-1), m.reshape(-1)
        good = torch.isfinite(u) & torch.isfinite(m)
        u, m = u[good], m[good]
        order = torch.argsort(1.0 - m)
        picks += [(float(u[j]), float(m[j])) for j in order[:3].tolist() + order[-1:].tolist()]
    assert min(1.0 - q for _, q in picks) < 1e-3
    for u, m in picks:
        got, ref = _torch_partials(u, m), _mp_partials(u, m)
        for g_row, r_row in zip(got, ref, strict=True):
            for g, r in zip(g_row, r_row, strict=True):
                assert abs(g - r) <= 1e-10 * abs(r) + 1e-300, (u, m, g, r)
