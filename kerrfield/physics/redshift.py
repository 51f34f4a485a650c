"""Emitter velocity models and the redshift factor g = 1/(−p·u) with p_t = −1.

All models describe a flow that rotates in the +φ direction, so a > 0 is prograde and a < 0
retrograde. With covariant photon momentum p_μ = (−1, ±√R/Δ, ±√Θ, λ) and contravariant
emitter velocity u^μ (BL coordinates):

    1/g = u^t − λ u^φ − p_r u^r − p_θ u^θ,   p_r = ν_r √R(r)/Δ.

Models (all with u^θ = 0; off the equatorial plane, on a cone θ = θs, each model keeps the
equatorial u^r(r) and angular velocity Ω(r) = u^φ/u^t at the same Boyer–Lindquist r and
re-normalises u^t with the local metric, u^t = √((1 + g_rr (u^r)²)/−(g_tt + 2g_tφΩ + g_φφΩ²))):

* ``"zamo"``: zero-angular-momentum observers, Ω = ω = 2ar/A, u^r = 0 (Bardeen, Press &
  Teukolsky 1972, eq. 3.2); defined everywhere outside the horizon, on any surface.
* ``"keplerian"``: circular geodesics Ω = 1/(r^{3/2} + a) for r ≥ r_isco (BPT 1972 eq. 2.16)
  and, inside the ISCO, the Cunningham (1975) plunge that conserves the ISCO's energy and
  angular momentum E, L (BPT 1972 eqs. 2.12-2.13), u_t = −E, u_φ = L, u^r < 0.
* :class:`GeneralVelocity` (ξ, β_r, β_φ): the sub-Keplerian / infall mixture of Pu et al.
  2016 and Chael, Johnson & Lupsasca 2021 (ApJ 918, 6, eqs. 6-9; also Cárdenas-Avendaño et
  al. 2023's AART): specific angular momentum ℓ = −u_φ/u_t = ξ ℓ_K(r) outside the ISCO and
  ξ ℓ_K(r_isco) in the plunge; then u^r = u^r_sub + (1 − β_r)(u^r_ff − u^r_sub),
  Ω = Ω_sub + (1 − β_φ)(Ω_ff − Ω_sub) with the free fall from rest at infinity
  (E = 1, L = 0). GeneralVelocity(1, 1, 1) is "keplerian"; β_r = β_φ = 0 is pure free fall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ._lanewise import pow_three_halves
from .kerr import isco_differentiable, metric_bl

__all__ = ["GeneralVelocity", "velocity_field", "redshift", "velocity_attrs"]


@dataclass(frozen=True)
class GeneralVelocity:
    """Sub-Keplerian rotation mixed with radial infall (Chael, Johnson & Lupsasca 2021).

    Parameters
    ----------
    xi : float
        Sub-Keplerian factor ξ ∈ (0, 1]: ℓ = ξ ℓ_Kepler.
    beta_r : float
        β_r ∈ [0, 1]: 1 keeps the sub-Keplerian radial velocity, 0 is free-fall u^r.
    beta_phi : float
        β_φ ∈ [0, 1]: 1 keeps the sub-Keplerian Ω, 0 is the free-fall Ω.

    Examples
    --------
    >>> GeneralVelocity(0.8, 0.5, 0.9)
    GeneralVelocity(xi=0.8, beta_r=0.5, beta_phi=0.9)
    """

    xi: float = 1.0
    beta_r: float = 1.0
    beta_phi: float = 1.0

    def __post_init__(self) -> None:
        for name, lo, val in (
            ("xi", 0.0, self.xi),
            ("beta_r", 0.0, self.beta_r),
            ("beta_phi", 0.0, self.beta_phi),
        ):
            if not isinstance(val, (int, float)) or not math.isfinite(val) or not lo <= val <= 1.0:
                raise ValueError(f"GeneralVelocity.{name} must be a number in [0, 1], got {val!r}")
        if self.xi == 0:
            raise ValueError("GeneralVelocity.xi must be in (0, 1], got 0")


def _kepler_ell(a: Tensor, r: Tensor) -> Tensor:
    """ℓ_K = L/E of prograde circular orbits (BPT 1972 eqs. 2.12-2.13)."""
    sr = torch.sqrt(r)
    return (r * r - 2.0 * a * sr + a * a) / (r * sr - 2.0 * sr + a)


def _omega_from_ell(g: dict[str, Tensor], ell: Tensor) -> Tensor:
    """Ω = u^φ/u^t of a flow with u_φ = −ℓ u_t."""
    return -(g["g_tphi"] + ell * g["g_tt"]) / (g["g_phiphi"] + ell * g["g_tphi"])


def _plunge(a: Tensor, r: Tensor, energy: Tensor, ang: Tensor) -> tuple[Tensor, Tensor]:
    """Equatorial geodesic with u_t = −E, u_φ = L falling inward: returns (u^r, Ω)."""
    g = metric_bl(a, r, math.pi / 2)
    det = g["g_tt"] * g["g_phiphi"] - g["g_tphi"] ** 2
    gtt_inv = g["g_phiphi"] / det
    gtp_inv = -g["g_tphi"] / det
    gpp_inv = g["g_tt"] / det
    ut = -gtt_inv * energy + gtp_inv * ang
    uphi = -gtp_inv * energy + gpp_inv * ang
    rad = (-1.0 + energy * ut - ang * uphi) / g["g_rr"]
    ur = -torch.sqrt(torch.clamp(rad, min=1e-300))
    return ur, uphi / ut


def _circular_energy(a: Tensor, r: Tensor, ell: Tensor) -> Tensor:
    """E = −u_t of the circular equatorial flow with specific angular momentum ℓ at r."""
    g = metric_bl(a, r, math.pi / 2)
    om = _omega_from_ell(g, ell)
    ut = 1.0 / torch.sqrt(-(g["g_tt"] + 2.0 * g["g_tphi"] * om + g["g_phiphi"] * om * om))
    return -(g["g_tt"] + g["g_tphi"] * om) * ut


def _plunge_ur(a: Tensor, r: Tensor, ri: Tensor, energy: Tensor, ang: Tensor, xi: float):
    """u^r < 0 of the equatorial plunge from the ISCO with u_t = −E, u_φ = L, for r < r_isco,
    without the √eps cancellation of √(−1 + E u^t − L u^φ) next to r_isco (issue 12, item 8).

    r⁴(u^r)² = [E(r² + a²) − aL]² − Δ[r² + (L − aE)²] = r P(r), with the cubic
    P = (E² − 1)r³ + 2r² − (a² + X² + 2aEX)r + 2X², X = L − aE; P(r_isco) = 0 since the flow
    is circular there. ξ = 1: r_isco is a triple root and (u^r)² = (1 − E²)(r_isco/r − 1)³
    with 1 − E² = 2/(3 r_isco): Mummery & Balbus 2022 (PRL 129, 161101, eq. 4),
    u^r = −√(2/(3 r_isco)) (r_isco/r − 1)^{3/2}. ξ < 1: a simple root, P = (r − r_isco)S(r)
    by synthetic division, so (u^r)² = (r_isco − r)(−S(r))/r³.
    """
    gap = ri - r
    if xi == 1.0:
        return -torch.sqrt(2.0 / (3.0 * ri)) * pow_three_halves(torch.clamp(gap, min=0.0) / r)
    x = ang - a * energy
    c3 = energy * energy - 1.0
    c1 = -(a * a + x * x + 2.0 * a * energy * x)
    d1 = 2.0 + c3 * ri
    d0 = c1 + d1 * ri
    rad = gap * -(c3 * r * r + d1 * r + d0) / (r * r * r)
    return -torch.sqrt(torch.clamp(rad, min=1e-300))


def _subkeplerian(a: Tensor, r: Tensor, xi: float) -> tuple[Tensor, Tensor]:
    """(u^r, Ω) of the sub-Keplerian flow with Cunningham-type plunge inside the ISCO.

    r_isco keeps the spin in the autograd graph (:func:`kerr.isco_differentiable`): for
    ξ < 1 the ISCO's E and ℓ are not stationary in r, so ∂g/∂a inside the ISCO needs
    ∂r_isco/∂a (issue 12, item 7).
    """
    ri = isco_differentiable(a).to(dtype=r.dtype, device=r.device)
    outside = r >= ri
    r_out = torch.where(outside, r, ri)
    g_out = metric_bl(a, r_out, math.pi / 2)
    om_out = _omega_from_ell(g_out, xi * _kepler_ell(a, r_out))
    ell_i = xi * _kepler_ell(a, ri)
    e_i = _circular_energy(a, ri, ell_i)
    # a radius inside the ISCO stands in for masked lanes, so no NaN reaches a backward pass
    r_h = 1.0 + torch.sqrt(1.0 - a * a)
    r_in = torch.where(outside, 0.5 * (ri + r_h), r)
    _, om_in = _plunge(a, r_in, e_i, e_i * ell_i)
    ur_in = _plunge_ur(a, r_in, ri, e_i, e_i * ell_i, xi)
    ur = torch.where(outside, torch.zeros_like(r), ur_in)
    om = torch.where(outside, om_out, om_in)
    return ur, om


def _free_fall(a: Tensor, r: Tensor) -> tuple[Tensor, Tensor]:
    """(u^r, Ω) of equatorial free fall from rest at infinity (E = 1, L = 0)."""
    return _plunge(a, r, torch.ones_like(r), torch.zeros_like(r))


def velocity_field(
    velocity: str | GeneralVelocity, a: Tensor, r: Tensor, theta: Tensor | float
) -> tuple[Tensor, Tensor, Tensor]:
    """Contravariant emitter velocity (u^t, u^r, u^φ) at (r, θ) for a velocity model."""
    g = metric_bl(a, r, theta)
    if velocity == "zamo":
        ur = torch.zeros_like(r)
        om = 2.0 * a * r / g["A"]
    elif velocity == "keplerian":
        ur, om = _subkeplerian(a, r, 1.0)
    elif isinstance(velocity, GeneralVelocity):
        ur_s, om_s = _subkeplerian(a, r, velocity.xi)
        ur_f, om_f = _free_fall(a, r)
        ur = ur_s + (1.0 - velocity.beta_r) * (ur_f - ur_s)
        om = om_s + (1.0 - velocity.beta_phi) * (om_f - om_s)
    else:  # validated by the caller
        raise ValueError(f"unknown velocity model {velocity!r}")
    norm = -(g["g_tt"] + 2.0 * g["g_tphi"] * om + g["g_phiphi"] * om * om)
    ut = torch.sqrt((1.0 + g["g_rr"] * ur * ur) / norm)
    return ut, ur, ut * om


def redshift(
    velocity: str | GeneralVelocity,
    a: Tensor,
    lam: Tensor,
    eta: Tensor,
    r: Tensor,
    theta: Tensor | float,
    nu_r: Tensor,
) -> Tensor:
    """Redshift factor g = 1/(u^t − λu^φ − p_r u^r) for photons with p_t = −1 (u^θ = 0).

    p_r = ν_r √R(r)/Δ with R(r) = (r² + a² − aλ)² − Δ(η + (λ − a)²) (GL20 eqs. 5, 13).
    """
    ut, ur, uphi = velocity_field(velocity, a, r, theta)
    delta = r * r - 2.0 * r + a * a
    big_r = (r * r + a * a - a * lam) ** 2 - delta * (eta + (lam - a) ** 2)
    p_r = nu_r * torch.sqrt(torch.clamp(big_r, min=0.0)) / delta
    return 1.0 / (ut - lam * uphi - p_r * ur)


def velocity_attrs(velocity: str | GeneralVelocity) -> dict[str, object]:
    """netCDF-friendly description of a velocity model."""
    if isinstance(velocity, GeneralVelocity):
        return {
            "velocity": "general",
            "velocity_xi": float(velocity.xi),
            "velocity_beta_r": float(velocity.beta_r),
            "velocity_beta_phi": float(velocity.beta_phi),
        }
    return {"velocity": str(velocity)}
