"""Radial motion: the four roots of R(r) and the emission radius at a given Mino time.

R(r) = r⁴ + A r² + B r + C with A = a² − η − λ², B = 2(η + (λ − a)²), C = −a²η (Gralla &
Lupsasca 2020, PRD 101, 044032, eqs. 5, 13); roots r₁..r₄ in closed form (eqs. 95-96).
:func:`radial_solution` dispatches to the three root cases of :mod:`.radial_cases`. Twin of
``julia/src/geodesics/radial.jl``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._lanewise import cbrt
from .conserved import STATUS_ESCAPE, STATUS_HORIZON
from .radial_cases import (
    _case2,
    _case2_ends,
    _case3,
    _case3_ends,
    _case4,
    _case4_ends,
    _double_root,
    _inner_root,
)

__all__ = ["radial_roots", "radial_solution", "on_critical_curve"]

_A_NO_MINUS = 1e-8
# 1 − k below which r₃ = r₄ is taken as a double root: the elliptic forms have lost most of
# their digits there, and the double-root solution is then exact to ~1e-12
_K_DOUBLE = 1e-12


def _cos_third_acos(x: Tensor) -> Tensor:
    """cos(acos(x)/3), the largest root c of 4c³ − 3c = x, with a finite derivative at x = 1.

    On the critical curve the resolvent cubic has a double root and x = 1 exactly, where
    d acos/dx is infinite though cos(acos(x)/3) is smooth; there (1 − x < 1e-8) the series
    1 − ε/9 − 4ε²/243, ε = 1 − x (error < 1e-24) is used instead.
    """
    near = x > 1.0 - 1e-8
    eps = torch.where(near, 1.0 - x, 0.0)
    series = 1.0 - eps / 9.0 - 4.0 * eps * eps / 243.0
    return torch.where(near, series, torch.cos(torch.acos(torch.where(near, 0.0, x)) / 3.0))


def radial_roots(a: Tensor, lam: Tensor, eta: Tensor) -> dict[str, Tensor]:
    """Roots of R(r) = r⁴ + A r² + B r + C in real arithmetic (GL20 eqs. 95-96).

    ξ₀ is the largest real root of the resolvent cubic (written as t³ + P t + Q = 0 with
    ξ₀ = t − A/3, P = −A²/12 − C, Q = −A/3 (A²/36 − C) − B²/8), z = √(ξ₀/2), and
    r₁,₂ = −z ∓ √d₁₂, r₃,₄ = z ∓ √d₃₄ with d₁₂ = −A/2 − z² + B/(4z), d₃₄ = −A/2 − z² − B/(4z).
    d₃₄ ≥ 0: four real roots (case 2); d₃₄ < 0 ≤ d₁₂: r₃,₄ = z ± i√(−d₃₄) (case 3);
    d₁₂ < 0: no real root, r₁,₂ = −z ∓ i√(−d₁₂) (case 4). Also returns A and C, from which
    the cases take r₂ = C/(r₁r₃r₄) where −z + √d₁₂ would cancel (see :func:`_inner_root`).
    """
    a2 = a * a
    A = a2 - eta - lam * lam
    B = 2.0 * (eta + (lam - a) ** 2)
    C = -a2 * eta
    P = -A * A / 12.0 - C
    Q = -A / 3.0 * (A * A / 36.0 - C) - B * B / 8.0
    disc = (P / 3.0) ** 3 + (Q / 2.0) ** 2
    one_real = disc > 0
    sd = torch.sqrt(torch.where(one_real, disc, torch.ones_like(disc)))

    t1 = cbrt(-Q / 2.0 + sd) + cbrt(-Q / 2.0 - sd)
    p_neg = torch.where(one_real, -torch.ones_like(P), P)
    arg = (3.0 * Q / (2.0 * p_neg)) * torch.sqrt(-3.0 / p_neg)
    arg = torch.clamp(torch.where(one_real, torch.zeros_like(arg), arg), -1.0, 1.0)
    t3 = 2.0 * torch.sqrt(-p_neg / 3.0) * _cos_third_acos(arg)
    xi0 = torch.where(one_real, t1, t3) - A / 3.0
    z = torch.sqrt(torch.clamp(xi0 / 2.0, min=1e-30))
    d12 = -A / 2.0 - z * z + B / (4.0 * z)
    d34 = -A / 2.0 - z * z - B / (4.0 * z)
    return {"z": z, "d12": d12, "d34": d34, "A": A, "C": C}


def on_critical_curve(a: Tensor, lam: Tensor, eta: Tensor) -> Tensor:
    """Lanes whose radial roots are a double root to round-off (exactly on the critical curve):
    :func:`_double_root_lanes` of :func:`radial_roots`."""
    roots = radial_roots(a, lam, eta)
    return _double_root_lanes(roots["z"], roots["d12"], roots["d34"], roots["C"])


def _double_root_lanes(z: Tensor, d12: Tensor, d34: Tensor, c_coef: Tensor) -> Tensor:
    """Lanes with r₃ = r₄ to round-off: the elliptic parameter of case 2
    (k = r₃₂r₄₁/(r₃₁r₄₂)) or case 3 (k = ((A + B)² − r₂₁²)/(4AB)) is within 1e-12 of 1, the elliptic
    forms break down, and the ray asymptotes to a spherical photon orbit: the elementary
    double-root solution (:func:`radial_cases._double_root`) takes over (issue 12, item 4).
    """
    with torch.no_grad():
        sq12 = torch.sqrt(d12.clamp_min(0.0))
        sq34 = torch.sqrt(d34.abs())
        r1 = -z - sq12
        r3, r4 = z - sq34, z + sq34
        r2 = _inner_root(z, sq12, r1, z * z - d34, c_coef.expand_as(z))
        k2 = (r3 - r2) * (r4 - r1) / ((r3 - r1) * (r4 - r2))
        big_a = torch.sqrt((z - r2) ** 2 + sq34 * sq34)
        big_b = torch.sqrt((z - r1) ** 2 + sq34 * sq34)
        k3 = ((big_a + big_b) ** 2 - (r2 - r1) ** 2) / (4.0 * big_a * big_b)
        k = torch.where(d34 >= 0, k2, k3)
        return (d12 >= 0) & ~(k < 1.0 - _K_DOUBLE)


def radial_solution(a: Tensor, lam: Tensor, eta: Tensor, tau: Tensor) -> dict[str, Tensor]:
    """Emission radius r_s(τ), ν_r, the radial status and the radial integrals I_φ, I_t.

    Parameters
    ----------
    a : Tensor
        Spin (0-d).
    lam, eta : Tensor
        Conserved quantities, shape (P,), with η > 0 (callers mask the rest).
    tau : Tensor
        Mino times from the observer, shape (N, P).

    Returns
    -------
    dict with r_s, nu_r, status (0 ok, 1 horizon first, 2 escape first), I_phi, I_t,
    each (N, P). Where status ≠ 0, r_s, I_phi and I_t are 0 and ν_r is 1.

    Notes
    -----
    Each pixel's Mino time at which the ray leaves (horizon or escape) comes first, from F
    alone; the emission-point work (Jacobi functions, Π, E) then runs only on the (order,
    pixel) lanes that reach their crossing, as the Julia twin returns early per ray. Most
    lanes of orders n ≥ 1 end before their crossing (at a = 0.94, θo = 17° on a 256²,
    ±10 M screen: 13 % reach n = 1, 0.7 % n = 2): a trace of orders 0-2 there is ≈ 1.5 ×
    faster on one thread and ≈ 1.25 × on two (orders 0-1: no measurable change).
    """
    a_val = float(a.detach())
    # r₋ = a²/r₊ (r₊r₋ = a²): 1 − √(1 − a²) rounds to 0 for |a| < 1e-8 (issue 12, item 3)
    rp = 1.0 + torch.sqrt(1.0 - a * a)
    rm = a * a / rp
    roots = radial_roots(a, lam, eta)
    z, d12, d34, big_a_coef = roots["z"], roots["d12"], roots["d34"], roots["A"]
    c_coef = roots["C"].expand_as(z)
    double = _double_root_lanes(z, d12, d34, c_coef)
    case2 = (d34 >= 0) & ~double
    case3 = (d34 < 0) & (d12 >= 0) & ~double
    case4 = d12 < 0
    nn, pp = tau.shape
    out = {k: torch.zeros_like(tau) for k in ("r_s", "I_p", "I_m", "I_1", "I_2")}
    out["nu_r"] = torch.ones_like(tau)
    status = torch.zeros(nn, pp, dtype=torch.int8, device=tau.device)
    # the r₋ terms of I_φ and I_t carry a²λ/2 and a⁴ (GL20 B1-B2): below |a| = 1e-8 they are
    # under 1e-16 of φ and t, and their characteristic (r₋ − r₂ ~ a²) is degenerate
    use_minus = abs(a_val) > _A_NO_MINUS
    cases = ((case2, _case2, _case2_ends), (case3, _case3, _case3_ends),
             (case4, _case4, _case4_ends), (double, _double_root, None))  # fmt: skip
    for mask, fn, ends_fn in cases:
        idx = torch.nonzero(mask).flatten()
        if idx.numel() == 0:
            continue
        pix = (z[idx], d12[idx], d34[idx])
        coefs = (c_coef[idx],) if fn is _case2 else (big_a_coef[idx], c_coef[idx])
        if ends_fn is None:  # on the critical curve every order is reached
            row, col = torch.nonzero(torch.ones_like(tau[:, idx], dtype=torch.bool),
                                     as_tuple=True)  # fmt: skip
            ends = None
        else:
            # each pixel's end of the ray first; then only the (order, pixel) lanes whose
            # crossing comes before it: the others (most higher orders) need no further work
            ends = ends_fn(rp, *pix, *coefs)
            ok = tau[:, idx] < ends[2]
            bad = torch.where(ends[3], STATUS_ESCAPE, STATUS_HORIZON).to(torch.int8)
            status[:, idx] = torch.where(ok, torch.zeros_like(bad), bad)
            row, col = torch.nonzero(ok, as_tuple=True)
            if row.numel() == 0:
                continue
            ends = tuple(e[col] for e in ends)
        lanes = (row, idx[col])
        args = (rp, rm if use_minus else None, *(v[col] for v in pix), tau[lanes][None])
        res = fn(*args, *(v[col] for v in coefs), ends=ends)
        if fn is _case2:
            res = res[:3] + res[4:]  # drop `turning`
        r, nu_r, _, ip, im, i1, i2 = res
        for key, val in (("r_s", r), ("nu_r", nu_r), ("I_p", ip), ("I_m", im), ("I_1", i1),
                         ("I_2", i2)):  # fmt: skip
            if val is not None:
                out[key] = out[key].index_put(lanes, val[0])
    # GL20 B1-B2: φ and t radial integrals from I_±, I₀ = τ, I₁, I₂
    dr = rp - rm
    i_phi = 2.0 * a / dr * ((rp - 0.5 * a * lam) * out["I_p"] - (rm - 0.5 * a * lam) * out["I_m"])
    i_t = (
        4.0 / dr * (rp * (rp - 0.5 * a * lam) * out["I_p"] - rm * (rm - 0.5 * a * lam) * out["I_m"])
        + 4.0 * tau
        + 2.0 * out["I_1"]
        + out["I_2"]
    )
    return {"r_s": out["r_s"], "nu_r": out["nu_r"], "status": status, "I_phi": i_phi, "I_t": i_t}
