# Radial motion of Kerr null geodesics: the roots of the radial potential R(r) and the radial
# solution (emission radius and radial integrals I_φ, I_t), dispatched to the root cases of
# radial_cases.jl.
#
# Gralla & Lupsasca 2020, "Null geodesics of the Kerr exterior", PRD 101, 044032 (GL20):
# * Mino time τ measured backwards from the observer (τ = 0) to the emission point;
#   R(r) = r⁴ + A r² + B r + C, A = a² − η − λ², B = 2(η + (λ − a)²), C = −a²η (GL20 eqs. 5, 13).
# * Roots in real arithmetic (GL20 eqs. 95-96); φ_o − φ_s = I_φ + λ G_φ and
#   t_o − t_s = I_t + a² G_t (GL20 eqs. 9-10, B1-B2).
# The time integral is regularised as in the Python module: t_o − t_s − r_o − 2 ln r_o.
#
# Twin of kerrfield/physics/geodesics/radial.py.

"""
    radial_roots(a, lam, eta) -> (z, d12, d34, A, C)

Roots of R(r) in real arithmetic (GL20 eqs. 95-96): ξ₀ the largest real root of the resolvent
cubic t³ + Pt + Q = 0 (ξ₀ = t − A/3), z = √(ξ₀/2), r₁,₂ = −z ∓ √d₁₂, r₃,₄ = z ∓ √d₃₄.
"""
function radial_roots(a::Float64, lam::Float64, eta::Float64)
    a2 = a * a
    A = a2 - eta - lam * lam
    B = 2 * (eta + (lam - a)^2)
    C = -a2 * eta
    P = -A * A / 12 - C
    Q = -A / 3 * (A * A / 36 - C) - B * B / 8
    disc = (P / 3)^3 + (Q / 2)^2
    one_real = disc > 0
    if one_real
        sd = sqrt(disc)
        t = _cbrt(-Q / 2 + sd) + _cbrt(-Q / 2 - sd)
    else
        arg = clamp((3 * Q / (2 * P)) * sqrt(-3 / P), -1.0, 1.0)
        # cos(acos(x)/3) by its series next to x = 1 (the critical curve), as radial.py
        c3 = arg > 1 - 1e-8 ? 1 - (1 - arg) / 9 - 4 * (1 - arg)^2 / 243 : cos(acos(arg) / 3)
        t = 2 * sqrt(-P / 3) * c3
    end
    xi0 = t - A / 3
    z = sqrt(_clamp_min(xi0 / 2, 1e-30))
    d12 = -A / 2 - z * z + B / (4 * z)
    d34 = -A / 2 - z * z - B / (4 * z)
    return z, d12, d34, A, C
end

const A_NO_MINUS = 1e-8
const K_DOUBLE = 1e-12      # 1 − k below which r₃ = r₄ is a double root (radial.py)

_cbrt(x::Float64) = sign(x) * _clamp_min(abs(x), 1e-300)^(1 / 3)
_clamp_min(x::Float64, lo::Float64) = isnan(x) ? x : max(x, lo)

"""
    on_critical_curve(roots) -> Bool

Whether the radial roots are a double root to round-off (a pixel exactly on the critical curve):
the elliptic parameter of case 2 or 3 is within 1e-12 of 1 and the elliptic forms break down, so
radial_double_root takes over (issue 12 item 4); as kerrfield.physics.geodesics.radial.
"""
function on_critical_curve(roots)
    z, d12, d34, _, c_coef = roots
    d12 >= 0 || return false
    sq12, sq34 = sqrt(d12), sqrt(abs(d34))
    r1, r3, r4 = -z - sq12, z - sq34, z + sq34
    r2 = _inner_root(z, sq12, r1, z * z - d34, c_coef)
    if d34 >= 0
        k = (r3 - r2) * (r4 - r1) / ((r3 - r1) * (r4 - r2))
    else
        big_a = sqrt((z - r2)^2 + sq34 * sq34)
        big_b = sqrt((z - r1)^2 + sq34 * sq34)
        k = ((big_a + big_b)^2 - (r2 - r1)^2) / (4 * big_a * big_b)
    end
    return !(k < 1 - K_DOUBLE)
end

"""
    radial_solution(a, lam, eta, roots, tau) -> (r_s, nu_r, status, I_phi, I_t)

Emission radius r_s(τ), ν_r, the radial status (0 ok, 1 horizon first, 2 escape first) and the
radial integrals I_φ, I_t (GL20 B1-B2) for η > 0; `roots = radial_roots(a, lam, eta)`.
"""
function radial_solution(a::Float64, lam::Float64, roots, tau::Float64)
    z, d12, d34, big_a_coef, c_coef = roots
    rp = 1 + sqrt(1 - a * a)
    rm = a * a / rp          # r₊r₋ = a², without 1 − √(1 − a²)'s cancellation (issue 12 item 3)
    # the r₋ terms carry a²λ/2 and a⁴ (GL20 B1-B2): negligible, and degenerate, for |a| ≤ 1e-8
    use_minus = abs(a) > A_NO_MINUS
    if on_critical_curve(roots)     # r₃ = r₄: the elementary double-root solution
        r, nu_r, st, ip, im, i1, i2 = radial_double_root(rp, rm, use_minus, z, d12, tau, c_coef)
    elseif d34 >= 0
        r, nu_r, st, ip, im, i1, i2 = radial_case2(rp, rm, use_minus, z, d12, d34, tau, c_coef)
    elseif d12 >= 0
        r, nu_r, st, ip, im, i1, i2 =
            radial_case3(rp, rm, use_minus, z, d12, d34, tau, big_a_coef, c_coef)
    elseif d12 < 0
        r, nu_r, st, ip, im, i1, i2 = radial_case4(rp, rm, use_minus, z, d12, d34, tau, big_a_coef,
                                                     c_coef)
    else  # NaN roots
        return NaN, NaN, STATUS_HORIZON, NaN, NaN
    end
    st == STATUS_OK || return NaN, NaN, st, NaN, NaN
    dr = rp - rm
    hal = 0.5 * a * lam
    i_phi = 2 * a / dr * ((rp - hal) * ip - (rm - hal) * im)
    i_t = 4 / dr * (rp * (rp - hal) * ip - rm * (rm - hal) * im) + 4 * tau + 2 * i1 + i2
    return r, nu_r, st, i_phi, i_t
end
