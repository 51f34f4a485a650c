# Carlson symmetric elliptic integrals R_F, R_C, R_D, R_J for real Float64 arguments, on which
# the Legendre forms (legendre.jl) and the Jacobi functions (jacobi.jl) are built.
#
# Carlson symmetric integrals by the duplication theorem:
#   B. C. Carlson, "Numerical computation of real or complex elliptic integrals",
#   Numer. Algorithms 10, 13 (1995), arXiv:math/9409227 (also DLMF §19.36(i)).
#
# Twin of kerrfield/physics/elliptic/carlson.py.

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
