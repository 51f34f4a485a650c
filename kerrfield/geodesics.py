"""Analytic Kerr null geodesics from a distant observer to an emission surface.

Gralla & Lupsasca 2020, "Null geodesics of the Kerr exterior", PRD 101, 044032 (GL20 below).
Notation (G = c = M = 1):

* λ = −α sin θo, η = (α² − a²)cos²θo + β² — energy-rescaled angular momentum and Carter
  constant of the ray seen at screen point (α, β) (GL20 eqs. 58-59 of the lensing paper).
* Mino time τ, with dr/dτ = ±√R(r), dθ/dτ = ±√Θ(θ); R(r) = r⁴ + A r² + B r + C with
  A = a² − η − λ², B = 2(η + (λ − a)²), C = −a²η (GL20 eqs. 5, 13).
* τ is measured *backwards* along the ray, from the observer (τ = 0) to the emission point.
* Angular motion: u = cos θ = √u₊ sin Φ, with Φ the Jacobi amplitude of C_θ τ + const,
  C_θ = a√(−u₋) (GL20 eqs. 11, 19, 26-29). G_θ = τ, G_φ = ∫dτ/sin²θ, G_t = ∫cos²θ dτ.
  Vortical rays (η < 0): u² = u₊ dn²(ψ|m), m = (u₊ − u₋)/u₊, |dψ/dτ| = |a|√u₊ (GL20 eqs.
  54-59 after the imaginary-modulus transformation); see :func:`_vortical_crossings`.
* Radial motion: the four roots r₁..r₄ (GL20 eqs. 95-96) and three cases — four real roots
  (case 2, sn inversion, GL20 B45-B46), two real (case 3, cn inversion, B74-B75) and none
  (case 4, sc inversion, B104-B109). Radial integrals I_±, I₁, I₂ (GL20 B48-B50, B78-B80,
  B112-B114) are evaluated as differences of antiderivatives, derived in the docstrings.
* φ_o − φ_s = I_φ + λ G_φ and t_o − t_s = I_t + a² G_t (GL20 eqs. 9-10, B1-B2).

The time integral diverges at the observer (as r_o + 2 ln r_o); kerrfield reports the
regularised delay lim (t_o − t_s − r_o − 2 ln r_o), whose differences between pixels are
physical.

Everything is elementwise torch, so gradients with respect to a, θo, α, β flow by autograd.
Invalid lanes are evaluated on safe stand-in values and masked afterwards, so that NaNs never
reach a backward pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .elliptic import ellipeinc, ellipj, ellipkinc, ellippiinc, legendre, legendre_sc

# radius at which the divergent observer end of I₁, I₂ is evaluated in cases 3 and 4; the
# remainder after subtracting ln r_o and r_o + A/(2 r_o) is O(r_o⁻²)
_R_REG = 1.0e6

STATUS_OK = 0
STATUS_HORIZON = 1
STATUS_ESCAPE = 2
STATUS_MISSES = 3


def conserved_quantities(
    a: Tensor, theta_o: Tensor, alpha: Tensor, beta: Tensor
) -> tuple[Tensor, Tensor]:
    """λ = −α sin θo and η = (α² − a²)cos²θo + β² (GL20b, PRD 101 044031, eqs. 58-59)."""
    lam = -alpha * torch.sin(theta_o)
    eta = (alpha * alpha - a * a) * torch.cos(theta_o) ** 2 + beta * beta
    return lam, eta


# ----------------------------------------------------------------------------------------
# angular motion
# ----------------------------------------------------------------------------------------


def angular_crossings(
    a: Tensor,
    theta_o: Tensor,
    lam: Tensor,
    eta: Tensor,
    beta: Tensor,
    cos_theta_s: float,
    orders: Sequence[int],
) -> dict[str, Tensor]:
    """Mino time τ_n of the n-th crossing of θ = θs, with G_φ, G_t and ν_θ there.

    The ray is followed backwards from the observer. With u = √u₊ sin Φ, the amplitude Φ moves
    monotonically: it increases if sign(β) = +1 (p^θ > 0 at the observer means θ decreases
    backwards) and decreases otherwise; we follow Φ' = sign(β)·Φ, which always increases.
    The surface u = u_s is crossed at Φ' = asin σ + 2πj and π − asin σ + 2πj, σ = sign(β)u_s/√u₊;
    the n-th crossing is the (n+1)-th of these strictly after Φ'_o. Then
    τ_n = [F(Φ'_n|m) − F(Φ'_o|m)]/C_θ, G_φ = [Π(u₊; Φ'_n|m) − Π(u₊; Φ'_o|m)]/C_θ,
    G_t = u₊[S(Φ'_n) − S(Φ'_o)]/C_θ with S the sn² integral, m = u₊/u₋ (GL20 eqs. 26-31).

    The roots are written without 1/a² so a = 0 is regular: with b = η + λ² − a² and
    D = √(b² + 4a²η), u₊ = 2η/(b + D) and C_θ² = a²(−u₋) = (b + D)/2.

    Returns
    -------
    dict with tau, lam_G_phi (λ G_φ), G_t, nu_theta (orders × pixels) and reach
    (pixels): False where
    the ray never reaches the surface (η ≤ 0 or u_s² ≥ u₊).
    """
    a2 = a * a
    valid = eta > 0
    eta_s = torch.where(valid, eta, torch.ones_like(eta))
    b = eta_s + lam * lam - a2
    dd = torch.sqrt(b * b + 4.0 * a2 * eta_s)
    pos = b > 0
    a2_safe = torch.where(pos, torch.ones_like(b), a2.expand_as(b))
    up = torch.where(
        pos, 2.0 * eta_s / (b + torch.where(pos, dd, dd + 1.0)), (dd - b) / (2.0 * a2_safe)
    )
    c2 = torch.where(
        pos, 0.5 * (b + dd), 2.0 * a2 * eta_s / torch.where(pos, torch.ones_like(b), dd - b)
    )
    c_theta = torch.sqrt(c2)
    m = -a2 * up / c2
    us = float(cos_theta_s)
    reach = valid & (us * us < up)
    up_r = torch.where(reach, up, torch.ones_like(up))
    sq_up = torch.sqrt(up_r)

    sgn = torch.where(beta >= 0, 1.0, -1.0).to(beta.dtype).detach()
    uo = torch.cos(theta_o)
    # cos Φ_o = |β| sin θo / √((a²u_o² + C_θ²) u₊), from u₊ − u_o² = β² sin²θo/(a²u_o² + C_θ²)
    cos_phi_o = (sgn * beta) * torch.sin(theta_o) / torch.sqrt((a2 * uo * uo + c2) * up_r)
    phi_o = torch.atan2(sgn * uo / sq_up, cos_phi_o)
    sig = torch.clamp(sgn * us / sq_up, -1.0, 1.0)
    asig = torch.asin(sig)
    two_pi = 2.0 * math.pi
    with torch.no_grad():
        # a crossing within round-off of Φ'_o is the observer itself (θs = θo), not an image
        tol = 1e-12
        ja = torch.floor((phi_o - asig + tol) / two_pi) + 1.0
        jb = torch.floor((phi_o - (math.pi - asig) + tol) / two_pi) + 1.0
    phi_a = asig + two_pi * ja
    phi_b = (math.pi - asig) + two_pi * jb
    first = torch.minimum(phi_a, phi_b)
    second = torch.maximum(phi_a, phi_b)
    phis = []
    for n in orders:
        base = first if n % 2 == 0 else second
        phis.append(base + two_pi * (n // 2))
    phi_n = torch.stack(phis)
    # λ G_φ: when u₊ rounds to 1 (λ → 0) the ray passes over a pole, G_φ diverges and
    # λ G_φ → ±π per passage (sign of λ, + for λ = 0; φ is defined modulo 2π at the pole)
    polar = up_r >= 1.0 - 4.0 * torch.finfo(up_r.dtype).eps
    up_phi = torch.where(polar, torch.full_like(up_r, 0.5), up_r)
    # F, Π and the sn² integral D at the observer, the first two crossings and φ = π/2 (the
    # complete integrals), in one sweep. DLMF 19.2.10: an amplitude jπ + φ_r adds 2j
    # complete integrals, and crossing n is crossing n mod 2 plus n//2 turns of Φ (j + 2).
    base = torch.stack([phi_o, first, second])
    j = torch.round(base / math.pi)
    pr = base - j * math.pi
    c = torch.cos(pr)
    one = torch.ones_like(phi_o).unsqueeze(0)
    leg = legendre_sc(
        torch.cat([torch.sin(pr), one]), torch.cat([c * c, one - 1.0]), m, up_phi, e=True
    )

    def change(v: Tensor) -> Tensor:
        """v(Φ'_n) − v(Φ'_o) for every order, from the reduced rows and the complete row."""
        full = v[3]
        at_base = v[:3] + 2.0 * j * full
        return torch.stack(
            [at_base[1 + n % 2] + 4.0 * (n // 2) * full - at_base[0] for n in orders]
        )

    tau = change(leg.F) / c_theta
    g_phi = change(leg.Pi) / c_theta
    with torch.no_grad():
        passes = torch.floor((phi_n - 0.5 * math.pi) / math.pi) - torch.floor(
            (phi_o - 0.5 * math.pi) / math.pi
        )
    sign_lam = torch.where(lam >= 0, 1.0, -1.0).to(lam.dtype)
    lam_g_phi = torch.where(polar, math.pi * sign_lam * passes, lam * g_phi)
    # G_t = u₊ ∫sn² dX / C_θ and ∫₀^{F(φ)} sn² = D(φ|m) (DLMF 19.2.6), no 1/m at m → 0
    g_t = up_r * change(leg.D) / c_theta
    nu_theta = sgn * torch.where(torch.cos(phi_n) >= 0, 1.0, -1.0).to(beta.dtype)
    return {"tau": tau, "lam_G_phi": lam_g_phi, "G_t": g_t, "nu_theta": nu_theta, "reach": reach}


# ----------------------------------------------------------------------------------------
# vortical angular motion (η < 0)
# ----------------------------------------------------------------------------------------

# |λ| below this times |a|: a vortical ray passes over a pole and λG_φ is replaced by its
# limit ±π per passage. The closed form loses ~eps/|λ| to cancellation in Π(n; φ|m) with
# n = −(u₊ − u₋)/(1 − u₊) → −∞, the limit is off by O(|λ|): both are ~1e-8 here.
_VORTICAL_POLAR_LAM = 1.0e-8


def _vortical_crossings(
    a: Tensor,
    theta_o: Tensor,
    lam: Tensor,
    eta: Tensor,
    beta: Tensor,
    cos_theta_s: float,
    orders: Sequence[int],
) -> dict[str, Tensor]:
    """Crossings of θ = θs by vortical rays (η < 0): the analogue of :func:`angular_crossings`.

    For η < 0 (possible only for a ≠ 0, |λ| < |a|) both roots of
    Θ(u)(1 − u²) = a²(u₊ − u²)(u² − u₋) are positive, 0 < u₋ < u₊ ≤ 1 (GL20 eq. 11), so u²
    oscillates in [u₋, u₊] and the ray never leaves the hemisphere sign(u) = sign(u_o)
    (GL20 Sec. II B, vortical motion, eqs. 54-59). We write

        u² = u₊ dn²(ψ|m) = u₊(1 − m sin²Φ),   Φ = am(ψ|m),   m = (u₊ − u₋)/u₊ ∈ [0, 1),

    for which (du/dτ)² = a²(u₊ − u²)(u² − u₋) gives |dψ/dτ| = C_v = |a|√u₊. This is GL20's
    u² = u₋ + (u₊ − u₋) sin²Υ with parameter 1 − u₊/u₋ < 0 (eqs. 56-59) after the
    imaginary-modulus transformation (DLMF 19.7.5), and keeps 0 ≤ m < 1. Followed backwards
    from the observer, Φ increases; u² has period π in Φ, with |u| decreasing on
    (jπ, jπ + π/2) and increasing on (jπ + π/2, jπ + π). Then, as differences of
    antiderivatives from Φ_o to the crossing Φ_n,

        τ_n = [F(Φ_n|m) − F(Φ_o|m)]/C_v,
        G_φ = [Π(n_φ; Φ_n|m) − Π(n_φ; Φ_o|m)]/((1 − u₊)C_v),  n_φ = −(u₊ − u₋)/(1 − u₊),
        G_t = u₊[E(Φ_n|m) − E(Φ_o|m)]/C_v,

    from 1/(1 − u²) = 1/((1 − u₊)(1 − n_φ sin²Φ)) and u² = u₊ dn²ψ (cf. GL20 eqs. 56-58).

    Roots without cancellation: with b = η + λ² − a² < 0 and D = √(b² + 4a²η),
    u₊ − u₋ = D/a², u₊ = (D − b)/(2a²), u₋ = −2η/(D − b); and from Θ at the pole,
    (1 − u₊)(1 − u₋) = λ²/a², so 1 − u₊ = 2(λ²/a²)/(w + √(w² + 4λ²/a²)), w = u₊ − u₋.
    For λ → 0 the ray passes over the pole (u₊ → 1) at every Φ = jπ and λG_φ → ±π per
    passage (sign of λ, + for λ = 0), as in :func:`angular_crossings`.

    Observer: tan Φ_o⁰ = √((u₊ − u_o²)/(u_o² − u₋)) with Φ_o⁰ ∈ [0, π/2], evaluated through
    a²(u₊ − u_o²)(u_o² − u₋) = β² sin²θo (the smaller difference is taken from this identity);
    sign(du/dτ) backwards is sign(β), so Φ_o = Φ_o⁰ if sign(u_o)sign(β) < 0 (|u| decreasing)
    and π − Φ_o⁰ otherwise. Surface: tan Φ_s⁰ = √((u₊ − u_s²)/(u_s² − u₋)); the surface is
    met at Φ_s⁰ + jπ (|u| decreasing, ν_θ = −sign(u_o)) and π − Φ_s⁰ + jπ (ν_θ = sign(u_o)),
    and the n-th crossing is the (n + 1)-th of these strictly after Φ_o.

    Parameters
    ----------
    a, theta_o : Tensor
        Spin and observer inclination in radians (0-d).
    lam, eta, beta : Tensor
        λ, η and the screen β, shape (P,).
    cos_theta_s : float
        u_s = cos θs of the cone.
    orders : sequence of int
        Crossing orders n.

    Returns
    -------
    dict with tau, lam_G_phi, G_t, nu_theta (orders × P) and reach (P): True only for
    η < 0 with u_s on the observer's side (sign(u_s) = sign(u_o)) and u₋ < u_s² < u₊.
    Values on lanes that do not reach are finite stand-ins (no NaN in backward passes).
    """
    us = float(cos_theta_s)
    uo = torch.cos(theta_o)
    s_o = torch.where(uo >= 0, 1.0, -1.0).to(lam.dtype).detach()
    a2 = (a * a).expand_as(eta)
    valid = (eta < 0) & (a2 > 0)
    # stand-in vortical ray (a² = 1, λ = 0.3, η = −0.1) on the other lanes
    a2v = torch.where(valid, a2, torch.ones_like(a2))
    lam_v = torch.where(valid, lam, torch.full_like(lam, 0.3))
    eta_v = torch.where(valid, eta, torch.full_like(eta, -0.1))
    b = eta_v + lam_v * lam_v - a2v
    disc = b * b + 4.0 * a2v * eta_v
    valid = valid & (disc > 0) & (b < 0)
    disc = torch.where(valid, disc, torch.full_like(disc, 0.6201))
    b = torch.where(valid, b, torch.full_like(b, -1.01))
    dd = torch.sqrt(disc)
    w = dd / a2v  # u₊ − u₋
    up = (dd - b) / (2.0 * a2v)
    um = -2.0 * torch.where(valid, eta_v, torch.full_like(eta_v, -0.1)) / (dd - b)
    m = w / up
    lr2 = lam_v * lam_v / a2v
    one_m_up = 2.0 * lr2 / (w + torch.sqrt(w * w + 4.0 * lr2))
    c_v = torch.sqrt(a2v * up)

    reach = valid & (s_o * us > 0) & (us * us > um) & (us * us < up)
    # observer amplitude Φ_o⁰ ∈ [0, π/2] from β² sin²θo = a²(u₊ − u_o²)(u_o² − u₋)
    bs = torch.abs(beta) * torch.sin(theta_o)
    abs_a = torch.sqrt(a2v)
    p_o = up - uo * uo
    q_o = uo * uo - um
    near_up = p_o <= q_o
    q_safe = torch.where(near_up & (q_o > 0), q_o, torch.ones_like(q_o))
    p_safe = torch.where(~near_up & (p_o > 0), p_o, torch.ones_like(p_o))
    phi_o0 = torch.where(near_up, torch.atan2(bs, abs_a * q_safe), torch.atan2(abs_a * p_safe, bs))
    sgn = torch.where(beta >= 0, 1.0, -1.0).to(beta.dtype).detach()
    rising = s_o * sgn > 0  # |u| increases backwards from the observer
    phi_o = torch.where(rising, math.pi - phi_o0, phi_o0)
    # surface amplitude Φ_s⁰ ∈ (0, π/2)
    p_s = torch.where(reach, up - us * us, torch.ones_like(up))
    q_s = torch.where(reach, us * us - um, torch.ones_like(um))
    phi_s0 = torch.atan2(torch.sqrt(p_s), torch.sqrt(q_s))
    with torch.no_grad():
        # a crossing within round-off of Φ_o is the observer itself (θs = θo), not an image
        tol = 1e-12
        ja = torch.floor((phi_o - phi_s0 + tol) / math.pi) + 1.0
        jb = torch.floor((phi_o - (math.pi - phi_s0) + tol) / math.pi) + 1.0
    phi_a = phi_s0 + math.pi * ja
    phi_b = (math.pi - phi_s0) + math.pi * jb
    a_first = phi_a < phi_b
    first = torch.where(a_first, phi_a, phi_b)
    second = torch.where(a_first, phi_b, phi_a)
    phis, nus = [], []
    for n in orders:
        base = first if n % 2 == 0 else second
        phis.append(base + math.pi * (n // 2))
        # Φ_s⁰ + jπ: |u| decreasing backwards, so du/dτ_back = −sign(u_o)
        on_a = a_first if n % 2 == 0 else ~a_first
        nus.append(torch.where(on_a, -s_o, s_o))
    phi_n = torch.stack(phis)
    nu_theta = torch.stack(nus)
    polar = lam_v * lam_v < (_VORTICAL_POLAR_LAM**2) * a2v
    omu = torch.where(polar, torch.ones_like(one_m_up), one_m_up)
    # F, E and Π at the observer (row 0) and every crossing, in one sweep
    leg = legendre(torch.cat([phi_o.unsqueeze(0), phi_n]), m, -w / omu, e=True)
    tau = (leg.F[1:] - leg.F[0]) / c_v
    g_t = up * (leg.E[1:] - leg.E[0]) / c_v
    g_phi = (leg.Pi[1:] - leg.Pi[0]) / (omu * c_v)
    with torch.no_grad():
        passes = torch.floor(phi_n / math.pi) - torch.floor(phi_o / math.pi)
    sign_lam = torch.where(lam >= 0, 1.0, -1.0).to(lam.dtype)
    lam_g_phi = torch.where(polar, math.pi * sign_lam * passes, lam_v * g_phi)
    return {"tau": tau, "lam_G_phi": lam_g_phi, "G_t": g_t, "nu_theta": nu_theta, "reach": reach}


def surface_crossings(
    a: Tensor,
    theta_o: Tensor,
    lam: Tensor,
    eta: Tensor,
    beta: Tensor,
    cos_theta_s: float,
    orders: Sequence[int],
) -> dict[str, Tensor]:
    """Crossings of θ = θs for every ray: :func:`angular_crossings` (η > 0) merged with
    :func:`_vortical_crossings` (η < 0, GL20 eqs. 54-59) on the lanes that are vortical.

    Same inputs and outputs as :func:`angular_crossings`. Vortical rays only reach cones on
    the observer's side of the equator, so for the equatorial plane (u_s = 0) or a = 0 this
    is :func:`angular_crossings` itself. η = 0 exactly (measure zero: u → 0 only
    asymptotically) stays unreached.
    """
    ang = angular_crossings(a, theta_o, lam, eta, beta, cos_theta_s, orders)
    us = float(cos_theta_s)
    uo = float(torch.cos(theta_o).detach())
    if us * uo <= 0.0 or abs(us) < 1e-12 or float(a.detach()) == 0.0:
        return ang
    idx = torch.nonzero(eta < 0).flatten()
    if idx.numel() == 0:
        return ang
    vort = _vortical_crossings(a, theta_o, lam[idx], eta[idx], beta[idx], us, orders)
    out = {k: ang[k].index_copy(1, idx, vort[k]) for k in ("tau", "lam_G_phi", "G_t", "nu_theta")}
    out["reach"] = ang["reach"].index_copy(0, idx, vort["reach"])
    return out


# ----------------------------------------------------------------------------------------
# radial roots
# ----------------------------------------------------------------------------------------


def radial_roots(a: Tensor, lam: Tensor, eta: Tensor) -> dict[str, Tensor]:
    """Roots of R(r) = r⁴ + A r² + B r + C in real arithmetic (GL20 eqs. 95-96).

    ξ₀ is the largest real root of the resolvent cubic (written as t³ + P t + Q = 0 with
    ξ₀ = t − A/3, P = −A²/12 − C, Q = −A/3 (A²/36 − C) − B²/8), z = √(ξ₀/2), and
    r₁,₂ = −z ∓ √d₁₂, r₃,₄ = z ∓ √d₃₄ with d₁₂ = −A/2 − z² + B/(4z), d₃₄ = −A/2 − z² − B/(4z).
    d₃₄ ≥ 0: four real roots (case 2); d₃₄ < 0 ≤ d₁₂: r₃,₄ = z ± i√(−d₃₄) (case 3);
    d₁₂ < 0: no real root, r₁,₂ = −z ∓ i√(−d₁₂) (case 4).
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

    def cbrt(x: Tensor) -> Tensor:
        return torch.sign(x) * torch.abs(x).clamp_min(1e-300) ** (1.0 / 3.0)

    t1 = cbrt(-Q / 2.0 + sd) + cbrt(-Q / 2.0 - sd)
    p_neg = torch.where(one_real, -torch.ones_like(P), P)
    arg = (3.0 * Q / (2.0 * p_neg)) * torch.sqrt(-3.0 / p_neg)
    arg = torch.clamp(torch.where(one_real, torch.zeros_like(arg), arg), -1.0, 1.0)
    t3 = 2.0 * torch.sqrt(-p_neg / 3.0) * torch.cos(torch.acos(arg) / 3.0)
    xi0 = torch.where(one_real, t1, t3) - A / 3.0
    z = torch.sqrt(torch.clamp(xi0 / 2.0, min=1e-30))
    d12 = -A / 2.0 - z * z + B / (4.0 * z)
    d34 = -A / 2.0 - z * z - B / (4.0 * z)
    return {"z": z, "d12": d12, "d34": d34, "A": A}


# ----------------------------------------------------------------------------------------
# antiderivatives of the rational functions of sn, cn, sc met in the radial integrals
# ----------------------------------------------------------------------------------------


def _r1_integral(alpha: Tensor, phi: Tensor, k: Tensor, pi: Tensor | None = None) -> Tensor:
    """R₁(α; φ|k) = ∫₀^{F(φ)} dX / (1 + α cn X) (GL20 B62), any real α ≠ ±1.

    1/(1 + α cn) = [1/(1 − n sn²) − α cn/(1 − n sn²)]/(1 − α²) with n = α²/(α² − 1);
    ∫ cn dX/(1 − n sn²) = ∫ dt/(1 − (n − k)t²) with t = sn/dn, an atanh (n > k, as in GL20
    B63) or an atan (n < k). Both antiderivatives are principal values through the pole.
    ``pi`` optionally supplies Π(n; φ|k).
    """
    a2 = alpha * alpha
    n = a2 / (a2 - 1.0)
    s = torch.sin(phi)
    dn = torch.sqrt(1.0 - k * s * s)
    nk = n - k
    big = nk > 0
    w = torch.sqrt(torch.abs(nk))
    t = s / dn
    w_safe = torch.where(w > 0, w, torch.ones_like(w))
    f_atanh = 0.5 * torch.log(torch.abs((1.0 + w * t) / (1.0 - w * t))) / w_safe
    f_atan = torch.atan(w * t) / w_safe
    f = torch.where(big, f_atanh, f_atan)
    if pi is None:
        pi = ellippiinc(n, phi, k)
    return (pi - alpha * f) / (1.0 - a2)


def _r2_integral(
    alpha: Tensor,
    phi: Tensor,
    k: Tensor,
    inv_one_plus: Tensor | None = None,
    r1: Tensor | None = None,
    fe: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """R₂(α; φ|k) = ∫₀^{F(φ)} dX / (1 + α cn X)² (cf. GL20 B65).

    R₂ = [F − α²/κ (E − α sn dn/(1 + α cn))]/(α² − 1) + (2k − α²/(α² − 1)) R₁/κ with
    κ = k + (1 − k)α²; the overall sign of the first bracket was fixed against quadrature
    (tests/test_elliptic.py), since transcriptions of B65 differ on it.

    ``inv_one_plus`` optionally supplies 1/(1 + α cos φ) computed without cancellation,
    ``r1`` an already computed R₁(α; φ|k) and ``fe`` the pair (F(φ|k), E(φ|k)).
    """
    a2 = alpha * alpha
    s, c = torch.sin(phi), torch.cos(phi)
    dn = torch.sqrt(1.0 - k * s * s)
    kk = k + (1.0 - k) * a2
    inv = 1.0 / (1.0 + alpha * c) if inv_one_plus is None else inv_one_plus
    lin = alpha * s * dn * inv
    f, e = (ellipkinc(phi, k), ellipeinc(phi, k)) if fe is None else fe
    first = (f - a2 / kk * (e - lin)) / (a2 - 1.0)
    if r1 is None:
        r1 = _r1_integral(alpha, phi, k)
    return first + (2.0 * k - a2 / (a2 - 1.0)) / kk * r1


def _s1_integral(
    alpha: Tensor, phi: Tensor, k: Tensor, fpi: tuple[Tensor, Tensor] | None = None
) -> Tensor:
    """S₁(α; φ|k) = ∫₀^{F(φ)} dX / (1 + α sc X) (GL20 B92).

    cn/(cn + α sn) = (cn² − α sn cn)/(1 − N sn²), N = 1 + α²; the first part gives
    [X + α²Π(N; φ)]/N, the second (with v = dn) an elementary logarithm. ``fpi`` optionally
    supplies (F(φ|k), Π(N; φ|k)).
    """
    a2 = alpha * alpha
    big_n = 1.0 + a2
    dn = torch.sqrt(1.0 - k * torch.sin(phi) ** 2)
    p2 = torch.sqrt(big_n / (big_n - k))
    logt = torch.log(torch.abs((p2 * dn - 1.0) * (p2 + 1.0) / ((p2 * dn + 1.0) * (p2 - 1.0))))
    f, pi = (ellipkinc(phi, k), ellippiinc(big_n, phi, k)) if fpi is None else fpi
    return (f + a2 * pi + 0.5 * alpha * p2 * logt) / big_n


def _s2_integral(
    alpha: Tensor,
    phi: Tensor,
    k: Tensor,
    ratio: Tensor | None = None,
    fe: tuple[Tensor, Tensor] | None = None,
    s1: Tensor | None = None,
) -> Tensor:
    """S₂(α; φ|k) = ∫₀^{F(φ)} dX / (1 + α sc X)² (GL20 B93).

    ``ratio`` optionally supplies (α − tan φ)/(1 + α tan φ) computed without cancellation,
    ``fe`` the pair (F(φ|k), E(φ|k)) and ``s1`` an already computed S₁(α; φ|k).
    """
    a2 = alpha * alpha
    s, c = torch.sin(phi), torch.cos(phi)
    dn = torch.sqrt(1.0 - k * s * s)
    if ratio is None:
        ratio = (alpha * c - s) / (c + alpha * s)
    f, e = (ellipkinc(phi, k), ellipeinc(phi, k)) if fe is None else fe
    bracket = (1.0 - k) * f + a2 * e + a2 * dn * ratio - a2 * alpha
    pre = 1.0 / (1.0 + a2) + (1.0 - k) / (1.0 - k + a2)
    if s1 is None:
        s1 = _s1_integral(alpha, phi, k)
    return -bracket / ((1.0 + a2) * (1.0 - k + a2)) + pre * s1


# ----------------------------------------------------------------------------------------
# radial motion per root case
# ----------------------------------------------------------------------------------------


def _case2(rp, rm, z, d12, d34, tau):
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
    sq12, sq34 = torch.sqrt(d12), torch.sqrt(d34)
    r1, r2, r3, r4 = -z - sq12, -z + sq12, z - sq34, z + sq34
    r31, r32, r41, r42, r43 = r3 - r1, r3 - r2, r4 - r1, r4 - r2, r4 - r3
    k = r32 * r41 / (r31 * r42)
    c = 0.5 * torch.sqrt(r31 * r42)
    x_o = torch.sqrt(r31 / r41)
    turning = r4 > rp
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
    tau_end = torch.where(turning, 2.0 * f_o / c, (x_h + f_o) / c)
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


def _observer_pole(nchar: int, nrow: int, row: int, device: torch.device) -> Tensor:
    """Skip mask (characteristic, row, 1) for the last characteristic at the observer row.

    In cases 3 and 4 the characteristic of the r-integrals (α₀, g₀) has its pole exactly at
    r = ∞, i.e. at the observer's amplitude; that pair is never used (I₁, I₂ start from
    r_o instead), and evaluating it would put an infinity into the backward pass.
    """
    mask = torch.zeros(nchar, nrow, 1, dtype=torch.bool, device=device)
    mask[-1, row] = True
    return mask


def _case3(rp, rm, z, d12, d34, tau, big_a_coef):
    """Two real roots r₁ < r₂, r₃,₄ = z ± iw: cn inversion (GL20 B74-B75).

    A = |r₃ − r₂|, B = |r₃ − r₁|, k = ((A + B)² − r₂₁²)/(4AB), X = F(φ_o) − √(AB) τ with
    cos φ_o = (A − B)/(A + B); r(X) = ρ₀ + κ/(1 + α₀ cn X), ρ₀ = (Br₂ + Ar₁)/(A + B),
    κ = 2AB r₂₁/(B² − A²), α₀ = (B + A)/(B − A). For r_± (GL20 B80-B82):
      1/(r − r_±) = (B + A)/Q_± − 2AB r₂₁/(P_±Q_±) · 1/(1 + α_± cn X),
      P_± = B(r₂ − r_±) + A(r_± − r₁), Q_± = B(r₂ − r_±) − A(r_± − r₁), α_± = Q_±/P_±.
    I₁, I₂ are evaluated from a finite observer radius r_o = 1e6 M and regularised there.
    """
    sq12 = torch.sqrt(d12)
    w = torch.sqrt(-d34)
    r1, r2 = -z - sq12, -z + sq12
    r21 = r2 - r1
    big_a = torch.sqrt((z - r2) ** 2 + w * w)
    big_b = torch.sqrt((z - r1) ** 2 + w * w)
    sab = torch.sqrt(big_a * big_b)
    k = ((big_a + big_b) ** 2 - r21 * r21) / (4.0 * big_a * big_b)
    phi_o = torch.acos((big_a - big_b) / (big_a + big_b))
    xh = (big_a * (rp - r1) - big_b * (rp - r2)) / (big_a * (rp - r1) + big_b * (rp - r2))
    f_end = legendre(torch.stack([phi_o, torch.acos(xh.clamp(-1.0, 1.0))]), k).F
    f_o, x_h = f_end[0], f_end[1]
    tau_end = (f_o - x_h) / sab
    ok = tau < tau_end
    big_x = torch.where(ok, f_o - sab * tau, 0.5 * (f_o + x_h).expand_as(tau))
    _, cn, _, am = ellipj(big_x, k.expand_as(big_x))
    den = (big_b - big_a) + (big_b + big_a) * cn
    r = ((big_b * r2 - big_a * r1) + (big_b * r2 + big_a * r1) * cn) / den
    nu_r = torch.ones_like(r)

    horizons = [rp] if rm is None else [rp, rm]
    pq = [
        (big_b * (r2 - h) + big_a * (h - r1), big_b * (r2 - h) - big_a * (h - r1)) for h in horizons
    ]
    al0 = (big_b + big_a) / (big_b - big_a)
    alphas = torch.stack([*(qq / pp for pp, qq in pq), al0])
    # finite-observer end of I₁ and I₂
    rho0 = (big_b * r2 + big_a * r1) / (big_a + big_b)
    kap = 2.0 * big_a * big_b * r21 / (big_b**2 - big_a**2)
    ro = _R_REG
    den_o = big_a * (ro - r1) + big_b * (ro - r2)
    phi_ro = torch.acos((big_a * (ro - r1) - big_b * (ro - r2)) / den_o)
    inv_o = (big_b - big_a) * den_o / (2.0 * big_a * big_b * r21)  # 1/(1 + α₀ cos φ_ro)

    # one sweep: rows are the orders, the observer and r_o; characteristics α_±, α₀
    norder = tau.shape[0]
    a2s = alphas * alphas
    leg = legendre(
        torch.cat([am, phi_o.unsqueeze(0), phi_ro.unsqueeze(0)]),
        k,
        (a2s / (a2s - 1.0)).unsqueeze(1),
        e=True,
        skip=_observer_pole(len(horizons) + 1, norder + 2, norder, am.device),
    )
    r1_x = _r1_integral(alphas.unsqueeze(1), am, k, pi=leg.Pi[:, :norder])
    r1_o = _r1_integral(alphas[:-1], phi_o, k, pi=leg.Pi[:-1, norder])

    def i_pm(i):
        pp, qq = pq[i]
        diff = r1_x[i] - r1_o[i]
        return (big_b + big_a) * tau / qq + (2.0 * big_a * big_b * r21 / (pp * qq)) * diff / sab

    f_ro, e_ro = leg.F[norder + 1], leg.E[norder + 1]
    r1_e, r1_ro = r1_x[-1], _r1_integral(al0, phi_ro, k, pi=leg.Pi[-1, norder + 1])
    r2_e = _r2_integral(al0, am, k, r1=r1_e, fe=(leg.F[:norder], leg.E[:norder]))
    r2_o = _r2_integral(al0, phi_ro, k, inv_one_plus=inv_o, r1=r1_ro, fe=(f_ro, e_ro))
    # dτ = −dX/√(AB); integrate from X(r_o) to X
    i1 = -(rho0 * (big_x - f_ro) + kap * (r1_e - r1_ro)) / sab - math.log(ro)
    i2 = (
        -(
            rho0 * rho0 * (big_x - f_ro)
            + 2.0 * rho0 * kap * (r1_e - r1_ro)
            + kap * kap * (r2_e - r2_o)
        )
        / sab
        - ro
        - big_a_coef / (2.0 * ro)
    )
    return r, nu_r, ok, i_pm(0), (i_pm(1) if rm is not None else None), i1, i2


def _case4(rp, rm, z, d12, d34, tau, big_a_coef):
    """No real roots, r₁,₂ = −b₁ ∓ i a₂, r₃,₄ = b₁ ∓ i a₁: sc inversion (GL20 B83-B109).

    C = √((a₁ − a₂)² + 4b₁²), D = √((a₁ + a₂)² + 4b₁²), k = 4CD/(C + D)²,
    g₀ = √((4a₂² − (C − D)²)/((C + D)² − 4a₂²)), X = F(π/2 + atan g₀) − (C + D)τ/2 and
    r = a₂ tan(am X − atan g₀) − b₁ = (a₂/g₀ − b₁) − a₂(1 + g₀²)/g₀ · 1/(1 + g₀ sc X).
    With x_± = (r_± + b₁)/a₂ and g_± = (g₀x_± − 1)/(g₀ + x_±):
      1/(r − r_±) = g₀/(a₂(1 − g₀x_±)) + (1 + g₀²)g_±/(a₂(1 − g₀x_±)²) · 1/(1 + g_± sc X).
    """
    b1 = z
    a2_ = torch.sqrt(-d12)
    a1_ = torch.sqrt(-d34)
    cc = torch.sqrt((a1_ - a2_) ** 2 + 4.0 * b1 * b1)
    dd = torch.sqrt((a1_ + a2_) ** 2 + 4.0 * b1 * b1)
    k = 4.0 * cc * dd / (cc + dd) ** 2
    g0 = torch.sqrt(
        torch.clamp((4.0 * a2_**2 - (cc - dd) ** 2) / ((cc + dd) ** 2 - 4.0 * a2_**2), min=0.0)
    )
    psi0 = torch.atan(g0)
    half = 0.5 * (cc + dd)
    phi_o = 0.5 * math.pi + psi0
    f_end = legendre(torch.stack([phi_o, torch.atan((rp + b1) / a2_) + psi0]), k).F
    f_o, x_h = f_end[0], f_end[1]
    tau_end = (f_o - x_h) / half
    ok = tau < tau_end
    big_x = torch.where(ok, f_o - half * tau, 0.5 * (f_o + x_h).expand_as(tau))
    _, _, _, am = ellipj(big_x, k.expand_as(big_x))
    r = a2_ * torch.tan(am - psi0) - b1
    nu_r = torch.ones_like(r)

    horizons = [rp] if rm is None else [rp, rm]
    xpm = [(h + b1) / a2_ for h in horizons]
    gs = torch.stack([*((g0 * x - 1.0) / (g0 + x) for x in xpm), g0])
    ro = _R_REG
    x4o = (ro + b1) / a2_
    phi_ro = torch.atan(x4o) + psi0

    # one sweep: rows are the orders, the observer and r_o; characteristics 1 + g_±², 1 + g₀²
    norder = tau.shape[0]
    leg = legendre(
        torch.cat([am, phi_o.unsqueeze(0), phi_ro.unsqueeze(0)]),
        k,
        (1.0 + gs * gs).unsqueeze(1),
        e=True,
        skip=_observer_pole(len(horizons) + 1, norder + 2, norder, am.device),
    )
    f_x, e_x = leg.F[:norder], leg.E[:norder]
    f_ro, e_ro = leg.F[norder + 1], leg.E[norder + 1]

    def i_pm(i):
        gpm = gs[i]
        lin = g0 / (a2_ * (1.0 - g0 * xpm[i]))
        coef = (1.0 + g0 * g0) * gpm / (a2_ * (1.0 - g0 * xpm[i]) ** 2)
        diff = _s1_integral(gpm, am, k, fpi=(f_x, leg.Pi[i, :norder])) - _s1_integral(
            gpm, phi_o, k, fpi=(f_o, leg.Pi[i, norder])
        )
        return lin * tau - coef * diff / half

    aa1 = a2_ / g0 - b1
    aa0 = a2_ * (1.0 + g0 * g0) / g0
    s1_e = _s1_integral(g0, am, k, fpi=(f_x, leg.Pi[-1, :norder]))
    s1_o = _s1_integral(g0, phi_ro, k, fpi=(f_ro, leg.Pi[-1, norder + 1]))
    s2_e = _s2_integral(g0, am, k, fe=(f_x, e_x), s1=s1_e)
    s2_o = _s2_integral(g0, phi_ro, k, ratio=-x4o, fe=(f_ro, e_ro), s1=s1_o)
    i1 = -(aa1 * (big_x - f_ro) - aa0 * (s1_e - s1_o)) / half - math.log(ro)
    i2 = (
        -(aa1 * aa1 * (big_x - f_ro) - 2.0 * aa1 * aa0 * (s1_e - s1_o) + aa0 * aa0 * (s2_e - s2_o))
        / half
        - ro
        - big_a_coef / (2.0 * ro)
    )
    return r, nu_r, ok, i_pm(0), (i_pm(1) if rm is not None else None), i1, i2


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
    each (N, P).
    """
    a_val = float(a.detach())
    rp = 1.0 + torch.sqrt(1.0 - a * a)
    rm = 1.0 - torch.sqrt(1.0 - a * a)
    roots = radial_roots(a, lam, eta)
    z, d12, d34, big_a_coef = roots["z"], roots["d12"], roots["d34"], roots["A"]
    case2 = d34 >= 0
    case3 = (~case2) & (d12 >= 0)
    case4 = d12 < 0
    nn, pp = tau.shape
    out = {k: torch.zeros_like(tau) for k in ("r_s", "nu_r", "I_p", "I_m", "I_1", "I_2")}
    status = torch.zeros(nn, pp, dtype=torch.int8, device=tau.device)
    use_minus = a_val != 0.0
    for mask, fn in ((case2, _case2), (case3, _case3), (case4, _case4)):
        idx = torch.nonzero(mask).flatten()
        if idx.numel() == 0:
            continue
        args = (rp, rm if use_minus else None, z[idx], d12[idx], d34[idx], tau[:, idx])
        if fn is _case2:
            r, nu_r, ok, turning, ip, im, i1, i2 = fn(*args)
            bad = torch.where(turning, STATUS_ESCAPE, STATUS_HORIZON).to(torch.int8).expand_as(ok)
        else:
            r, nu_r, ok, ip, im, i1, i2 = fn(*args, big_a_coef[idx])
            bad = torch.full_like(ok, STATUS_HORIZON, dtype=torch.int8)
        status[:, idx] = torch.where(ok, torch.zeros_like(bad), bad)
        out["r_s"][:, idx] = r
        out["nu_r"][:, idx] = nu_r
        out["I_p"][:, idx] = ip
        if im is not None:
            out["I_m"][:, idx] = im
        out["I_1"][:, idx] = i1
        out["I_2"][:, idx] = i2
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
