"""Independent reference: numerical integration of Kerr null geodesics (no elliptic functions).

The Mino-time equations (Carter 1968; GL20 eqs. 7-10) are integrated backwards from an observer
*at infinity* with scipy's DOP853 (rtol 1e-12). To stay well conditioned out to r = ∞ the
radial motion uses w = 1/r, whose equation is regular there:

    (dw/dτ)² = W(w) = 1 + A w² + B w³ + C w⁴,    d²w/dτ² = W'(w)/2,

and the polar motion u = cos θ with (du/dτ)² = U(u) = η(1 − u²) + a²u²(1 − u²) − λ²u²,
d²u/dτ² = U'(u)/2 (second-order forms pass turning points without sign bookkeeping).
The azimuth follows dφ/dτ = a(r² + a² − aλ)/Δ − a + λ/sin²θ and the time delay the
t-equation minus the exact derivative of r + 2 ln r, so the regularised delay
lim (t_o − t_s − r_o − 2 ln r_o) is integrated without cancellation.
Crossings of θ = θs are located by dense-output root finding.
"""

from __future__ import annotations

import math

from scipy.integrate import solve_ivp


def _rhs(a: float, lam: float, eta: float):
    big_a = a * a - eta - lam * lam
    big_b = 2.0 * (eta + (lam - a) ** 2)
    big_c = -a * a * eta
    c_t = a * a - a * lam + 4.0

    def f(_t, y):
        w, v, u, up = y[0], y[1], y[2], y[3]
        dv = big_a * w + 1.5 * big_b * w * w + 2.0 * big_c * w**3
        dup = -eta * u + a * a * u * (1.0 - 2.0 * u * u) - lam * lam * u
        delta_w = 1.0 - 2.0 * w + a * a * w * w
        # backwards in time: φ and the delay grow with the forward rates
        dphi = -(a * (1.0 + (a * a - a * lam) * w * w) / delta_w - a + lam / (1.0 - u * u))
        poly = 1.0 + (a * a - 4.0) * w * w + 2.0 * a * a * w**3
        if v > 0 and w < 0.05:
            big_a * w * w + big_b * w**3 + big_c * w**4
            # (t-rate − (1 + 2w) v / w²) with the 1/w² and 1/w terms cancelled analytically
            num = (
                c_t
                - 2.0 * a * a * w
                + a * a * (a * a - a * lam) * w * w
                - poly * (big_a + big_b * w + big_c * w * w) / (v + 1.0)
            )
            h = num / delta_w
        else:
            ft = (1.0 + a * a * w * w) * (1.0 + (a * a - a * lam) * w * w) / (w * w * delta_w)
            h = ft - (1.0 + 2.0 * w) * v / (w * w)
        h = h + a * lam - a * a + a * a * u * u
        return [v, dv, up, dup, dphi, h]

    return f


def trace_numeric(
    a: float,
    theta_o_deg: float,
    alpha: float,
    beta: float,
    theta_s_deg: float = 90.0,
    nmax: int = 2,
) -> list[tuple[int, float, float, float]]:
    """(status, r_s, phi_s, t_s) for n = 0..nmax from numerical integration.

    phi_s: BL azimuth at emission with the observer at φ = 0; t_s: regularised delay.
    status: 0 crossing exists; 1 horizon first; 2 escape first; 3 θs outside the θ range
    (including vortical rays, η < 0, and a cone on the other side of the equator).
    """
    tho = math.radians(theta_o_deg)
    ths = math.radians(theta_s_deg)
    lam = -alpha * math.sin(tho)
    eta = (alpha**2 - a * a) * math.cos(tho) ** 2 + beta**2
    uo = math.cos(tho)
    # (du/dτ)² = (1 − u²)Θ(θo) = sin²θo β² at the observer, exactly: evaluating U(u_o) from
    # η and λ instead leaves ~1e-15 of round-off, which near a polar turning point (β ≈ 0)
    # shifts the crossing times by ~1e-9
    up0 = math.sin(tho) * beta
    rp = 1 + math.sqrt(1 - a * a)

    # stop 1e-6 M outside the horizon: the last stretch costs ~50x the steps of the rest of
    # the ray (1/Δ in dφ/dτ), and a crossing closer to the horizon than that is improbable
    def horizon(_t, y):
        return y[0] - 1.0 / (rp + 1e-6)

    horizon.terminal = True

    def escape(_t, y):
        return y[0] - 1e-7 if y[1] < 0 else 1.0

    escape.terminal = True

    def cross(_t, y):
        return y[2] - math.cos(ths)

    sol = solve_ivp(
        _rhs(a, lam, eta),
        (0.0, 50.0),
        [0.0, 1.0, uo, up0, 0.0, 0.0],
        method="DOP853",
        rtol=1e-12,
        atol=1e-14,
        events=(horizon, escape, cross),
        dense_output=True,
    )
    crossings = [t for t in sol.t_events[2] if t > 1e-12]
    end_status = 1 if len(sol.t_events[0]) else 2
    theta_s_pot = eta + a * a * math.cos(ths) ** 2 - lam * lam / math.tan(ths) ** 2
    # the polar motion alone decides whether θs is ever reached: Θ(θs) > 0, and for vortical
    # rays (η < 0, which never cross the equator) θs on the observer's side; η = 0 exactly
    # (u → 0 only asymptotically) is reported as never reaching, like the analytic tracer
    vortical_wrong_side = eta < 0 and uo * math.cos(ths) <= 0
    if eta == 0 or theta_s_pot <= 0 or vortical_wrong_side:
        end_status = 3
    out = []
    for n in range(nmax + 1):
        if n < len(crossings):
            y = sol.sol(crossings[n])
            r = 1.0 / y[0]
            out.append((0, r, y[4], y[5] - r - 2.0 * math.log(r)))
        else:
            out.append((end_status, math.nan, math.nan, math.nan))
    return out
