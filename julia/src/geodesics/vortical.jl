# Vortical (η < 0) polar motion of Kerr null geodesics: the crossings of the emission cone
# θ = θs followed backwards from the observer.
#
# Gralla & Lupsasca 2020, "Null geodesics of the Kerr exterior", PRD 101, 044032 (GL20):
# * Mino time τ measured backwards from the observer (τ = 0) to the emission point;
#   G_θ = τ, G_φ = ∫dτ/sin²θ, G_t = ∫cos²θ dτ.
# * Vortical rays (η < 0): u² = u₊ dn²(ψ|m), m = (u₊ − u₋)/u₊ (GL20 eqs. 54-59 after the
#   imaginary-modulus transformation), cones on the observer's side only.
#
# Twin of kerrfield/physics/geodesics/vortical.py.

# |λ| below this times |a|: a vortical ray passes over a pole and λG_φ is replaced by its limit
# ±π per passage (as kerrfield.physics.geodesics.vortical._VORTICAL_POLAR_LAM)
const VORTICAL_POLAR_LAM = 1.0e-8

"""
    VorticalSetup

Per-pixel constants of vortical θ motion (η < 0; GL20 Sec. II, eqs. 54-59), as
kerrfield.physics.geodesics.vortical._vortical_crossings: u² = u₊ dn²(ψ|m) = u₊(1 − m sin²Φ), m = (u₊ − u₋)/u₊,
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
    tol = abs(us - uo) <= 1e-14 ? 1e-7 : 1e-12
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
