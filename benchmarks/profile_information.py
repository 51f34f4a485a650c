"""Gauss-Newton profile σ against the search's χ² bowl, on kept calibration runs.

The ``search`` strategy reads its intervals off a quadratic fitted to χ² on a local grid,
each point's field warm-started from the centre's and fitted for at most
``search.profile_steps`` L-BFGS iterations (the *bowl*, ``sigma_fit`` in the summary). The
textbook asymptotic σ is the inverse Fisher information with the nuisance parameters
profiled out: for Gaussian pixel noise, the Gauss-Newton information of (spin, θo) after
projecting the whitened spin and θo columns of the Jacobian on the orthogonal complement
of the field parameters' columns (Seber & Wild 2003, *Nonlinear Regression*, §2.1-2.2,
§3.2; the field's numerical rank is cut at 1e-8 of its largest singular value). Where the
two differ, the bowl is not measuring the information the data carry (e.g. the warm-started
chain's off-centre points end less converged than its centre, which steepens the bowl).

For every unflagged target of a ``coverage.py`` result whose run directory was kept
(``--keep``), this script computes both σ at the best profile point (≈ 12 s a target on
one core: one backward pass per pixel for the field Jacobian, four traces for the
geometry columns) and reports how often the truth lies within ±1 and ±1.96 σ under each:

    python benchmarks/profile_information.py RESULT.json RUN_DIR [--output OUT.json]
    python benchmarks/profile_information.py RESULT.json RUN_DIR --deep 1   # deep_rises

Measured on seed 88155139 (development): see docs/identifiability.md, *The interval scale*.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

RANK_RTOL = 1e-8  # numerical rank of the field Jacobian (relative singular value)
STEP = {"spin": 1e-4, "inclination": 1e-3}  # central differences of the geometry columns


def _z_bare(row: dict, name: str) -> float:
    """Error over the bare (unscaled) Δχ² = 1 half-width of an unflagged row."""
    lo, hi = row[f"{name}_68"]
    return row[f"{name}_error"] / ((hi - lo) / 2 / row.get("interval_scale", 1.0))


def _load(run_dir: Path) -> dict:
    """Config, target, summary, best unit, physics and the bowl of a kept ``search`` run."""
    import xarray as xr

    from kerrfield.fitting.config import load_inference_config
    from kerrfield.fitting.search import _physics

    cfg = load_inference_config(json.loads((run_dir / "config.json").read_text())["config"])
    target = xr.load_dataset(run_dir / "target.nc")
    se = json.loads((run_dir / "summary.json").read_text())["search"]
    unit = xr.load_dataset(run_dir / "units" / f"{se['estimate']['unit']}.nc")
    return {"cfg": cfg, "target": target, "unit": unit, "phys": _physics(cfg, target),
            "params": unit["field_params"].values,  # the rounds hold the bare quadratic
            "q": next(r["quadratic"] for r in reversed(se["rounds"]) if r["quadratic"])}


def _model(run: dict, spin: float, inclination: float):
    """The unit's fitted field on the geometry traced at (spin, inclination)."""
    from kerrfield.fitting.search import _field
    from kerrfield.models.builders import fixed_image_model
    from kerrfield.physics.raytrace import raytrace

    t, phys = run["target"], run["phys"]
    g = raytrace(spin, inclination, alpha=t.alpha.values, beta=t.beta.values,
                 orders=phys["orders"], surface=phys["surface"], velocity=phys["velocity"])
    return fixed_image_model(_field(run["cfg"], 0, run["params"]), g, k=phys["k"],
                             beam_fwhm=phys["beam_fwhm"])  # fmt: skip


def profile_information(run_dir: Path) -> dict:
    """σ of the bowl (the last round's quadratic, bare) and the Gauss-Newton profile σ and
    fixed-field σ at the best profile point of one kept ``search`` run; shapes (2,) each,
    spin then inclination (degrees)."""
    import torch

    run = _load(run_dir)
    geo = {n: float(run["unit"].attrs[n]) for n in ("spin", "inclination")}
    sig = torch.tensor(run["target"]["sigma"].values.ravel())
    model = _model(run, **geo)
    img = model.image().reshape(-1) / sig
    ps = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for i in range(img.numel()):
        gr = torch.autograd.grad(img[i], ps, retain_graph=True, allow_unused=True)
        rows.append(torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1)
                               for x, p in zip(gr, ps, strict=True)]))  # fmt: skip
    jw = torch.stack(rows).numpy()
    cols = []
    with torch.no_grad():
        for name, h in STEP.items():
            up, down = dict(geo), dict(geo)
            up[name] += h
            down[name] -= h
            diff = _model(run, **up).image() - _model(run, **down).image()
            cols.append((diff.reshape(-1) / sig / (2 * h)).numpy())
    jt = np.stack(cols, 1)
    u, s, _ = np.linalg.svd(jw, full_matrices=False)
    ur = u[:, s > RANK_RTOL * s[0]]
    resid = jt - ur @ (ur.T @ jt)
    return {"sigma_bowl": np.sqrt(np.diag(run["q"]["cov1"])).tolist(),
            "sigma_gn": np.sqrt(np.diag(np.linalg.inv(resid.T @ resid))).tolist(),
            "sigma_fixed_field": np.sqrt(np.diag(np.linalg.inv(jt.T @ jt))).tolist(),
            "field_rank": int(ur.shape[1]), "field_parameters": int(jw.shape[1])}


def deep_rises(run_dir: Path, name: str = "inclination", iters: int = 1500) -> dict:
    """Does convergence flatten the bowl? Fields warm-started from the estimate unit's,
    fitted for ≤ ``profile_steps`` (300 in the calibration runs) and for ``iters`` L-BFGS
    iterations at the bowl's vertex and at ±2 σ_bowl along ``name``: total χ² at each, and
    the rises (the bowl predicts 4)."""
    from kerrfield.fitting.convergence import fit_field_lbfgs

    run = _load(run_dir)
    q = run["q"]
    sigma = float(np.sqrt(q["cov1"][q["names"].index(name)][q["names"].index(name)]))
    out: dict = {"sigma_bowl": sigma, "offsets": [0.0, -2.0, 2.0], "chi2": {}, "rises": {}}
    npix = int(run["target"]["image"].size)
    for steps, rtol in ((int(run["cfg"].search["profile_steps"]), 2e-4), (iters, 0.0)):
        chi2 = []
        for off in out["offsets"]:
            geo = dict(zip(q["names"], q["vertex"], strict=True))
            geo[name] += off * sigma
            res, _ = fit_field_lbfgs(_model(run, geo["spin"], geo["inclination"]),
                                     run["target"], loss="chi2", max_iter=steps, window=25,
                                     rtol=rtol)  # fmt: skip
            chi2.append(float(res.final_loss) * npix)
        out["chi2"][str(steps)] = chi2
        out["rises"][str(steps)] = [chi2[1] - chi2[0], chi2[2] - chi2[0]]
    return out


def coverage(rows: list[dict]) -> dict:
    """Coverage at ±1 / ±1.96 σ and median |z| of each σ rule, by parameter."""
    out: dict = {}
    for k, name in enumerate(("spin", "inclination")):
        err = np.array([r["error"][k] for r in rows])
        bowl = np.array([r["sigma_bowl"][k] for r in rows])
        gn = np.array([r["sigma_gn"][k] for r in rows])
        rules = {"bowl": bowl, "bowl x 1.2": 1.2 * bowl, "gauss-newton": gn,
                 "max(bowl, gauss-newton)": np.maximum(bowl, gn)}
        out[name] = {rule: {"in68": float(np.mean(np.abs(err / s) <= 1)),
                            "in95": float(np.mean(np.abs(err / s) <= 1.96)),
                            "median_abs_z": float(np.median(np.abs(err / s)))}
                     for rule, s in rules.items()}  # fmt: skip
        out[name]["median_gn_over_bowl"] = float(np.median(gn / bowl))
        out[name]["corr_abs_z_gn_over_bowl"] = float(
            np.corrcoef(np.abs(err / bowl), gn / bowl)[0, 1])
    return out


def main(argv: list[str] | None = None) -> int:
    from kerrfield.io.atomic import atomic_write_text

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("result", help="a coverage.py result file")
    p.add_argument("runs", help="its kept run directories (coverage.py --keep)")
    p.add_argument("--output", default=str(Path(__file__).parent / "results" /
                                           "profile_information.json"))  # fmt: skip
    p.add_argument("--deep", type=int, metavar="I", help="only: deep fits at the vertex and "
                   "±2 σ_bowl in θo of target I (see deep_rises) and exit")
    args = p.parse_args(argv)
    if args.deep is not None:
        print(json.dumps(deep_rises(Path(args.runs) / f"t{args.deep:03d}"), indent=1))
        return 0
    rows = []
    for r in json.loads(Path(args.result).read_text())["rows"]:
        d = Path(args.runs) / f"t{r['i']:03d}"
        if r["spin_unconstrained"] or r["inclination_unconstrained"] or \
                not (d / "summary.json").exists():  # fmt: skip
            continue
        t0 = time.perf_counter()
        info = profile_information(d)
        zb = [_z_bare(r, n) for n in ("spin", "inclination")]
        err = [r[f"{n}_error"] for n in ("spin", "inclination")]
        rows.append({"i": r["i"], "family": r["family"], "error": err, "z_bare": zb, **info})
        print(f"{r['i']:3d} {r['family']:8s} z (bare) {zb[0]:+.2f} {zb[1]:+.2f}  σ_GN / σ_bowl "
              f"{info['sigma_gn'][0] / info['sigma_bowl'][0]:.2f} "
              f"{info['sigma_gn'][1] / info['sigma_bowl'][1]:.2f}  rank "
              f"{info['field_rank']}/{info['field_parameters']}  "
              f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    result = {"result": args.result, "rank_rtol": RANK_RTOL, "step": STEP,
              "coverage": coverage(rows), "rows": rows}  # fmt: skip
    atomic_write_text(json.dumps(result, indent=1), Path(args.output))
    print(json.dumps(result["coverage"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
