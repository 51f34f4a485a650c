"""Cells of tutorials 03 (parameter inference) and 04 (Julia backend), rendered by
``scripts/make_notebooks.py``."""

from __future__ import annotations

from _notebook_cells import code, md

NB03 = [
    md(r"""
# Parameter inference: spin and inclination

How well does an image determine the spin and the inclination, and how sure can we be? A
joint fit of field, spin and inclination from one starting point is a *local* optimiser in
a non-convex landscape: it can end in the wrong basin and still print a confident number.
This notebook uses the default strategy of `kerrfield infer`, **search**:

1. a coarse spin × inclination grid; at every point the emission field is fitted to
   convergence on fixed, traced-once geometry (cheap);
2. a joint fit (field + spin + inclination) from the best grid point;
3. local grids around that minimum whose noise-aware $\chi^2$ profile gives confidence
   intervals: $\Delta\chi^2 = 1$ (68 %) and 3.84 (95 %) in one parameter, 2.30 / 6.18 jointly.

It then profiles the inclination alone with the spin held fixed, and runs an ensemble of
joint fits as a check of the *optimiser's* spread (not a statistical interval). Everything
goes through {func}`kerrfield.run_inference` (the same as `kerrfield infer config.toml`),
so results are written unit by unit and could be resumed or run on a dask cluster.
"""),
    code("""
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Image

import kerrfield as kf

truth = {"spin": 0.8, "inclination": 40.0}
# 2 % Gaussian noise: the target carries its per-pixel sigma, so the fit uses chi^2
spec = dict(emission="ring", emission_params={"radius": 6.0, "width": 1.5},
            fov=9.0, npix=24, orders=[0, 1], noise=0.02, **truth)
target = kf.synthesize(**spec)
field_kw = dict(width=8, depth=2, output="softplus", scale=9.0)
workdir = Path(tempfile.mkdtemp(prefix="kerrfield-inference-"))
target["image"].plot(cmap="afmhot")
plt.gca().set_aspect("equal")
plt.show()
"""),
    md("""
## 1. Search: spin and inclination with intervals

The configuration is the dictionary a TOML file would hold (this one is
`examples/joint_fit.toml`).
"""),
    code("""
search_cfg = {
    "seed": 0,
    "target": {"synthetic": spec},
    "field": field_kw,
    "fit": {"steps": 300},
    "mode": {"kind": "search", "spin": {"start": -0.8, "stop": 0.9, "num": 4},
             "inclination": {"start": 20.0, "stop": 70.0, "num": 4}},
    "search": {"field_seeds": 1, "refine": 1, "refine_steps": 300, "profile_points": 5},
    "output": {"directory": str(workdir / "search"), "progress": False},
}
t0 = time.perf_counter()
result = kf.run_inference(search_cfg)
se = result["search"]
print(f"{result['n_units']} fits in {time.perf_counter() - t0:.0f} s; "
      f"chi2/N at the minimum {se['estimate']['reduced_chi2']:.2f}")
for name, unit in (("spin", ""), ("inclination", "°")):
    iv = se["intervals"][name]
    print(f"{name:12s} {se['estimate'][name]:.4f}{unit}  68 % [{iv['68']['lo']:.4f}, "
          f"{iv['68']['hi']:.4f}]  95 % [{iv['95']['lo']:.4f}, {iv['95']['hi']:.4f}]  "
          f"truth {truth[name]}{unit}  unconstrained: {se['unconstrained'][name]}")
"""),
    code("""
Image(filename=str(workdir / "search" / "profiles.png"))
"""),
    md(r"""
The coarse grid (left) and the last local grid (right) as $\Delta\chi^2$ maps, with the
joint 68 % / 95 % contours and the truth:
"""),
    code("""
Image(filename=str(workdir / "search" / "delta_chi2_map.png"))
"""),
    md("""
## 2. Profile over inclination with the spin held fixed

A number instead of a grid for `mode.spin` holds that axis fixed (here at the truth).
"""),
    code("""
prof_cfg = {**search_cfg, "mode": {"kind": "search", "spin": truth["spin"],
                                   "inclination": {"start": 20.0, "stop": 60.0, "num": 5}},
            "search": {"field_seeds": 1, "refine": 1, "profile_points": 7},
            "output": {"directory": str(workdir / "profile"), "progress": False}}
prof = kf.run_inference(prof_cfg)["search"]
iv = prof["intervals"]["inclination"]
print(f"inclination {prof['estimate']['inclination']:.3f}°  68 % [{iv['68']['lo']:.3f}, "
      f"{iv['68']['hi']:.3f}]  95 % [{iv['95']['lo']:.3f}, {iv['95']['hi']:.3f}]  "
      f"(truth {truth['inclination']}°)")
Image(filename=str(workdir / "profile" / "profiles.png"))
"""),
    md("""
## 3. Optimiser spread: an ensemble of joint fits

Four joint fits with their own field seeds, started within ±0.05 in spin and ±3° in
inclination of a point near the search estimate, each with the field first fitted on its
starting geometry (`warm_start`). Their spread says how repeatable the optimisation is; it
is reported separately from the statistical interval above.
"""),
    code("""
ens_cfg = {
    "seed": 0,
    "target": {"synthetic": {**spec, "npix": 20}},
    "model": {"relinearize_every": 20},
    "field": field_kw,
    "fit": {"steps": 300, "lr": 5e-3, "geometry_lr": 1e-2, "loss": "chi2"},
    "mode": {"kind": "ensemble", "seeds": 4, "spin": 0.75, "inclination": 43.0,
             "init_jitter": {"spin": 0.05, "inclination": 3.0}, "warm_start": True},
    "output": {"directory": str(workdir / "ensemble"), "progress": False},
}
ens = kf.run_inference(ens_cfg)
e = ens["ensemble"]
print(f"spin        {e['spin_mean']:.4f} ± {e['spin_std']:.4f}   (truth {truth['spin']})")
print(f"inclination {e['inclination_mean']:.2f} ± {e['inclination_std']:.2f}°  "
      f"(truth {truth['inclination']}°)")
Image(filename=str(workdir / "ensemble" / "ensemble.png"))
"""),
    md("""
## Reading the results

The intervals are profile-likelihood intervals: at every point the emission field is
re-fitted, so they include the degeneracy between emission and geometry. They assume
Gaussian pixel noise of the recorded σ and a field flexible enough to reach the noise floor
($\\chi^2/N \\approx 1$); when it is not ($\\chi^2/N > 1$) the intervals are widened by
$\\sqrt{\\chi^2_{min}/N}$. They are then multiplied by `search.interval_scale` (default 1.2):
on hidden-truth targets the bare $\\Delta\\chi^2 = 1$ intervals held the truth less often than
68 %, because the fitted field family carries a systematic that $\\chi^2/N$ does not show;
the factor is that calibration (set it to 1 for the bare intervals). A parameter whose
95 % region reaches the edge of the searched grid
is flagged *unconstrained*: the data do not determine it there, and the point estimate
should not be quoted. How often the intervals contain the truth on targets the strategy was
never tuned on is measured in the identifiability page of the documentation.
"""),
]

NB04 = [
    md("""
# The Julia backend and the torch cross-check

kerrfield ships a second, independent implementation of the ray tracer in Julia (the
`KerrField` package in `julia/`). Tracing the same screen with both backends and comparing
every variable is a strong test of both. This notebook needs a Julia executable; **without
Julia it says so and skips the comparison** (CI installs Julia, so there it runs in full).
See the [backends page](../backends.md) for how to get Julia.
"""),
    code("""
import time

import matplotlib.pyplot as plt
import numpy as np

import kerrfield as kf

info = kf.julia_info()
info
"""),
    code("""
from kerrfield import bridge

have_julia = bridge.find_julia() is not None or info.get("juliacall", False) is True
if not have_julia:
    print("Julia is not available here: the cross-check below is skipped. "
          "Install Julia (make julia, juliaup, or set KERRFIELD_JULIA) to run it.")
"""),
    md("""
## Tracing with both backends

The first Julia call starts the worker and compiles the package (a few seconds to a
minute); later calls are fast.
"""),
    code("""
spin, inclination = 0.94, 60.0
kw = dict(fov=10.0, npix=96, orders=(0, 1, 2))
t0 = time.perf_counter()
ds_torch = kf.raytrace(spin, inclination, **kw)
t_torch = time.perf_counter() - t0
if have_julia:
    t0 = time.perf_counter()
    ds_julia = kf.raytrace(spin, inclination, backend="julia", **kw)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds_julia = kf.raytrace(spin, inclination, backend="julia", **kw)
    t_julia = time.perf_counter() - t0
    print(f"torch {t_torch:.2f} s; julia {t_julia:.2f} s (first call {t_first:.1f} s, "
          "including start-up and compilation)")
"""),
    md("""
## Agreement

The status codes are compared pixel by pixel; for the continuous variables the table gives
the largest, the median and the 99th-percentile absolute difference over the pixels where
both backends find a crossing. Pixels close to the critical curve are the most sensitive:
there tiny differences in the conserved quantities are amplified by the many turns the ray
makes around the black hole.
"""),
    code("""
if have_julia:
    same_status = (ds_torch.status == ds_julia.status)
    print(f"status agrees on {float(same_status.mean()):.4%} of pixel-orders")
    both = (ds_torch.status == 0) & (ds_julia.status == 0)
    rows = []
    for var in ("r_s", "phi_s", "t_s", "x", "y", "g"):
        if var in ds_torch and var in ds_julia:
            d = np.abs(ds_torch[var] - ds_julia[var]).where(both)
            rows.append((var, float(d.max()), float(d.median()), float(d.quantile(0.99))))
    print(f"{'variable':>9} {'max |Δ|':>11} {'median':>11} {'99th pct':>11}")
    for var, mx, med, q in rows:
        print(f"{var:>9} {mx:11.2e} {med:11.2e} {q:11.2e}")
"""),
    code("""
if have_julia:
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    for ax, n in zip(axes, ds_torch.n.values):
        d = np.abs(ds_torch.r_s - ds_julia.r_s).sel(n=n).where(both.sel(n=n))
        np.log10(d + 1e-17).plot(ax=ax, vmin=-16, vmax=-8, cmap="magma",
                                 cbar_kwargs={"label": "log10 |Δ r_s|"})
        ax.set(aspect="equal", title=f"n = {n}")
    plt.show()
"""),
]
