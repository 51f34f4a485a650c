"""The three radial root cases: r_s(τ), I_φ and I_t along the ray.

Four real roots (case 2, sn inversion, Gralla & Lupsasca 2020 eqs. B45-B46), two real (case
3, cn inversion, B74-B75) and none (case 4, sc inversion, B104-B109). The time integral
diverges at the observer as r_o + 2 ln r_o; the regularised delay is reported, in closed
form in every case: the finite parts of the antiderivatives at the observer's pole
(radial_integrals._cn_pole, _sc_pole) replace a finite cut-off radius in cases 3 and 4.
Measured: I₁ − ln r, I₂ − r within 1.2e-13 of 50-digit quadrature (was 1.5e-11 with the cut-off
at r_o = 1e3 M; tests/physics/test_time_regularisation.py), t_s within 5e-13 of the Julia
twin (was 5e-12; tests/bridge/test_julia_backend.py). Not covered: pixels exactly on the
critical curve (double root, t_s diverges; :func:`_double_root`) and vortical rays within
|d₁₂| ≲ 1e-4 of the case-3/4 boundary, where these forms lose ~3e-17/|d₁₂| relative.
Twin of ``julia/src/geodesics/radial_cases.jl``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._lanewise import atan2
from ..elliptic import ellipj, legendre, legendre_sc
from .radial_integrals import (
    _cn_pole,
    _h_r2,
    _legendre_pv,
    _r1_integral,
    _r2_integral,
    _s1_integral,
    _s1_reduced,
    _s2_integral,
    _sc_pole,
)


def _inner_root(z: Tensor, sq12: Tensor, r1: Tensor, r34: Tensor, c_coef: Tensor) -> Tensor:
    """r₂ = −z + √d₁₂ without cancellation: C/(r₁r₃r₄) (Vieta, r₁r₂r₃r₄ = C = −a²η) where
    r₂ is much smaller than z.

    As a → 0, r₂ → a²η/B → 0 while −z + √d₁₂ keeps an absolute error of ~1e-16 z: in case
    3 the r₋ characteristic α₋ = Q₋/P₋ → −1 as r₂ − r₋ → 0, and that error made it exactly
    −1 (NaN φ_s, t_s) for |a| ≲ 2e-6 (issue 12, item 3).
    """
    naive = sq12 - z
    vieta = c_coef / (r1 * r34)
    return torch.where(naive.abs() < 0.5 * z, vieta, naive)


def _case2_roots(rp, z, d12, d34, c_coef):
    """r₁ … r₄, k, c, sin φ_o and whether the ray turns outside the horizon (r₄ > r₊)."""
    sq12, sq34 = torch.sqrt(d12), torch.sqrt(d34)
    r1, r3, r4 = -z - sq12, z - sq34, z + sq34
    r2 = _inner_root(z, sq12, r1, r3 * r4, c_coef)
    r31, r42 = r3 - r1, r4 - r2
    k = (r3 - r2) * (r4 - r1) / (r31 * r42)
    return r1, r2, r3, r4, k, 0.5 * torch.sqrt(r31 * r42), torch.sqrt(r31 / (r4 - r1)), r4 > rp


def _case2_ends(rp, z, d12, d34, c_coef):
    """Per pixel: F at the observer F_o, at the horizon X_h, and the Mino time τ_end at which
    the ray leaves for good (back to infinity after its turning point, or into the horizon);
    the n-th crossing exists where τ_n < τ_end. Last, whether the ray escapes (turns)."""
    r1, r2, r3, r4, k, c, x_o, turning = _case2_roots(rp, z, d12, d34, c_coef)
    r31, r41, r42, r43 = r3 - r1, r4 - r1, r4 - r2, r4 - r3
    # horizon crossing for rays whose roots are all inside the horizon
    xh2 = r31 * (rp - r4) / (r41 * (rp - r3))
    xh2 = torch.where(turning, torch.full_like(xh2, 0.25), xh2).clamp(0.0, 1.0)
    # F at the observer (sin²φ_o = r₃₁/r₄₁, cos²φ_o = r₄₃/r₄₁, Δ² = r₄₃/r₄₂: exact even
    # next to the critical curve, where r₄₃ → 0) and at the horizon
    f_end = legendre_sc(
        torch.stack([x_o, torch.sqrt(xh2)]),
        torch.stack([r43 / r41, 1.0 - xh2]),
        k,
        d2=torch.stack([r43 / r42, 1.0 - k * xh2]),
    ).F
    f_o, x_h = f_end[0], -f_end[1]
    return f_o, x_h, torch.where(turning, 2.0 * f_o / c, (x_h + f_o) / c), turning


def _case2(rp, rm, z, d12, d34, tau, c_coef, ends=None):
    """Four real roots: r(X) = (r₄r₃₁ − r₃r₄₁sn²X)/(r₃₁ − r₄₁sn²X), X = c τ − F_o.

    c = ½√(r₃₁r₄₂), k = r₃₂r₄₁/(r₃₁r₄₂), sin φ_o = √(r₃₁/r₄₁) (GL20 B45-B46, observer at ∞).
    With n = r₄₁/r₃₁ and r − r₃ = r₄₃/(1 − n sn²):
      ∫dX/(r − r_±) = −X/r_±3 − r₄₃/(r_±3 r_±4) Π(n_±; am X),  n_± = r_±3 r₄₁/(r_±4 r₃₁);
      ∫r dX = r₃X + r₄₃Π(n; am X);
      ∫r² dX = (r₃² + r₃₁r₄₃/2)X − (r₃₁r₄₂/2)E(am X) + (r₄₁r₄₂/2) sn cn dn/(1 − n sn²).
    The observer end is regularised with Π(n; φ_o) → F(φ_o) − Π(k/n; φ_o) + ln r_o
    + ln(4/(r₃₁ + r₄₂)) (DLMF 19.7.9 and R_C's logarithmic limit) and the last term of ∫r²
    → r_o + r₃ (GL20 B37-B38 give the same constants).
    """
    r1, r2, r3, r4, k, c, x_o, turning = _case2_roots(rp, z, d12, d34, c_coef)
    r31, r41, r42, r43 = r3 - r1, r4 - r1, r4 - r2, r4 - r3
    if ends is None:
        ends = _case2_ends(rp, z, d12, d34, c_coef)
    f_o, x_h, tau_end, _ = ends
    ok = tau < tau_end
    big_x = torch.where(ok, c * tau - f_o, -0.5 * f_o.expand_as(tau))
    sn, cn, dn, _ = ellipj(big_x, k.expand_as(big_x))
    sn2 = sn * sn
    r = (r4 * r31 - r3 * r41 * sn2) / (r31 - r41 * sn2)
    nu_r = torch.where(turning & (big_x > 0), -1.0, 1.0).to(r.dtype)

    n = r41 / r31
    horizons = [rp] if rm is None else [rp, rm]
    n_pm = [(h - r3) * r41 / ((h - r4) * r31) for h in horizons]
    # one sweep for every characteristic (n_±, n at the emission point; n_±, k/n at the
    # observer) and E: the rows are the orders and, last, the observer
    norder = tau.shape[0]
    chars = torch.cat(
        [
            torch.stack([*n_pm, n]).unsqueeze(1).expand(-1, norder, -1),
            torch.stack([*n_pm, k / n]).unsqueeze(1),
        ],
        dim=1,
    )
    leg = legendre_sc(
        torch.cat([sn, x_o.unsqueeze(0)]),
        torch.cat([cn * cn, (r43 / r41).unsqueeze(0)]),
        k,
        chars,
        e=True,
        d2=torch.cat([dn * dn, (r43 / r42).unsqueeze(0)]),
    )
    pi_x, pi_o = leg.Pi[:, :norder], leg.Pi[:, norder]

    def i_pm(i):
        h = horizons[i]
        coef = r43 / ((h - r3) * (h - r4))
        return -tau / (h - r3) - coef * (pi_x[i] + pi_o[i]) / c

    i1 = r3 * tau + (r43 / c) * (pi_x[-1] + f_o - pi_o[-1]) + torch.log(4.0 / (r31 + r42))
    lin = r3 * r3 + 0.5 * r31 * r43
    g2 = (
        lin * big_x
        - 0.5 * r31 * r42 * leg.E[:norder]
        + 0.5 * r41 * r42 * sn * cn * dn / (1.0 - n * sn2)
    )
    g2_o = -lin * f_o + 0.5 * r31 * r42 * leg.E[norder]
    i2 = (g2 - g2_o) / c + r3
    return r, nu_r, ok, turning, i_pm(0), (i_pm(1) if rm is not None else None), i1, i2


# |1 + α_±| below which ∫dτ/(r − r_±) is taken as ∫dτ/(r − r₂) in case 3: the neglected
# (r_± − r₂)∫dτ/(r − r₂)² is then ~1e-8 of a term that carries a²(a − λ)/2 in φ
_NEAR_R2 = 1e-8


def _near_r2_alphas(pq, al0):
    """Characteristics α_± = Q_±/P_± and α₀ of case 3, and where r_± is within round-off of r₂
    (α_± → −1, e.g. r₋ as a → 0): there ∫dτ/(r − r₂) replaces the partial fractions, and α_±
    gets a harmless stand-in (0) so that no infinity reaches a backward pass."""
    near = [(1.0 + qq / pp).abs() < _NEAR_R2 for pp, qq in pq]
    alphas = [torch.where(nr, 0.0, qq / pp) for nr, (pp, qq) in zip(near, pq, strict=True)]
    return near, torch.stack([*alphas, al0])


def _case3_roots(z, d12, d34, c_coef):
    """r₁, r₂, A, B, √(AB), k and φ_o of case 3 (see :func:`_case3`)."""
    sq12 = torch.sqrt(d12)
    w = torch.sqrt(-d34)
    r1 = -z - sq12
    r2 = _inner_root(z, sq12, r1, z * z + w * w, c_coef)
    r21 = r2 - r1
    big_a = torch.sqrt((z - r2) ** 2 + w * w)
    big_b = torch.sqrt((z - r1) ** 2 + w * w)
    k = ((big_a + big_b) ** 2 - r21 * r21) / (4.0 * big_a * big_b)
    phi_o = torch.acos((big_a - big_b) / (big_a + big_b))
    return r1, r2, big_a, big_b, torch.sqrt(big_a * big_b), k, phi_o


def _case3_ends(rp, z, d12, d34, big_a_coef, c_coef):
    """Per pixel: F_o, X_h and the Mino time τ_end at the horizon (as :func:`_case2_ends`)."""
    r1, r2, big_a, big_b, sab, k, phi_o = _case3_roots(z, d12, d34, c_coef)
    xh = (big_a * (rp - r1) - big_b * (rp - r2)) / (big_a * (rp - r1) + big_b * (rp - r2))
    f_end = legendre(torch.stack([phi_o, torch.acos(xh.clamp(-1.0, 1.0))]), k).F
    return f_end[0], f_end[1], (f_end[0] - f_end[1]) / sab, torch.zeros_like(k, dtype=torch.bool)


def _case3(rp, rm, z, d12, d34, tau, big_a_coef, c_coef, ends=None):
    """Two real roots r₁ < r₂, r₃,₄ = z ± iw: cn inversion (GL20 B74-B75).

    A = |r₃ − r₂|, B = |r₃ − r₁|, k = ((A + B)² − r₂₁²)/(4AB), X = F(φ_o) − √(AB) τ with
    cos φ_o = (A − B)/(A + B); r(X) = ρ₀ + κ/(1 + α₀ cn X), ρ₀ = (Br₂ + Ar₁)/(A + B),
    κ = 2AB r₂₁/(B² − A²), α₀ = (B + A)/(B − A). For r_± (GL20 B80-B82):
      1/(r − r_±) = (B + A)/Q_± − 2AB r₂₁/(P_±Q_±) · 1/(1 + α_± cn X),
      P_± = B(r₂ − r_±) + A(r_± − r₁), Q_± = B(r₂ − r_±) − A(r_± − r₁), α_± = Q_±/P_±.
    The observer (r = ∞) is the pole X_o = F(φ_o) of 1/(1 + α₀ cn X): with δ = X_o − X,
    r = √(AB)/δ + ρ₀ − √(AB)ℓ + O(δ) and R₁, R₂ = finite part + (ln δ, 1/δ terms) + o(1)
    (:func:`~.radial_integrals._cn_pole`), so the regularised lim(I₁ − ln r_o), lim(I₂ − r_o)
    are the finite parts with −ln √(AB) and −ρ₀ + √(AB)ℓ: a closed form, no cut-off radius
    (the divergent terms cancel identically; checked against 50-digit quadrature).
    ``big_a_coef`` (R's coefficient A) is unused (same signature as the other cases).
    """
    r1, r2, big_a, big_b, sab, k, phi_o = _case3_roots(z, d12, d34, c_coef)
    r21 = r2 - r1
    if ends is None:
        ends = _case3_ends(rp, z, d12, d34, big_a_coef, c_coef)
    f_o, x_h, tau_end, _ = ends
    ok = tau < tau_end
    big_x = torch.where(ok, f_o - sab * tau, 0.5 * (f_o + x_h).expand_as(tau))
    sn, cn, dn, am = ellipj(big_x, k.expand_as(big_x))
    den = (big_b - big_a) + (big_b + big_a) * cn
    r = ((big_b * r2 - big_a * r1) + (big_b * r2 + big_a * r1) * cn) / den
    nu_r = torch.ones_like(r)

    horizons = [rp] if rm is None else [rp, rm]
    pq = [
        (big_b * (r2 - h) + big_a * (h - r1), big_b * (r2 - h) - big_a * (h - r1)) for h in horizons
    ]
    al0 = (big_b + big_a) / (big_b - big_a)
    near, alphas = _near_r2_alphas(pq, al0)
    rho0 = (big_b * r2 + big_a * r1) / (big_a + big_b)
    kap = 2.0 * big_a * big_b * r21 / (big_b**2 - big_a**2)

    # sweeps at the orders (characteristics α_±, α₀) and at the observer (α_±, and k/n₀ for
    # the finite part at α₀'s pole, _cn_pole), 1 − n sin²φ as (1 − n) + n cos²φ
    a2s = alphas * alphas
    n_em = a2s / (a2s - 1.0)
    leg = _legendre_pv(am, k, n_em.unsqueeze(1), (1.0 / (1.0 - a2s)).unsqueeze(1))
    kn0 = k / n_em[-1]
    n_obs = torch.cat([n_em[:-1], kn0.unsqueeze(0)])
    obs = _legendre_pv(phi_o, k, n_obs, torch.cat([1.0 / (1.0 - a2s[:-1]), (1.0 - kn0)[None]]))
    r1_x = _r1_integral(alphas.unsqueeze(1), am, k, pi=leg.Pi)
    r1_o = _r1_integral(alphas[:-1], phi_o, k, pi=obs.Pi[:-1])

    sn_o = 2.0 * sab / (big_a + big_b)  # sin φ_o; cos φ_o = −1/α₀
    cn_o = (big_a - big_b) / (big_a + big_b)
    dn_o = torch.sqrt(1.0 - k * sn_o**2)
    i_r2 = (
        _h_r2(al0, kap, f_o, sn_o, -1.0 / al0, dn_o, obs.E)
        - _h_r2(al0, kap, big_x, sn, cn, dn, leg.E)
    ) / sab

    def i_pm(i):
        pp, qq = pq[i]
        diff = r1_x[i] - r1_o[i]
        val = (big_b + big_a) * tau / qq + (2.0 * big_a * big_b * r21 / (pp * qq)) * diff / sab
        return torch.where(near[i], i_r2, val)

    r1_e = r1_x[-1]
    r2_e = _r2_integral(al0, am, k, r1=r1_e, fe=(leg.F, leg.E))
    dual = f_o - obs.Pi[-1]
    r1_h, r2_h, ell = _cn_pole(al0, k, sn_o, cn_o, dn_o, f_o, obs.E, dual)
    # dτ = −dX/√(AB) from the observer X_o = F(φ_o); r = √(AB)/δ + ρ₀ − √(AB) ℓ + O(δ)
    dx = f_o - big_x
    i1 = (rho0 * dx + kap * (r1_h - r1_e)) / sab - torch.log(sab)
    i2 = (rho0 * rho0 * dx + 2.0 * rho0 * kap * (r1_h - r1_e) + kap * kap * (r2_h - r2_e)) / sab
    i2 = i2 - rho0 + sab * ell
    return r, nu_r, ok, i_pm(0), (i_pm(1) if rm is not None else None), i1, i2


def _case4_roots(z, d12, d34):
    """b₁, a₂, k, g₀, atan g₀ and (C + D)/2 of case 4 (see :func:`_case4`)."""
    b1 = z
    a2_ = torch.sqrt(-d12)
    a1_ = torch.sqrt(-d34)
    cc = torch.sqrt((a1_ - a2_) ** 2 + 4.0 * b1 * b1)
    dd = torch.sqrt((a1_ + a2_) ** 2 + 4.0 * b1 * b1)
    k = 4.0 * cc * dd / (cc + dd) ** 2
    g0 = torch.sqrt(
        torch.clamp((4.0 * a2_**2 - (cc - dd) ** 2) / ((cc + dd) ** 2 - 4.0 * a2_**2), min=0.0)
    )
    return b1, a2_, k, g0, torch.atan(g0), 0.5 * (cc + dd)


def _case4_ends(rp, z, d12, d34, big_a_coef, c_coef):
    """Per pixel: F_o, X_h and the Mino time τ_end at the horizon (as :func:`_case2_ends`)."""
    b1, a2_, k, _, psi0, half = _case4_roots(z, d12, d34)
    phi_o = 0.5 * math.pi + psi0
    f_end = legendre(torch.stack([phi_o, torch.atan((rp + b1) / a2_) + psi0]), k).F
    return f_end[0], f_end[1], (f_end[0] - f_end[1]) / half, torch.zeros_like(k, dtype=torch.bool)


def _case4(rp, rm, z, d12, d34, tau, big_a_coef, c_coef, ends=None):
    """No real roots, r₁,₂ = −b₁ ∓ i a₂, r₃,₄ = b₁ ∓ i a₁: sc inversion (GL20 B83-B109).

    C = √((a₁ − a₂)² + 4b₁²), D = √((a₁ + a₂)² + 4b₁²), k = 4CD/(C + D)²,
    g₀ = √((4a₂² − (C − D)²)/((C + D)² − 4a₂²)), X = F(π/2 + atan g₀) − (C + D)τ/2 and
    r = a₂ tan(am X − atan g₀) − b₁ = (a₂/g₀ − b₁) − a₂(1 + g₀²)/g₀ · 1/(1 + g₀ sc X).
    With x_± = (r_± + b₁)/a₂ and g_± = (g₀x_± − 1)/(g₀ + x_±):
      1/(r − r_±) = g₀/(a₂(1 − g₀x_±)) + (1 + g₀²)g_±/(a₂(1 − g₀x_±)²) · 1/(1 + g_± sc X).
    The observer is the pole X_o = F(φ_o) of 1/(1 + g₀ sc X); I₁, I₂ are regularised in
    closed form from the finite parts of S₁, S₂ there (:func:`~.radial_integrals._sc_pole`)
    as in :func:`_case3`. ``big_a_coef`` is unused.
    """
    b1, a2_, k, g0, psi0, half = _case4_roots(z, d12, d34)
    phi_o = 0.5 * math.pi + psi0
    if ends is None:
        ends = _case4_ends(rp, z, d12, d34, big_a_coef, c_coef)
    f_o, x_h, tau_end, _ = ends
    ok = tau < tau_end
    big_x = torch.where(ok, f_o - half * tau, 0.5 * (f_o + x_h).expand_as(tau))
    _, _, _, am = ellipj(big_x, k.expand_as(big_x))
    r = a2_ * torch.tan(am - psi0) - b1
    nu_r = torch.ones_like(r)

    horizons = [rp] if rm is None else [rp, rm]
    xpm = [(h + b1) / a2_ for h in horizons]
    gs = torch.stack([*((g0 * x - 1.0) / (g0 + x) for x in xpm), g0])

    # sweeps at the orders (characteristics N_± = 1 + g_±², N₀ = 1 + g₀²) and at the
    # observer (N_±, and k/N₀ for the finite part at N₀'s pole, _sc_pole)
    g2s = gs * gs
    leg = _legendre_pv(am, k, (1.0 + g2s).unsqueeze(1), -g2s.unsqueeze(1))
    kn0 = k / (1.0 + g0 * g0)
    n_obs = torch.cat([1.0 + g2s[:-1], kn0.unsqueeze(0)])
    obs = _legendre_pv(phi_o, k, n_obs, torch.cat([-g2s[:-1], (1.0 - kn0)[None]]))
    f_x, e_x = leg.F, leg.E

    def i_pm(i):
        # = lin τ − coef ΔS₁/half, ΔS₁ = ΔX + g_± ΔT (T = (S₁ − F)/g), written without the
        # 1/(1 − g₀x_±) that both terms carry: g_± → 0 where r_± = r(am X = π/2)
        gpm, c_pm = gs[i], (1.0 + g0 * g0) / (g0 + xpm[i])
        t_x = _s1_reduced(gpm, am, k, (f_x, leg.Pi[i]))
        t_o = _s1_reduced(gpm, phi_o, k, (f_o, obs.Pi[i]))
        return (big_x - f_o - c_pm * (t_x - t_o)) / (a2_ * (g0 + xpm[i]) * half)

    aa1 = a2_ / g0 - b1
    aa0 = a2_ * (1.0 + g0 * g0) / g0
    s1_e = _s1_integral(g0, am, k, fpi=(f_x, leg.Pi[-1]))
    s2_e = _s2_integral(g0, am, k, fe=(f_x, e_x), s1=s1_e)
    sn_o = 1.0 / torch.sqrt(1.0 + g0 * g0)  # φ_o = π/2 + atan g₀
    cn_o, dn_o = -g0 * sn_o, torch.sqrt(1.0 - k * sn_o * sn_o)
    dual = f_o - obs.Pi[-1]
    s1_h, s2_h, u1, u2 = _sc_pole(g0, k, sn_o, cn_o, dn_o, f_o, obs.E, dual)
    # dτ = −dX/half from X_o = F(φ_o); r = s/δ + aa1 + s u''/(2u') + O(δ), s = aa0/u' (= half)
    dx = f_o - big_x
    s_o = aa0 / u1
    i1 = (aa1 * dx - aa0 * (s1_h - s1_e)) / half - torch.log(s_o)
    i2 = (aa1 * aa1 * dx - 2.0 * aa1 * aa0 * (s1_h - s1_e) + aa0 * aa0 * (s2_h - s2_e)) / half
    i2 = i2 - aa1 - 0.5 * s_o * u2 / u1
    return r, nu_r, ok, i_pm(0), (i_pm(1) if rm is not None else None), i1, i2


def _double_root(rp, rm, z, d12, d34, tau, big_a_coef, c_coef, ends=None):
    """A pixel exactly on the critical curve: r₃ = r₄ = r₀ (= z), elementary (issue 12 item 4).

    R = (r − r₁)(r − r₂)x² with x = r − r₀; the ray comes from ∞ and approaches the spherical
    photon orbit r₀ for ever (every order is reached, status 0, ν_r = +1). With
    Q(x) = (x + r₀ − r₁)(x + r₀ − r₂) = x² + bx + P², b = 2r₀ − r₁ − r₂, P² = (r₀ − r₁)(r₀ − r₂),
    τ = ∫_x^∞ dx/(x√Q) = ln[(2P√Q + bx + 2P²)/((2P + b)x)]/P (Gradshteyn-Ryzhik 2.266),
    inverted: x = 4P²w/((1 − w)(2P + b + (2P − b)w)), w = e^{−Pτ}. Then, with
    L = ln 4 − ln(2√Q + 2x + b) = lim(∫_x^{r_o} dx/√Q − ln r_o) and r₁ + r₂ = −2r₀:
    I₁ = r₀τ + L, I₂ = r₀²τ + b/2 − r₀ − √Q (the same regularisation as the other cases), and
    I_h = ∫dτ/(r − h) = (τ − J)/(r₀ − h), J = ∫_{y}^∞ dy/(y√(y² + b_h y + c_h)), y = r − h,
    b_h = 2h − r₁ − r₂, c_h = (h − r₁)(h − r₂): a logarithm for c_h > 0, an arcsine for c_h < 0.
    ``d34`` (≈ 0), ``big_a_coef`` and ``ends`` are unused (same signature as the other cases).
    """
    sq12 = torch.sqrt(d12)
    r0, r1 = z, -z - sq12
    r2 = _inner_root(z, sq12, r1, z * z, c_coef)
    b = 2.0 * r0 - r1 - r2
    p = torch.sqrt((r0 - r1) * (r0 - r2))
    w = torch.exp(-p * tau)
    x = 4.0 * p * p * w / (-torch.expm1(-p * tau) * (2.0 * p + b + (2.0 * p - b) * w))
    sq = torch.sqrt((x + r0 - r1) * (x + r0 - r2))
    big_l = math.log(4.0) - torch.log(2.0 * sq + 2.0 * x + b)
    i1 = r0 * tau + big_l
    i2 = r0 * r0 * tau + 0.5 * b - r0 - sq

    def i_h(h):
        y, bh, ch = x + r0 - h, 2.0 * h - r1 - r2, (h - r1) * (h - r2)
        pos = ch > 0
        rc = torch.sqrt(ch.abs())
        qh = torch.sqrt(y * y + bh * y + ch)
        log_j = torch.log((2.0 * rc * qh + bh * y + 2.0 * ch) / (y * (2.0 * rc + bh)))
        # arcsines as atan2 (1 − sin² = −4c_h Q/(y² disc²)): accurate next to ±π/2
        asin_j = atan2(bh, 2.0 * rc) - atan2(bh * y + 2.0 * ch, 2.0 * rc * qh)
        j = torch.where(pos, log_j, asin_j) / torch.where(rc > 0, rc, 1.0)
        return (tau - j) / (r0 - h)

    ok = torch.ones_like(tau, dtype=torch.bool)
    im = i_h(rm) if rm is not None else None
    return r0 + x, torch.ones_like(x), ok, i_h(rp), im, i1, i2
