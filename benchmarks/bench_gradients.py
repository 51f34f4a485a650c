"""Forward vs backward time of an exact (autograd) trace, the cost of a joint-fit step.

An exact joint step traces every pixel with spin and inclination in the graph and back-
propagates through the elliptic-function sweeps. This prints, per screen size, the forward
and backward seconds and their ratio, so that a proposed speed-up of either half can be
judged against the whole step (issue: analytic derivative rules for the elliptic functions).
Usage: python benchmarks/bench_gradients.py [--sizes 32 64] [--repeat 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch

import kerrfield as kf


def _split(npix: int, repeat: int) -> tuple[float, float]:
    spin = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    inc = torch.tensor(60.0, dtype=torch.float64, requires_grad=True)
    axis = torch.linspace(-10.0, 10.0, npix, dtype=torch.float64)
    bb, aa = torch.meshgrid(axis, axis, indexing="ij")
    fwd, bwd = [], []
    for _ in range(repeat + 1):  # the first round warms up allocators and caches
        t0 = time.perf_counter()
        rays = kf.trace_rays(spin, inc, aa.reshape(-1), bb.reshape(-1), orders=(0, 1))
        ok = rays["status"] == 0
        total = sum(torch.where(ok, rays[v], 0.0).sum() for v in ("x", "y", "g"))
        t1 = time.perf_counter()
        total.backward()
        t2 = time.perf_counter()
        fwd.append(t1 - t0)
        bwd.append(t2 - t1)
    return min(fwd[1:]), min(bwd[1:])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), float64, orders 0-1, x/y/g")
    for npix in args.sizes:
        f, b = _split(npix, args.repeat)
        print(f"{npix:4d}²  forward {f:.3f} s  backward {b:.3f} s  backward/forward {b / f:.2f}"
              f"  (best of {args.repeat})")  # fmt: skip


if __name__ == "__main__":
    main()
