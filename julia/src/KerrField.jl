"""
    KerrField

Julia backend of the kerrfield Python package: analytic ray tracing of Kerr black holes
(Gralla & Lupsasca 2020, PRD 101, 044032).  Standard library only; runs on Julia ≥ 1.5.
Each file mirrors the Python module of the same name in `kerrfield/`.
"""
module KerrField

export carlson_rf, carlson_rd, carlson_rj, carlson_rc
export horizon, inner_horizon, isco, critical_curve, trace_rays, trace_rays_dict, Velocity
export ellipk, ellipe, ellippi, ellipf, ellipj, ellipj_am, jacobi_sn, jacobi_cn, jacobi_dn

"""Version of the KerrField Julia package (matches julia/Project.toml)."""
const VERSION_STRING = "0.1.0"

include("elliptic/carlson.jl")     # whole former elliptic.jl until the split
include("kerr.jl")
include("geodesics/radial_cases.jl")  # whole former geodesics.jl until the split
include("redshift.jl")
include("raytrace.jl")

end # module
