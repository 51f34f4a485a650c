"""Visibility forward + backward: chunked torch DFT vs finufft NUFFT.

Usage::

    python benchmarks/bench_visibilities.py                  # 64² and 256², 1e4 (u, v), CPU
    python benchmarks/bench_visibilities.py --json out.json

For each image size and device: seconds per forward and per forward + backward (gradient
to the image and to θ_g and PA through the (u, v) scaling/rotation), the ratio DFT/NUFFT,
and the largest |V_NUFFT − V_DFT| relative to the total flux. (u, v) are uniform in a
disk of radius 9 Gλ (EHT-like); the image is a random positive 64² or 256² screen.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from kerrfield.io.atomic import atomic_write_text
from kerrfield.io.sky import sky_matrix
from kerrfield.vlbi.nufft import nufft
from kerrfield.vlbi.visibilities import dft


def _case(npix: int, nvis: int, device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    img = torch.rand(npix, npix, generator=g, dtype=torch.float64)
    axis = torch.linspace(-12.0, 12.0, npix, dtype=torch.float64)  # M
    q = 9e9 * torch.sqrt(torch.rand(nvis, generator=g, dtype=torch.float64))
    ph = 2 * np.pi * torch.rand(nvis, generator=g, dtype=torch.float64)
    to = dict(device=device)
    return (img.to(**to), axis.to(**to), axis.to(**to), (q * torch.cos(ph)).to(**to),
            (q * torch.sin(ph)).to(**to))


def _time(fn, repeat: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(npix: int, nvis: int, device: str, repeat: int) -> dict:
    img, a, b, u, v = _case(npix, nvis, device)
    tg = torch.tensor(3.8, dtype=torch.float64, device=device, requires_grad=True)
    pa = torch.tensor(200.0, dtype=torch.float64, device=device, requires_grad=True)
    out = {"npix": npix, "nvis": nvis, "device": device}
    ref = None
    for name, fn in (("dft", dft), ("nufft", nufft)):
        x = img.clone().requires_grad_(True)

        def forward(fn=fn, x=x):
            with torch.no_grad():
                return fn(x, a, b, u, v, matrix=sky_matrix(tg, pa))

        def both(fn=fn, x=x):
            vis = fn(x, a, b, u, v, matrix=sky_matrix(tg, pa))
            (vis.abs() ** 2).sum().backward()

        out[f"{name}_forward_s"] = _time(forward, repeat)
        out[f"{name}_forward_backward_s"] = _time(both, repeat)
        vis = forward()
        if ref is None:
            ref = vis
        else:
            out["max_abs_diff_rel_flux"] = float((vis - ref).abs().max() / img.sum())
    out["ratio_forward_backward_dft_over_nufft"] = (out["dft_forward_backward_s"]
                                                    / out["nufft_forward_backward_s"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--npix", type=int, nargs="+", default=[64, 256])
    ap.add_argument("--nvis", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = [bench(n, args.nvis, d, args.repeat) for d in devices for n in args.npix]
    print(f"{'device':6} {'npix':>5} {'DFT fwd':>9} {'DFT f+b':>9} {'NUFFT fwd':>10} "
          f"{'NUFFT f+b':>10} {'ratio f+b':>9} {'max|dV|/F':>10}")
    for r in rows:
        print(f"{r['device']:6} {r['npix']:5d} {r['dft_forward_s']:9.4f} "
              f"{r['dft_forward_backward_s']:9.4f} {r['nufft_forward_s']:10.4f} "
              f"{r['nufft_forward_backward_s']:10.4f} "
              f"{r['ratio_forward_backward_dft_over_nufft']:9.1f} "
              f"{r['max_abs_diff_rel_flux']:10.2e}")
    if args.json:
        atomic_write_text(json.dumps(rows, indent=1), args.json)


if __name__ == "__main__":
    main()
