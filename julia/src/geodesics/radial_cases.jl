# Analytic Kerr null geodesics from a distant observer to an emission surface: scalar port of
# kerrfield/geodesics.py (same formulas, same conventions, same status codes).
#
# Gralla & Lupsasca 2020, "Null geodesics of the Kerr exterior", PRD 101, 044032 (GL20):
# * λ = −α sin θo, η = (α² − a²)cos²θo + β² (GL20b, PRD 101 044031, eqs. 58-59).
# * Mino time τ measured backwards from the observer (τ = 0) to the emission point;
#   R(r) = r⁴ + A r² + B r + C, A = a² − η − λ², B = 2(η + (λ − a)²), C = −a²η (GL20 eqs. 5, 13).
# * Angular motion u = cos θ = √u₊ sin Φ (GL20 eqs. 11, 19, 26-29); G_θ = τ, G_φ = ∫dτ/sin²θ,
#   G_t = ∫cos²θ dτ. Vortical rays (η < 0): u² = u₊ dn²(ψ|m), m = (u₊ − u₋)/u₊ (GL20 eqs.
#   54-59 after the imaginary-modulus transformation), cones on the observer's side only.
# * Radial motion per root case: four real roots (case 2, GL20 B45-B46), two real (case 3,
#   B74-B75), none (case 4, B104-B109); radial integrals I_±, I₁, I₂ (B48-B50, B78-B80,
#   B112-B114); φ_o − φ_s = I_φ + λ G_φ and t_o − t_s = I_t + a² G_t (GL20 eqs. 9-10, B1-B2).
# The time integral is regularised as in the Python module: t_o − t_s − r_o − 2 ln r_o.

const STATUS_OK = Int8(0)
const STATUS_HORIZON = Int8(1)
const STATUS_ESCAPE = Int8(2)
const STATUS_MISSES = Int8(3)

# radius at which the divergent observer end of I₁, I₂ is evaluated in cases 3 and 4
const R_REG = 1.0e6

"""
    conserved_quantities(a, theta_o, alpha, beta) -> (lam, eta)

λ = −α sin θo and η = (α² − a²)cos²θo + β² (GL20b, PRD 101 044031, eqs. 58-59).
"""
conserved_quantities(a, theta_o, alpha, beta) =
    (-alpha * sin(theta_o), (alpha * alpha - a * a) * cos(theta_o)^2 + beta * beta)

# ∫₀^{F(φ|m)} sn²(ψ|m) dψ without the 1/m (DLMF 19.25.9, 19.25.1)
function sn2_integral(phi::Float64, m::Float64)
    j = round(phi / pi)
    pr = phi - j * pi
    s, c = sin(pr), cos(pr)
    val = s^3 * carlson_rd(c * c, 1 - m * s * s, 1.0) / 3
    return j == 0 ? val : val + 2 * j * carlson_rd(0.0, 1 - m, 1.0) / 3
end

"""
    AngularSetup

Per-pixel constants of the θ motion (GL20 eqs. 11, 19, 26-29): u₊ (`up`), C_θ, m = u₊/u₋, the
observer amplitude Φ'_o, sign(β), the first two surface crossings and whether the surface is
reached (`reach`: η > 0 and u_s² < u₊).
"""
struct AngularSetup
    reach::Bool
    polar::Bool
    lam::Float64
    up::Float64
    up_phi::Float64
    c_theta::Float64
    m::Float64
    phi_o::Float64
    sgn::Float64
    first::Float64
    second::Float64
    f_o::Float64
    pi_o::Float64
    s_o::Float64
end

# GL20 eqs. 26-31, as kerrfield.geodesics.angular_crossings (followed backwards from the
# observer with Φ' = sign(β)Φ increasing; roots written without 1/a² so a = 0 is regular)
function angular_setup(a::Float64, theta_o::Float64, lam::Float64, eta::Float64,
                       beta::Float64, us::Float64)
    a2 = a * a
    valid = eta > 0
    eta_s = valid ? eta : 1.0
    b = eta_s + lam * lam - a2
    dd = sqrt(b * b + 4 * a2 * eta_s)
    pos = b > 0
    up = pos ? 2 * eta_s / (b + dd) : (dd - b) / (2 * a2)
    c2 = pos ? 0.5 * (b + dd) : 2 * a2 * eta_s / (dd - b)
    c_theta = sqrt(c2)
    m = -a2 * up / c2
    reach = valid && (us * us < up)
    up_r = reach ? up : 1.0
    sq_up = sqrt(up_r)
    sgn = beta >= 0 ? 1.0 : -1.0
    uo = cos(theta_o)
    # cos Φ_o = |β| sin θo / √((a²u_o² + C_θ²) u₊)
    cos_phi_o = (sgn * beta) * sin(theta_o) / sqrt((a2 * uo * uo + c2) * up_r)
    phi_o = atan(sgn * uo / sq_up, cos_phi_o)
    sig = clamp(sgn * us / sq_up, -1.0, 1.0)
    asig = asin(sig)
    # a crossing within round-off of Φ'_o is the observer itself (θs = θo), not an image
    tol = 1e-12
    ja = floor((phi_o - asig + tol) / (2pi)) + 1
    jb = floor((phi_o - (pi - asig) + tol) / (2pi)) + 1
    phi_a = asig + 2pi * ja
    phi_b = (pi - asig) + 2pi * jb
    first, second = min(phi_a, phi_b), max(phi_a, phi_b)
    f_o = ellipf(phi_o, m)
    # u₊ rounding to 1 (λ → 0): the ray passes over a pole and G_φ diverges (λG_φ is handled in
    # angular_crossing)
    polar = up_r >= 1 - 4 * eps(Float64)
    up_phi = polar ? 0.5 : up_r
    pi_o = ellippi(up_phi, phi_o, m)
    s_o = sn2_integral(phi_o, m)
    return AngularSetup(reach, polar, lam, up_r, up_phi, c_theta, m, phi_o, sgn, first, second,
                        f_o, pi_o, s_o)
end

"""
    angular_crossing(S::AngularSetup, n) -> (tau, lam_G_phi, G_t, nu_theta)

Mino time τ_n of the n-th crossing of θ = θs and λG_φ, G_t, ν_θ there (GL20 eqs. 26-31):
τ_n = [F(Φ'_n|m) − F(Φ'_o|m)]/C_θ, G_φ = [Π(u₊;Φ'_n|m) − Π(u₊;Φ'_o|m)]/C_θ,
G_t = u₊[S(Φ'_n) − S(Φ'_o)]/C_θ.  When u₊ rounds to 1 (λ → 0) the ray passes over a pole,
G_φ diverges and λG_φ → ±π per passage (sign of λ, + for λ = 0), as in kerrfield.geodesics.
"""
function angular_crossing(S::AngularSetup, n::Int)
    phi_n = (iseven(n) ? S.first : S.second) + 2pi * (n ÷ 2)
    tau = (ellipf(phi_n, S.m) - S.f_o) / S.c_theta
    if S.polar
        passes = floor((phi_n - pi / 2) / pi) - floor((S.phi_o - pi / 2) / pi)
        lam_g_phi = pi * (S.lam >= 0 ? 1.0 : -1.0) * passes
    else
        lam_g_phi = S.lam * ((ellippi(S.up_phi, phi_n, S.m) - S.pi_o) / S.c_theta)
    end
    g_t = S.up * (sn2_integral(phi_n, S.m) - S.s_o) / S.c_theta
    nu_theta = S.sgn * (cos(phi_n) >= 0 ? 1.0 : -1.0)
    return tau, lam_g_phi, g_t, nu_theta
end

# ------------------------------------------------------------------ vortical motion (η < 0)

# |λ| below this times |a|: a vortical ray passes over a pole and λG_φ is replaced by its limit
# ±π per passage (as kerrfield.geodesics._VORTICAL_POLAR_LAM)
const VORTICAL_POLAR_LAM = 1.0e-8

"""
    VorticalSetup

Per-pixel constants of vortical θ motion (η < 0; GL20 Sec. II, eqs. 54-59), as
kerrfield.geodesics._vortical_crossings: u² = u₊ dn²(ψ|m) = u₊(1 − m sin²Φ), m = (u₊ − u₋)/u₊,
|dψ/dτ| = C_v = |a|√u₊ (`c_v`), 1 − u₊ (`omu`), n_φ = −(u₊ − u₋)/(1 − u₊), the observer
amplitude Φ_o, sign(u_o) (`s_o`), the first two crossings and whether the first is of the
Φ_s⁰ + jπ family (`a_first`: |u| decreasing backwards there).
"""
struct VorticalSetup
    reach::Bool
    polar::Bool
    lam::Float64
    up::Float64
    c_v::Float64
    m::Float64
    n_phi::Float64
    omu::Float64
    phi_o::Float64
    s_o::Float64
    first::Float64
    second::Float64
    a_first::Bool
    f_o::Float64
    e_o::Float64
    pi_o::Float64
end

const _NO_VORTICAL = VorticalSetup(false, false, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                                   false, 0.0, 0.0, 0.0)

# GL20 eqs. 54-59 in the dn form: roots without cancellation (b = η + λ² − a² < 0,
# D = √(b² + 4a²η): u₊ − u₋ = D/a², u₊ = (D − b)/(2a²), u₋ = −2η/(D − b), and
# (1 − u₊)(1 − u₋) = λ²/a²); observer amplitude from a²(u₊ − u_o²)(u_o² − u₋) = β² sin²θo
function vortical_setup(a::Float64, theta_o::Float64, lam::Float64, eta::Float64,
                        beta::Float64, us::Float64)
    a2 = a * a
    (eta < 0 && a2 > 0 && abs(us) >= 1e-12) || return _NO_VORTICAL
    uo = cos(theta_o)
    s_o = uo >= 0 ? 1.0 : -1.0
    b = eta + lam * lam - a2
    disc = b * b + 4 * a2 * eta
    (disc > 0 && b < 0) || return _NO_VORTICAL
    dd = sqrt(disc)
    w = dd / a2
    up = (dd - b) / (2 * a2)
    um = -2 * eta / (dd - b)
    (s_o * us > 0 && us * us > um && us * us < up) || return _NO_VORTICAL
    m = w / up
    lr2 = lam * lam / a2
    omu = 2 * lr2 / (w + sqrt(w * w + 4 * lr2))
    c_v = sqrt(a2 * up)
    bs = abs(beta) * sin(theta_o)
    abs_a = sqrt(a2)
    p_o = up - uo * uo
    q_o = uo * uo - um
    phi_o0 = p_o <= q_o ? atan(bs, abs_a * (q_o > 0 ? q_o : 1.0)) :
             atan(abs_a * (p_o > 0 ? p_o : 1.0), bs)
    sgn = beta >= 0 ? 1.0 : -1.0
    phi_o = s_o * sgn > 0 ? pi - phi_o0 : phi_o0       # |u| increasing backwards: π − Φ_o⁰
    phi_s0 = atan(sqrt(up - us * us), sqrt(us * us - um))
    # a crossing within round-off of Φ_o is the observer itself (θs = θo), not an image
    tol = 1e-12
    ja = floor((phi_o - phi_s0 + tol) / pi) + 1
    jb = floor((phi_o - (pi - phi_s0) + tol) / pi) + 1
    phi_a = phi_s0 + pi * ja
    phi_b = (pi - phi_s0) + pi * jb
    a_first = phi_a < phi_b
    first, second = a_first ? (phi_a, phi_b) : (phi_b, phi_a)
    polar = lam * lam < VORTICAL_POLAR_LAM^2 * a2
    omu_s = polar ? 1.0 : omu
    n_phi = -w / omu_s
    return VorticalSetup(true, polar, lam, up, c_v, m, n_phi, omu_s, phi_o, s_o, first, second,
                         a_first, ellipf(phi_o, m), ellipe(phi_o, m), ellippi(n_phi, phi_o, m))
end

"""
    angular_crossing(V::VorticalSetup, n) -> (tau, lam_G_phi, G_t, nu_theta)

n-th crossing of θ = θs by a vortical ray: τ_n = [F(Φ_n|m) − F(Φ_o|m)]/C_v,
G_φ = [Π(n_φ;Φ_n|m) − Π(n_φ;Φ_o|m)]/((1 − u₊)C_v), G_t = u₊[E(Φ_n|m) − E(Φ_o|m)]/C_v
(GL20 eqs. 56-58 after the imaginary-modulus transformation); λG_φ → ±π per pole passage
(Φ = jπ) for λ → 0.
"""
function angular_crossing(V::VorticalSetup, n::Int)
    phi_n = (iseven(n) ? V.first : V.second) + pi * (n ÷ 2)
    on_a = iseven(n) ? V.a_first : !V.a_first
    tau = (ellipf(phi_n, V.m) - V.f_o) / V.c_v
    if V.polar
        passes = floor(phi_n / pi) - floor(V.phi_o / pi)
        lam_g_phi = pi * (V.lam >= 0 ? 1.0 : -1.0) * passes
    else
        lam_g_phi = V.lam * ((ellippi(V.n_phi, phi_n, V.m) - V.pi_o) / (V.omu * V.c_v))
    end
    g_t = V.up * (ellipe(phi_n, V.m) - V.e_o) / V.c_v
    nu_theta = on_a ? -V.s_o : V.s_o
    return tau, lam_g_phi, g_t, nu_theta
end

"""
    surface_setup(a, theta_o, lam, eta, beta, us) -> AngularSetup or VorticalSetup

[`angular_setup`](@ref) (η > 0), or for vortical rays (η < 0) that reach the cone u = u_s on
the observer's side, [`vortical_setup`](@ref); as kerrfield.geodesics.surface_crossings.
"""
function surface_setup(a::Float64, theta_o::Float64, lam::Float64, eta::Float64,
                       beta::Float64, us::Float64)
    S = angular_setup(a, theta_o, lam, eta, beta, us)
    (S.reach || !(eta < 0)) && return S
    V = vortical_setup(a, theta_o, lam, eta, beta, us)
    return V.reach ? V : S
end

"""
    radial_roots(a, lam, eta) -> (z, d12, d34, A)

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
        t = 2 * sqrt(-P / 3) * cos(acos(arg) / 3)
    end
    xi0 = t - A / 3
    z = sqrt(_clamp_min(xi0 / 2, 1e-30))
    d12 = -A / 2 - z * z + B / (4 * z)
    d34 = -A / 2 - z * z - B / (4 * z)
    return z, d12, d34, A
end

_cbrt(x::Float64) = sign(x) * _clamp_min(abs(x), 1e-300)^(1 / 3)
_clamp_min(x::Float64, lo::Float64) = isnan(x) ? x : max(x, lo)

# ---------------------------------------------------------------------------------------------
# antiderivatives of the rational functions of sn, cn, sc in the radial integrals
# ---------------------------------------------------------------------------------------------

# R₁(α; φ|k) = ∫₀^{F(φ)} dX/(1 + α cn X) (GL20 B62): n = α²/(α² − 1),
# ∫cn dX/(1 − n sn²) = ∫dt/(1 − (n − k)t²), t = sn/dn (atanh for n > k, atan otherwise)
function r1_integral(alpha::Float64, phi::Float64, k::Float64)
    a2 = alpha * alpha
    n = a2 / (a2 - 1)
    s = sin(phi)
    dn = sqrt(1 - k * s * s)
    nk = n - k
    w = sqrt(abs(nk))
    t = s / dn
    w_safe = w > 0 ? w : 1.0
    f = nk > 0 ? 0.5 * log(abs((1 + w * t) / (1 - w * t))) / w_safe : atan(w * t) / w_safe
    return (ellippi(n, phi, k) - alpha * f) / (1 - a2)
end

# R₂(α; φ|k) = ∫₀^{F(φ)} dX/(1 + α cn X)² (cf. GL20 B65):
# R₂ = [F − α²/κ (E − α sn dn/(1 + α cn))]/(α² − 1) + (2k − α²/(α² − 1)) R₁/κ, κ = k + (1 − k)α²
# (sign of the first bracket as fixed against quadrature in kerrfield/geodesics.py);
# inv = 1/(1 + α cos φ) if supplied
function r2_integral(alpha::Float64, phi::Float64, k::Float64, inv::Float64 = NaN)
    a2 = alpha * alpha
    s, c = sin(phi), cos(phi)
    dn = sqrt(1 - k * s * s)
    kk = k + (1 - k) * a2
    inv = isnan(inv) ? 1 / (1 + alpha * c) : inv
    lin = alpha * s * dn * inv
    first = (ellipf(phi, k) - a2 / kk * (ellipe(phi, k) - lin)) / (a2 - 1)
    return first + (2 * k - a2 / (a2 - 1)) / kk * r1_integral(alpha, phi, k)
end

# S₁(α; φ|k) = ∫₀^{F(φ)} dX/(1 + α sc X) (GL20 B92)
function s1_integral(alpha::Float64, phi::Float64, k::Float64)
    a2 = alpha * alpha
    big_n = 1 + a2
    dn = sqrt(1 - k * sin(phi)^2)
    p2 = sqrt(big_n / (big_n - k))
    logt = log(abs((p2 * dn - 1) * (p2 + 1) / ((p2 * dn + 1) * (p2 - 1))))
    return (ellipf(phi, k) + a2 * ellippi(big_n, phi, k) + 0.5 * alpha * p2 * logt) / big_n
end

# S₂(α; φ|k) = ∫₀^{F(φ)} dX/(1 + α sc X)² (GL20 B93); ratio = (α − tan φ)/(1 + α tan φ)
function s2_integral(alpha::Float64, phi::Float64, k::Float64, ratio::Float64 = NaN)
    a2 = alpha * alpha
    s, c = sin(phi), cos(phi)
    dn = sqrt(1 - k * s * s)
    ratio = isnan(ratio) ? (alpha * c - s) / (c + alpha * s) : ratio
    bracket = (1 - k) * ellipf(phi, k) + a2 * ellipe(phi, k) + a2 * dn * ratio - a2 * alpha
    pre = 1 / (1 + a2) + (1 - k) / (1 - k + a2)
    return -bracket / ((1 + a2) * (1 - k + a2)) + pre * s1_integral(alpha, phi, k)
end

# ---------------------------------------------------------------------------------------------
# radial motion per root case; each returns (r, nu_r, status, I_p, I_m, I_1, I_2)
# ---------------------------------------------------------------------------------------------

const _NAN7 = (NaN, NaN, STATUS_HORIZON, NaN, NaN, NaN, NaN)

# four real roots: r(X) = (r₄r₃₁ − r₃r₄₁sn²X)/(r₃₁ − r₄₁sn²X), X = cτ − F_o (GL20 B45-B50)
function radial_case2(rp, rm, use_minus, z, d12, d34, tau)
    sq12, sq34 = sqrt(d12), sqrt(d34)
    r1, r2, r3, r4 = -z - sq12, -z + sq12, z - sq34, z + sq34
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

# two real roots r₁ < r₂, r₃,₄ = z ± iw: cn inversion (GL20 B74-B82)
function radial_case3(rp, rm, use_minus, z, d12, d34, tau, big_a_coef)
    sq12 = sqrt(d12)
    w = sqrt(-d34)
    r1, r2 = -z - sq12, -z + sq12
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
    _, cn, _, am = ellipj_am(big_x, k)
    den = (big_b - big_a) + (big_b + big_a) * cn
    r = ((big_b * r2 - big_a * r1) + (big_b * r2 + big_a * r1) * cn) / den
    function i_pm(rpm)
        pp = big_b * (r2 - rpm) + big_a * (rpm - r1)
        qq = big_b * (r2 - rpm) - big_a * (rpm - r1)
        al = qq / pp
        diff = r1_integral(al, am, k) - r1_integral(al, phi_o, k)
        return (big_b + big_a) * tau / qq + (2 * big_a * big_b * r21 / (pp * qq)) * diff / sab
    end
    # finite-observer regularisation of I₁ and I₂
    rho0 = (big_b * r2 + big_a * r1) / (big_a + big_b)
    kap = 2 * big_a * big_b * r21 / (big_b^2 - big_a^2)
    al0 = (big_b + big_a) / (big_b - big_a)
    ro = R_REG
    den_o = big_a * (ro - r1) + big_b * (ro - r2)
    x_ro = (big_a * (ro - r1) - big_b * (ro - r2)) / den_o
    phi_ro = acos(x_ro)
    f_ro = ellipf(phi_ro, k)
    inv_o = (big_b - big_a) * den_o / (2 * big_a * big_b * r21)   # 1/(1 + α₀ cos φ_ro)
    r1_e, r1_o = r1_integral(al0, am, k), r1_integral(al0, phi_ro, k)
    r2_e, r2_o = r2_integral(al0, am, k), r2_integral(al0, phi_ro, k, inv_o)
    i1 = -(rho0 * (big_x - f_ro) + kap * (r1_e - r1_o)) / sab - log(ro)
    i2 = -(rho0 * rho0 * (big_x - f_ro) + 2 * rho0 * kap * (r1_e - r1_o) +
           kap * kap * (r2_e - r2_o)) / sab - ro - big_a_coef / (2 * ro)
    return (r, 1.0, STATUS_OK, i_pm(rp), use_minus ? i_pm(rm) : 0.0, i1, i2)
end

# no real roots, r₁,₂ = −b₁ ∓ i a₂, r₃,₄ = b₁ ∓ i a₁: sc inversion (GL20 B83-B114)
function radial_case4(rp, rm, use_minus, z, d12, d34, tau, big_a_coef)
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
        xpm = (rpm + b1) / a2_
        gpm = (g0 * xpm - 1) / (g0 + xpm)
        lin = g0 / (a2_ * (1 - g0 * xpm))
        coef = (1 + g0 * g0) * gpm / (a2_ * (1 - g0 * xpm)^2)
        diff = s1_integral(gpm, am, k) - s1_integral(gpm, phi_o, k)
        return lin * tau - coef * diff / half
    end
    aa1 = a2_ / g0 - b1
    aa0 = a2_ * (1 + g0 * g0) / g0
    ro = R_REG
    x4o = (ro + b1) / a2_
    phi_ro = atan(x4o) + psi0
    f_ro = ellipf(phi_ro, k)
    s1_e, s1_o = s1_integral(g0, am, k), s1_integral(g0, phi_ro, k)
    s2_e, s2_o = s2_integral(g0, am, k), s2_integral(g0, phi_ro, k, -x4o)
    i1 = -(aa1 * (big_x - f_ro) - aa0 * (s1_e - s1_o)) / half - log(ro)
    i2 = -(aa1 * aa1 * (big_x - f_ro) - 2 * aa1 * aa0 * (s1_e - s1_o) +
           aa0 * aa0 * (s2_e - s2_o)) / half - ro - big_a_coef / (2 * ro)
    return (r, 1.0, STATUS_OK, i_pm(rp), use_minus ? i_pm(rm) : 0.0, i1, i2)
end

"""
    radial_solution(a, lam, eta, roots, tau) -> (r_s, nu_r, status, I_phi, I_t)

Emission radius r_s(τ), ν_r, the radial status (0 ok, 1 horizon first, 2 escape first) and the
radial integrals I_φ, I_t (GL20 B1-B2) for η > 0; `roots = radial_roots(a, lam, eta)`.
"""
function radial_solution(a::Float64, lam::Float64, roots, tau::Float64)
    z, d12, d34, big_a_coef = roots
    sq = sqrt(1 - a * a)
    rp, rm = 1 + sq, 1 - sq
    use_minus = a != 0
    if d34 >= 0
        r, nu_r, st, ip, im, i1, i2 = radial_case2(rp, rm, use_minus, z, d12, d34, tau)
    elseif d12 >= 0
        r, nu_r, st, ip, im, i1, i2 = radial_case3(rp, rm, use_minus, z, d12, d34, tau, big_a_coef)
    elseif d12 < 0
        r, nu_r, st, ip, im, i1, i2 = radial_case4(rp, rm, use_minus, z, d12, d34, tau, big_a_coef)
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
