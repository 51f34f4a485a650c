# Emitter velocity models and the redshift factor g = 1/(−p·u) with p_t = −1: scalar port of
# kerrfield/physics/redshift.py (same models, same formulas).
#
#   1/g = u^t − λ u^φ − p_r u^r,  p_r = ν_r √R(r)/Δ (u^θ = 0).
# * zamo: Ω = ω = 2ar/A, u^r = 0 (Bardeen, Press & Teukolsky 1972, eq. 3.2).
# * keplerian: Ω = Ω_K for r ≥ r_isco (BPT 1972 eq. 2.16), Cunningham (1975) plunge inside the
#   ISCO conserving the ISCO's E and L (BPT 1972 eqs. 2.12-2.13).
# * general(ξ, β_r, β_φ): sub-Keplerian ℓ = ξ ℓ_K mixed with free fall from rest at infinity
#   (Chael, Johnson & Lupsasca 2021, ApJ 918, 6, eqs. 6-9).
# Off the equatorial plane the equatorial u^r(r), Ω(r) are kept at the same r and u^t is
# re-normalised with the local metric.

"""
    Velocity(kind, xi, beta_r, beta_phi)

Emitter velocity model: `kind` is :zamo, :keplerian or :general (then ξ ∈ (0, 1],
β_r, β_φ ∈ [0, 1]; see kerrfield.redshift.GeneralVelocity).
"""
struct Velocity
    kind::Symbol
    xi::Float64
    beta_r::Float64
    beta_phi::Float64
end

function Velocity(d::AbstractDict)
    kind = Symbol(get(d, "kind", "zamo"))
    getf(k, default) = haskey(d, k) ? parse(Float64, d[k]) : default
    if kind === :zamo || kind === :keplerian
        return Velocity(kind, 1.0, 1.0, 1.0)
    elseif kind === :general
        v = Velocity(kind, getf("xi", 1.0), getf("beta_r", 1.0), getf("beta_phi", 1.0))
        for (name, val) in (("xi", v.xi), ("beta_r", v.beta_r), ("beta_phi", v.beta_phi))
            (isfinite(val) && 0 <= val <= 1) ||
                throw(ArgumentError("GeneralVelocity.$name must be a number in [0, 1], got $val"))
        end
        v.xi == 0 && throw(ArgumentError("GeneralVelocity.xi must be in (0, 1], got 0"))
        return v
    end
    throw(ArgumentError("velocity must be zamo, keplerian or general, got $(repr(String(kind)))"))
end

# ℓ_K = L/E of prograde circular orbits (BPT 1972 eqs. 2.12-2.13)
function kepler_ell(a::Float64, r::Float64)
    sr = sqrt(r)
    return (r * r - 2 * a * sr + a * a) / (r * sr - 2 * sr + a)
end

# Ω = u^φ/u^t of a flow with u_φ = −ℓ u_t
omega_from_ell(g, ell) = -(g.g_tphi + ell * g.g_tt) / (g.g_phiphi + ell * g.g_tphi)

# equatorial geodesic with u_t = −E, u_φ = L falling inward: (u^r, Ω)
function plunge(a::Float64, r::Float64, energy::Float64, ang::Float64)
    g = metric_bl(a, r, pi / 2)
    det = g.g_tt * g.g_phiphi - g.g_tphi^2
    gtt_inv = g.g_phiphi / det
    gtp_inv = -g.g_tphi / det
    gpp_inv = g.g_tt / det
    ut = -gtt_inv * energy + gtp_inv * ang
    uphi = -gtp_inv * energy + gpp_inv * ang
    rad = (-1 + energy * ut - ang * uphi) / g.g_rr
    return -sqrt(_clamp_min(rad, 1e-300)), uphi / ut
end

# E = −u_t of the circular equatorial flow with specific angular momentum ℓ at r
function circular_energy(a::Float64, r::Float64, ell::Float64)
    g = metric_bl(a, r, pi / 2)
    om = omega_from_ell(g, ell)
    ut = 1 / sqrt(-(g.g_tt + 2 * g.g_tphi * om + g.g_phiphi * om * om))
    return -(g.g_tt + g.g_tphi * om) * ut
end

"""
    SubKeplerian(a, xi)

Radius-independent constants of the sub-Keplerian flow: r_isco, and the ISCO's ℓ and E
(BPT 1972 eqs. 2.12-2.13, 2.21).
"""
struct SubKeplerian
    r_isco::Float64
    ell_i::Float64
    e_i::Float64
end

function SubKeplerian(a::Float64, xi::Float64)
    ri = isco(a)
    ell_i = xi * kepler_ell(a, ri)
    return SubKeplerian(ri, ell_i, circular_energy(a, ri, ell_i))
end

# (u^r, Ω) of the sub-Keplerian flow with the Cunningham-type plunge inside the ISCO
function subkeplerian(a::Float64, r::Float64, xi::Float64, sk::SubKeplerian)
    if r >= sk.r_isco
        g = metric_bl(a, r, pi / 2)
        return 0.0, omega_from_ell(g, xi * kepler_ell(a, r))
    end
    _, om = plunge(a, r, sk.e_i, sk.e_i * sk.ell_i)
    return plunge_ur(a, r, sk.r_isco, sk.e_i, sk.e_i * sk.ell_i, xi), om
end

# u^r < 0 of the plunge from the ISCO without the √eps cancellation of √(−1 + E u^t − L u^φ)
# (issue 12 item 8): r⁴(u^r)² = r P(r), P = (E² − 1)r³ + 2r² − (a² + X² + 2aEX)r + 2X²,
# X = L − aE, P(r_isco) = 0. ξ = 1: triple root, u^r = −√(2/(3 r_isco)) (r_isco/r − 1)^{3/2}
# (Mummery & Balbus 2022, PRL 129, 161101, eq. 4); ξ < 1: P = (r − r_isco)S(r) by synthetic
# division.
function plunge_ur(a, r, ri, energy, ang, xi)
    gap = ri - r
    xi == 1 && return -sqrt(2 / (3 * ri)) * (max(gap, 0.0) / r)^1.5
    x = ang - a * energy
    c3 = energy * energy - 1
    c1 = -(a * a + x * x + 2 * a * energy * x)
    d1 = 2 + c3 * ri
    d0 = c1 + d1 * ri
    return -sqrt(_clamp_min(gap * -(c3 * r * r + d1 * r + d0) / (r * r * r), 1e-300))
end

"""
    velocity_field(v, a, r, theta, sk) -> (u^t, u^r, u^φ)

Contravariant emitter velocity at (r, θ) for model `v` (`sk = SubKeplerian(a, v.xi)`).
"""
function velocity_field(v::Velocity, a::Float64, r::Float64, theta::Float64, sk::SubKeplerian)
    g = metric_bl(a, r, theta)
    if v.kind === :zamo
        ur = 0.0
        om = 2 * a * r / g.A
    elseif v.kind === :keplerian
        ur, om = subkeplerian(a, r, 1.0, sk)
    else
        ur_s, om_s = subkeplerian(a, r, v.xi, sk)
        ur_f, om_f = plunge(a, r, 1.0, 0.0)          # free fall from rest at infinity
        ur = ur_s + (1 - v.beta_r) * (ur_f - ur_s)
        om = om_s + (1 - v.beta_phi) * (om_f - om_s)
    end
    norm = -(g.g_tt + 2 * g.g_tphi * om + g.g_phiphi * om * om)
    ut = sqrt((1 + g.g_rr * ur * ur) / norm)
    return ut, ur, ut * om
end

"""
    redshift(v, a, lam, eta, r, theta, nu_r, sk) -> g

Redshift factor g = 1/(u^t − λu^φ − p_r u^r), p_r = ν_r √R(r)/Δ with
R(r) = (r² + a² − aλ)² − Δ(η + (λ − a)²) (GL20 eqs. 5, 13).
"""
function redshift(v::Velocity, a::Float64, lam::Float64, eta::Float64, r::Float64,
                  theta::Float64, nu_r::Float64, sk::SubKeplerian)
    ut, ur, uphi = velocity_field(v, a, r, theta, sk)
    delta = r * r - 2 * r + a * a
    big_r = (r * r + a * a - a * lam)^2 - delta * (eta + (lam - a)^2)
    p_r = nu_r * sqrt(max(big_r, 0.0)) / delta
    return 1 / (ut - lam * uphi - p_r * ur)
end
