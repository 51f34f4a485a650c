"""Adam steps per second of fixed-geometry and joint (spin + inclination) fits.

Usage::

    python benchmarks/bench_fit.py                 # 64² and 256², CPU (+ CUDA if present)
    python benchmarks/bench_fit.py --npix 64 --json out.json

Model: the reference 2→20→20→1 tanh/sigmoid MLP, orders n = 0, 1, screen ±10 M, target
spin 0.94 / inclination 20°. Modes:

* ``fixed``      -- geometry ray traced once (``kf.raytrace``), only the field trained;
* ``joint``      -- spin and inclination re-ray-traced with autograd every step;
* ``joint-lin``  -- joint, geometry re-linearised every K = 20 steps
  (``relinearize_every=20``; three untracked traces per re-linearisation, amortised).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

import kerrfield as kf
from kerrfield.io.atomic import atomic_write_text
from kerrfield.physics.raytrace import raytrace


def _time_fit(model, target, steps: int, warmup: int, **kw) -> float:
    kf.fit(model, target, steps=warmup, progress=False, **kw)
    dev = model.pix_alpha.device
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    kf.fit(model, target, steps=steps, progress=False, **kw)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    return steps / (time.perf_counter() - t0)


def bench(npix: int, device: str, modes: list[str], steps: dict[str, int]) -> list[dict]:
    rows = []
    target = kf.synthesize("mlp", 0.94, 20.0, npix=npix, seed=0, device=device)
    for mode in modes:
        field = kf.EmissionField(seed=1)
        if mode == "fixed":
            geo = raytrace(0.94, 20.0, npix=npix, device=device)
            model = kf.fixed_image_model(field, geo, device=device)
        else:
            k = 20 if mode == "joint-lin" else 1
            model = kf.kerr_image_model(field, 0.5, 60.0, npix=npix, relinearize_every=k,
                                        device=device)  # fmt: skip
        n = steps[mode]
        warm = 2 if mode == "joint" else 5
        if mode == "joint-lin":
            n, warm = 2 * 20, 20  # whole re-linearisation periods
        sps = _time_fit(model, target, n, warm, lr=1e-3, schedule=None, device=device)
        rows.append({"device": device, "npix": npix, "mode": mode, "steps_per_s": sps})
        print(f"{device:5s} {npix:4d}² {mode:10s} {sps:9.3g} steps/s ({1 / sps:.3g} s/step)",
              flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npix", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--device", nargs="+", default=None, help="default: cpu (+ cuda)")
    ap.add_argument("--modes", nargs="+", default=["fixed", "joint", "joint-lin"])
    ap.add_argument("--json", default=None, help="write results as JSON here")
    args = ap.parse_args()
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for dev in devices:
        for npix in args.npix:
            small = npix <= 64 or dev == "cuda"
            steps = {"fixed": 200 if small else 30, "joint": 5 if small else 2, "joint-lin": 40}
            rows += bench(npix, dev, args.modes, steps)
    if args.json:
        atomic_write_text(json.dumps(rows, indent=1) + "\n", args.json)


if __name__ == "__main__":
    main()
