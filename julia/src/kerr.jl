# Kerr spacetime: horizons, ISCO, metric components, the ZAMO frame and the critical curve.
# Port of kerrfield/physics/kerr.py (same formulas, same conventions). Units G = c = M = 1,
# Boyer–Lindquist coordinates (t, r, θ, φ), spin |a| < 1.

function check_spin(a::Real)
    (isfinite(a) && -1 < a < 1) ||
        throw(ArgumentError("spin must satisfy -1 < spin < 1 (dimensionless Kerr spin), got $a"))
    return Float64(a)
end

function check_inclination(th::Real)
    (isfinite(th) && 0 < th < 180) ||
        throw(ArgumentError("inclination must be in degrees with 0 < inclination < 180, got $th"))
    return Float64(th)
end

"""    horizon(a)   Outer event-horizon radius r₊ = 1 + √(1 − a²)."""
horizon(a::Real) = 1 + sqrt(1 - check_spin(a)^2)

"""    inner_horizon(a)   Inner (Cauchy) horizon radius r₋ = 1 − √(1 − a²)."""
inner_horizon(a::Real) = 1 - sqrt(1 - check_spin(a)^2)

"""
    isco(a)

Radius of the innermost stable circular orbit for orbits in the +φ direction (Bardeen, Press &
Teukolsky 1972, eq. 2.21); a > 0 prograde, a < 0 retrograde.
"""
function isco(spin::Real)
    a = check_spin(spin)
    z1 = 1 + (1 - a * a)^(1 / 3) * ((1 + a)^(1 / 3) + (1 - a)^(1 / 3))
    z2 = sqrt(3 * a * a + z1 * z1)
    r = 3 + z2 - copysign(1.0, a) * sqrt((3 - z1) * (3 + z1 + 2 * z2))
    if abs(a) < 0.5
        # 3 − Z₁ ~ a² cancels as a → 0: one Newton step on r² − 6r + 8a√r − 3a² = 0
        r -= (r * r - 6 * r + 8 * a * sqrt(r) - 3 * a * a) / (2 * r - 6 + 4 * a / sqrt(r))
    end
    return r
end

"""
    metric_bl(a, r, theta) -> NamedTuple

Covariant Kerr metric components in Boyer–Lindquist coordinates (BPT 1972 eq. 2.1): g_tt,
g_tphi, g_phiphi, g_rr, g_thth and Σ, Δ, A = (r² + a²)² − a²Δ sin²θ.
"""
function metric_bl(a::Float64, r::Float64, theta::Float64)
    c2 = cos(theta)^2
    s2 = 1 - c2
    sigma = r * r + a * a * c2
    delta = r * r - 2 * r + a * a
    big_a = (r * r + a * a)^2 - a * a * delta * s2
    return (g_tt = -(1 - 2 * r / sigma), g_tphi = -2 * a * r * s2 / sigma,
            g_phiphi = big_a * s2 / sigma, g_rr = sigma / delta, g_thth = sigma,
            sigma = sigma, delta = delta, A = big_a)
end

"""
    zamo(a, r, theta) -> (lapse, omega)

Zero-angular-momentum observer: lapse e^ν = √(ΣΔ/A) and frame dragging ω = 2ar/A
(BPT 1972 eqs. 3.2).
"""
function zamo(a::Float64, r::Float64, theta::Float64)
    g = metric_bl(a, r, theta)
    return sqrt(g.sigma * g.delta / g.A), 2 * a * r / g.A
end

# λ̃(r̃), η̃(r̃) of spherical photon orbits (Gralla & Lupsasca 2020b, PRD 101 044031, eq. 38)
function shell_conserved(a::Float64, r::Float64)
    delta = r * r - 2 * r + a * a
    lam = a + r / a * (r - 2 * delta / (r - 1))
    eta = r^3 / a^2 * (4 * delta / (r - 1)^2 - r)
    return lam, eta
end

# the photon-shell radius with λ̃ = 0 (bisection between the circular photon orbits): there
# Θ(θo) = η̃ + a²cos²θo > 0 for every θo, so the visible range of r̃ always contains it
function zero_lambda_radius(a::Float64, lo::Float64, hi::Float64)
    sign_lo = sign(shell_conserved(a, lo)[1])
    for _ in 1:200
        mid = 0.5 * (lo + hi)
        sign(shell_conserved(a, mid)[1]) == sign_lo ? (lo = mid) : (hi = mid)
    end
    return 0.5 * (lo + hi)
end

"""
    critical_curve(a, inclination_deg, npoints=512) -> (alpha, beta)

Screen coordinates of the critical curve (image of the photon shell; Gralla & Lupsasca 2020b,
PRD 101 044031, eqs. 38-40): α = −λ̃/sin θo, β = ±√Θ(θo) over the photon-shell radii r̃ with
Θ(θo) = η̃ + a²cos²θo − λ̃²cot²θo ≥ 0; a circle of radius √27 for a = 0. Closed curve,
counter-clockwise, as in kerrfield.physics.kerr.critical_curve.
"""
function critical_curve(spin::Real, inclination::Real, npoints::Integer = 512)
    a = check_spin(spin)
    th = deg2rad(check_inclination(inclination))
    npoints >= 8 || throw(ArgumentError("npoints must be >= 8, got $npoints"))
    n = Int(npoints)
    if abs(a) < 1e-6
        ang = range(0.0, 2pi; length = n)
        b = sqrt(27.0)
        return b .* cos.(ang), b .* sin.(ang)
    end
    rm = 2 * (1 + cos(2 / 3 * acos(-abs(a))))
    rp = 2 * (1 + cos(2 / 3 * acos(abs(a))))
    lo, hi = min(rm, rp), max(rm, rp)
    ct2 = cos(th)^2
    cot2 = 1 / tan(th)^2
    theta_pot(r) = (sc = shell_conserved(a, r); sc[2] + a * a * ct2 - sc[1]^2 * cot2)
    grid = collect(range(lo, hi; length = 20001))[2:end-1]
    ok = findall(r -> theta_pot(r) >= 0, grid)
    function bisect(x_bad, x_good)
        for _ in 1:200
            mid = 0.5 * (x_bad + x_good)
            theta_pot(mid) >= 0 ? (x_good = mid) : (x_bad = mid)
        end
        return x_good
    end
    if !isempty(ok)
        i0, i1 = ok[1], ok[end]
        r_lo = bisect(i0 > 1 ? grid[i0-1] : lo, grid[i0])
        r_hi = bisect(i1 < length(grid) ? grid[i1+1] : hi, grid[i1])
    else    # nearly face-on: Θ ≥ 0 only where λ̃ ≈ 0, between two grid points (issue 12 item 5)
        r0 = zero_lambda_radius(a, lo, hi)
        r_lo, r_hi = bisect(lo, r0), bisect(hi, r0)
    end
    half = n ÷ 2 + 1
    r = [r_lo + (r_hi - r_lo) * 0.5 * (1 - cos(t)) for t in range(0.0, pi; length = half)]
    alpha = [-shell_conserved(a, x)[1] / sin(th) for x in r]
    beta = [sqrt(max(theta_pot(x), 0.0)) for x in r]
    al = vcat(alpha, reverse(alpha)[2:end])
    be = vcat(beta, -reverse(beta)[2:end])
    if a < 0
        al, be = reverse(al), reverse(be)
    end
    return al, be
end
