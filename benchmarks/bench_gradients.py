"""Forward vs backward time of an exact (autograd) trace and of an exact joint-fit step, with
the closed-form derivative rules of the elliptic integrals against autograd through the
Carlson duplication sweeps (the path before them).

An exact joint step traces every pixel with spin and inclination in the graph and
back-propagates through the elliptic integrals. For each screen size this prints, for both
paths measured side by side (interleaved repeats, best of ``--repeat``), the forward and
backward seconds of ``trace_rays`` (orders 0 and 1, x/y/g summed), their sum, and the ratio
old/new; then the seconds per Adam step of ``kerr_image_model(..., relinearize_every=1)``
and, for scale, of the same fit on fixed geometry (``fixed_image_model``): the part of a
joint step no tracer change can remove. Seconds per step are marginal: a (2 + N)-step fit
minus a 2-step fit, divided by N, so the loss evaluations before and after a fit cancel.
Only the ratios are meaningful on a shared machine; absolute times move with its load.

``--julia`` adds a floor: the same screen traced (values only, no derivatives) by the Julia
backend's compiled scalar tracer with the same number of threads, round trip through the
worker's pipe included. No exact step can cost less than a forward trace, so old step /
Julia forward bounds what a fused compiled tracer could gain before it computes a single
derivative.
Usage: python benchmarks/bench_gradients.py [--sizes 32 64] [--repeat 5] [--threads 2]
[--julia] [--save]
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import kerrfield as kf
from kerrfield.physics.elliptic import autograd_through_sweep


def _trace_once(npix: int, old: bool) -> tuple[float, float]:
    """Forward and backward seconds of one exact trace of an npix² screen."""
    spin = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    inc = torch.tensor(60.0, dtype=torch.float64, requires_grad=True)
    aa, bb = _screen(npix)
    with autograd_through_sweep(old):
        t0 = time.perf_counter()
        rays = kf.trace_rays(spin, inc, aa, bb, orders=(0, 1))
        ok = rays["status"] == 0
        total = sum(torch.where(ok, rays[v], 0.0).sum() for v in ("x", "y", "g"))
        t1 = time.perf_counter()
        total.backward()
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def _timed_fit(model, target, steps: int) -> float:
    t0 = time.perf_counter()
    kf.fit(model, target, steps=steps, progress=False, lr=1e-3, schedule=None)
    return time.perf_counter() - t0


def _marginal(model, target, steps: int) -> float:
    """Seconds per additional Adam step: the difference of a (2 + steps)- and a 2-step fit,
    so that ``kf.fit``'s evaluations of the loss before and after its steps cancel."""
    kf.fit(model, target, steps=1, progress=False, lr=1e-3, schedule=None)  # warm-up
    short = _timed_fit(model, target, 2)
    return (_timed_fit(model, target, 2 + steps) - short) / steps


def _fit_step(npix: int, old: bool, steps: int) -> float:
    """Seconds per Adam step of an exact joint fit (geometry re-traced every step)."""
    target = kf.synthesize("mlp", 0.94, 20.0, npix=npix, seed=0)
    model = kf.kerr_image_model(kf.EmissionField(seed=1), 0.5, 60.0, npix=npix,
                                relinearize_every=1)  # fmt: skip
    with autograd_through_sweep(old):
        return _marginal(model, target, steps)


def _fixed_step(npix: int, steps: int) -> float:
    """Seconds per Adam step of the same fit on fixed, traced-once geometry: what a joint step
    costs besides its exact trace (field, image, loss, optimiser)."""
    target = kf.synthesize("mlp", 0.94, 20.0, npix=npix, seed=0)
    geo = kf.raytrace(0.5, 60.0, alpha=target["alpha"].values, beta=target["beta"].values,
                      orders=(0, 1))  # fmt: skip
    return _marginal(kf.fixed_image_model(kf.EmissionField(seed=1), geo), target, steps)


def _screen(npix: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flattened α, β (M) of the npix² screen on [-10, 10]² that every timing here traces."""
    axis = torch.linspace(-10.0, 10.0, npix, dtype=torch.float64)
    bb, aa = torch.meshgrid(axis, axis, indexing="ij")
    return aa.reshape(-1), bb.reshape(-1)


def _julia_forward(npix: int, repeat: int) -> float:
    """Best-of-``repeat`` seconds of a values-only Julia trace (orders 0-1, a = 0.5, θo = 60°)."""
    from kerrfield.bridge.api import trace_rays_julia

    aa, bb = (v.numpy() for v in _screen(npix))
    trace_rays_julia(0.5, 60.0, aa, bb, orders=(0, 1))  # compiles on first use
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        trace_rays_julia(0.5, 60.0, aa, bb, orders=(0, 1))
        best = min(best, time.perf_counter() - t0)
    return best


def _best(fn, repeat: int) -> dict[bool, list]:
    """``fn(old)`` for both paths, interleaved, after one warm-up round of each."""
    runs: dict[bool, list] = {True: [], False: []}
    for r in range(repeat + 1):
        for old in (True, False):
            res = fn(old)
            if r:
                runs[old].append(res)
    return runs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fit-steps", type=int, default=6,
                   help="Adam steps per timing, beyond a 2-step reference fit (0: skip)")
    p.add_argument("--julia", action="store_true",
                   help="also time the Julia backend's values-only forward trace (a floor)")
    p.add_argument("--save", action="store_true",
                   help="write benchmarks/results/gradients_cpu_<threads>t.json")
    args = p.parse_args()
    rows: list[dict] = []
    torch.set_num_threads(args.threads)
    os.environ["KERRFIELD_JULIA_THREADS"] = str(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), float64, orders 0-1; "
        f"old = autograd through the sweeps, new = closed-form rules; best of {args.repeat}"
    )
    for npix in args.sizes:
        runs = _best(lambda old, n=npix: _trace_once(n, old), args.repeat)
        row = {}
        for old in (True, False):
            fwd = min(r[0] for r in runs[old])
            bwd = min(r[1] for r in runs[old])
            row[old] = (fwd, bwd, min(r[0] + r[1] for r in runs[old]))
        (fo, bo, to), (fn, bn, tn) = row[True], row[False]
        rec = {"npix": npix, "threads": args.threads, "repeat": args.repeat,
               "trace_fwd_old_s": fo, "trace_bwd_old_s": bo, "trace_total_old_s": to,
               "trace_fwd_new_s": fn, "trace_bwd_new_s": bn, "trace_total_new_s": tn}
        rows.append(rec)
        print(f"{npix:4d}² trace  old: fwd {fo:.3f} s bwd {bo:.3f} s total {to:.3f} s | "
              f"new: fwd {fn:.3f} s bwd {bn:.3f} s total {tn:.3f} s | old/new: fwd "
              f"{fo / fn:.2f} bwd {bo / bn:.2f} total {to / tn:.2f}", flush=True)  # fmt: skip
        if args.fit_steps:
            fit = _best(lambda old, n=npix: _fit_step(n, old, args.fit_steps), args.repeat)
            so, sn = min(fit[True]), min(fit[False])
            sf = min(_fixed_step(npix, 10 * args.fit_steps) for _ in range(args.repeat))
            rec.update(step_old_s=so, step_new_s=sn, step_fixed_geometry_s=sf)
            print(f"{npix:4d}² exact joint step  old {so:.3f} s ({1 / so:.1f}/s)  new {sn:.3f} "
                  f"s ({1 / sn:.1f}/s)  old/new {so / sn:.2f} | fixed-geometry step "
                  f"{sf:.4f} s: old/fixed {so / sf:.1f} (the ceiling of any tracer speed-up)",
                  flush=True)  # fmt: skip
            if args.julia:
                tj = _julia_forward(npix, args.repeat)
                rec["julia_forward_s"] = tj
                print(f"{npix:4d}² Julia compiled forward trace (values only) {tj:.4f} s: "
                      f"old step / Julia forward {so / tj:.2f}, new step / Julia forward "
                      f"{sn / tj:.2f}", flush=True)  # fmt: skip
    if args.save:
        import json
        from pathlib import Path

        from bench_raytrace import _cpu_name  # the same machine label as the raytrace table

        from kerrfield.io.atomic import atomic_write_text

        machine = f"{_cpu_name()}, torch {torch.__version__}"
        rows = [{**{k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in r.items()},
                 "machine": machine, "date": time.strftime("%Y-%m-%d")} for r in rows]
        out = Path(__file__).parent / "results" / f"gradients_cpu_{args.threads}t.json"
        atomic_write_text(json.dumps(rows, indent=1) + "\n", out)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
