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

# H(X) with dH/dX = 1/(r − r₂) in case 3, r = ρ₀ + κ/(1 + α₀ cn X) (GL20 B74-B75):
# H = (1 + α₀)/(κα₀)·[−α₀X + (1 + α₀)(X − E(am X) − dn(1 + cn)/sn)] (DLMF 22.16.30, 22.13.1);
# used when r₋ is within round-off of r₂, where R₁(α₋ → −1) cancels catastrophically
function h_r2(alpha0, kappa, x, sn, cn, dn, e)
    bracket = -alpha0 * x + (1 + alpha0) * (x - e - dn * (1 + cn) / sn)
    return (1 + alpha0) / (kappa * alpha0) * bracket
end
