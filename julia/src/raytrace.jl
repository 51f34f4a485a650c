# Ray-tracing front end: screen → emission coordinates for every sub-image order. Port of
# kerrfield/physics/raytrace.py::trace_rays (same outputs, same status codes, same NaN convention):
# one scalar kernel per pixel, pixels threaded with Threads.@threads.
#
# Screen: α, β in M, β along the projected spin axis, sign(p^θ) = sign(β) at the observer,
# observer at φ = 0. Status (per order): 0 ok, 1 horizon first, 2 escapes first, 3 never reaches
# the surface. Float outputs are NaN where status ≠ 0.

# below this many pixels the kernel runs on the calling thread only
const _MIN_THREADED_PIXELS = 256

"""Names of the per-(pixel, order) outputs, in the order of the result arrays."""
const RAY_VARS = ("r_s", "theta_s", "phi_s", "phi_ks", "t_s", "x", "y", "g", "nu_r",
                  "nu_theta", "status")

"""
    TraceResult

Outputs of [`trace_rays`](@ref): matrices of size (npix, norders) for each of `RAY_VARS`
(`status` as Int8) and vectors `lam`, `eta` (npix). A column-major (npix, norders) matrix is
the C-order (norders, npix) array that kerrfield's Python side expects.
"""
struct TraceResult
    vars::Dict{String,Matrix{Float64}}
    status::Matrix{Int8}
    lam::Vector{Float64}
    eta::Vector{Float64}
end

function _check_inputs(spin, inclination_deg, alpha, beta, orders, surface_theta_deg)
    check_spin(spin)
    check_inclination(inclination_deg)
    length(alpha) == length(beta) || throw(DimensionMismatch(
        "alpha and beta must be 1-D of equal length, got $(length(alpha)) and $(length(beta))"))
    (all(isfinite, alpha) && all(isfinite, beta)) ||
        throw(ArgumentError("alpha and beta must be finite (found NaN or inf)"))
    (!isempty(orders) && all(n -> n >= 0, orders) && allunique(orders)) ||
        throw(ArgumentError("orders must be distinct non-negative integers, got $(collect(orders))"))
    (isfinite(surface_theta_deg) && 0 < surface_theta_deg < 180) || throw(ArgumentError(
        "surface opening angle must be in degrees with 0 < θs < 180, got $surface_theta_deg"))
    return nothing
end

"""
    trace_rays(spin, inclination_deg, alpha, beta, orders; surface_theta_deg=90.0,
               velocity=Velocity(:zamo, 1, 1, 1)) -> TraceResult

Trace the screen points (α, β) (in M) back to the surface θ = θs (the equatorial plane for
θs = 90°), for the sub-image orders `orders` (Gralla & Lupsasca 2020, PRD 101, 044032), and
evaluate the redshift g for the velocity model. Threaded over pixels.
"""
function trace_rays(spin::Real, inclination_deg::Real, alpha::AbstractVector{<:Real},
                    beta::AbstractVector{<:Real}, orders::AbstractVector{<:Integer};
                    surface_theta_deg::Real = 90.0,
                    velocity::Velocity = Velocity(:zamo, 1.0, 1.0, 1.0))
    _check_inputs(spin, inclination_deg, alpha, beta, orders, surface_theta_deg)
    a = Float64(spin)
    theta_o = Float64(inclination_deg) * (pi / 180)
    theta_s = Float64(surface_theta_deg) == 90.0 ? pi / 2 : deg2rad(Float64(surface_theta_deg))
    us = cos(theta_s)
    npix, nord = length(alpha), length(orders)
    vars = Dict{String,Matrix{Float64}}(k => fill(NaN, npix, nord) for k in RAY_VARS if k != "status")
    status = fill(STATUS_MISSES, npix, nord)
    lam_v = Vector{Float64}(undef, npix)
    eta_v = Vector{Float64}(undef, npix)
    sk = SubKeplerian(a, velocity.kind === :general ? velocity.xi : 1.0)
    ords = Int[o for o in orders]
    # the arrays, unpacked so that the threaded loop body is type-stable
    r_s, th_s, phi_s, phi_ks, t_s = vars["r_s"], vars["theta_s"], vars["phi_s"], vars["phi_ks"], vars["t_s"]
    xs, ys, gs, nur, nuth = vars["x"], vars["y"], vars["g"], vars["nu_r"], vars["nu_theta"]
    al = Vector{Float64}(alpha)
    be = Vector{Float64}(beta)
    if Threads.nthreads() == 1 || npix < _MIN_THREADED_PIXELS
        # waking threads costs more than tracing a few pixels (ms on a loaded machine)
        for i in 1:npix
            _trace_pixel!(i, a, theta_o, theta_s, us, al[i], be[i], ords, velocity, sk,
                          r_s, th_s, phi_s, phi_ks, t_s, xs, ys, gs, nur, nuth, status, lam_v, eta_v)
        end
    else
        Threads.@threads for i in 1:npix
            _trace_pixel!(i, a, theta_o, theta_s, us, al[i], be[i], ords, velocity, sk,
                          r_s, th_s, phi_s, phi_ks, t_s, xs, ys, gs, nur, nuth, status, lam_v, eta_v)
        end
    end
    return TraceResult(vars, status, lam_v, eta_v)
end

function _trace_pixel!(i, a, theta_o, theta_s, us, alpha, beta, orders, velocity, sk,
                       r_s, th_s, phi_s, phi_ks, t_s, xs, ys, gs, nur, nuth, status, lam_v, eta_v)
    lam, eta = conserved_quantities(a, theta_o, alpha, beta)
    lam_v[i] = lam
    eta_v[i] = eta
    S = surface_setup(a, theta_o, lam, eta, beta, us)   # ordinary (η > 0) or vortical (η < 0)
    S.reach || return nothing                       # status stays 3 (never reaches surface)
    roots = radial_roots(a, lam, eta)
    rp = 1 + sqrt(1 - a * a)
    rm = a * a / rp          # r₊r₋ = a², without 1 − √(1 − a²)'s cancellation
    for (j, n) in enumerate(orders)
        tau, lam_g_phi, g_t, nu_theta = angular_crossing(S, n)
        r, nu_r, st, i_phi, i_t = radial_solution(a, lam, roots, tau)
        status[i, j] = st
        st == STATUS_OK || continue
        ps = -(i_phi + lam_g_phi)
        # Kerr–Schild azimuth: dφ_KS = dφ_BL + (a/Δ) dr, equal at infinity
        pks = ps + a / (rp - rm) * log((r - rp) / (r - rm))
        r_s[i, j] = r
        th_s[i, j] = theta_s
        phi_s[i, j] = ps
        phi_ks[i, j] = pks
        t_s[i, j] = i_t + a * a * g_t
        xs[i, j] = r * cos(pks)
        ys[i, j] = r * sin(pks)
        gs[i, j] = redshift(velocity, a, lam, eta, r, theta_s, nu_r, sk)
        nur[i, j] = nu_r
        nuth[i, j] = nu_theta
    end
    return nothing
end

"""
    trace_rays_dict(spin, inclination_deg, alpha, beta, orders, surface_theta_deg, velocity)

[`trace_rays`](@ref) for the Python bridge: `velocity` is a Dict{String,String} ("kind" and,
for "general", "xi", "beta_r", "beta_phi"); NaN `surface_theta_deg` means equatorial. Returns
a Dict{String,Array{Float64}}: (npix, norders) matrices (status as Float64 codes) and the
vectors "lam", "eta".
"""
function trace_rays_dict(spin::Real, inclination_deg::Real, alpha::AbstractVector{<:Real},
                         beta::AbstractVector{<:Real}, orders::AbstractVector{<:Integer},
                         surface_theta_deg::Real, velocity::AbstractDict)
    surf = isnan(surface_theta_deg) ? 90.0 : Float64(surface_theta_deg)
    res = trace_rays(spin, inclination_deg, alpha, beta, orders;
                     surface_theta_deg = surf, velocity = Velocity(velocity))
    out = Dict{String,Array{Float64}}(k => v for (k, v) in res.vars)
    out["status"] = Float64.(res.status)
    out["lam"] = res.lam
    out["eta"] = res.eta
    return out
end
