"""Kerr spacetime: horizons, ISCO, metric components, the ZAMO frame and the critical curve.

Units G = c = M = 1; Boyer–Lindquist coordinates (t, r, θ, φ); spin a with |a| < 1.
Functions accept floats or torch tensors (broadcasting) unless stated otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from .._validate import check_inclination, check_npoints, check_spin

__all__ = ["horizon", "inner_horizon", "isco", "metric_bl", "zamo", "critical_curve"]


def horizon(spin: float) -> float:
    """Outer event-horizon radius r₊ = 1 + √(1 − a²) (in M).

    The larger root of Δ = r² − 2r + a² = 0, where the Boyer–Lindquist g_rr = Σ/Δ diverges
    (:func:`metric_bl`); the smaller root is :func:`inner_horizon`.

    Parameters
    ----------
    spin : float
        Dimensionless spin a, |a| < 1.

    Returns
    -------
    float
        r₊ in M, from 2 (a = 0) down towards 1 as |a| → 1.

    Raises
    ------
    ValueError
        If ``spin`` is not finite with −1 < a < 1 (or is a tensor of more than one element).
    TypeError
        If ``spin`` is not a real number.

    Examples
    --------
    >>> horizon(0.0)
    2.0
    """
    return 1.0 + _horizon_half_gap(spin)


def _horizon_half_gap(spin: float) -> float:
    """√(1 − a²) = (r₊ − r₋)/2, after validating the spin."""
    a = check_spin(spin)
    return math.sqrt(1.0 - a * a)


def inner_horizon(spin: float) -> float:
    """Inner (Cauchy) horizon radius r₋ = 1 − √(1 − a²) (in M)."""
    return 1.0 - _horizon_half_gap(spin)


def isco(spin: float) -> float:
    """Radius of the innermost stable circular orbit for orbits in the +φ direction (in M).

    Bardeen, Press & Teukolsky 1972 (ApJ 178, 347), eq. (2.21):
    r = 3 + Z₂ − sign(a)√((3 − Z₁)(3 + Z₁ + 2Z₂)).
    kerrfield's disks always rotate in +φ, so a > 0 is a prograde (co-rotating) disk and a < 0
    a retrograde one: isco(0.998) ≈ 1.24, isco(0) = 6, isco(−0.998) ≈ 8.99.

    Parameters
    ----------
    spin : float
        Dimensionless spin a, |a| < 1 (sign relative to the disk's +φ rotation).

    Returns
    -------
    float
        r_isco in M: 6 for a = 0, towards 1 as a → 1 and 9 as a → −1.

    Raises
    ------
    ValueError
        If ``spin`` is not finite with −1 < a < 1 (or is a tensor of more than one element).
    TypeError
        If ``spin`` is not a real number.

    Examples
    --------
    >>> isco(0.0)
    6.0
    """
    a = check_spin(spin)
    z1 = 1.0 + (1.0 - a * a) ** (1.0 / 3.0) * ((1.0 + a) ** (1.0 / 3.0) + (1.0 - a) ** (1.0 / 3.0))
    z2 = math.sqrt(3.0 * a * a + z1 * z1)
    r = 3.0 + z2 - math.copysign(1.0, a) * math.sqrt((3.0 - z1) * (3.0 + z1 + 2.0 * z2))
    if abs(a) < 0.5:
        # 3 − Z₁ ~ a² cancels as a → 0 (isco(1e-8) was 6.0, 5e-9 off): one Newton step on
        # BPT 1972's r² − 6r + 8a√r − 3a² = 0, well conditioned away from a → 1
        r -= _isco_equation(a, r) / (2.0 * r - 6.0 + 4.0 * a / math.sqrt(r))
    return r


def _isco_equation(a: float, r: float) -> float:
    """F(r, a) = r² − 6r + 8a√r − 3a², zero at the prograde ISCO (BPT 1972 eq. 2.21)."""
    return r * r - 6.0 * r + 8.0 * a * math.sqrt(r) - 3.0 * a * a


def isco_differentiable(a: Tensor) -> Tensor:
    """r_isco(a) as a tensor that keeps a 0-d spin tensor ``a`` in the autograd graph.

    The value is :func:`isco` exactly; its derivative is dr/da = −F_a/F_r from the implicit
    function theorem on F(r, a) = r² − 6r + 8a√r − 3a² = 0 (BPT 1972 eq. 2.21), F_a = 8√r
    − 6a, F_r = 2r − 6 + 4a/√r.
    """
    r0 = isco(float(a.detach()))
    sr = math.sqrt(r0)
    drda = -(8.0 * sr - 6.0 * a.detach()) / (2.0 * r0 - 6.0 + 4.0 * a.detach() / sr)
    return r0 + (a - a.detach()) * drda


def metric_bl(a: Tensor | float, r: Tensor, theta: Tensor | float) -> dict[str, Tensor]:
    """Covariant Kerr metric components in Boyer–Lindquist coordinates (BPT 1972 eq. 2.1).

    Returns a dict with g_tt, g_tphi, g_phiphi, g_rr, g_thth and the auxiliary Σ, Δ, A
    (A = (r² + a²)² − a²Δ sin²θ).
    """
    r = torch.as_tensor(r)
    a = torch.as_tensor(a, dtype=r.dtype, device=r.device)
    theta = torch.as_tensor(theta, dtype=r.dtype, device=r.device)
    c2 = torch.cos(theta) ** 2
    s2 = 1.0 - c2
    sigma = r * r + a * a * c2
    delta = r * r - 2.0 * r + a * a
    big_a = (r * r + a * a) ** 2 - a * a * delta * s2
    return {
        "g_tt": -(1.0 - 2.0 * r / sigma),
        "g_tphi": -2.0 * a * r * s2 / sigma,
        "g_phiphi": big_a * s2 / sigma,
        "g_rr": sigma / delta,
        "g_thth": sigma,
        "sigma": sigma,
        "delta": delta,
        "A": big_a,
    }


def zamo(a: Tensor | float, r: Tensor, theta: Tensor | float) -> tuple[Tensor, Tensor]:
    """Zero-angular-momentum observer: lapse e^ν = √(ΣΔ/A) and frame dragging ω = 2ar/A.

    Bardeen, Press & Teukolsky 1972, eqs. (3.2); the ZAMO 4-velocity is e^{−ν}(∂_t + ω ∂_φ).
    """
    g = metric_bl(a, r, theta)
    a_t = torch.as_tensor(a, dtype=g["A"].dtype, device=g["A"].device)
    return torch.sqrt(g["sigma"] * g["delta"] / g["A"]), 2.0 * a_t * r / g["A"]


def _shell_conserved(a: float, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """λ̃(r̃), η̃(r̃) of spherical photon orbits (Gralla & Lupsasca 2020b, PRD 101 044031, eq. 38)."""
    delta = r * r - 2.0 * r + a * a
    lam = a + r / a * (r - 2.0 * delta / (r - 1.0))
    eta = r**3 / a**2 * (4.0 * delta / (r - 1.0) ** 2 - r)
    return lam, eta


def _zero_lambda_radius(a: float, lo: float, hi: float) -> float:
    """The photon-shell radius with λ̃ = 0 (bisection; λ̃ changes sign between the circular
    photon orbits lo and hi). There Θ(θo) = η̃ + a²cos²θo > 0 for every θo, so the visible
    range of r̃ always contains it, however narrow the range is near face-on."""
    sign_lo = math.copysign(1.0, float(_shell_conserved(a, np.array([lo]))[0][0]))
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if math.copysign(1.0, float(_shell_conserved(a, np.array([mid]))[0][0])) == sign_lo:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def critical_curve(
    spin: float, inclination: float, npoints: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Screen coordinates (α, β) of the critical curve (edge of the black-hole shadow), in M.

    The curve is the image of the photon shell: α = −λ̃/sin θo, β = ±√Θ(θo) with λ̃, η̃ of the
    spherical photon orbits at radius r̃ (Gralla & Lupsasca 2020b, "Lensing by Kerr black
    holes", PRD 101, 044031, eqs. 38-40), over the r̃ for which
    Θ(θo) = η̃ + a²cos²θo − λ̃²cot²θo ≥ 0. For a = 0 it is the circle of radius √27.

    Parameters
    ----------
    spin : float
        |a| < 1.
    inclination : float
        Observer inclination θo in degrees, 0 < θo < 180.
    npoints : int
        Number of points on the closed curve, ≥ 8. For a ≠ 0 the two halves (β ≥ 0 and
        β ≤ 0) mirror each other, so the count is odd: an even ``npoints`` gives
        ``npoints + 1`` points.

    Returns
    -------
    alpha, beta : numpy.ndarray
        Closed curve (first point repeated at the end), counter-clockwise on the screen,
        shape (npoints,) or (npoints + 1,), in M.

    Raises
    ------
    ValueError
        If ``spin`` is not finite with −1 < a < 1, ``inclination`` not in (0, 180) degrees, or
        ``npoints`` < 8.
    TypeError
        If ``spin`` or ``inclination`` is not a real number, or ``npoints`` not an integer.

    Examples
    --------
    >>> al, be = critical_curve(0.0, 60.0, 64)
    >>> bool(np.allclose(np.hypot(al, be), np.sqrt(27)))
    True
    """
    a = check_spin(spin)
    th = math.radians(check_inclination(inclination))
    n = check_npoints(npoints, "npoints", minimum=8)
    if abs(a) < 1e-6:
        ang = np.linspace(0.0, 2.0 * np.pi, n)
        b = math.sqrt(27.0)
        return b * np.cos(ang), b * np.sin(ang)
    # photon-shell radii (BPT 1972 eq. 2.18 for the circular photon orbits)
    rm = 2.0 * (1.0 + math.cos(2.0 / 3.0 * math.acos(-abs(a))))
    rp = 2.0 * (1.0 + math.cos(2.0 / 3.0 * math.acos(abs(a))))
    lo, hi = min(rm, rp), max(rm, rp)

    def theta_pot(r: np.ndarray) -> np.ndarray:
        lam, eta = _shell_conserved(a, r)
        return eta + a * a * math.cos(th) ** 2 - lam**2 / math.tan(th) ** 2

    # the visible range of r̃ is an interval where Θ(θo) ≥ 0; find its ends by bisection
    grid = np.linspace(lo, hi, 20001)[1:-1]
    vals = theta_pot(grid)
    ok = np.nonzero(vals >= 0)[0]
    i0, i1 = (ok[0], ok[-1]) if ok.size else (0, 0)

    def bisect(x_bad: float, x_good: float) -> float:
        for _ in range(200):
            mid = 0.5 * (x_bad + x_good)
            if theta_pot(np.array([mid]))[0] >= 0:
                x_good = mid
            else:
                x_bad = mid
        return x_good

    if ok.size:
        r_lo = bisect(grid[i0 - 1] if i0 > 0 else lo, grid[i0])
        r_hi = bisect(grid[i1 + 1] if i1 + 1 < grid.size else hi, grid[i1])
    else:  # nearly face-on: Θ ≥ 0 only where λ̃ ≈ 0, between two grid points (issue 12, item 5)
        r0 = _zero_lambda_radius(a, lo, hi)
        r_lo, r_hi = bisect(lo, r0), bisect(hi, r0)
    half = n // 2 + 1
    # cosine spacing concentrates points near the ends, where β changes fastest
    r = r_lo + (r_hi - r_lo) * 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, half)))
    lam, _ = _shell_conserved(a, r)
    alpha = -lam / math.sin(th)
    beta = np.sqrt(np.clip(theta_pot(r), 0.0, None))
    al = np.concatenate([alpha, alpha[::-1][1:]])
    be = np.concatenate([beta, -beta[::-1][1:]])
    if a < 0:  # keep counter-clockwise orientation
        al, be = al[::-1], be[::-1]
    return al, be
