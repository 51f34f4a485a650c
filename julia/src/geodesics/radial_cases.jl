# Radial motion of Kerr null geodesics per root case of R(r); each returns
# (r, nu_r, status, I_p, I_m, I_1, I_2).
#
# Gralla & Lupsasca 2020, "Null geodesics of the Kerr exterior", PRD 101, 044032 (GL20):
# * Radial motion per root case: four real roots (case 2, GL20 B45-B46), two real (case 3,
#   B74-B75), none (case 4, B104-B109); radial integrals I_±, I₁, I₂ (B48-B50, B78-B80,
#   B112-B114).
# * The time integral is regularised as in the Python module, t_o − t_s − r_o − 2 ln r_o,
#   in closed form in every case; in cases 3 and 4 from the finite parts of the
#   antiderivatives at the observer's pole X_o (cn_pole, sc_pole in radial_integrals.jl).
#   t_s agrees with the torch backend to 5e-13 (tests/bridge/test_julia_backend.py).
#
# Twin of kerrfield/physics/geodesics/radial_cases.py.

const _NAN7 = (NaN, NaN, STATUS_HORIZON, NaN, NaN, NaN, NaN)

# r₂ = −z + √d₁₂ without cancellation: C/(r₁r₃r₄) (Vieta, C = −a²η) where r₂ ≪ z, as a → 0
# (issue 12 item 3: the r₋ characteristic of case 3 degenerates when r₂ − r₋ is round-off)
function _inner_root(z, sq12, r1, r34, c_coef)
    naive = sq12 - z
    return abs(naive) < 0.5 * z ? c_coef / (r1 * r34) : naive
end

# four real roots: r(X) = (r₄r₃₁ − r₃r₄₁sn²X)/(r₃₁ − r₄₁sn²X), X = cτ − F_o (GL20 B45-B50)
function radial_case2(rp, rm, use_minus, z, d12, d34, tau, c_coef)
    sq12, sq34 = sqrt(d12), sqrt(d34)
    r1, r3, r4 = -z - sq12, z - sq34, z + sq34
    r2 = _inner_root(z, sq12, r1, r3 * r4, c_coef)
    r31, r32, r41, r42, r43 = r3 - r1, r3 - r2, r4 - r1, r4 - r2, r4 - r3
    k = r32 * r41 / (r31 * r42)
    c = 0.5 * sqrt(r31 * r42)
    x_o = sqrt(r31 / r41)
    phi_o = atan(x_o, sqrt(r43 / r41))
    f_o = x_o * carlson_rf(r43 / r41, r43 / r42, 1.0)
    turning = r4 > rp
    if turning
        tau_end = 2 * f_o / c
    else
        xh2 = r31 * (rp - r4) / (r41 * (rp - r3))
        xh = sqrt(clamp(xh2, 0.0, 1.0))
        tau_end = (-ellipf(asin(xh), k) + f_o) / c
    end
    if !(tau < tau_end)
        return (NaN, NaN, turning ? STATUS_ESCAPE : STATUS_HORIZON, NaN, NaN, NaN, NaN)
    end
    big_x = c * tau - f_o
    sn, cn, dn, am = ellipj_am(big_x, k)
    sn2 = sn * sn
    r = (r4 * r31 - r3 * r41 * sn2) / (r31 - r41 * sn2)
    nu_r = (turning && big_x > 0) ? -1.0 : 1.0
    function i_pm(rpm)
        rp3, rp4 = rpm - r3, rpm - r4
        npm = rp3 * r41 / (rp4 * r31)
        coef = r43 / (rp3 * rp4)
        return -tau / rp3 - coef * (ellippi(npm, am, k) + ellippi(npm, phi_o, k)) / c
    end
    n = r41 / r31
    i1 = r3 * tau + (r43 / c) * (ellippi(n, am, k) + f_o - ellippi(k / n, phi_o, k)) +
         log(4 / (r31 + r42))
    lin = r3 * r3 + 0.5 * r31 * r43
    g2 = lin * big_x - 0.5 * r31 * r42 * ellipe(am, k) +
         0.5 * r41 * r42 * sn * cn * dn / (1 - n * sn2)
    g2_o = -lin * f_o + 0.5 * r31 * r42 * ellipe(phi_o, k)
    i2 = (g2 - g2_o) / c + r3
    return (r, nu_r, STATUS_OK, i_pm(rp), use_minus ? i_pm(rm) : 0.0, i1, i2)
end

# |1 + α_±| below which ∫dτ/(r − r_±) is taken as ∫dτ/(r − r₂) in case 3 (radial_cases.py)
const NEAR_R2 = 1e-8

# two real roots r₁ < r₂, r₃,₄ = z ± iw: cn inversion (GL20 B74-B82)
function radial_case3(rp, rm, use_minus, z, d12, d34, tau, big_a_coef, c_coef)
    sq12 = sqrt(d12)
    w = sqrt(-d34)
    r1 = -z - sq12
    r2 = _inner_root(z, sq12, r1, z * z + w * w, c_coef)
    r21 = r2 - r1
    big_a = sqrt((z - r2)^2 + w * w)
    big_b = sqrt((z - r1)^2 + w * w)
    sab = sqrt(big_a * big_b)
    k = ((big_a + big_b)^2 - r21 * r21) / (4 * big_a * big_b)
    phi_o = acos((big_a - big_b) / (big_a + big_b))
    f_o = ellipf(phi_o, k)
    xh = (big_a * (rp - r1) - big_b * (rp - r2)) / (big_a * (rp - r1) + big_b * (rp - r2))
    x_h = ellipf(acos(clamp(xh, -1.0, 1.0)), k)
    tau_end = (f_o - x_h) / sab
    tau < tau_end || return _NAN7
    big_x = f_o - sab * tau
    sn, cn, dn, am = ellipj_am(big_x, k)
    den = (big_b - big_a) + (big_b + big_a) * cn
    r = ((big_b * r2 - big_a * r1) + (big_b * r2 + big_a * r1) * cn) / den
    rho0 = (big_b * r2 + big_a * r1) / (big_a + big_b)
    kap = 2 * big_a * big_b * r21 / (big_b^2 - big_a^2)
    al0 = (big_b + big_a) / (big_b - big_a)
    function i_pm(rpm)
        pp = big_b * (r2 - rpm) + big_a * (rpm - r1)
        qq = big_b * (r2 - rpm) - big_a * (rpm - r1)
        al = qq / pp
        if abs(1 + al) < NEAR_R2    # r_± within round-off of r₂: ∫dτ/(r − r₂) (issue 12 item 3)
            sn_o = 2 * sab / (big_a + big_b)
            h_o = h_r2(al0, kap, f_o, sn_o, -1 / al0, sqrt(1 - k * sn_o * sn_o), ellipe(phi_o, k))
            return (h_o - h_r2(al0, kap, big_x, sn, cn, dn, ellipe(am, k))) / sab
        end
        diff = r1_integral(al, am, k) - r1_integral(al, phi_o, k)
        return (big_b + big_a) * tau / qq + (2 * big_a * big_b * r21 / (pp * qq)) * diff / sab
    end
    # observer at r = ∞, the pole X_o = F(φ_o): r = √(AB)/δ + ρ₀ − √(AB)ℓ + O(δ), δ = X_o − X
    sn_o = 2 * sab / (big_a + big_b)
    cn_o = (big_a - big_b) / (big_a + big_b)
    dn_o = sqrt(1 - k * sn_o * sn_o)
    n0 = al0 * al0 / (al0 * al0 - 1)
    dual = f_o - ellippi(k / n0, phi_o, k, 1 - k / n0)
    r1_h, r2_h, ell = cn_pole(al0, k, sn_o, cn_o, dn_o, f_o, ellipe(phi_o, k), dual)
    r1_e, r2_e = r1_integral(al0, am, k), r2_integral(al0, am, k)
    dx = f_o - big_x
    i1 = (rho0 * dx + kap * (r1_h - r1_e)) / sab - log(sab)
    i2 = (rho0 * rho0 * dx + 2 * rho0 * kap * (r1_h - r1_e) + kap * kap * (r2_h - r2_e)) / sab -
         rho0 + sab * ell
    return (r, 1.0, STATUS_OK, i_pm(rp), use_minus ? i_pm(rm) : 0.0, i1, i2)
end

# no real roots, r₁,₂ = −b₁ ∓ i a₂, r₃,₄ = b₁ ∓ i a₁: sc inversion (GL20 B83-B114)
function radial_case4(rp, rm, use_minus, z, d12, d34, tau, big_a_coef, c_coef)
    b1 = z
    a2_ = sqrt(-d12)
    a1_ = sqrt(-d34)
    cc = sqrt((a1_ - a2_)^2 + 4 * b1 * b1)
    dd = sqrt((a1_ + a2_)^2 + 4 * b1 * b1)
    k = 4 * cc * dd / (cc + dd)^2
    g0 = sqrt(max((4 * a2_^2 - (cc - dd)^2) / ((cc + dd)^2 - 4 * a2_^2), 0.0))
    psi0 = atan(g0)
    half = 0.5 * (cc + dd)
    phi_o = 0.5 * pi + psi0
    f_o = ellipf(phi_o, k)
    xh = (rp + b1) / a2_
    x_h = ellipf(atan(xh) + psi0, k)
    tau_end = (f_o - x_h) / half
    tau < tau_end || return _NAN7
    big_x = f_o - half * tau
    _, _, _, am = ellipj_am(big_x, k)
    r = a2_ * tan(am - psi0) - b1
    function i_pm(rpm)
        # lin τ − coef ΔS₁/half without the 1/(1 − g₀x_±) of both terms (radial_cases.py)
        xpm = (rpm + b1) / a2_
        gpm = (g0 * xpm - 1) / (g0 + xpm)
        c_pm = (1 + g0 * g0) / (g0 + xpm)
        dt = s1_reduced(gpm, am, k) - s1_reduced(gpm, phi_o, k)
        return (big_x - f_o - c_pm * dt) / (a2_ * (g0 + xpm) * half)
    end
    aa1 = a2_ / g0 - b1
    aa0 = a2_ * (1 + g0 * g0) / g0
    # observer at r = ∞, the pole X_o = F(φ_o), φ_o = π/2 + atan g₀:
    # r = s/δ + aa1 + s u''/(2u') + O(δ), s = aa0/u'
    sn_o = 1 / sqrt(1 + g0 * g0)
    cn_o, dn_o = -g0 * sn_o, sqrt(1 - k * sn_o * sn_o)
    kn0 = k / (1 + g0 * g0)
    dual = f_o - ellippi(kn0, phi_o, k, 1 - kn0)
    s1_h, s2_h, u1, u2 = sc_pole(g0, k, sn_o, cn_o, dn_o, f_o, ellipe(phi_o, k), dual)
    s1_e = s1_integral(g0, am, k)
    s2_e = s2_integral(g0, am, k)
    dx = f_o - big_x
    s_o = aa0 / u1
    i1 = (aa1 * dx - aa0 * (s1_h - s1_e)) / half - log(s_o)
    i2 = (aa1 * aa1 * dx - 2 * aa1 * aa0 * (s1_h - s1_e) + aa0 * aa0 * (s2_h - s2_e)) / half -
         aa1 - 0.5 * s_o * u2 / u1
    return (r, 1.0, STATUS_OK, i_pm(rp), use_minus ? i_pm(rm) : 0.0, i1, i2)
end

# exactly on the critical curve, r₃ = r₄ = r₀ (= z): elementary (issue 12 item 4; the derivation
# is in kerrfield/physics/geodesics/radial_cases.py:_double_root). x = r − r₀,
# Q = x² + bx + P², b = 2r₀ − r₁ − r₂, P² = (r₀ − r₁)(r₀ − r₂); w = e^{−Pτ},
# x = 4P²w/((1 − w)(2P + b + (2P − b)w)); I₁ = r₀τ + L, I₂ = r₀²τ + b/2 − r₀ − √Q,
# L = ln 4 − ln(2√Q + 2x + b); I_h = (τ − J_h)/(r₀ − h), J_h a logarithm (c_h > 0) or an
# arcsine, written with atan2
function radial_double_root(rp, rm, use_minus, z, d12, tau, c_coef)
    sq12 = sqrt(d12)
    r0, r1 = z, -z - sq12
    r2 = _inner_root(z, sq12, r1, z * z, c_coef)
    b = 2 * r0 - r1 - r2
    p = sqrt((r0 - r1) * (r0 - r2))
    w = exp(-p * tau)
    x = 4 * p * p * w / (-expm1(-p * tau) * (2 * p + b + (2 * p - b) * w))
    sq = sqrt((x + r0 - r1) * (x + r0 - r2))
    big_l = log(4.0) - log(2 * sq + 2 * x + b)
    i1 = r0 * tau + big_l
    i2 = r0 * r0 * tau + 0.5 * b - r0 - sq
    function i_h(h)
        y, bh, ch = x + r0 - h, 2 * h - r1 - r2, (h - r1) * (h - r2)
        rc = sqrt(abs(ch))
        if ch > 0
            j = log((2 * rc * sqrt(y * y + bh * y + ch) + bh * y + 2 * ch) / (y * (2 * rc + bh)))
        else
            # arcsines as atan2 (1 − sin² = −4c_h Q/(y² disc²)): accurate next to ±π/2
            j = atan(bh, 2 * rc) - atan(bh * y + 2 * ch, 2 * rc * sqrt(y * y + bh * y + ch))
        end
        return (tau - j / (rc > 0 ? rc : 1.0)) / (r0 - h)
    end
    return (r0 + x, 1.0, STATUS_OK, i_h(rp), use_minus ? i_h(rm) : 0.0, i1, i2)
end
