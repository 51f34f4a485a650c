"""Closed-form partial derivatives of sn, cn, dn and am in the argument u and the parameter m.

In u (DLMF 22.13.1-3, and am' = dn from u = F(am|m), DLMF 19.2.4):
∂am/∂u = dn, ∂sn/∂u = cn dn, ∂cn/∂u = −sn dn, ∂dn/∂u = −m sn cn.

In m at fixed u, differentiating u = F(am|m) gives ∂am/∂m = −dn ∂F(φ|m)/∂m at φ = am, with
∂F/∂m = E/(2m(1 − m)) − F/(2m) − sin φ cos φ/(2(1 − m)Δ) (differentiate
DLMF 19.2.4 under the integral and reduce as in DLMF 19.4.1; checked against mpmath in
tests/physics/test_jacobi_grad.py). With D = (F − E)/m
(DLMF 19.2.6) the first two terms are (F − D)/(2(1 − m)), free of the 1/m of m → 0, so

    ∂am/∂m = (sn cn − dn G)/(2(1 − m)),  G = F(am|m) − D(am|m) = (E − (1 − m)u)/m,

and sn, cn, dn follow by the chain rule with dn² = 1 − m sn² (DLMF 22.6.1):
∂sn/∂m = cn ∂am/∂m, ∂cn/∂m = −sn ∂am/∂m, ∂dn/∂m = −(sn²/2 + m sn cn ∂am/∂m)/dn.

G needs no elliptic integral: the forward's own Landen sequence gives it. With the AGM's
c_n and a_n and the descent's amplitudes φ_n, Jacobi's zeta function is
Z(am|m) = E(am|m) − (E(m)/K(m))u = Σ_{n≥1} c_n sin φ_n and
E(m)/K(m) = 1 − Σ_{n≥0} 2^{n−1} c_n², c₀² = m (Abramowitz & Stegun §17.6, the AGM scheme for
Z and E/K; Z as in DLMF §22.16(iii)), so

    G = Σ_{n≥1} ρ_n sin φ_n + u(½ − m Σ_{n≥1} 2^{n−1} ρ_n²),  ρ_n = c_n/m,

where ρ₁ = 1/(2(1 + √(1 − m))) and ρ_{n+1} = m ρ_n²/(4a_{n+1}) (from c_{n+1} = c_n²/(4a_{n+1}),
the AGM recurrence, DLMF 22.20.1) carry no cancellation, unlike the forward's
c_n = (a_{n−1} − b_{n−1})/2. The sum takes one term beyond the forward's last level N
(φ_{N+1} = 2φ_N): its weight ρ_{N+1} is below eps/m, which is not negligible against ρ₁ ≈ ¼
when m is tiny; the next is below eps².
At m = 0, G = u/2 + sin 2u/4 and ∂am/∂m = (sin u cos u − u)/4 come out exactly.

Accuracy: sn cn − dn G is O(u³) as u → 0 while both terms are O(u), and O(1 − m) as m → 1
(both tend to tanh u sech u), so the Landen form loses ~3 eps/((1 − m) min(u², 1)) relative.
For |u| < SMALL_U = 0.03, ∂am/∂m comes from its Maclaurin series (:func:`_d_am_series`,
DLMF 22.10.6; truncation below 1e-13 relative). Where (1 − m) min(u², 1) < ILL = 1e-5, it
comes from ∂am/∂m = −dn ∂F/∂m = −(dn/2)∫₀^am sin²θ/Δ³ dθ, an integral of a positive
function written as s³R_D(cos²φ, 1, Δ²)/3 (:func:`_d_am_rd`), which has no cancellation at
any m < 1 but costs a duplication sweep on those lanes (~1 ms of fixed overhead per call
however few they are, hence the low threshold: on the benchmark screens of
benchmarks/bench_gradients.py no lane of the tracer falls below it, while 1e-4 caught a few
rays next to the critical curve in most calls). The Landen form elsewhere keeps ≲ 7e-11
relative error (a few eps in most of the domain; measured against mpmath in
tests/physics/test_jacobi_grad.py). No lane needs autograd through the sweep, which near
m = 1 is itself off by eps/(1 − m) (1e-9 at 1 − m = 1e-6).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._sweep import _carlson

# |u| below which ∂am/∂m comes from its Maclaurin series, and (1 − m) min(u², 1) below which
# it comes from the R_D form instead of the cancelling Landen form (module docstring)
SMALL_U = 0.03
ILL = 1e-5


def _d_am_series(u: Tensor, m: Tensor) -> Tensor:
    """∂am/∂m for small |u|: the m-derivative of am = ∫dn, with dn's Maclaurin series through
    u⁸ (DLMF 22.10.6); the omitted u¹¹ term is below 1e-13 relative for |u| < SMALL_U."""
    u2 = u * u
    c9 = (64.0 + m * (1824.0 + m * (1224.0 + 4.0 * m))) / 362880.0
    c7 = (16.0 + m * (88.0 + 3.0 * m)) / 5040.0
    return u * u2 * (-1.0 / 6.0 + u2 * ((4.0 + 2.0 * m) / 120.0 + u2 * (-c7 + u2 * c9)))


def landen_g(
    u: Tensor, m: Tensor, as_: list[Tensor], sines: list[Tensor], phi_top: Tensor
) -> Tensor:
    """G = F(am|m) − D(am|m) = (E(am|m) − (1 − m)u)/m from the forward's Landen sequence.

    Parameters
    ----------
    u, m : Tensor
        Argument and parameter, broadcast.
    as_ : list of Tensor
        a₁, …, a_N of the forward's AGM (DLMF 22.20.1).
    sines : list of Tensor
        sin φ₁, …, sin φ_N of its descent (DLMF 22.20.2), as the forward computed them.
    phi_top : Tensor
        φ_N = 2^N a_N u (u when N = 0); the extra level has φ_{N+1} = 2φ_N.

    Returns
    -------
    Tensor
        G, by the sums of the module docstring (Abramowitz & Stegun §17.6).
    """
    b = torch.sqrt(1.0 - m)
    a_next = [*as_, as_[-1] if as_ else 0.5 * (1.0 + b)]
    sin_next = [*sines, torch.sin(2.0 * phi_top)]
    rho = 0.5 / (1.0 + b)
    zeta = rho * sin_next[0]
    squares = rho * rho
    weight = 1.0
    for k in range(1, len(sin_next)):
        weight *= 2.0
        rho = m * rho * rho / (4.0 * a_next[k])
        zeta = zeta + rho * sin_next[k]
        squares = squares + weight * rho * rho
    return zeta + u * (0.5 - m * squares)


def _d_am(
    u: Tensor,
    m: Tensor,
    sn: Tensor,
    cn: Tensor,
    dn: Tensor,
    am: Tensor,
    landen: tuple[list[Tensor], list[Tensor], Tensor],
) -> Tensor:
    """∂am/∂m: the Landen form, its series for small |u|, and the R_D form on the lanes where
    the Landen form cancels (module docstring)."""
    one_m = 1.0 - m
    d_am = (sn * cn - dn * landen_g(u, m, *landen)) / (2.0 * one_m)
    u2 = u * u
    small = u2 < SMALL_U * SMALL_U
    ill = (one_m * torch.clamp(u2, max=1.0) < ILL) & ~small
    # few lanes, if any: computed on those lanes only
    if bool(small.any()):
        d_am[small] = _d_am_series(u[small], m[small])
    if bool(ill.any()):
        d_am[ill] = _d_am_rd(m[ill], sn[ill], cn[ill], dn[ill], am[ill])
    return d_am


def _d_am_rd(m: Tensor, sn: Tensor, cn: Tensor, dn: Tensor, am: Tensor) -> Tensor:
    """∂am/∂m = −(dn/2)∫₀^am sin²θ/Δ³ dθ with the integral s³R_D(c², 1, Δ²)/3 on |φ| ≤ π/2
    (the Carlson form of DLMF 19.25.9 with the roles of 1 and Δ² exchanged, checked against
    quadrature in the tests), extended to φ = jπ + φ_r by the period π of the integrand as in
    DLMF 19.2.10; a sum of like-signed terms at every m < 1."""
    j = torch.round(am / torch.pi)
    s_r = torch.where(torch.remainder(j, 2.0) == 0, sn, -sn)
    one = torch.ones_like(m)
    x = torch.stack([cn * cn, torch.zeros_like(m)])
    z = torch.stack([dn * dn, 1.0 - m])
    rd = _carlson(x, torch.stack([one, one]), z, rd=True)[1]
    integral = (s_r * s_r * s_r * rd[0] + 2.0 * j * rd[1]) / 3.0
    return -0.5 * dn * integral


def jacobi_grads(
    u: Tensor,
    m: Tensor,
    sn: Tensor,
    cn: Tensor,
    dn: Tensor,
    am: Tensor,
    landen: tuple[list[Tensor], list[Tensor], Tensor],
    grads: tuple[Tensor | None, Tensor | None, Tensor | None, Tensor | None],
    want_m: bool,
) -> tuple[Tensor, Tensor | None]:
    """Vector-Jacobian products of (sn, cn, dn, am) in u and m (module docstring).

    Parameters
    ----------
    u, m, sn, cn, dn, am : Tensor
        Inputs and outputs of the forward (one shape).
    landen : tuple
        The forward's a_n, sin φ_n and φ_N (:func:`landen_g`).
    grads : tuple of Tensor or None
        Incoming gradients of sn, cn, dn, am; None for an output not used.
    want_m : bool
        Compute the gradient in m (its sums cost a few operations per Landen level).

    Returns
    -------
    tuple
        Gradient in u and in m (None unless ``want_m``).
    """
    g_sn, g_cn, g_dn, g_am = grads
    zero = torch.zeros_like(u)
    # coefficient of ∂am (sn and cn depend on u and m only through am)
    p = zero if g_am is None else g_am
    if g_sn is not None:
        p = p + g_sn * cn
    if g_cn is not None:
        p = p - g_cn * sn
    gu = p * dn
    if g_dn is not None:
        gu = gu - g_dn * (m * sn * cn)
    if not want_m:
        return gu, None
    d_am = _d_am(u, m, sn, cn, dn, am, landen)
    if g_dn is None:
        return gu, p * d_am
    gm = d_am * (p - g_dn * (m * sn * cn / dn)) - g_dn * sn * sn / (2.0 * dn)
    return gu, gm
