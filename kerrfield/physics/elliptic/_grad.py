"""Closed-form derivative rules for the duplication sweep behind F, E, D and Π.

Every Legendre integral of :mod:`.legendre` is s R_F(x, y, 1), s³ R_D(x, y, 1)/3 and
s³ R_J(x, y, 1, p)/3 with x = cos²φ, y = 1 − m sin²φ, p = 1 − n sin²φ (DLMF 19.25.5,
19.25.9, 19.25.14). :class:`_CarlsonZ1` runs the sweep without recording it and
differentiates R_F, R_D, R_J in x, y, p from the values already computed, so a backward pass
no longer replays the ~30 elementwise operations of every duplication step:

* ∂R_F/∂z = −R_D(x, y, z)/6 (DLMF 19.18.1) and R_F's symmetry give ∂R_F/∂x = −B/6,
  ∂R_F/∂y = −C/6 with B = R_D(y, 1, x), C = R_D(x, 1, y). These two follow from
  A = R_D(x, y, 1) by A + B + C = 3/√(xy) (DLMF 19.21.7) and Euler's theorem for the
  homogeneous R_F (degree −½): xB + yC + A = 3 R_F;
* partial fractions 1/((t + u)(t + v)) = (1/(t + u) − 1/(t + v))/(v − u) in the integral
  representations of R_D and R_J (DLMF §19.16) give ∂R_D/∂x = (A − B)/(2(1 − x)),
  ∂R_D/∂y = (A − C)/(2(1 − y)), and ∂R_J/∂x = (R_J − B)/(2(p − x)) (likewise y, and z = 1
  with A); Euler's theorem for R_J (degree −3/2) then gives ∂R_J/∂p. They hold for the
  principal value (p < 0) as well: all are real linear relations between real parts of
  analytic functions (checked against mpmath in tests/physics/test_elliptic_grad.py).

These divided differences lose accuracy where their denominators vanish. Where x, y (and p)
are all within _NEAR_SERIES = 1e-6 of 1 (φ → 0) the derivatives of Carlson's series are used
(Carlson 1995 eqs. 2.13, 2.29, 2.31; constants at exactly 1); B and C come from the R_D
series below 1e-3. The remaining removable singularities are those of the Legendre forms
(x = y: m → 1; y = 1: m → 0; p = x, y, 1: n → 1, m, 0): lanes closer than _TOL = 1e-7
relative to the spread max(|1 − x|, |1 − y|), with a non-zero incoming gradient, are
differentiated the old way, the sweep replayed under autograd on those lanes only
(:func:`_replay`). Elsewhere the partials keep ≲ 2.2e-16/distance relative error. Forward
values are bit-identical to :func:`._sweep._carlson`; :func:`autograd_through_sweep`
restores the old path everywhere (for tests and benchmarks). Double backward is not
supported (``once_differentiable`` raises).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._sweep import _carlson, _rd_rj_series, fused_duplication

# relative size of a denominator below which a lane is differentiated through the sweep (the
# divided differences then keep ≲ 2.2e-16/_TOL relative error), and the distance from 1 below
# which B, C come from Carlson's series
_TOL = 1e-7
_NEAR = 1e-3
# spread below which the partials come from Carlson's series (the divided differences keep
# ≲ 2.2e-16/_NEAR_SERIES relative error above it)
_NEAR_SERIES = 1e-6
_MODE: dict = {"closed_form": True}


@contextlib.contextmanager
def autograd_through_sweep(enabled: bool = True) -> Iterator[None]:
    """Differentiate the elliptic integrals by autograd through the duplication sweeps, and
    the Jacobi functions through the AGM and Landen steps.

    This is the path before the closed-form rules of this module and of :mod:`._jacobi_grad`,
    kept to compare gradients and to time both paths (``benchmarks/bench_gradients.py``).
    Values are identical.

    Parameters
    ----------
    enabled : bool
        True: autograd through the sweeps inside the block; False: the closed-form rules.

    Examples
    --------
    >>> import torch
    >>> from kerrfield.physics.elliptic import ellipkinc
    >>> m = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    >>> with autograd_through_sweep():
    ...     (old,) = torch.autograd.grad(ellipkinc(1.0, m), m)
    >>> (new,) = torch.autograd.grad(ellipkinc(1.0, m), m)
    >>> bool(abs(old - new) < 1e-14)
    True
    """
    previous = _MODE["closed_form"]
    _MODE["closed_form"] = not enabled
    try:
        yield
    finally:
        _MODE["closed_form"] = previous


def carlson_z1(
    x: Tensor, y: Tensor, one: Tensor, p: Tensor | None, rd: bool
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """R_F(x, y, 1), R_D(x, y, 1) and R_J(x, y, 1, p), differentiated in closed form.

    The values are :func:`._sweep._carlson`'s with z = ``one`` (Carlson 1995); the backward
    pass uses the rules of the module docstring (DLMF 19.18.1, 19.21.7).

    Parameters
    ----------
    x, y : Tensor
        cos²φ and 1 − m sin²φ for the Legendre forms (DLMF 19.25.5); broadcastable.
    one : Tensor
        0-d tensor 1 (z), of the dtype and device of x.
    p : Tensor or None
        R_J's fourth argument, may carry extra leading dimensions; None: no R_J.
    rd : bool
        Also compute R_D(x, y, 1).

    Returns
    -------
    tuple of Tensor or None
        (R_F, R_D or None, R_J or None).
    """
    needs = any(t is not None and t.requires_grad for t in (x, y, p))
    if not (_MODE["closed_form"] and needs and torch.is_grad_enabled()):
        return _carlson(x, y, one, p, rd=rd)
    ins = (x, y) if p is None else (x, y, p)
    out = list(_CarlsonZ1.apply(one, rd, *ins))
    rf = out.pop(0)
    out_d = out.pop(0) if rd else None
    return rf, out_d, out.pop(0) if p is not None else None


def _replay(
    mask: Tensor,
    ins: list[Tensor],
    outs: list[int],
    grads: list[Tensor],
    one: Tensor,
    series: bool = False,
) -> list[Tensor]:
    """Gradients of the selected sweep outputs on the lanes of ``mask`` (the full shape), by
    autograd through the sweep on those lanes only, or with ``series`` through Carlson's
    series alone (:func:`_series`; a polynomial, its derivatives exact to O(δ⁵) ≲ 1e-20);
    ``ins`` are x, y[, p]."""
    flat = mask.reshape(-1)
    sub = [t.detach().expand(mask.shape).reshape(-1)[flat].requires_grad_() for t in ins]
    with torch.enable_grad():
        p = sub[2] if len(sub) > 2 else None
        if series:
            vals = _series(sub[0], sub[1], p)
        else:
            vals = _carlson(sub[0], sub[1], one, p, rd=1 in outs)
        ys = [vals[k] for k in outs]
        gs = [g.expand(mask.shape).reshape(-1)[flat] for g in grads]
        return list(torch.autograd.grad(ys, sub, gs, allow_unused=True))


def _nz(d: Tensor) -> Tensor:
    """``d`` with exact zeros replaced by 1: a lane with a zero denominator is recomputed
    (series or replay) or carries no gradient, and must not spread 0/0 into the others."""
    return torch.where(d == 0, 1.0, d)


def _small(d: Tensor, scale: Tensor | float) -> Tensor:
    return d.abs() < _TOL * scale


class _CarlsonZ1(torch.autograd.Function):
    """R_F(x, y, 1), R_D(x, y, 1), R_J(x, y, 1, p) with closed-form backward (module doc)."""

    @staticmethod
    def forward(ctx, one: Tensor, rd: bool, x: Tensor, y: Tensor, p: Tensor | None = None):
        with fused_duplication(False):  # gradients keep the eager sweep (its exact values)
            rf, out_d, out_j = _carlson(x, y, one, p, rd=rd)
        ctx.rd, ctx.one = rd, one
        ctx.save_for_backward(x, y, p, rf, out_d, out_j)
        outs = [rf] + ([out_d] if rd else []) + ([out_j] if p is not None else [])
        return tuple(outs)

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads: Tensor):
        x, y, p, rf, a, rj = ctx.saved_tensors
        g_f = grads[0]
        g_d = grads[1] if ctx.rd else None
        g_j = grads[-1] if p is not None else None
        if a is None:  # R_D is needed by every rule: one sweep, not recorded
            with fused_duplication(False):
                a = _carlson(x, y, ctx.one, rd=True)[1]
        gx, gy, gp = _closed_form(ctx.one, x, y, p, rf, a, rj, g_f, g_d, g_j)
        out = [None, None, _sum_to(gx, x), _sum_to(gy, y)]
        return tuple(out + ([_sum_to(gp, p)] if p is not None else []))


def _sum_to(t: Tensor, like: Tensor) -> Tensor:
    while t.dim() > like.dim():
        t = t.sum(0)
    return t.sum_to_size(like.shape)


def _rd_near(x: Tensor, y: Tensor, z: Tensor | float) -> Tensor:
    """R_D(x, y, z) for x, y, z within ~1e-3 of each other: Carlson's series without
    duplication (Carlson 1995 eq. 2.29; the truncation error is O(δ⁶) ≲ 1e-17 there)."""
    an = (x + y + 3.0 * z) / 5.0
    big_x, big_y = (an - x) / an, (an - y) / an
    big_z = -(big_x + big_y) / 3.0
    xy, z2 = big_x * big_y, big_z * big_z
    series = _rd_rj_series(
        xy - 6.0 * z2, (3.0 * xy - 8.0 * z2) * big_z, 3.0 * (xy - z2) * z2, xy * z2 * big_z
    )
    return series / (an * torch.sqrt(an))


def _permuted_rd(x: Tensor, y: Tensor, rf: Tensor, a: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """B = R_D(y, 1, x), C = R_D(x, 1, y) and x B from R_F(x, y, 1), A = R_D(x, y, 1).

    (x − y)B = 3R_F − (1 − y)A − 3√(y/x) and (y − x)C = 3R_F − (1 − x)A − 3√(x/y) (DLMF
    19.21.7 with Euler's relation); where x and y are both within _NEAR of 1 these cancel
    (φ → 0) and the series is used instead."""
    sx, sy = torch.sqrt(x), torch.sqrt(y)
    dxy = _nz(x - y)
    b = (3.0 * rf - (1.0 - y) * a - 3.0 * sy / sx) / dxy
    c = (3.0 * rf - (1.0 - x) * a - 3.0 * sx / sy) / -dxy
    xb = (3.0 * rf * x - (1.0 - y) * a * x - 3.0 * sx * sy) / dxy  # finite at x = 0
    near = torch.maximum((1.0 - x).abs(), (1.0 - y).abs()) < _NEAR
    if bool(near.any()):
        xs, ys = torch.where(near, x, 1.0), torch.where(near, y, 1.0)
        b_s, c_s = _rd_near(ys, 1.0, xs), _rd_near(xs, 1.0, ys)
        b, c = torch.where(near, b_s, b), torch.where(near, c_s, c)
        xb = torch.where(near, x * b_s, xb)
    return b, c, xb


def _series(x: Tensor, y: Tensor, p: Tensor | None) -> tuple[Tensor, Tensor, Tensor | None]:
    """R_F(x, y, 1), R_D(x, y, 1), R_J(x, y, 1, p) from Carlson's series alone (Carlson 1995
    eqs. 2.13, 2.29, 2.31), valid where every argument is within _NEAR of 1."""
    an = (x + y + 1.0) / 3.0
    bx, by = (an - x) / an, (an - y) / an
    bz = -bx - by
    e2, e3 = bx * by - bz * bz, bx * by * bz
    rf = (1.0 - e2 / 10.0 + e3 / 14.0 + e2 * e2 / 24.0 - 3.0 * e2 * e3 / 44.0) / torch.sqrt(an)
    rj = None
    if p is not None:
        an = (x + y + 1.0 + 2.0 * p) / 5.0
        bx, by, bz = (an - x) / an, (an - y) / an, (an - 1.0) / an
        bp = -(bx + by + bz) / 2.0
        p2, xyz = bp * bp, bx * by * bz
        e2 = bx * by + bx * bz + by * bz - 3.0 * p2
        series = _rd_rj_series(
            e2, xyz + 2.0 * e2 * bp + 4.0 * p2 * bp, (2.0 * xyz + e2 * bp + 3.0 * p2 * bp) * bp,
            xyz * p2,
        )  # fmt: skip
        rj = series / (an * torch.sqrt(an))
    return rf, _rd_near(x, y, 1.0), rj


def _closed_form(one, x, y, p, rf, a, rj, g_f, g_d, g_j):
    """Gradients in x, y, p (at the broadcast shapes) from the values R_F, A = R_D, R_J.

    Where all arguments are within _NEAR_SERIES of 1 (φ → 0) the derivatives of Carlson's
    series are used. Elsewhere, lanes are replayed where a divided difference has a denominator
    below _TOL times the spread ref = max|1 − x|, |1 − y| of the arguments (for the Legendre
    arguments: m → 1, m → 0, n → 1, n → m, n → 0, independently of φ)."""
    b, c, xb = _permuted_rd(x, y, rf, a)
    dxy, one_x, one_y = x - y, 1.0 - x, 1.0 - y
    ref = torch.maximum(one_x.abs(), one_y.abs())
    # x = y = z = 1 exactly (φ below ~1e-8): the partials are constants, ∂R_F/∂x = −1/6,
    # ∂R_D/∂x = −3/10, ∂R_J/∂x = −3/10, ∂R_J/∂p = −3/5 (differentiate the integrals at 1)
    sym = ref == 0
    near = (ref < _NEAR_SERIES) & ~sym
    gx = -g_f * b / 6.0
    gy = -g_f * c / 6.0
    bad = _small(dxy, ref) & (g_f != 0)
    outs, grads = [0], [g_f]
    if g_d is not None:
        gx = gx + g_d * (a - b) / (2.0 * _nz(one_x))
        gy = gy + g_d * (a - c) / (2.0 * _nz(one_y))
        bad_d = _small(dxy, ref) | _small(one_x, ref) | _small(one_y, ref)
        bad = bad | (bad_d & (g_d != 0))
        outs, grads = [0, 1], [g_f, g_d]
    live = g_f != 0 if g_d is None else (g_f != 0) | (g_d != 0)
    at_one = -g_f / 6.0 if g_d is None else -g_f / 6.0 - 0.3 * g_d
    gx, gy = torch.where(sym, at_one, gx), torch.where(sym, at_one, gy)
    gx, gy = _patch(near & live, [x, y], outs, grads, [gx, gy], one, series=True)
    gx, gy = _patch(bad & ~near, [x, y], outs, grads, [gx, gy], one)
    if p is None:
        return gx, gy, None
    px, py, p1 = p - x, p - y, p - 1.0
    jx = (rj - b) / (2.0 * _nz(px))
    jy = (rj - c) / (2.0 * _nz(py))
    jz = (rj - a) / (2.0 * _nz(p1))
    x_jx = (x * rj - xb) / (2.0 * _nz(px))
    jp = (-1.5 * rj - x_jx - y * jy - jz) / p
    sym_j = sym & (p1 == 0)
    hx, hy = torch.where(sym_j, -0.3 * g_j, g_j * jx), torch.where(sym_j, -0.3 * g_j, g_j * jy)
    hp = torch.where(sym_j, -0.6 * g_j, g_j * jp)
    near_j = (ref < _NEAR_SERIES) & (p1.abs() < _NEAR_SERIES) & ~sym_j & (g_j != 0)
    hx, hy, hp = _patch(near_j, [x, y, p], [2], [g_j], [hx, hy, hp], one, series=True)
    bad_j = _small(dxy, ref) | _small(px, ref) | _small(py, ref) | _small(p1, ref)
    bad_j = bad_j & (g_j != 0) & ~near_j
    hx, hy, hp = _patch(bad_j, [x, y, p], [2], [g_j], [hx, hy, hp], one)
    return gx + _sum_to(hx, gx), gy + _sum_to(hy, gy), hp


def _patch(bad, ins, outs, grads, vals, one, series=False):
    """``vals`` with the lanes of ``bad`` replaced by :func:`_replay`'s gradients."""
    if not bool(bad.any()):
        return vals
    grads = [g for g in grads if g is not None]
    shape = torch.broadcast_shapes(bad.shape, *(v.shape for v in vals))
    bad = bad.expand(shape)
    fixed = _replay(bad, ins, outs, grads, one, series)
    res = []
    for v, f in zip(vals, fixed, strict=True):
        v = v.expand(shape).reshape(-1).clone()
        v[bad.reshape(-1)] = 0.0 if f is None else f
        res.append(v.reshape(shape))
    return res
