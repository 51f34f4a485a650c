"""Fixed-geometry fits of every synthetic emission family (noise-free) at 64×64: PSNR.

The geometry (spin 0.94, inclination 20°, orders n = 0, 1, ZAMO, ±10 M) is ray traced
once; the field is a SIREN (arXiv:2006.09661; 3 × 64, ω0 = 10, coordinates / 10 M,
softplus head) fitted with Adam on the normalised MSE. PSNR is computed against the
clean target after flux normalisation (the loss is scale free). Criterion: ≥ 35 dB.

Usage::

    python benchmarks/psnr_families.py --json benchmarks/results/psnr_families.json
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import kerrfield as kf
from kerrfield.io.atomic import atomic_write_text
from kerrfield.physics.raytrace import raytrace

FIELD = dict(width=64, depth=3, activation="sine", omega0=10.0, scale=10.0, output="softplus")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npix", type=int, default=64)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    geo = raytrace(0.94, 20.0, npix=args.npix, fov=10.0, device=args.device)
    rows = []
    for family in ("mlp", "ring", "disk", "hotspot"):
        target = kf.synthesize(family, geometry=geo, seed=0, device=args.device)
        model = kf.fixed_image_model(kf.EmissionField(seed=0, **FIELD), geo, device=args.device)
        t0 = time.perf_counter()
        res = kf.fit(model, target, steps=args.steps, lr=args.lr, device=args.device,
                     progress=False)  # fmt: skip
        row = {"family": family, "npix": args.npix, "steps": args.steps, "lr": args.lr,
               "field": FIELD, "psnr_db": kf.psnr(model.to_xarray(), target.clean,
                                                   normalize=True),
               "loss_ratio": res.loss_ratio, "wall_s": time.perf_counter() - t0}  # fmt: skip
        row["pass"] = bool(row["psnr_db"] >= 35.0)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        atomic_write_text(json.dumps(rows, indent=1) + "\n", args.json)


if __name__ == "__main__":
    main()
