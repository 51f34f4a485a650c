"""Antiderivatives of the radial integrals I₁, I₂ and I_± in the three root cases.

Gralla & Lupsasca 2020, PRD 101, 044032, eqs. B48-B50 (case 2), B78-B80 (case 3) and
B112-B114 (case 4), written as differences of antiderivatives derived in the docstrings,
and the finite parts of the case-3 and case-4 antiderivatives at the observer's pole
(:func:`_cn_pole`, :func:`_sc_pole`: the closed-form regularised time). Twin of
``julia/src/geodesics/radial_integrals.jl``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..elliptic import Legendre, ellipeinc, ellipkinc, legendre_sc


def _reduced_cos2(phi: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(j, sin φ_r, cos²φ_r) with φ = jπ + φ_r, |φ_r| ≤ π/2, as :func:`~..elliptic.legendre`
    reduces its amplitude (so that cos²φ here is bit-identical to the one in its sweep)."""
    j = torch.round(phi / math.pi)
    pr = phi - j * math.pi
    c = torch.cos(pr)
    return j, torch.sin(pr), c * c


def _legendre_pv(phi: Tensor, k: Tensor, n: Tensor, one_minus_n: Tensor) -> Legendre:
    """F, E and Π(n; φ|k) for any real φ with Π's characteristic formed as
    1 − n sin²φ = (1 − n) + n cos²φ (``one_minus_n`` = 1 − n exact, n > 1 allowed: principal
    value), the quantity :func:`_r1_integral` and :func:`_s1_reduced` use for their logarithms.

    Next to a zero of 1 − n sin²φ that is not a pole of the integrand (the mirror image
    π − φ_p of the pole φ_p), Π and the logarithm are each singular and their sum is
    smooth; computed from the same (1 − n) + n cos²φ their round-off cancels, while
    1 − n sin²φ formed twice differently left ~eps/|1 − n sin²φ| (1e-12 of I_φ next to it).
    Wraps as :func:`~..elliptic.legendre` (DLMF 19.2.10).
    """
    j, s, c2 = _reduced_cos2(phi)
    out = legendre_sc(s, c2, k, n, e=True, one_minus_n=one_minus_n)
    one = torch.ones((), dtype=phi.dtype, device=phi.device)
    full = legendre_sc(one, one - 1.0, k, n, e=True, one_minus_n=one_minus_n)
    two_j = 2.0 * j
    f = out.F + two_j * full.F
    d = out.D + two_j * full.D
    return Legendre(f, f - k * d, d, out.Pi + two_j * full.Pi)


def _r1_integral(alpha: Tensor, phi: Tensor, k: Tensor, pi: Tensor | None = None) -> Tensor:
    """R₁(α; φ|k) = ∫₀^{F(φ)} dX / (1 + α cn X) (GL20 B62), any real α ≠ ±1.

    1/(1 + α cn) = [1/(1 − n sn²) − α cn/(1 − n sn²)]/(1 − α²) with n = α²/(α² − 1);
    ∫ cn dX/(1 − n sn²) = ∫ dt/(1 − (n − k)t²) with t = sn/dn, an atanh (n > k, as in GL20
    B63) or an atan (n < k). Both antiderivatives are principal values through the pole.
    ``pi`` optionally supplies Π(n; φ|k), computed as in :func:`_legendre_pv`.
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
    # (1 + wt)/(1 − wt) = (1 + wt)² dn²/(1 − n sn²) with 1 − n sn² = (1 − n) + n cos²φ formed
    # as in the Π of :func:`_legendre_pv`: no cancellation in 1 − wt, and the round-off of
    # the two singular terms cancels next to the mirror pole
    p = 1.0 / (1.0 - a2) + n * _reduced_cos2(phi)[2]
    f_atanh = (torch.log(torch.abs((1.0 + w * t) * dn)) - 0.5 * torch.log(p.abs())) / w_safe
    f_atan = torch.atan(w * t) / w_safe
    f = torch.where(big, f_atanh, f_atan)
    if pi is None:
        pi = _legendre_pv(phi, k, n, 1.0 / (1.0 - a2)).Pi
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
    supplies (F(φ|k), Π(N; φ|k)). S₁ = F + α T with T from :func:`_s1_reduced`.
    """
    if fpi is None:
        leg = _legendre_pv(phi, k, 1.0 + alpha * alpha, -alpha * alpha)
        fpi = (leg.F, leg.Pi)
    return fpi[0] + alpha * _s1_reduced(alpha, phi, k, fpi)


def _s1_reduced(alpha: Tensor, phi: Tensor, k: Tensor, fpi: tuple[Tensor, Tensor]) -> Tensor:
    """T(α; φ|k) = (S₁ − F)/α = −∫₀^{F(φ)} sc X dX / (1 + α sc X), finite as α → 0.

    From :func:`_s1_integral`: T = [α(Π(N; φ) − F) + ½ p L]/N with N = 1 + α²,
    p = √(N/(N − k)) and L = ln|(p dn − 1)(p + 1)/((p dn + 1)(p − 1))|. Since
    p²dn² − 1 = k(1 − N sn²)/(N − k) and p² − 1 = k/(N − k),
    L = ln|1 − N sin²φ| + 2 ln((p + 1)/(p dn + 1)), free of the cancellation in p dn − 1
    next to its zero (sin²φ = 1/N, where 1 + α sc has its pole or its mirror image; a ray
    whose horizon sits at am X = π/2 has both within round-off of π/2, and the cancellation
    cost ~1e-12 of I_φ and I_t). 1 − N sin²φ = −α² + N cos²φ is formed as in
    :func:`_legendre_pv`, which ``fpi`` = (F(φ|k), Π(N; φ|k)) must come from.
    """
    a2 = alpha * alpha
    big_n = 1.0 + a2
    dn = torch.sqrt(1.0 - k * torch.sin(phi) ** 2)
    p2 = torch.sqrt(big_n / (big_n - k))
    p = -a2 + big_n * _reduced_cos2(phi)[2]  # 1 − N sin²φ as in _legendre_pv
    logt = torch.log(p.abs()) + 2.0 * torch.log((p2 + 1.0) / (p2 * dn + 1.0))
    f, pi = fpi
    return (alpha * (pi - f) + 0.5 * p2 * logt) / big_n


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


def _pi_pole(n: Tensor, nm1: Tensor, k: Tensor, sn: Tensor, cn: Tensor, dn: Tensor, dual: Tensor):
    """Finite part Π̂ of Π(n; φ|k) at its pole φ_o ∈ (π/2, π), n sin²φ_o = 1, n > 1.

    DLMF 19.7.9 with 19.6.5 (Π(n) + Π(k/n) = K for n > 1) gives, for π/2 < φ < π and
    c = 1/sin²φ, Π(n; φ) = F(φ) − Π(k/n; φ) − √c R_C((c − 1)(c − k), (c − n)(c − k/n)).
    As X = F(φ) → X_o⁻, |c − n| = 2|cn dn|/sn³·δ + O(δ²) with δ = X_o − X, and R_C(x, y) =
    ln(4x/|y|)/(2√x) + O(y ln y) (DLMF 19.2.8, principal value for y < 0), so
    Π = Π̂ + √(n/x)/2 · ln δ + o(1) with x = (n − 1)(n − k) and
    Π̂ = F(φ_o) − Π(k/n; φ_o) − √(n/x)/2 · ln(2x sn³/(|cn| dn (n − k/n))).
    ``nm1`` is n − 1 (exact where n → 1), ``sn, cn, dn`` are the Jacobi functions at X_o
    and ``dual`` is F(φ_o) − Π(k/n; φ_o).
    """
    x = nm1 * (n - k)
    arg = 2.0 * x * sn**3 / (cn.abs() * dn * (n - k / n))
    return dual - 0.5 * torch.sqrt(n / x) * torch.log(arg)


def _cn_pole(alpha, k, sn, cn, dn, f, e, dual):
    """Finite parts at X_o of R₁ and R₂ (GL20 B62, B65) where 1 + α cn X_o = 0, α > 1 (case 3).

    With δ = X_o − X: R₁ = R̂₁ + O(ln δ) + o(1) and R₂ = R̂₂ + O(1/δ, ln δ) + o(1); the
    divergent terms cancel against r_o and ln r_o in the regularised time (radial_cases.py).
    Π(n; φ) as in :func:`_pi_pole`; the atanh term (t = sn/dn, w = √(n − k), wt → 1 with
    dt/dX = cn/dn²) has finite part (ln 2 − ln(w|cn|/dn²))/(2w); α sn dn/(1 + α cn) = −u'/u
    with u = 1 + α cn is 1/δ + ℓ + O(δ), ℓ = −u''/(2u') = −cn(dn² − k sn²)/(2 sn dn).
    ``f, e`` are F(φ_o|k), E(φ_o|k) and ``dual`` F(φ_o) − Π(k/n; φ_o), n = α²/(α² − 1).

    Returns
    -------
    R̂₁, R̂₂, ℓ : Tensor
    """
    a2 = alpha * alpha
    n = a2 / (a2 - 1.0)
    w = torch.sqrt(n - k)
    pi_hat = _pi_pole(n, 1.0 / (a2 - 1.0), k, sn, cn, dn, dual)
    f_hat = (math.log(2.0) - torch.log(w * cn.abs() / (dn * dn))) / (2.0 * w)
    r1 = (pi_hat - alpha * f_hat) / (1.0 - a2)
    ell = -cn * (dn * dn - k * sn * sn) / (2.0 * sn * dn)
    kk = k + (1.0 - k) * a2
    r2 = (f - a2 / kk * (e - ell)) / (a2 - 1.0) + (2.0 * k - n) / kk * r1
    return r1, r2, ell


def _sc_pole(g, k, sn, cn, dn, f, e, dual):
    """Finite parts at X_o of S₁ and S₂ (GL20 B92-B93) where 1 + g sc X_o = 0, g > 0 (case 4).

    With N = 1 + g², p = √(N/(N − k)) and δ = X_o − X: Π(N; φ) as in :func:`_pi_pole`; the
    logarithm of S₁ has |p dn − 1| = p k sn|cn| δ + O(δ²) (p dn_o = 1); in S₂, dn·(g − sc)/u
    with u = 1 + g sc, h = dn(g − sc): h/u = −h/(u'δ) + h'/u' − h u''/(2u'²) + O(δ), where
    u' = g dn/cn², u'' = g sn(2dn² − k cn²)/cn³, h' = −k sn cn(g − sc) − dn²/cn².
    ``f, e, dual`` as in :func:`_cn_pole` with n = N.

    Returns
    -------
    Ŝ₁, Ŝ₂, u'(X_o), u''(X_o) : Tensor
    """
    a2 = g * g
    big_n = 1.0 + a2
    pi_hat = _pi_pole(big_n, a2, k, sn, cn, dn, dual)
    p2 = torch.sqrt(big_n / (big_n - k))
    p2m1 = k / (big_n - k) / (p2 + 1.0)
    logt = torch.log(p2 * k * sn * cn.abs() * (p2 + 1.0) / (2.0 * p2m1))
    s1 = (f + a2 * pi_hat + 0.5 * g * p2 * logt) / big_n
    u1 = g * dn / (cn * cn)
    u2 = g * sn * (2.0 * dn * dn - k * cn * cn) / cn**3
    h = dn * big_n / g
    h1 = -k * sn * cn * big_n / g - dn * dn / (cn * cn)
    q = h1 / u1 - h * u2 / (2.0 * u1 * u1)
    bracket = (1.0 - k) * f + a2 * e + a2 * q - a2 * g
    pre = 1.0 / big_n + (1.0 - k) / (1.0 - k + a2)
    s2 = -bracket / (big_n * (1.0 - k + a2)) + pre * s1
    return s1, s2, u1, u2
