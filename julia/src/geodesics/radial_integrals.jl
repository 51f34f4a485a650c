# Antiderivatives of the rational functions of sn, cn, sc in the radial integrals:
# R₁, R₂ (cn; GL20 B62-B65, used in case 3) and S₁, S₂ (sc; GL20 B92-B93, used in case 4).
#
# Gralla & Lupsasca 2020, "Null geodesics of the Kerr exterior", PRD 101, 044032 (GL20).
#
# Twin of kerrfield/physics/geodesics/radial_integrals.py.

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
# (sign of the first bracket as fixed against quadrature in kerrfield/physics/geodesics/radial_integrals.py);
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

# cases 3 and 4 split the divergent observer end of I₁, I₂ at r_o = R_FACTOR times the scale
# of R(r)'s coefficients and add the exact tail beyond r_o as a series in 1/r_o
const R_FACTOR = 32.0
const TAIL_TERMS = 10

"""
    observer_tail(A, B, C) -> (r_o, T₁, T₂)

Split radius r_o and the tails T₁ = ∫_{r_o}^∞ (r/√R − 1/r) dr, T₂ = ∫_{r_o}^∞ (r²/√R − 1) dr
for R(r) = r⁴ + A r² + B r + C: with x = 1/r, r²/√R = Σ fₙ xⁿ,
fₙ = −1/(2n) Σ_{k=2..4} gₖ f_{n−k} (2n − k) (g₂ = A, g₃ = B, g₄ = C, f₀ = 1, f₁ = 0), so
T₁ = Σ fₙ r_o⁻ⁿ/n and T₂ = Σ fₙ r_o^{1−n}/(n − 1). Same algorithm as the Python twin.
"""
function observer_tail(A::Float64, B::Float64, C::Float64)
    ro = R_FACTOR * (1 + sqrt(abs(A)) + abs(B)^(1 / 3) + abs(C)^0.25)
    g = (0.0, A, B, C)             # g₁ … g₄
    f = zeros(TAIL_TERMS + 1)      # f[n + 1] = fₙ
    f[1] = 1.0
    x = 1 / ro
    t1 = t2 = 0.0
    for n in 2:TAIL_TERMS
        acc = 0.0
        for k in 2:min(n, 4)
            acc += g[k] * f[n - k + 1] * (2 * n - k)
        end
        f[n + 1] = -acc / (2 * n)
        t1 += f[n + 1] * x^n / n
        t2 += f[n + 1] * x^(n - 1) / (n - 1)
    end
    return ro, t1, t2
end
