# Ordinary (η > 0) polar motion of Kerr null geodesics: the crossings of the emission cone
# θ = θs followed backwards from the observer, and surface_setup, which chooses between this
# and vortical motion (vortical.jl).
#
# Gralla & Lupsasca 2020, "Null geodesics of the Kerr exterior", PRD 101, 044032 (GL20):
# * Mino time τ measured backwards from the observer (τ = 0) to the emission point.
# * Angular motion u = cos θ = √u₊ sin Φ (GL20 eqs. 11, 19, 26-29); G_θ = τ, G_φ = ∫dτ/sin²θ,
#   G_t = ∫cos²θ dτ.
#
# Twin of kerrfield/physics/geodesics/angular.py.

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
    one_m_phi::Float64
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

# GL20 eqs. 26-31, as kerrfield.physics.geodesics.angular.angular_crossings (followed backwards from the
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
    # 1 − u₊ without cancellation: (D − q)u₊/(2η), q = η + a² − λ², D² − q² = 4λ²η (issue 12
    # item 2; kerrfield.physics.geodesics.angular._one_minus_up)
    q = eta_s + a2 - lam * lam
    one_m_up = q > 0 ? 2 * lam * lam * up / (dd + q) : (dd - q) * up / (2 * eta_s)
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
    # a crossing within round-off of Φ'_o is the observer itself (θs = θo), not an image; on
    # the surface itself Φ_o and asin(u_s/√u₊) agree only to ~√eps near a pole (issue 12 item 6)
    tol = abs(us - uo) <= 1e-14 ? 1e-7 : 1e-12
    ja = floor((phi_o - asig + tol) / (2pi)) + 1
    jb = floor((phi_o - (pi - asig) + tol) / (2pi)) + 1
    phi_a = asig + 2pi * ja
    phi_b = (pi - asig) + 2pi * jb
    first, second = min(phi_a, phi_b), max(phi_a, phi_b)
    f_o = ellipf(phi_o, m)
    # λ = 0 (1 − u₊ = 0): the ray passes over a pole and G_φ diverges (λG_φ is handled in
    # angular_crossing); otherwise Π's characteristic 1 − u₊s² comes from the exact 1 − u₊
    polar = !((reach ? one_m_up : 0.0) > 0)
    up_phi = polar ? 0.5 : up_r
    one_m_phi = polar ? 0.5 : one_m_up
    # Π at the observer from sin Φ_o, cos Φ_o themselves (Φ_o → π/2 near face-on)
    hyp = hypot(cos_phi_o, sgn * uo / sq_up)
    pi_o = ellippi_sc(up_phi, sgn * uo / sq_up / hyp, (cos_phi_o / hyp)^2, m, one_m_phi)
    s_o = sn2_integral(phi_o, m)
    return AngularSetup(reach, polar, lam, up_r, up_phi, one_m_phi, c_theta, m, phi_o, sgn,
                        first, second, f_o, pi_o, s_o)
end

"""
    angular_crossing(S::AngularSetup, n) -> (tau, lam_G_phi, G_t, nu_theta)

Mino time τ_n of the n-th crossing of θ = θs and λG_φ, G_t, ν_θ there (GL20 eqs. 26-31):
τ_n = [F(Φ'_n|m) − F(Φ'_o|m)]/C_θ, G_φ = [Π(u₊;Φ'_n|m) − Π(u₊;Φ'_o|m)]/C_θ,
G_t = u₊[S(Φ'_n) − S(Φ'_o)]/C_θ.  When u₊ rounds to 1 (λ → 0) the ray passes over a pole,
G_φ diverges and λG_φ → ±π per passage (sign of λ, + for λ = 0), as in kerrfield.physics.geodesics.
"""
function angular_crossing(S::AngularSetup, n::Int)
    phi_n = (iseven(n) ? S.first : S.second) + 2pi * (n ÷ 2)
    tau = (ellipf(phi_n, S.m) - S.f_o) / S.c_theta
    if S.polar
        passes = floor((phi_n - pi / 2) / pi) - floor((S.phi_o - pi / 2) / pi)
        lam_g_phi = pi * (S.lam >= 0 ? 1.0 : -1.0) * passes
    else
        lam_g_phi = S.lam * ((ellippi(S.up_phi, phi_n, S.m, S.one_m_phi) - S.pi_o) / S.c_theta)
    end
    g_t = S.up * (sn2_integral(phi_n, S.m) - S.s_o) / S.c_theta
    nu_theta = S.sgn * (cos(phi_n) >= 0 ? 1.0 : -1.0)
    return tau, lam_g_phi, g_t, nu_theta
end

"""
    surface_setup(a, theta_o, lam, eta, beta, us) -> AngularSetup or VorticalSetup

[`angular_setup`](@ref) (η > 0), or for vortical rays (η < 0) that reach the cone u = u_s on
the observer's side, [`vortical_setup`](@ref); as kerrfield.physics.geodesics.angular.surface_crossings.
"""
function surface_setup(a::Float64, theta_o::Float64, lam::Float64, eta::Float64,
                       beta::Float64, us::Float64)
    S = angular_setup(a, theta_o, lam, eta, beta, us)
    (S.reach || !(eta < 0)) && return S
    V = vortical_setup(a, theta_o, lam, eta, beta, us)
    return V.reach ? V : S
end
