# Legendre elliptic integrals for real Float64 arguments: complete K(m), E(m), Π(n|m) and
# incomplete F(φ|m), E(φ|m), Π(n;φ|m), from the Carlson forms of carlson.jl.
#
# Conventions (same as scipy and Gralla & Lupsasca 2020): the second argument is the
# *parameter* m = k²,
#   F(φ|m)   = ∫₀^φ dθ / √(1 − m sin²θ)
#   E(φ|m)   = ∫₀^φ √(1 − m sin²θ) dθ
#   Π(n;φ|m) = ∫₀^φ dθ / ((1 − n sin²θ) √(1 − m sin²θ))   (Cauchy principal value when n sin²φ > 1)
# Any real m is accepted where the result is real (m < 0 occurs in the angular integrals).
#
# Legendre forms from Carlson forms: DLMF 19.25.5, 19.25.9, 19.25.14; quasi-periodicity
# DLMF 19.2.10.
#
# Twin of kerrfield/physics/elliptic/legendre.py.

# reduce φ = jπ + φr with |φr| ≤ π/2 (DLMF 19.2.10)
@inline function _reduce_amplitude(phi::Float64)
    j = round(phi / pi)
    return j, phi - j * pi
end

"""
    ellipk(m) -> Float64

Complete elliptic integral of the first kind K(m) = F(π/2|m) = R_F(0, 1 − m, 1) (DLMF 19.25.1),
m < 1.
"""
ellipk(m::Real) = m < 1 ? carlson_rf(0.0, 1 - Float64(m), 1.0) : (m == 1 ? Inf : NaN)

"""
    ellipe(m) -> Float64

Complete elliptic integral of the second kind E(m) = R_F(0,1−m,1) − (m/3) R_D(0,1−m,1)
(DLMF 19.25.1), m ≤ 1.
"""
function ellipe(m::Real)
    m = Float64(m)
    m == 1 && return 1.0
    m < 1 || return NaN
    y = 1 - m
    return carlson_rf(0.0, y, 1.0) - m / 3 * carlson_rd(0.0, y, 1.0)
end

"""
    ellippi(n, m) -> Float64

Complete elliptic integral of the third kind Π(n|m) = R_F(0,1−m,1) + (n/3) R_J(0,1−m,1,1−n)
(DLMF 19.25.2), m < 1, n ≠ 1; principal value for n > 1.
"""
function ellippi(n::Real, m::Real)
    n, m = Float64(n), Float64(m)
    m < 1 && n != 1 || return NaN
    y = 1 - m
    return carlson_rf(0.0, y, 1.0) + n / 3 * carlson_rj(0.0, y, 1.0, 1 - n)
end

"""
    ellipf(phi, m) -> Float64

Incomplete elliptic integral of the first kind F(φ|m) = sin φ R_F(cos²φ, 1 − m sin²φ, 1)
(DLMF 19.25.5) for |φ| ≤ π/2, extended to all φ by F(φ + jπ|m) = F(φ|m) + 2jK(m)
(DLMF 19.2.10).  NaN where 1 − m sin²φ < 0.
"""
function ellipf(phi::Real, m::Real)
    phi, m = Float64(phi), Float64(m)
    j, p = _reduce_amplitude(phi)
    s, c = sincos(p)
    v = s * carlson_rf(c * c, 1 - m * s * s, 1.0)
    return j == 0 ? v : v + 2j * ellipk(m)
end

"""
    ellipe(phi, m) -> Float64

Incomplete elliptic integral of the second kind
E(φ|m) = sin φ R_F(c², Δ², 1) − (m/3) sin³φ R_D(c², Δ², 1), c = cos φ, Δ² = 1 − m sin²φ
(DLMF 19.25.9), extended by E(φ + jπ|m) = E(φ|m) + 2jE(m).
"""
function ellipe(phi::Real, m::Real)
    phi, m = Float64(phi), Float64(m)
    j, p = _reduce_amplitude(phi)
    s, c = sincos(p)
    c2, d2 = c * c, 1 - m * s * s
    v = s * carlson_rf(c2, d2, 1.0)
    if m != 0 && s != 0
        v -= m / 3 * s * s * s * carlson_rd(c2, d2, 1.0)
    end
    return j == 0 ? v : v + 2j * ellipe(m)
end

"""
    ellippi(n, phi, m) -> Float64

Incomplete elliptic integral of the third kind (sign convention 1 − n sin²θ, as in Gralla &
Lupsasca 2020 and Mathematica)
Π(n;φ|m) = sin φ R_F(c², Δ², 1) + (n/3) sin³φ R_J(c², Δ², 1, 1 − n sin²φ) (DLMF 19.25.14),
extended by Π(n;φ + jπ|m) = Π(n;φ|m) + 2jΠ(n|m).  Principal value when n sin²φ > 1.
"""
function ellippi(n::Real, phi::Real, m::Real)
    n, phi, m = Float64(n), Float64(phi), Float64(m)
    j, p = _reduce_amplitude(phi)
    s, c = sincos(p)
    s2 = s * s
    c2, d2 = c * c, 1 - m * s2
    v = s * carlson_rf(c2, d2, 1.0)
    if n != 0 && s != 0
        v += n / 3 * s * s2 * carlson_rj(c2, d2, 1.0, 1 - n * s2)
    end
    return j == 0 ? v : v + 2j * ellippi(n, m)
end

"""
    ellippi(n, phi, m, one_minus_n) -> Float64

Π(n;φ|m) for n ≤ 1 given 1 − n exactly: the characteristic 1 − n sin²φ is formed as
(1 − n) + n cos²φ, a sum of non-negative terms, exact as n → 1 where 1 − n sin²φ cancels
(n = u₊ → 1 for rays passing close to a pole; kerrfield.physics.elliptic.legendre.legendre_sc).
"""
function ellippi(n::Real, phi::Real, m::Real, one_minus_n::Real)
    n, phi, m, omn = Float64(n), Float64(phi), Float64(m), Float64(one_minus_n)
    j, p = _reduce_amplitude(phi)
    s, c = sincos(p)
    v = ellippi_sc(n, s, c * c, m, omn)
    j == 0 && return v
    y = 1 - m
    return v + 2j * (carlson_rf(0.0, y, 1.0) + n / 3 * carlson_rj(0.0, y, 1.0, omn))
end

"""
    ellippi_sc(n, s, c2, m, one_minus_n) -> Float64

Π(n;φ|m) for |φ| ≤ π/2 given s = sin φ, c² = cos²φ and 1 − n (n ≤ 1) exactly: as the 4-argument
`ellippi`, for callers that know the amplitude's sine and cosine better than the amplitude
(an observer nearly on the pole, where φ → π/2 and cos φ from φ loses its relative accuracy).
"""
function ellippi_sc(n::Float64, s::Float64, c2::Float64, m::Float64, one_minus_n::Float64)
    s2 = s * s
    d2 = 1 - m * s2
    v = s * carlson_rf(c2, d2, 1.0)
    (n != 0 && s != 0) || return v
    return v + n / 3 * s * s2 * carlson_rj(c2, d2, 1.0, one_minus_n + n * c2)
end
