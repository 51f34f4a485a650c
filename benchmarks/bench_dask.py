"""Scale-out of ``kerrfield infer``: a scan run serially and on a dask ``LocalCluster``.

The same scan (``--units`` grid points over inclination, a ring target, L-BFGS field fits at
fixed geometry) is run three times in fresh output directories: serially in this process,
on a ``LocalCluster`` of ``--workers`` single-threaded worker processes (cluster start-up
included, as a user pays it), and checks that every unit file is bitwise equal between the
two. Prints wall times and the speed-up serial / dask.

    python benchmarks/bench_dask.py                 # 8 units, 2 workers
    python benchmarks/bench_dask.py --units 16 --npix 32

The speed-up is bounded by the number of free cores: on a machine whose cores are busy
with other jobs it measures the contention, not kerrfield.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import xarray as xr

from kerrfield.fitting.runner import run_inference


def _config(out: Path, args: argparse.Namespace) -> dict:
    return {
        "seed": 0,
        "target": {"synthetic": {"emission": "ring", "spin": 0.6, "inclination": 50.0,
                                 "fov": 10.0, "npix": args.npix, "orders": [0, 1],
                                 "noise": 0.02}},
        "field": {"width": 8, "depth": 2, "output": "softplus", "scale": 10.0},
        "fit": {"steps": args.steps},
        "mode": {"kind": "scan", "spin": 0.6,
                 "inclination": {"start": 20.0, "stop": 80.0, "num": args.units}},
        "output": {"directory": str(out), "progress": False, "plots": False},
    }  # fmt: skip


def _unit_bytes(d: Path) -> dict[str, bytes]:
    out = {}
    for p in sorted((d / "units").glob("*.nc")):
        ds = xr.load_dataset(p)
        out[p.name] = b"".join(ds[v].values.tobytes() for v in sorted(ds.data_vars))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--units", type=int, default=8, help="grid points of the scan")
    p.add_argument("--npix", type=int, default=24)
    p.add_argument("--steps", type=int, default=150, help="L-BFGS iterations per unit")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    times = {}
    with tempfile.TemporaryDirectory(prefix="kerrfield-bench-dask-") as tmp:
        for name, kw in (("serial", {}), ("dask", {"scheduler": "local",
                                                   "workers": args.workers})):
            t0 = time.perf_counter()
            run_inference(_config(Path(tmp) / name, args), **kw)
            times[name] = time.perf_counter() - t0
            print(f"{name:6s}: {times[name]:7.1f} s for {args.units} units", flush=True)
        same = _unit_bytes(Path(tmp) / "serial") == _unit_bytes(Path(tmp) / "dask")
    speedup = times["serial"] / times["dask"]
    print(f"speed-up serial / dask ({args.workers} workers): {speedup:.2f}x; unit files "
          f"bitwise equal: {same}; {os.cpu_count()} cores, load average "
          f"{np.round(os.getloadavg(), 2).tolist()}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({
            "machine": platform.processor() or platform.machine(), "args": vars(args),
            "seconds": times, "speedup": speedup, "bitwise_equal": same}, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
