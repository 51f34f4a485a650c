"""Write the tutorial notebooks (notebooks/*.ipynb, without outputs) from their cells.

The notebooks are the source of truth for readers; this script only makes editing them in
a text editor easy: tutorials 01-02 are below, 03-04 in ``_notebooks_inference.py``. Run
``python scripts/make_notebooks.py`` after changing a cell;
the documentation build executes them (``make docs``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from _notebook_cells import ROOT, code, md
from _notebooks_inference import NB03, NB04
from nbformat.v4 import new_notebook

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
