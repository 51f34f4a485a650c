"""Closed-form derivatives of the Legendre integrals (kerrfield.physics.elliptic._grad).

References are independent of the rules under test: mpmath's numerical derivatives of its own
ellipf / ellipe / ellippi at 30 digits, finite differences (gradcheck), and autograd through
the duplication sweep (the path before the rules, ``autograd_through_sweep``).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from support.grads import ray_vjps

import kerrfield as kf
from kerrfield.physics import elliptic as el
from kerrfield.physics.elliptic import _grad

RNG = np.random.default_rng(20261130)
T = lambda x: torch.as_tensor(x, dtype=torch.float64)  # noqa: E731

# (φ, m, n) across the domain: m < 0, m → 0, m → 1, φ beyond π/2 (DLMF 19.2.10), φ → 0,
# n < 0, n → 0, n ≈ m, n sin²φ > 1 (Cauchy principal value), n → 1
POINTS = [
    (0.3, 0.2, 0.4), (1.2, -1.5, -2.0), (2.9, 0.9, 0.7), (-4.0, 0.5, 0.3), (7.5, -0.3, 0.6),
    (1e-4, 0.6, 0.5), (2e-3, -2.0, 1.5), (1.0, 1e-9, 0.3), (0.8, 1.0 - 1e-6, 0.2),
    (1.3, 0.4, 0.4 + 1e-6), (1.1, 0.3, 1e-7), (1.0, 0.5, 2.0), (1.4, 0.2, 1.0 - 1e-5),
    (0.5, -0.8, 1.0 + 1e-4), (1.5707963, 0.99, -0.5), (-1.2, 0.7, 5.0),
]  # fmt: skip


def _mp_partials(kind: str, phi: float, m: float, n: float) -> list[float]:
    """mpmath derivatives of F, E or Π (real part: the principal value) in (φ, m[, n])."""

    def f(a, b, c):
        if kind == "F":
            return mpmath.ellipf(a, b)
        if kind == "E":
            return mpmath.ellipe(a, b)
        return mpmath.re(mpmath.ellippi(c, a, b))

    with mpmath.workdps(30):
        out = [
            mpmath.diff(lambda t: f(t, m, n), phi),
            mpmath.diff(lambda t: f(phi, t, n), m),
        ]
        if kind == "Pi":
            out.append(mpmath.diff(lambda t: f(phi, m, t), n))
    return [float(v) for v in out]


def _torch_partials(kind: str, phi: float, m: float, n: float) -> list[float]:
    args = [T(v).requires_grad_() for v in (phi, m, n)]
    if kind == "F":
        val = el.ellipkinc(args[0], args[1])
    elif kind == "E":
        val = el.ellipeinc(args[0], args[1])
    else:
        val = el.ellippiinc(args[2], args[0], args[1])
    grads = torch.autograd.grad(val, args, allow_unused=True)
    return [float(g) for g in grads[: 3 if kind == "Pi" else 2]]


@pytest.mark.parametrize("kind", ["F", "E", "Pi"])
def test_partials_match_mpmath(kind):
    worst = 0.0
    for phi, m, n in POINTS:
        if kind == "Pi" and abs(n - 1.0) < 1e-3 and abs(phi) > 1.3:
            continue  # Π's pole at n sin²φ = 1 within the step of mpmath.diff
        got, ref = _torch_partials(kind, phi, m, n), _mp_partials(kind, phi, m, n)
        for g, r in zip(got, ref, strict=True):
            worst = max(worst, abs(g - r) / max(abs(r), 1e-300))
    assert worst < 1e-8, worst


def test_complete_integrals_match_mpmath():
    for m, n in [(0.3, 0.5), (-2.0, -0.7), (0.999, 0.2), (1e-8, 0.9), (0.5, 3.0), (0.6, 0.6001)]:
        mt, nt = T(m).requires_grad_(), T(n).requires_grad_()
        (dk,) = torch.autograd.grad(el.ellipk(mt), mt)
        (de,) = torch.autograd.grad(el.ellipe(mt), mt)
        dpn, dpm = torch.autograd.grad(el.ellippi(nt, mt), (nt, mt))
        with mpmath.workdps(30):
            ref = [
                mpmath.diff(mpmath.ellipk, m),
                mpmath.diff(mpmath.ellipe, m),
                mpmath.diff(lambda t, m=m: mpmath.re(mpmath.ellippi(t, m)), n),
                mpmath.diff(lambda t, n=n: mpmath.re(mpmath.ellippi(n, t)), m),
            ]
        for g, r in zip((dk, de, dpn, dpm), ref, strict=True):
            assert abs(float(g) - float(r)) <= 1e-8 * abs(float(r)), (m, n, float(g), float(r))


def test_gradcheck_every_argument():
    pts = np.array([p for p in POINTS if abs(p[2] - 1.0) > 1e-3 and abs(p[0]) > 1e-3])
    phi, m, n = (T(pts[:, i]).requires_grad_() for i in range(3))
    kw = {"eps": 1e-7, "atol": 1e-6, "rtol": 1e-5}
    assert torch.autograd.gradcheck(lambda p, q: el.ellipkinc(p, q), (phi, m), **kw)
    assert torch.autograd.gradcheck(lambda p, q: el.ellipeinc(p, q), (phi, m), **kw)
    assert torch.autograd.gradcheck(lambda a, p, q: el.ellippiinc(a, p, q), (n, phi, m), **kw)
    mc = T([0.3, -2.0, 0.9, 1e-6]).requires_grad_()
    nc = T([0.5, -0.7, 3.0, 0.2]).requires_grad_()
    assert torch.autograd.gradcheck(lambda q: torch.stack([el.ellipk(q), el.ellipe(q)]), (mc,))
    assert torch.autograd.gradcheck(lambda a, q: el.ellippi(a, q), (nc, mc), **kw)


def _grads(fn, args, old: bool):
    args = [a.detach().clone().requires_grad_() for a in args]
    with el.autograd_through_sweep(old):
        out = fn(*args)
        w = torch.linspace(0.5, 1.5, out.numel(), dtype=out.dtype).reshape(out.shape)
        return out.detach(), torch.autograd.grad((w * out).sum(), args)


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float) -> bool:
    return bool(((a - b).abs() <= rtol * b.abs() + 1e-300).all())


def test_values_bit_identical_and_gradients_equal_the_sweep_path():
    """Random broadcast inputs, several characteristics per amplitude, the principal value,
    exact φ = 0 (series lanes) and n ≈ m, n ≈ 0, m ≈ 1 lanes (replayed through the sweep)."""
    phi = T(np.concatenate([RNG.uniform(-7, 7, 200), [0.0, 1e-9, 3e-6, 1.0, 1.2, 0.9]]))
    m = T(np.concatenate([RNG.uniform(-3, 0.99, 200), [0.4, 0.4, 0.4, 0.5, 1 - 1e-13, 0.3]]))
    n = T(np.stack([RNG.uniform(-3, 3, 206), np.r_[RNG.uniform(-3, 3, 200), [0.5] * 3,
                    0.5 * (1 + 1e-12), 0.3, 1e-13]]))  # fmt: skip

    def leg(p, q, c):
        out = el.legendre(p, q, c, e=True)
        return torch.cat([out.F.expand_as(out.Pi), out.E.expand_as(out.Pi), out.Pi])

    for fn, args in [
        (leg, (phi, m, n)),
        (leg, (phi, T(0.37), n)),  # m broadcast from 0-d: gradients summed over lanes
        (leg, (phi.reshape(2, 103), m[:103], T(np.r_[0.2, -1.0]).reshape(2, 1, 1))),
        (lambda p, q: el.ellipkinc(p, q), (phi, m)),
        (lambda q, c: el.ellippi(c, q), (m.clamp(max=0.98), n[0])),
    ]:
        v_new, g_new = _grads(fn, args, old=False)
        v_old, g_old = _grads(fn, args, old=True)
        assert torch.equal(v_new, v_old)
        for a, b in zip(g_new, g_old, strict=True):
            assert _close(a, b, 1e-9), float(((a - b).abs() / b.abs()).max())


def test_fused_duplication_keeps_the_eager_values_for_gradients():
    phi, m = T([0.4, 1.3, 2.2]).requires_grad_(), T([0.5, -1.0, 0.9])
    ref = el.ellipeinc(phi, m)
    with el.fused_duplication():
        assert torch.equal(el.ellipeinc(phi, m), ref)


def test_double_backward_raises():
    phi, m = T(0.7).requires_grad_(), T(0.4).requires_grad_()
    (g,) = torch.autograd.grad(el.ellipkinc(phi, m), m, create_graph=True)
    with pytest.raises(RuntimeError, match="twice"):
        g.backward()


def test_replay_lanes_are_exact():
    """n within 1e-12 of m: the divided differences are replaced by the sweep's autograd."""
    calls = []
    orig = _grad._replay

    def spy(mask, *args, **kw):
        calls.append(bool(kw.get("series", args[-1] if len(args) > 4 else False)))
        return orig(mask, *args, **kw)

    phi, m = T([0.9, 1.1]), T([0.3, 0.6])
    n = m * (1.0 + 1e-12)
    _grad._replay = spy
    try:
        _, g_new = _grads(lambda a, b, c: el.ellippiinc(c, a, b), (phi, m, n), old=False)
    finally:
        _grad._replay = orig
    assert False in calls
    _, g_old = _grads(lambda a, b, c: el.ellippiinc(c, a, b), (phi, m, n), old=True)
    for a, b in zip(g_new, g_old, strict=True):
        assert _close(a, b, 1e-9)


@pytest.mark.parametrize("spin,inc,velocity", [(0.5, 60.0, "zamo"), (-0.9, 83.0, "keplerian")])
def test_tracer_gradients_equal_the_sweep_path(spin, inc, velocity):
    axis = torch.linspace(-9.0, 9.0, 14, dtype=torch.float64)
    bb, aa = torch.meshgrid(axis, axis + 0.13, indexing="ij")
    res = {}
    for old in (False, True):
        a, i = T(spin).requires_grad_(), T(inc).requires_grad_()
        with el.autograd_through_sweep(old):
            rays = kf.trace_rays(a, i, aa.reshape(-1), bb.reshape(-1), orders=(0, 1),
                                 velocity=velocity)  # fmt: skip
            res[old] = ray_vjps(rays, (a, i))
    assert torch.equal(torch.nan_to_num(res[False][0]), torch.nan_to_num(res[True][0]))
    for a, b in zip(res[False][1], res[True][1], strict=True):
        assert torch.isfinite(a).all() and _close(a, b, 1e-9), (a, b)
    assert math.isfinite(float(res[False][1][0][0]))
