"""Ray-tracing throughput: ray-orders per second (pixels × orders, with the redshift g).

Prints, for 256² and 1024² screens with orders 0-2, the torch backend on CPU (float64) and on
CUDA when present, eager and with the compiled (``torch.compile``-fused) elliptic sweeps, and
their ratio. The one-off compile time is printed separately (it is cached on disk).
Usage: python benchmarks/bench_raytrace.py [--sizes 256 1024] [--repeat 3] [--no-compiled]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

import kerrfield as kf
from kerrfield.io.atomic import atomic_write_text


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _trace(npix: int, device: str, velocity: str, compiled: bool) -> float:
    """Seconds for one 0.94 / 17° trace of an npix² screen, orders 0-2."""
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    kf.raytrace(
        0.94,
        17.0,
        npix=npix,
        orders=(0, 1, 2),
        device=device,
        velocity=velocity,
        compiled=compiled,
    )
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def bench(npix: int, device: str, repeat: int, velocity: str, compiled: bool) -> float:
    """Best-of-``repeat`` ray-orders per second (the machine is shared: best is the most
    reproducible statistic)."""
    best = min(_trace(npix, device, velocity, compiled) for _ in range(repeat))
    return npix * npix * 3 / best


def warm_up(device: str, velocity: str, compiled: bool) -> float:
    """Seconds for the first small calls (for compiled=True: compiling or loading the cache)."""
    return sum(_trace(npix, device, velocity, compiled) for npix in (16, 64))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--velocity", default="keplerian")
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/raytrace_*.json")
    ap.add_argument("--no-compiled", action="store_true", help="skip the torch.compile variant")
    args = ap.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(
        f"kerrfield {kf.__version__}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, "
        f"CPU: {_cpu_name()} ({os.cpu_count()} cores)"
        + (f", GPU: {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    )
    modes = [False] if args.no_compiled else [False, True]
    for dev in devices:
        for mode in modes:
            t = warm_up(dev, args.velocity, mode)
            print(f"{dev}: first calls {'compiled' if mode else 'eager'}: {t:.1f} s")
    print(
        f"{'device':>6} {'screen':>9} {'eager':>12} {'compiled':>12} {'ratio':>6}   "
        f"(ray-orders/s, orders 0-2, float64, velocity={args.velocity})"
    )
    rows = []
    for dev in devices:
        for n in args.sizes:
            rates = {m: bench(n, dev, args.repeat, args.velocity, m) for m in modes}
            comp = rates.get(True, float("nan"))
            print(
                f"{dev:>6} {n:>4}x{n:<4} {rates[False]:12.3e} {comp:12.3e} "
                f"{comp / rates[False]:6.2f}"
            )
            for mode, rate in rates.items():
                rows.append(
                    {
                        "device": dev if dev == "cpu" else torch.cuda.get_device_name(),
                        "screen": f"{n}x{n}",
                        "orders": "0-2",
                        "mode": "compiled" if mode else "eager",
                        "threads": torch.get_num_threads(),
                        "ray_orders_per_s": float(f"{rate:.4g}"),
                        "machine": _cpu_name(),
                    }
                )
    if args.save:
        out = Path(__file__).parent / "results" / f"raytrace_{devices[-1]}.json"
        out.parent.mkdir(exist_ok=True)
        atomic_write_text(json.dumps(rows, indent=1) + "\n", out)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
