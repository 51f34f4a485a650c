# Elliptic integrals and Jacobi elliptic functions for real Float64 arguments.
#
# Conventions (same as kerrfield/elliptic.py, scipy, and Gralla & Lupsasca 2020): the second
# argument is the *parameter* m = k²,
#   F(φ|m)   = ∫₀^φ dθ / √(1 − m sin²θ)
#   E(φ|m)   = ∫₀^φ √(1 − m sin²θ) dθ
#   Π(n;φ|m) = ∫₀^φ dθ / ((1 − n sin²θ) √(1 − m sin²θ))   (Cauchy principal value when n sin²φ > 1)
# and sn(u|m), cn(u|m), dn(u|m) invert u = F(φ|m): sn = sin φ, cn = cos φ, dn = √(1 − m sn²).
# Any real m is accepted where the result is real (m < 0 occurs in the angular integrals).
#
# Carlson symmetric integrals by the duplication theorem:
#   B. C. Carlson, "Numerical computation of real or complex elliptic integrals",
#   Numer. Algorithms 10, 13 (1995), arXiv:math/9409227 (also DLMF §19.36(i)).
# Legendre forms from Carlson forms: DLMF 19.25.5, 19.25.9, 19.25.14; quasi-periodicity
# DLMF 19.2.10.  Jacobi functions: arithmetic-geometric mean (descending Landen) scheme,
# Abramowitz & Stegun 16.4; m < 0 by the imaginary-modulus transformation (A&S 16.10),
# m > 1 by the reciprocal-modulus transformation (A&S 16.11).

const _RTOL = eps(Float64)
const _QF = (3 * _RTOL)^(-1 / 6)       # Carlson 1995 eq. (2.2) for R_F
const _QD = (_RTOL / 4)^(-1 / 6)       # Carlson 1995 eqs. (2.14), (2.20) for R_D, R_J
const _MAXIT = 60

"""
    carlson_rf(x, y, z) -> Float64

Carlson's R_F(x, y, z) = ½ ∫₀^∞ dt [(t+x)(t+y)(t+z)]^(-1/2) for x, y, z ≥ 0, at most one zero,
by duplication (Carlson 1995, §2).  Returns NaN outside the domain.
"""
function carlson_rf(x::Real, y::Real, z::Real)
    x, y, z = Float64(x), Float64(y), Float64(z)
    (x >= 0 && y >= 0 && z >= 0) || return NaN
    (x + y == 0 || x + z == 0 || y + z == 0) && return Inf
    isfinite(x + y + z) || return x + y + z == Inf ? 0.0 : NaN
    a0 = (x + y + z) / 3
    a = a0
    q = _QF * max(abs(a0 - x), abs(a0 - y), abs(a0 - z))
    x0, y0 = x, y
    f = 1.0                                   # 4^-n
    for _ in 1:_MAXIT
        q * f < abs(a) && break
        sx, sy, sz = sqrt(x), sqrt(y), sqrt(z)
        lam = sx * (sy + sz) + sy * sz
        x, y, z, a = (x + lam) / 4, (y + lam) / 4, (z + lam) / 4, (a + lam) / 4
        f /= 4
    end
    X = (a0 - x0) * f / a
    Y = (a0 - y0) * f / a
    Z = -(X + Y)
    e2 = X * Y - Z * Z
    e3 = X * Y * Z
    return (1 - e2 / 10 + e3 / 14 + e2 * e2 / 24 - 3 * e2 * e3 / 44) / sqrt(a)
end

"""
    carlson_rc(x, y) -> Float64

Carlson's R_C(x, y) = R_F(x, y, y) = ½ ∫₀^∞ dt (t+x)^(-1/2) (t+y)^(-1) for x ≥ 0, y ≠ 0; for
y < 0 the Cauchy principal value (Carlson 1995 eq. 2.13).  Duplication (Carlson 1995 §2).
"""
function carlson_rc(x::Real, y::Real)
    x, y = Float64(x), Float64(y)
    (x >= 0 && y != 0 && !isnan(y)) || return NaN
    if y < 0                                  # principal value, Carlson 1995 eq. (2.13)
        return sqrt(x / (x - y)) * carlson_rc(x - y, -y)
    end
    a0 = (x + 2y) / 3
    a = a0
    q = _QF * abs(a0 - x)
    y0 = y
    f = 1.0
    for _ in 1:_MAXIT
        q * f < abs(a) && break
        lam = 2 * sqrt(x) * sqrt(y) + y
        x, y, a = (x + lam) / 4, (y + lam) / 4, (a + lam) / 4
        f /= 4
    end
    s = (y0 - a0) * f / a                      # s = (y0 - A0) / (4^n A_n)
    return (1 + s * s * (3 / 10 + s * (1 / 7 + s * (3 / 8 + s * (9 / 22 + s * (159 / 208 + s * 9 / 8)))))) / sqrt(a)
end

"""
    carlson_rd(x, y, z) -> Float64

Carlson's R_D(x, y, z) = R_J(x, y, z, z) = (3/2) ∫₀^∞ dt [(t+x)(t+y)]^(-1/2) (t+z)^(-3/2) for
x, y ≥ 0 (at most one zero), z > 0, by duplication (Carlson 1995, §2, eqs. 2.14-2.18).
"""
function carlson_rd(x::Real, y::Real, z::Real)
    x, y, z = Float64(x), Float64(y), Float64(z)
    (x >= 0 && y >= 0 && z > 0 && x + y > 0) || return NaN
    isfinite(x + y + z) || return NaN
    a0 = (x + y + 3z) / 5
    a = a0
    q = _QD * max(abs(a0 - x), abs(a0 - y), abs(a0 - z))
    x0, y0 = x, y
    f = 1.0
    s = 0.0
    for _ in 1:_MAXIT
        q * f < abs(a) && break
        sx, sy, sz = sqrt(x), sqrt(y), sqrt(z)
        lam = sx * (sy + sz) + sy * sz
        s += f / (sz * (z + lam))
        x, y, z, a = (x + lam) / 4, (y + lam) / 4, (z + lam) / 4, (a + lam) / 4
        f /= 4
    end
    X = (a0 - x0) * f / a
    Y = (a0 - y0) * f / a
    Z = -(X + Y) / 3
    xy = X * Y
    z2 = Z * Z
    e2 = xy - 6z2
    e3 = (3xy - 8z2) * Z
    e4 = 3 * (xy - z2) * z2
    e5 = xy * z2 * Z
    series = 1 - 3 * e2 / 14 + e3 / 6 + 9 * e2 * e2 / 88 - 3 * e4 / 22 - 9 * e2 * e3 / 52 + 3 * e5 / 26
    return f * series / (a * sqrt(a)) + 3s
end

# R_C(1, 1 + e) in closed form, atan(√e)/√e or atanh(√−e)/√−e (DLMF 19.2.18-19.2.19), and its
# Taylor series for |e| < 1e-3 (truncation error < e⁶/13)
@inline function _rc_one(e::Float64)
    if abs(e) < 1e-3
        return 1 + e * (-1 / 3 + e * (1 / 5 + e * (-1 / 7 + e * (1 / 9 - e / 11))))
    end
    root = sqrt(abs(e))
    return e > 0 ? atan(root) / root : atanh(min(root, 1 - 1e-16)) / root
end

# R_J for p > 0 (Carlson 1995 §2, eqs. 2.19-2.21)
function _rj_positive(x::Float64, y::Float64, z::Float64, p::Float64)
    a0 = (x + y + z + 2p) / 5
    a = a0
    delta = (p - x) * (p - y) * (p - z)
    q = _QD * max(abs(a0 - x), abs(a0 - y), abs(a0 - z), abs(a0 - p))
    x0, y0, z0 = x, y, z
    f = 1.0
    s = 0.0
    for _ in 1:_MAXIT
        q * f < abs(a) && break
        sx, sy, sz, sp = sqrt(x), sqrt(y), sqrt(z), sqrt(p)
        lam = sx * (sy + sz) + sy * sz
        d = (sp + sx) * (sp + sy) * (sp + sz)
        e = delta * f * f * f / (d * d)         # 4^-3m δ / d_m²
        s += f * _rc_one(e) / d
        x, y, z, p, a = (x + lam) / 4, (y + lam) / 4, (z + lam) / 4, (p + lam) / 4, (a + lam) / 4
        f /= 4
    end
    X = (a0 - x0) * f / a
    Y = (a0 - y0) * f / a
    Z = (a0 - z0) * f / a
    P = -(X + Y + Z) / 2
    p2 = P * P
    e2 = X * Y + X * Z + Y * Z - 3p2
    e3 = X * Y * Z + 2 * e2 * P + 4p2 * P
    e4 = (2X * Y * Z + e2 * P + 3p2 * P) * P
    e5 = X * Y * Z * p2
    series = 1 - 3 * e2 / 14 + e3 / 6 + 9 * e2 * e2 / 88 - 3 * e4 / 22 - 9 * e2 * e3 / 52 + 3 * e5 / 26
    return f * series / (a * sqrt(a)) + 6s
end

"""
    carlson_rj(x, y, z, p) -> Float64

Carlson's R_J(x, y, z, p) = (3/2) ∫₀^∞ dt [(t+x)(t+y)(t+z)]^(-1/2) (t+p)^(-1) for x, y, z ≥ 0
(at most one zero), p ≠ 0; for p < 0 the Cauchy principal value, reduced to p > 0 by
Carlson 1995 eq. (2.22) (with z the largest of x, y, z).
"""
function carlson_rj(x::Real, y::Real, z::Real, p::Real)
    x, y, z, p = Float64(x), Float64(y), Float64(z), Float64(p)
    (x >= 0 && y >= 0 && z >= 0 && p != 0 && !isnan(p)) || return NaN
    ((x == 0) + (y == 0) + (z == 0) > 1) && return NaN
    isfinite(x + y + z + p) || return NaN
    p > 0 && return _rj_positive(x, y, z, p)
    # order so that x ≤ y ≤ z
    x, y = minmax(x, y)
    y, z = minmax(y, z)
    x, y = minmax(x, y)
    q = -p
    pp = (z * (x + y + q) - x * y) / (z + q)   # > z > 0
    xy = x * y
    v = (pp - z) * _rj_positive(x, y, z, pp) - 3 * carlson_rf(x, y, z)
    v += 3 * sqrt(xy * z / (xy + pp * q)) * carlson_rc(xy + pp * q, pp * q)
    return v / (z + q)
end

# ------------------------------------------------------------------ Legendre forms

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

# ------------------------------------------------------------------ Jacobi functions

# sn, cn, dn and the (continuous, unwrapped) amplitude am for 0 ≤ m < 1 by the arithmetic-
# geometric mean and descending Landen transformation (A&S 16.4; DLMF 22.20.1-22.20.2), the same
# scheme as kerrfield/elliptic.py: a₀ = 1, b₀ = √(1 − m), stop when |c_n| ≤ eps a_n, then
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
