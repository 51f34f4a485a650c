"""Benchmark the torch and Julia backends side by side on the same screen.

    .venv/bin/python benchmarks/bench_backends.py [--npix 256] [--repeat 3]

Both backends trace the same npix² screen for orders 0-2 (a = 0.94, θo = 17°, equatorial,
ZAMO), after one warm-up call each (Julia compiles on first use; its start-up and compilation
are reported separately). Julia runs with as many threads as CPU cores, torch with its default
intra-op threads. Printed: ray-orders per second for each backend and their ratio, and the
per-call overhead of the subprocess bridge (a round trip without work, and a 1-pixel trace).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time

import numpy as np
import torch

from kerrfield import bridge as jb
from kerrfield.physics.raytrace import raytrace


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npix", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spin", type=float, default=0.94)
    parser.add_argument("--inclination", type=float, default=17.0)
    args = parser.parse_args()

    orders = (0, 1, 2)
    kw = dict(npix=args.npix, fov=12.0, orders=orders, spin=args.spin,
              inclination=args.inclination)
    work = args.npix * args.npix * len(orders)
    cores = jb.default_threads()
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs, {cores} available)")
    print(f"screen {args.npix}x{args.npix}, orders {orders}: {work} ray-orders per call")

    t0 = time.perf_counter()
    info = jb.julia_info()
    t_start = time.perf_counter() - t0
    print(f"Julia {info['julia_version']} via {info['path']}, {info['threads']} threads; "
          f"start-up {t_start:.1f} s")
    t0 = time.perf_counter()
    raytrace(backend="julia", **{**kw, "npix": 8})
    print(f"Julia first call (compilation): {time.perf_counter() - t0:.1f} s")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads")

    raytrace(backend="torch", **{**kw, "npix": 8})  # warm-up
    t_torch = best_of(lambda: raytrace(backend="torch", **kw), args.repeat)
    t_julia = best_of(lambda: raytrace(backend="julia", **kw), args.repeat)
    r_torch, r_julia = work / t_torch, work / t_julia
    print(f"{'backend':8s} {'time [s]':>9s} {'ray-orders/s':>14s}")
    print(f"{'torch':8s} {t_torch:9.3f} {r_torch:14.0f}")
    print(f"{'julia':8s} {t_julia:9.3f} {r_julia:14.0f}")
    print(f"julia / torch throughput ratio: {r_julia / r_torch:.2f} "
          f"({'faster' if r_julia >= r_torch else 'slower'}; target: >= 0.5)")

    if info["path"] == "subprocess":
        w = jb.get_worker()
        n = 200
        t_ping = best_of(lambda: [w.ping() for _ in range(n)], 3) / n
        one = np.array([5.0])
        t_one = best_of(
            lambda: [jb.trace_rays_julia(args.spin, args.inclination, one, one, orders, 90.0,
                                         "zamo") for _ in range(n)], 3) / n
        big = np.random.default_rng(0).normal(size=args.npix * args.npix)
        t_echo = best_of(lambda: w.call("echo", {}, {"a": big, "b": big}), 5)
        mb = 2 * big.nbytes / 1e6
        print(f"subprocess bridge overhead: round trip {t_ping * 1e3:.2f} ms, "
              f"1-pixel trace {t_one * 1e3:.2f} ms, "
              f"echo of 2x{args.npix}² float64 ({mb:.1f} MB each way) {t_echo * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
