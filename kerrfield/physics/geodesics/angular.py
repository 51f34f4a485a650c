"""Angular motion: the Mino times at which a ray crosses an emission surface θ = θs.

u = cos θ = √u₊ sin Φ, with Φ the Jacobi amplitude of C_θ τ + const, C_θ = a√(−u₋)
(Gralla & Lupsasca 2020, PRD 101, 044032, eqs. 11, 19, 26-29). G_θ = τ, G_φ = ∫dτ/sin²θ and
G_t = ∫cos²θ dτ at every crossing. Vortical rays (η < 0) are handled by :mod:`.vortical`.
Twin of ``julia/src/geodesics/angular.jl``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from .._lanewise import atan2
from ..elliptic import legendre_sc
from .vortical import _vortical_crossings

__all__ = ["angular_crossings", "surface_crossings"]


def _observer_tolerance(us: float, uo: Tensor) -> float:
    """How close (in Φ) a surface crossing may be to the observer's own amplitude and still be
    the observer itself rather than an image: 1e-12, or 1e-7 when the observer sits on the
    emission surface (cos θs = cos θo to round-off). Near the poles Φ_o and the crossing
    amplitude asin(u_s/√u₊) agree only to ~√eps there, so the observer's own crossing at
    r = ∞ was taken for the n = 0 image (r_s ~ 1e12 M, t_s ~ −1e12; issue 12, item 6). The
    observer's own position is not an image: n = 0 is the first crossing after it."""
    on_surface = abs(us - float(uo.detach())) <= 1e-14
    return 1e-7 if on_surface else 1e-12


def _amplitude_rows(sin_o: Tensor, cos_o: Tensor, pr: Tensor) -> tuple[Tensor, Tensor]:
    """sin and cos² of the Legendre rows: the observer, the reduced crossing amplitudes ``pr``
    (row 0 is Φ_o itself) and φ = π/2 for the complete integrals.

    The observer row takes its *value* from sin Φ_o, cos Φ_o themselves, not through Φ_o:
    nearly face-on, Φ_o → π/2 and cos Φ_o from Φ_o carries an absolute error ~eps, a large
    relative one in Π's characteristic (1 − u₊) + u₊cos²Φ_o. Its *gradient* still flows
    through Φ_o, where the √c² singularity of R_F cancels against d(cos²)/dΦ; and where the
    exact c² is 0 (β = 0, a turning point at the observer) the round-off c² of cos Φ_o is
    kept, so no 0·∞ reaches the backward pass.
    """
    one = torch.ones_like(sin_o).unsqueeze(0)
    s, c = torch.sin(pr), torch.cos(pr)
    hyp = torch.sqrt(cos_o * cos_o + sin_o * sin_o)
    fine = hyp > 0
    hyp = torch.where(fine, hyp, 1.0)
    s_o = torch.where(fine, s[0] + (sin_o / hyp - s[0]).detach(), s[0])
    c2_exact, c2_angle = (cos_o / hyp) ** 2, c[0] * c[0]
    c2_o = c2_angle + (c2_exact - c2_angle).detach()
    c2_o = torch.where(fine & (c2_exact > 0), c2_o, c2_angle)
    s_rows = torch.cat([s_o.unsqueeze(0), s[1:], one])
    c2_rows = torch.cat([c2_o.unsqueeze(0), c[1:] * c[1:], one - 1.0])
    return s_rows, c2_rows


def _one_minus_up(a2: Tensor, lam: Tensor, eta: Tensor, dd: Tensor, up: Tensor) -> Tensor:
    """1 − u₊ without cancellation (u₊ = 2η/(b + D), b = η + λ² − a², D = √(b² + 4a²η)).

    1 − u₊ = (D − q) u₊/(2η) with q = η + a² − λ², and D² − q² = 4λ²η, so for q > 0
    1 − u₊ = 2λ² u₊/(D + q): exactly ∝ λ² as λ → 0 (rays passing close to a pole, and
    every ray of a nearly face-on observer), where 1 − u₊ formed by subtraction lost all
    its digits (issue 12, item 2). For q ≤ 0 there is no cancellation.
    """
    q = eta + a2 - lam * lam
    qpos = q > 0
    near = 2.0 * lam * lam * up / (dd + torch.where(qpos, q, 1.0))
    far = (dd - q) * up / (2.0 * eta)
    return torch.where(qpos, near, far)


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
    one_m_up = _one_minus_up(a2, lam, eta_s, dd, up)
    sq_up = torch.sqrt(up_r)

    sgn = torch.where(beta >= 0, 1.0, -1.0).to(beta.dtype).detach()
    uo = torch.cos(theta_o)
    # cos Φ_o = |β| sin θo / √((a²u_o² + C_θ²) u₊), from u₊ − u_o² = β² sin²θo/(a²u_o² + C_θ²)
    cos_phi_o = (sgn * beta) * torch.sin(theta_o) / torch.sqrt((a2 * uo * uo + c2) * up_r)
    sin_phi_o = sgn * uo / sq_up
    phi_o = atan2(sin_phi_o, cos_phi_o)  # in [−π/2, π/2]: cos Φ_o ≥ 0
    sig = torch.clamp(sgn * us / sq_up, -1.0, 1.0)
    asig = torch.asin(sig)
    two_pi = 2.0 * math.pi
    with torch.no_grad():
        # a crossing within round-off of Φ'_o is the observer itself (θs = θo), not an image
        tol = _observer_tolerance(us, uo)
        ja = torch.floor((phi_o - asig + tol) / two_pi) + 1.0
        jb = torch.floor((phi_o - (math.pi - asig) + tol) / two_pi) + 1.0
    phi_a = asig + two_pi * ja
    phi_b = (math.pi - asig) + two_pi * jb
    first = torch.minimum(phi_a, phi_b)
    second = torch.maximum(phi_a, phi_b)
    phi_n = torch.stack([(first if n % 2 == 0 else second) + two_pi * (n // 2) for n in orders])
    # λ G_φ: for λ = 0 (1 − u₊ = 0) the ray passes over a pole, G_φ diverges and λ G_φ = ±π per
    # passage (sign of λ, + for λ = 0; φ is defined modulo 2π at the pole). Otherwise Π's
    # characteristic 1 − u₊s² is formed from the exact 1 − u₊ (issue 12, item 2)
    polar = ~(torch.where(reach, one_m_up, 0.0) > 0.0)
    up_phi = torch.where(polar, torch.full_like(up_r, 0.5), up_r)
    one_m_phi = torch.where(polar, torch.full_like(up_r, 0.5), one_m_up)
    # F, Π and the sn² integral D at the observer, the first two crossings and φ = π/2 (the
    # complete integrals), in one sweep. DLMF 19.2.10: an amplitude jπ + φ_r adds 2j
    # complete integrals, and crossing n is crossing n mod 2 plus n//2 turns of Φ (j + 2).
    base = torch.stack([phi_o, first, second])
    j = torch.round(base / math.pi)
    pr = base - j * math.pi
    s_rows, c2_rows = _amplitude_rows(sin_phi_o, cos_phi_o, pr)
    leg = legendre_sc(s_rows, c2_rows, m, up_phi, e=True, one_minus_n=one_m_phi)

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
