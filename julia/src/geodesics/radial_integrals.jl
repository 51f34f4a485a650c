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
    # (1 + wt)/(1 − wt) = (1 + wt)² dn²/(1 − n sn²), 1 − n sn² = (1 − n) + n cos²φ formed as in
    # the Π (4-argument ellippi): the round-off of the two singular terms cancels next to the
    # mirror pole (radial_integrals.py:_legendre_pv)
    omn = 1 / (1 - a2)
    p = omn + n * _reduced_cos2(phi)
    f = nk > 0 ? (log(abs((1 + w * t) * dn)) - 0.5 * log(abs(p))) / w_safe : atan(w * t) / w_safe
    return (ellippi(n, phi, k, omn) - alpha * f) / (1 - a2)
end

# cos²φ of the reduced amplitude, as ellippi forms it
function _reduced_cos2(phi::Float64)
    _, pr = _reduce_amplitude(phi)
    c = cos(pr)
    return c * c
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

# S₁(α; φ|k) = ∫₀^{F(φ)} dX/(1 + α sc X) (GL20 B92) = F + α T (s1_reduced)
s1_integral(alpha::Float64, phi::Float64, k::Float64) =
    ellipf(phi, k) + alpha * s1_reduced(alpha, phi, k)

# T(α; φ|k) = (S₁ − F)/α = [α(Π(N; φ) − F) + ½ p L]/N, N = 1 + α², p = √(N/(N − k)),
# L = ln|1 − N sin²φ| + 2 ln((p + 1)/(p dn + 1)), finite as α → 0 and free of the
# cancellation in p dn − 1 (radial_integrals.py:_s1_reduced)
function s1_reduced(alpha::Float64, phi::Float64, k::Float64)
    a2 = alpha * alpha
    big_n = 1 + a2
    dn = sqrt(1 - k * sin(phi)^2)
    p2 = sqrt(big_n / (big_n - k))
    p = -a2 + big_n * _reduced_cos2(phi)       # 1 − N sin²φ, as in ellippi(N, φ, k, −α²)
    logt = log(abs(p)) + 2 * log((p2 + 1) / (p2 * dn + 1))
    return (alpha * (ellippi(big_n, phi, k, -a2) - ellipf(phi, k)) + 0.5 * p2 * logt) / big_n
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

# Finite part Π̂ of Π(n; φ|k) at its pole φ_o ∈ (π/2, π) (n sin²φ_o = 1, n > 1) as
# X = F(φ) → X_o⁻: Π = Π̂ + √(n/x)/2 · ln δ + o(1), δ = X_o − X, x = (n − 1)(n − k), from
# DLMF 19.7.9 with 19.6.5 and R_C(x, y) = ln(4x/|y|)/(2√x) + O(y ln y) (derivation in
# kerrfield/physics/geodesics/radial_integrals.py:_pi_pole); nm1 = n − 1, sn, cn, dn at X_o,
# dual = F(φ_o) − Π(k/n; φ_o)
function pi_pole(n, nm1, k, sn, cn, dn, dual)
    x = nm1 * (n - k)
    arg = 2 * x * sn^3 / (abs(cn) * dn * (n - k / n))
    return dual - 0.5 * sqrt(n / x) * log(arg)
end

# Finite parts at X_o (1 + α cn X_o = 0, α > 1; case 3) of R₁ and R₂, and ℓ with
# α sn dn/(1 + α cn) = 1/δ + ℓ + O(δ) (radial_integrals.py:_cn_pole); f, e = F, E at φ_o
function cn_pole(alpha, k, sn, cn, dn, f, e, dual)
    a2 = alpha * alpha
    n = a2 / (a2 - 1)
    w = sqrt(n - k)
    pi_hat = pi_pole(n, 1 / (a2 - 1), k, sn, cn, dn, dual)
    f_hat = (log(2.0) - log(w * abs(cn) / (dn * dn))) / (2 * w)
    r1 = (pi_hat - alpha * f_hat) / (1 - a2)
    ell = -cn * (dn * dn - k * sn * sn) / (2 * sn * dn)
    kk = k + (1 - k) * a2
    r2 = (f - a2 / kk * (e - ell)) / (a2 - 1) + (2 * k - n) / kk * r1
    return r1, r2, ell
end

# Finite parts at X_o (1 + g sc X_o = 0, g > 0; case 4) of S₁ and S₂, and u', u'' of
# u = 1 + g sc X there (radial_integrals.py:_sc_pole)
function sc_pole(g, k, sn, cn, dn, f, e, dual)
    a2 = g * g
    big_n = 1 + a2
    pi_hat = pi_pole(big_n, a2, k, sn, cn, dn, dual)
    p2 = sqrt(big_n / (big_n - k))
    p2m1 = k / (big_n - k) / (p2 + 1)
    logt = log(p2 * k * sn * abs(cn) * (p2 + 1) / (2 * p2m1))
    s1 = (f + a2 * pi_hat + 0.5 * g * p2 * logt) / big_n
    u1 = g * dn / (cn * cn)
    u2 = g * sn * (2 * dn * dn - k * cn * cn) / cn^3
    h = dn * big_n / g
    h1 = -k * sn * cn * big_n / g - dn * dn / (cn * cn)
    q = h1 / u1 - h * u2 / (2 * u1 * u1)
    bracket = (1 - k) * f + a2 * e + a2 * q - a2 * g
    pre = 1 / big_n + (1 - k) / (1 - k + a2)
    s2 = -bracket / (big_n * (1 - k + a2)) + pre * s1
    return s1, s2, u1, u2
end
