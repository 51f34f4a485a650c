"""How well is a profile point's χ² known? Field refits at a kept coverage target's estimate
and at its truth.

For a target kept by ``coverage.py --keep DIR`` (``DIR/tNNN`` holds ``target.nc``,
``summary.json`` and the units), this refits the emission field on the fixed geometry of the
search's estimate and of the truth, with the fast L-BFGS field fit of the search
(``fit_field_lbfgs``, window 25) run far deeper (``--iters``, relative tolerance 1e-8), in
three ways, and prints χ² at both points and Δχ² = χ²(truth) − χ²(estimate):

* ``warm``: from the field of the search's best unit (the profile chain's own basin);
* ``cold``: from ``--seeds`` fresh field initialisations each (the spread of the field
  optimiser's end points at one geometry; ``min`` is the best found);
* ``clean``: cold fits to the noiseless image (the target's ``clean`` variable, χ² still in
  units of the noise σ): whether the family is representable, and Δχ² without noise.

The quoted intervals are Δχ² = 1 (68 %) and 3.84 (95 %) of a warm-started chain; these
numbers say how that scale compares with the field optimiser's own resolution.

    python benchmarks/profile_systematics.py DIR/t000 DIR/t004 --width 20 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import xarray as xr

import kerrfield as kf
from kerrfield.fitting.convergence import fit_field_lbfgs
from kerrfield.io.atomic import atomic_write_text
from kerrfield.models.builders import fixed_image_model


def _chi2(field: kf.EmissionField, geo: xr.Dataset, target: xr.Dataset, iters: int) -> float:
    """Total χ² after a deep L-BFGS field fit on fixed geometry."""
    res, _ = fit_field_lbfgs(fixed_image_model(field, geo), target, loss="chi2",
                             max_iter=iters, window=25, rtol=1e-8)  # fmt: skip
    return float(res.final_loss) * int(target["image"].size)


def study(directory: Path, width: int | None, seeds: int, iters: int) -> dict:
    """The three refits at the estimate and at the truth of one kept target."""
    s = json.loads((directory / "summary.json").read_text())
    cfg = s["config"]
    field_cfg = {**cfg["field"], **({"width": width} if width else {})}
    target = xr.open_dataset(directory / "target.nc").load()
    clean = target.assign(image=target["clean"])
    est = s["search"]["estimate"]
    truth = cfg["target"]["synthetic"]
    warm = xr.open_dataset(directory / "units" / f"{est['unit']}.nc")["field_params"].values
    points = {"estimate": (est["spin"], est["inclination"]),
              "truth": (truth["spin"], truth["inclination"])}  # fmt: skip
    out: dict = {"target": str(directory), "family": target.attrs.get("emission_family"),
                 "field": field_cfg, "search_chi2": est["chi2_min"], "points": points}
    for name, (spin, inc) in points.items():
        geo = kf.raytrace(spin, inc, alpha=target["alpha"].values,
                          beta=target["beta"].values, orders=(0, 1))  # fmt: skip
        row = {}
        if width is None or width == cfg["field"]["width"]:
            field = kf.EmissionField(**field_cfg, seed=0)
            torch.nn.utils.vector_to_parameters(torch.tensor(warm), list(field.parameters()))
            row["warm"] = _chi2(field, geo, target, iters)
        row["cold"] = [_chi2(kf.EmissionField(**field_cfg, seed=k), geo, target, iters)
                       for k in range(seeds)]  # fmt: skip
        row["clean"] = [_chi2(kf.EmissionField(**field_cfg, seed=k), geo, clean, iters)
                        for k in range(min(seeds, 3))]  # fmt: skip
        out[name] = row
    e, t = out["estimate"], out["truth"]
    out["delta"] = {"warm": t["warm"] - e["warm"] if "warm" in e else None,
                    "cold_min": min(t["cold"]) - min(e["cold"]),
                    "cold_per_seed": list(np.subtract(t["cold"], e["cold"])),
                    "clean_min": min(t["clean"]) - min(e["clean"])}  # fmt: skip
    return out


def _report(r: dict) -> str:
    e, t, d = r["estimate"], r["truth"], r["delta"]
    warm = f"warm {e['warm']:.1f} / {t['warm']:.1f} (Δ {d['warm']:+.1f}); " if d["warm"] else ""
    return (f"{r['target']} ({r['family']}, width {r['field']['width']}; search χ² "
            f"{r['search_chi2']:.1f}): estimate / truth χ²: {warm}cold {min(e['cold']):.1f}-"
            f"{max(e['cold']):.1f} / {min(t['cold']):.1f}-{max(t['cold']):.1f} (Δ of minima "
            f"{d['cold_min']:+.1f}, per seed {min(d['cold_per_seed']):+.1f}..."
            f"{max(d['cold_per_seed']):+.1f}); clean {min(e['clean']):.1f} / "
            f"{min(t['clean']):.1f} (Δ {d['clean_min']:+.1f})")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("targets", nargs="+", type=Path, help="kept target directories (tNNN)")
    p.add_argument("--width", type=int, default=None, help="field width (default: the run's)")
    p.add_argument("--seeds", type=int, default=8, help="cold field initialisations")
    p.add_argument("--iters", type=int, default=1500, help="L-BFGS iterations per fit")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for d in args.targets:
        t0 = time.perf_counter()
        rows.append(study(d, args.width, args.seeds, args.iters))
        rows[-1]["seconds"] = time.perf_counter() - t0
        print(_report(rows[-1]), flush=True)
    if args.json:
        meta = vars(args) | {"targets": [str(t) for t in args.targets], "json": str(args.json)}
        atomic_write_text(json.dumps({"args": meta, "rows": rows}, indent=1, default=float),
                          args.json)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
