"""
    KerrField

Julia backend of the kerrfield Python package: analytic ray tracing of Kerr black holes
(Gralla & Lupsasca 2020, PRD 101, 044032).  Standard library only; runs on Julia ≥ 1.5.
Each physics file mirrors the Python module of the same path under `kerrfield/physics/`
(`elliptic/carlson.jl` ↔ `kerrfield/physics/elliptic/carlson.py`, `geodesics/radial.jl` ↔
`kerrfield/physics/geodesics/radial.py`, `kerr.jl` ↔ `kerrfield/physics/kerr.py`, ...).
`worker.jl` is not physics and not part of this module: it is the subprocess bridge run by
`kerrfield.julia_bridge`.
"""
module KerrField

export carlson_rf, carlson_rd, carlson_rj, carlson_rc
export horizon, inner_horizon, isco, critical_curve, trace_rays, trace_rays_dict, Velocity
export ellipk, ellipe, ellippi, ellipf, ellipj, ellipj_am, jacobi_sn, jacobi_cn, jacobi_dn

"""Version of the KerrField Julia package (matches julia/Project.toml)."""
const VERSION_STRING = "0.1.0"

# order: constants and structs before their first top-level use (conserved.jl's STATUS_HORIZON
# in radial_cases.jl's _NAN7); function bodies may call functions from later files
include("elliptic/carlson.jl")
include("elliptic/legendre.jl")
include("elliptic/jacobi.jl")
include("kerr.jl")
include("geodesics/conserved.jl")
include("geodesics/angular.jl")
include("geodesics/vortical.jl")
include("geodesics/radial_integrals.jl")
include("geodesics/radial_cases.jl")
include("geodesics/radial.jl")
include("redshift.jl")
include("raytrace.jl")

end # module
