"""A smooth toy lensing geometry used by the emission/fitting tests as a test double.

Not physics: it only mimics the ``kf.trace_rays`` / ``kf.raytrace`` contract (shapes,
NaN + status masking, differentiability in spin and inclination) so the fitting machinery
can be tested independently of the ray tracer. Order 0 is a sheared, inclined plane;
order 1 a demagnified, flipped copy on an annulus 4 < rho < 6 (status 1 elsewhere).
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr


def trace_rays(spin, inclination, alpha, beta, *, orders=(0, 1), surface="equatorial",
               velocity="zamo"):
    spin = torch.as_tensor(spin, dtype=alpha.dtype, device=alpha.device)
    inc = torch.deg2rad(torch.as_tensor(inclination, dtype=alpha.dtype, device=alpha.device))
    rho = torch.sqrt(alpha**2 + beta**2)
    out = {k: [] for k in ("x", "y", "g", "r_s", "theta_s", "status")}
    for n in orders:
        if n == 0:
            x = alpha * (1 + 0.2 * spin) + 0.5 * spin
            y = beta / torch.cos(inc)
            g = 1.0 / (1.0 + 0.03 * spin * alpha * torch.sin(inc))
            ok = torch.ones_like(alpha, dtype=torch.bool)
        else:
            x = -0.5 * alpha * (1 + spin)
            y = -0.5 * beta / torch.cos(inc)
            g = 0.8 + 0.1 * spin * torch.sin(inc)
            ok = (rho > 4) & (rho < 6)
        nan = torch.full_like(alpha, float("nan"))
        out["x"].append(torch.where(ok, x, nan))
        out["y"].append(torch.where(ok, y, nan))
        out["g"].append(torch.where(ok, g, nan))
        out["r_s"].append(torch.where(ok, torch.sqrt(x**2 + y**2 + 1e-30), nan))
        out["theta_s"].append(torch.where(ok, torch.full_like(alpha, np.pi / 2), nan))
        out["status"].append(torch.where(ok, 0, 1).to(torch.int8))
    res = {k: torch.stack(v) for k, v in out.items()}
    res["lam"] = alpha * 0
    res["eta"] = beta**2
    return res


def raytrace(spin, inclination, *, fov=10.0, npix=16, orders=(0, 1), **_):
    a = torch.linspace(-fov, fov, npix, dtype=torch.float64)
    bb, aa = torch.meshgrid(a, a, indexing="ij")
    with torch.no_grad():
        r = trace_rays(spin, inclination, aa.reshape(-1), bb.reshape(-1), orders=orders)
    shape = (len(orders), npix, npix)
    data = {k: (("n", "beta", "alpha"), r[k].reshape(shape).numpy())
            for k in ("x", "y", "g", "r_s", "theta_s", "status")}
    return xr.Dataset(data, coords={"n": list(orders), "alpha": a.numpy(), "beta": a.numpy()},
                      attrs={"spin": spin, "inclination": inclination})


def real_raytrace_module():
    """The package's ray tracer if it is importable, else None."""
    import importlib
    import sys

    try:
        # import_module returns the submodule itself: `import kerrfield.raytrace as rt` may
        # bind the *function* kerrfield.raytrace cached by the package's lazy __getattr__
        rt = importlib.import_module("kerrfield.physics.raytrace")
    except ImportError:
        return None
    if rt is sys.modules[__name__]:
        return None
    return rt if hasattr(rt, "trace_rays") and hasattr(rt, "raytrace") else None


def add_cli(subparsers):  # the test double registers no subcommand
    return None
