"""Vortical rays (η < 0): crossings of a cone on the observer's hemisphere.

u² = u₊ dn²(ψ|m), m = (u₊ − u₋)/u₊, |dψ/dτ| = |a|√u₊ (Gralla & Lupsasca 2020, PRD 101,
044032, eqs. 54-59 after the imaginary-modulus transformation). Twin of
``julia/src/geodesics/vortical.jl``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .._lanewise import atan2
from ..elliptic import legendre

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
    phi_o0 = torch.where(near_up, atan2(bs, abs_a * q_safe), atan2(abs_a * p_safe, bs))
    sgn = torch.where(beta >= 0, 1.0, -1.0).to(beta.dtype).detach()
    rising = s_o * sgn > 0  # |u| increases backwards from the observer
    phi_o = torch.where(rising, math.pi - phi_o0, phi_o0)
    # surface amplitude Φ_s⁰ ∈ (0, π/2)
    p_s = torch.where(reach, up - us * us, torch.ones_like(up))
    q_s = torch.where(reach, us * us - um, torch.ones_like(um))
    phi_s0 = atan2(torch.sqrt(p_s), torch.sqrt(q_s))
    with torch.no_grad():
        # a crossing within round-off of Φ_o is the observer itself (θs = θo), not an image
        tol = 1e-7 if abs(us - float(uo.detach())) <= 1e-14 else 1e-12
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
