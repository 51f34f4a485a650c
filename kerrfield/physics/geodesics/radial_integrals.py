"""Antiderivatives of the radial integrals I₁, I₂ and I_± in the three root cases.

Gralla & Lupsasca 2020, PRD 101, 044032, eqs. B48-B50 (case 2), B78-B80 (case 3) and
B112-B114 (case 4), written as differences of antiderivatives derived in the docstrings.
Twin of ``julia/src/geodesics/radial_integrals.jl``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..elliptic import ellipeinc, ellipkinc, ellippiinc


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


def _h_r2(alpha0: Tensor, kappa: Tensor, x: Tensor, sn: Tensor, cn: Tensor, dn: Tensor, e: Tensor):
    """H(X) with dH/dX = 1/(r − r₂) in case 3, r = ρ₀ + κ/(1 + α₀ cn X) (GL20 B74-B75).

    r − r₂ = κα₀(1 − cn)/((1 + α₀)(1 + α₀ cn)) and (1 + α₀cn)/(1 − cn) = −α₀ + (1 + α₀)(1 +
    cn)/sn², with ∫dX/sn² = X − E(am X) − cn dn/sn and ∫cn dX/sn² = −dn/sn (DLMF 22.16.30,
    22.13.1), so H = (1 + α₀)/(κα₀)·[−α₀X + (1 + α₀)(X − E − dn(1 + cn)/sn)]. Elementary
    apart from E and finite for 0 < X < 2K, where case-3 rays live (they never reach r₂).

    Used for ∫dτ/(r − r₋) when r₋ is within round-off of r₂ (|a| → 0, or λ → a): there
    the partial fractions through R₁(α₋) with α₋ → −1 cancel catastrophically (issue 12,
    item 3).
    """
    bracket = -alpha0 * x + (1.0 + alpha0) * (x - e - dn * (1.0 + cn) / sn)
    return (1.0 + alpha0) / (kappa * alpha0) * bracket
