"""Write the tutorial notebooks (notebooks/*.ipynb, without outputs) from the cells below.

The notebooks are the source of truth for readers; this script only makes editing them in
a text editor easy. Run ``python scripts/make_notebooks.py`` after changing a cell here;
the documentation build executes them (``make docs``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerrfield.fitting.workflow import DEMO  # noqa: E402

#: numbers the prose quotes, taken from the code so that the two cannot drift apart
FACTS = {"@DEMO_STEPS@": str(DEMO["steps"])}


def md(text: str):
    for key, value in FACTS.items():
        text = text.replace(key, value)
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    return new_code_cell(text.strip("\n"))


NB01 = [
    md("""
# Ray-tracing basics

This notebook traces the screen of a Kerr black hole with {func}`kerrfield.raytrace`, looks
at the returned {class}`xarray.Dataset`, maps where the rays of the first three sub-images
($n = 0, 1, 2$) hit the equatorial disk and their redshift, and zooms into the photon
ring. Units are $G = c = M = 1$; see the [conventions](../conventions.md).
"""),
    code("""
import time

import matplotlib.pyplot as plt
import numpy as np

import kerrfield as kf

spin, inclination = 0.94, 17.0
t0 = time.perf_counter()
ds = kf.raytrace(spin, inclination, fov=8.0, npix=100, orders=(0, 1, 2), velocity="keplerian")
print(f"traced {ds.sizes['alpha'] * ds.sizes['beta']} pixels x {ds.sizes['n']} orders "
      f"in {time.perf_counter() - t0:.2f} s")
ds
"""),
    md("""
Every variable lives on `(n, beta, alpha)`. Where the $n$-th crossing does not exist the
`status` code says why (0 ok, 1 captured by the horizon, 2 escaped, 3 never reaches the
surface) and the other variables are NaN. The fraction of pixels in each state:
"""),
    code("""
for n in ds.n.values:
    st = ds.status.sel(n=n).values
    counts = {code: float(np.mean(st == code)) for code in (0, 1, 2, 3)}
    print(f"n = {n}: " + ", ".join(f"status {c}: {f:6.1%}" for c, f in counts.items()))
"""),
    md("""
## Emission radius and redshift for $n = 0, 1, 2$

The direct image ($n = 0$) shows the disk nearly face-on; the $n = 1$ image is a thin,
demagnified copy of the whole disk squeezed into a ring, and $n = 2$ is thinner still.
The redshift factor is that of Keplerian emitters with the Cunningham plunge inside the
ISCO (`velocity="keplerian"`; the default is ZAMO). The critical curve (white) is the edge
of the shadow.
"""),
    code("""
al, be = kf.critical_curve(spin, inclination)
fig, axes = plt.subplots(2, 3, figsize=(13, 8.2), constrained_layout=True)
for j, n in enumerate(ds.n.values):
    sel = ds.sel(n=n).where(ds.status.sel(n=n) == 0)
    sel.r_s.plot(ax=axes[0, j], cmap="viridis", vmin=1, vmax=20,
                 cbar_kwargs={"label": "r_s [M]"})
    sel.g.plot(ax=axes[1, j], cmap="RdBu_r", vmin=0.3, vmax=1.7, cbar_kwargs={"label": "g"})
    for ax in axes[:, j]:
        ax.plot(al, be, "w", lw=0.8)
        ax.set_aspect("equal")
        ax.set_title(f"n = {n}")
plt.show()
"""),
    md("""
## The photon ring

Along a horizontal cut through the image, each sub-image order is confined to an ever
narrower band just outside the critical curve, and each band covers the whole disk again:
the width shrinks roughly by $e^{-\\gamma}$ per order, with $\\gamma$ the Lyapunov exponent
of the bound photon orbits ($\\gamma = \\pi$ for $a = 0$). We measure the widths (in
$\\alpha$, on the $\\beta = 0$ row) of the bands where each order hits the disk.
"""),
    code("""
row = ds.sel(beta=0.0, method="nearest")
fig, ax = plt.subplots(figsize=(8, 3.4), constrained_layout=True)
widths = {}
for n in row.n.values:
    ok = row.status.sel(n=n) == 0
    r = row.r_s.sel(n=n).where(ok)
    ax.plot(row.alpha, r, ".", ms=3, label=f"n = {n}")
    a_ok = row.alpha.values[ok.values & (row.alpha.values > 0)]
    widths[int(n)] = float(a_ok.max() - a_ok.min()) if a_ok.size else float("nan")
ax.axvline(al[np.argmax(al)], color="k", ls="--", lw=1, label="critical curve")
ax.set(xlabel="α [M]  (β = 0)", ylabel="r_s [M]", yscale="log", xlim=(0, 8))
ax.legend()
plt.show()
for n, w in widths.items():
    print(f"n = {n}: band width on the right-hand side {w:.3g} M" if w > 0 else
          f"n = {n}: narrower than a pixel ({float(row.alpha[1] - row.alpha[0]):.2f} M) here")
"""),
    md("""
## Zooming in

The screen can be any regular grid. A narrow window around the right-hand edge of the
critical curve resolves the $n = 1$ and $n = 2$ rings and their nested structure; every
order again maps the whole disk, from the inner edge to large radii.
"""),
    code("""
a_edge = float(al.max())
zoom = kf.raytrace(spin, inclination, alpha=np.linspace(a_edge - 0.05, a_edge + 0.6, 160),
                   beta=np.linspace(-0.4, 0.4, 60), orders=(1, 2), velocity="keplerian")
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6), constrained_layout=True)
for ax, n in zip(axes, zoom.n.values):
    zoom.r_s.sel(n=n).where(zoom.status.sel(n=n) == 0).plot(
        ax=ax, cmap="viridis", norm=plt.matplotlib.colors.LogNorm(1, 100),
        cbar_kwargs={"label": "r_s [M]"})
    ax.axvline(a_edge, color="w", ls="--", lw=1)
    ax.set_title(f"n = {n} near the critical curve")
plt.show()
"""),
    md("""
## A disk image

A simple image sums $g^3 \\times$ (a radial emissivity) over the three orders. The photon
ring is the thin bright ring; the asymmetry comes from the Doppler boost of the
approaching side, at $\\alpha < 0$.
"""),
    code("""
r_h = kf.horizon(spin)
emissivity = np.exp(-0.5 * (np.log(ds.r_s / 5.0) / 0.5) ** 2)
image = (ds.g**3 * emissivity).where(ds.status == 0, 0.0)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
image.sum("n").plot(ax=axes[0], cmap="afmhot", cbar_kwargs={"label": "intensity"})
axes[0].set(aspect="equal", title="n = 0 + 1 + 2")
(image.sel(n=1) + image.sel(n=2)).plot(ax=axes[1], cmap="afmhot",
                                       cbar_kwargs={"label": "intensity"})
axes[1].set(aspect="equal", title="photon ring only (n = 1 + 2)")
plt.show()
"""),
    md("""
## In physical units

For M87* ($6.5\\times10^9\\,M_\\odot$ at 16.8 Mpc) one unit of the screen is 3.8 μas, so the
ring is about 40 μas across. {func}`kerrfield.with_sky_coords` adds the angular
coordinates and {func}`kerrfield.to_fits` writes a FITS file with a sky WCS.
"""),
    code("""
import tempfile
from pathlib import Path

sky = kf.with_sky_coords(image.sum("n"), source="M87")
fig, ax = plt.subplots(figsize=(5, 4.4), constrained_layout=True)
sky.plot(ax=ax, x="alpha_uas", y="beta_uas", cmap="afmhot")
ax.set(aspect="equal", xlabel="α [μas]", ylabel="β [μas]", title="M87*: 1 M = 3.8 μas")
plt.show()

path = kf.to_fits(image.sum("n"), Path(tempfile.mkdtemp()) / "m87.fits", source="M87",
                  total_flux=0.6, frequency=230e9)
from astropy.io import fits
print(repr(fits.getheader(path))[:1200])
"""),
]

NB02 = [
    md("""
# The KerrNeRF reference scenario

The reference scenario follows the neural-emission example of Krang.jl: the *truth* is a
randomly initialised neural field (a 2→20→20→1 tanh MLP with a sigmoid output) painted on
the equatorial plane of a black hole with $a = 0.94$ seen at $\\theta_o = 20°$. Its lensed
image (direct image plus the first photon-ring image) is the target. A second field with
different random weights, together with a *wrong* spin ($0.5$) and inclination ($60°$),
is then fitted to the target by gradient descent through the ray tracer.

`make demo` runs the full-length version of this (`kerrfield demo`: 30×30 pixels, @DEMO_STEPS@
steps); here the screen is 20×20 and the fit only 150 steps, so that the notebook runs in
a minute or two on a 2-core CPU. Each step traces all rays again, which dominates the cost.
"""),
    code("""
import time

import matplotlib.pyplot as plt

import kerrfield as kf

truth = {"spin": 0.94, "inclination": 20.0}
fov, npix = 10.0, 20
"""),
    md("""
## The geometry behind the target

Where each pixel's ray meets the disk, for the direct ($n = 0$) and first photon-ring
($n = 1$) image, and the redshift of the (default) ZAMO emitters.
"""),
    code("""
geo = kf.raytrace(truth["spin"], truth["inclination"], fov=fov, npix=npix, orders=(0, 1))
display(kf.plot_geometry(geo, ("r_s", "g")))
"""),
    md("""
## The target

The true emission is a random MLP; {func}`kerrfield.synthesize` lenses it and records the
truth in the Dataset's attributes.
"""),
    code("""
target = kf.synthesize("mlp", truth["spin"], truth["inclination"], fov=fov, npix=npix, seed=0)
target
"""),
    code("""
display(kf.plot_emission_and_image(target["emission"], target["image"],
                                   title="truth: random MLP emission, a = 0.94, θo = 20°"))
"""),
    md("""
## Joint fit of emission, spin and inclination

The model is {func}`kerrfield.kerr_image_model`: spin and inclination are trainable and
the rays are traced again at every step, so the loss gradient reaches them.
"""),
    code("""
field = kf.EmissionField(width=20, depth=2, seed=1)
model = kf.kerr_image_model(field, spin=0.5, inclination=60.0, fov=fov, npix=npix)
start = model.to_xarray()
t0 = time.perf_counter()
result = kf.fit(model, target, steps=150, lr=1e-2, schedule="cosine", lr_final=0.01,
                progress=False)
print(f"{result.steps} steps in {time.perf_counter() - t0:.1f} s; loss "
      f"{result.initial_loss:.3e} -> {result.final_loss:.3e}")
print(f"spin {model.spin.item():.4f} (truth {truth['spin']}), "
      f"inclination {model.inclination.item():.3f}° (truth {truth['inclination']}°)")
"""),
    code("""
display(kf.plot_fit(target["image"], start, model.to_xarray(),
                    losses=(result.initial_loss, result.final_loss)))
display(kf.plot_loss(result.history))
display(kf.plot_parameters(result.history, truth=truth))
"""),
    md("""
## The recovered emission

The image constrains the emission only where rays land. Rendering the fitted field on the
equatorial plane next to the truth shows the region the data determine (within the
outermost radius seen in the field of view) and how the field extrapolates beyond it.
"""),
    code("""
fitted_map = kf.emission_map(model.field, extent=fov, npix=128)
true_map = target["emission"]
fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
true_map.plot(ax=axes[0], cmap="afmhot")
axes[0].set(aspect="equal", title="true emission")
fitted_map.plot(ax=axes[1], cmap="afmhot")
axes[1].set(aspect="equal", title="fitted emission")
plt.show()
"""),
    md("""
This run stops early: compare the printed spin and inclination with the truth. `make demo`
runs the full @DEMO_STEPS@-step schedule on a 30×30 screen; the performance page lists the
benchmark results that have been committed for it.
"""),
]

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


def render(cells: list) -> str:
    """The notebook text (stable cell ids, so regenerating changes only what changed)."""
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


NOTEBOOKS = {"01_raytracing_basics": NB01, "02_kerrnerf_reference": NB02,
             "03_parameter_inference": NB03, "04_julia_backend": NB04}


def write(name: str, cells: list) -> Path:
    path = ROOT / "notebooks" / f"{name}.ipynb"
    path.write_text(render(cells))
    return path


def main() -> int:
    for name, cells in NOTEBOOKS.items():
        print(write(name, cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
