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
  54-59 after the imaginary-modulus transformation); see :mod:`.vortical`.
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

from .angular import angular_crossings, surface_crossings
from .conserved import (
    STATUS_ESCAPE,
    STATUS_HORIZON,
    STATUS_MISSES,
    STATUS_OK,
    conserved_quantities,
)
from .radial import on_critical_curve, radial_roots, radial_solution

__all__ = [
    "conserved_quantities", "angular_crossings", "surface_crossings", "radial_roots",
    "radial_solution", "on_critical_curve", "STATUS_OK", "STATUS_HORIZON", "STATUS_ESCAPE",
    "STATUS_MISSES",
]  # fmt: skip
