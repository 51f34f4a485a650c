"""Does the emission model bias the M87 brightness position angle? A cross-check on
realistic truths.

Each truth is a kerrfield fit to the real April 6 (hi) data (an ``image.fits`` written by
``bench_m87_fit.py --real --fits``): one with the axisymmetric field f(r), one with the free
field f(x, y). Each is observed with that file's coverage and σ (thermal noise, seeded) and
refitted with both models by the same search as the real data (``bench_m87_fit.py``'s
defaults, scan averages, intra-site baselines out). It prints η and the ring diameter at
20 µas of the truth and of each refit, so the η error of each model on a truth of the other
model's kind is measured, not assumed.

Usage::

    python benchmarks/m87_eta_crosscheck.py --truth axi=axi6hi.fits free=free6hi.fits \
        --json crosscheck.json

About 1 min (free) and 4 min (axisymmetric) per refit on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

import kerrfield as kf
from kerrfield.fitting.observation import fit_observation
from kerrfield.io.atomic import atomic_write_text
from kerrfield.vlbi import load_uvfits, observe, ring_features

sys.path.insert(0, str(Path(__file__).parent))
import bench_m87_fit as bench  # noqa: E402

RES = bench.RESOLUTION_UAS


def _ring(image) -> dict:
    f = ring_features(image, blur=RES)
    return {k: f[k] for k in ("ring_diameter_uas", "brightness_pa_deg")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--truth", nargs="+", required=True, metavar="NAME=FITS",
                   help="truth images (kerrfield image.fits of real-data fits)")
    p.add_argument("--day", type=int, default=6)
    p.add_argument("--band", default="hi")
    p.add_argument("--noise-seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    obs = load_uvfits(bench._data_path(a.day, a.band))
    args = bench._parser().parse_args([])  # the benchmark's defaults: the same search
    geo = kf.raytrace(args.spin, args.inclination, fov=args.fov, npix=args.npix, orders=(0, 1),
                      velocity=args.velocity)
    rows = []
    for item in a.truth:
        name, _, path = item.partition("=")
        data = observe(path, like=obs, seed=a.noise_seed)
        true_ring = _ring(kf.read_fits_image(path))
        for model_name, free in (("axisymmetric", False), ("free", True)):
            t0 = time.perf_counter()
            model = bench._model(geo, args.k, args.seed, free, args.pretrain)
            res = fit_observation(model, data, **bench._fit_kwargs(args))
            s = res.summary()
            row = {"truth": name, "model": model_name, "seconds": time.perf_counter() - t0,
                   **{k: s[k] for k in ("theta_g_uas", "position_angle_deg", "chi2_cphase",
                                        "chi2_lcamp", "ring_diameter_uas", "brightness_pa_deg")},
                   "truth_ring": true_ring}
            rows.append(row)
            print(json.dumps(row, default=float), flush=True)
    if a.json:
        atomic_write_text(json.dumps(rows, indent=1, default=float), a.json)


if __name__ == "__main__":
    main()
