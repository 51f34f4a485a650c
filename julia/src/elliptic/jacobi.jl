# Jacobi elliptic functions sn, cn, dn and the amplitude am for real Float64 arguments.
#
# Conventions (same as scipy and Gralla & Lupsasca 2020): the second argument is the
# *parameter* m = k², and sn(u|m), cn(u|m), dn(u|m) invert u = F(φ|m):
# sn = sin φ, cn = cos φ, dn = √(1 − m sn²).  Any real m is accepted where the result is real.
#
# Jacobi functions: arithmetic-geometric mean (descending Landen) scheme, Abramowitz & Stegun
# 16.4; m < 0 by the imaginary-modulus transformation (A&S 16.10), m > 1 by the
# reciprocal-modulus transformation (A&S 16.11).  The AGM stopping tolerance is _RTOL from
# carlson.jl.
#
# Twin of kerrfield/physics/elliptic/jacobi.py.

# sn, cn, dn and the (continuous, unwrapped) amplitude am for 0 ≤ m < 1 by the arithmetic-
# geometric mean and descending Landen transformation (A&S 16.4; DLMF 22.20.1-22.20.2), the same
# scheme as kerrfield/physics/elliptic/jacobi.py: a₀ = 1, b₀ = √(1 − m), stop when |c_n| ≤ eps a_n, then
# φ_N = 2^N a_N u and φ_{n−1} = ½(φ_n + asin((c_n/a_n) sin φ_n)); dn = √((1 − m) + m cn²).
function _jacobi_agm(u::Float64, m::Float64)
    phi = _agm_amplitude(1.0, sqrt(1 - m), u, 0)
    s, c = sincos(phi)
    return s, c, sqrt((1 - m) + m * c * c), phi
end

# One descending step per call level n (a = a_n, b = b_n); returns φ_n.  The recursion keeps the
# c_n/a_n ratios on the stack instead of an array (no allocation).
function _agm_amplitude(a::Float64, b::Float64, u::Float64, n::Int)
    c = (a - b) / 2
    (abs(c) <= _RTOL * a || n >= 40) && return ldexp(a * u, n)      # φ_N = 2^N a_N u
    an = (a + b) / 2
    phi = _agm_amplitude(an, sqrt(a * b), u, n + 1)                 # φ_{n+1}
    return (phi + asin((c / an) * sin(phi))) / 2
end

"""
    ellipj_am(u, m) -> (sn, cn, dn, am)

Jacobi sn, cn, dn and the amplitude am(u|m) = φ (continuous in u, not reduced) for
0 ≤ m < 1 (A&S 16.4, DLMF 22.20.1-22.20.2); NaNs outside that range.
"""
function ellipj_am(u::Real, m::Real)
    u, m = Float64(u), Float64(m)
    (isfinite(u) && 0 <= m < 1) || return (NaN, NaN, NaN, NaN)
    return _jacobi_agm(u, m)
end

"""
    ellipj(u, m) -> (sn, cn, dn)

Jacobi elliptic functions sn(u|m), cn(u|m), dn(u|m) for any real m: AGM scheme (A&S 16.4) for
0 ≤ m < 1, imaginary-modulus transformation (A&S 16.10) for m < 0, reciprocal modulus
(A&S 16.11) for m > 1, hyperbolic limit at m = 1 (A&S 16.15).
"""
function ellipj(u::Real, m::Real)
    u, m = Float64(u), Float64(m)
    (isfinite(u) && isfinite(m)) || return (NaN, NaN, NaN)
    if m < 0
        r = sqrt(1 - m)
        s, c, d, _ = _jacobi_agm(u * r, -m / (1 - m))
        return s / (r * d), c / d, 1 / d
    elseif m < 1
        s, c, d, _ = _jacobi_agm(u, m)
        return s, c, d
    elseif m == 1
        t = sech(u)
        return tanh(u), t, t
    else
        r = sqrt(m)
        s, c, d, _ = _jacobi_agm(u * r, 1 / m)
        return s / r, d, c
    end
end

"""    jacobi_sn(u, m)   Jacobi sn(u|m); see [`ellipj`](@ref)."""
jacobi_sn(u::Real, m::Real) = ellipj(u, m)[1]
"""    jacobi_cn(u, m)   Jacobi cn(u|m); see [`ellipj`](@ref)."""
jacobi_cn(u::Real, m::Real) = ellipj(u, m)[2]
"""    jacobi_dn(u, m)   Jacobi dn(u|m); see [`ellipj`](@ref)."""
jacobi_dn(u::Real, m::Real) = ellipj(u, m)[3]
