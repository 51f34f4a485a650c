"""Fuzz the ray tracer: random geometries and pathological pixels against its invariants.

For each of many random geometries (spin incl. tiny and near-extremal, inclination incl.
nearly face-on, equatorial plane or a cone, every velocity model, orders 0-3) it traces a
mix of pixels — uniform on the screen, just off the critical curve (10^-9 … 10^-2
relative, both sides), on the α and β axes and next to them (|α| down to 1e-9), far out
(|α| or |β| ~ 1e4) — and counts violations of:

* ``nan_at_status_0``: a float variable (r_s, θ_s, φ_s, φ_ks, t_s, x, y, g, ν_r, ν_θ) not
  finite where status = 0;
* ``status_not_monotone``: once order n is not reached (status ≠ 0), a higher order is;
* ``g_not_positive``, ``r_s_inside_horizon``: g ≤ 0 or r_s ≤ r₊ at status 0;
* ``batch_dependence``: a pixel re-traced alone differs from the same pixel in its batch
  (status, or any float by more than 1e-14 relative);
* ``julia_status``: the Julia backend gives another status (skipped with --no-julia).

Pixels exactly on the critical curve (issue 12, item 4: the double-root solution) count like
every other pixel; their share of each violation is also reported separately.

Usage: python benchmarks/fuzz_raytrace.py [--rays 51200] [--seed S] [--no-julia]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

import kerrfield as kf
from kerrfield.io.atomic import atomic_write_text

FLOATS = ("r_s", "theta_s", "phi_s", "phi_ks", "t_s", "x", "y", "g", "nu_r", "nu_theta")
ORDERS = (0, 1, 2, 3)
PER_GEOMETRY = 128
ALONE_PER_GEOMETRY = 3


def _geometry(rng: np.random.Generator) -> dict:
    kind = rng.integers(0, 10)
    if kind == 0:
        spin = float(rng.choice([1, -1]) * 10.0 ** rng.uniform(-14, -4))
    elif kind == 1:
        spin = float(rng.choice([0.998, -0.998, 0.9999, 0.0]))
    else:
        spin = float(rng.uniform(-0.999, 0.999))
    incl = float(rng.uniform(0.2, 179.8))
    if rng.random() < 0.15:
        incl = float(rng.choice([1.0, 179.0]) * 10.0 ** rng.uniform(-3, 0))
        incl = min(max(incl, 1e-3), 180.0 - 1e-3)
    surface = "equatorial" if rng.random() < 0.6 else kf.Cone(float(rng.uniform(5.0, 175.0)))
    v = rng.integers(0, 4)
    if v == 0:
        velocity = "zamo"
    elif v == 1:
        velocity = "keplerian"
    else:
        velocity = kf.GeneralVelocity(
            float(rng.uniform(0.1, 1.0)), float(rng.uniform(0, 1)), float(rng.uniform(0, 1))
        )
    return {"spin": spin, "incl": incl, "surface": surface, "velocity": velocity}


def _pixels(rng: np.random.Generator, spin: float, incl: float) -> tuple[np.ndarray, ...]:
    """(alpha, beta, on_curve) for one geometry: PER_GEOMETRY pixels of every class."""
    n = PER_GEOMETRY
    al, be = list(rng.uniform(-15, 15, n // 4)), list(rng.uniform(-15, 15, n // 4))
    cal, cbe = kf.critical_curve(spin, incl, 256)
    idx = rng.integers(0, cal.size, n // 2)
    eps = rng.choice([1, -1], n // 2) * 10.0 ** rng.uniform(-9, -2, n // 2)
    al += list(cal[idx] * (1 + eps))
    be += list(cbe[idx] * (1 + eps))
    m = n // 8
    ax = rng.choice([0.0, 1e-9, -1e-7, 1e-5], m)
    al += list(ax[: m // 2]) + list(rng.uniform(-12, 12, m - m // 2))
    be += list(rng.uniform(-12, 12, m // 2)) + list(ax[m // 2 :])
    far = 1e4 * rng.choice([1, -1], 4)
    al += [far[0], 0.0, far[1], 3.0]
    be += [1.0, far[2], far[3], 0.0]
    on_curve = np.zeros(len(al), dtype=bool)
    k = n - len(al)
    j = rng.integers(0, cal.size, k)
    al += list(cal[j])
    be += list(cbe[j])
    on_curve = np.concatenate([on_curve, np.ones(k, dtype=bool)])
    return np.asarray(al), np.asarray(be), on_curve


def _trace(geo: dict, al: np.ndarray, be: np.ndarray) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = kf.trace_rays(
            geo["spin"], geo["incl"], torch.tensor(al), torch.tensor(be), orders=ORDERS,
            surface=geo["surface"], velocity=geo["velocity"],
        )  # fmt: skip
    return {k: v.numpy() for k, v in out.items()}


def _julia_status(geo: dict, al: np.ndarray, be: np.ndarray) -> np.ndarray:
    from kerrfield.bridge import trace_rays_julia

    surface = geo["surface"]
    ths = None if surface == "equatorial" else surface.opening_angle
    return trace_rays_julia(geo["spin"], geo["incl"], al, be, ORDERS, ths, geo["velocity"])[
        "status"
    ]


def _check(geo: dict, out: dict, keep: np.ndarray, counts: dict) -> None:
    st = out["status"][:, keep]
    ok = st == 0
    bad = np.zeros_like(ok)
    for k in FLOATS:
        bad |= ok & ~np.isfinite(out[k][:, keep])
    counts["nan_at_status_0"] += int(bad.sum())
    counts["status_not_monotone"] += int(((st[:-1] != 0) & (st[1:] == 0)).sum())
    g = out["g"][:, keep]
    counts["g_not_positive"] += int((ok & ~(g > 0)).sum())
    rp = 1.0 + math.sqrt(1.0 - geo["spin"] ** 2)
    counts["r_s_inside_horizon"] += int((ok & ~(out["r_s"][:, keep] > rp)).sum())


def _batch_check(geo, al, be, out, rng, counts, examples) -> None:
    for i in rng.choice(al.size, ALONE_PER_GEOMETRY, replace=False):
        alone = _trace(geo, al[i : i + 1], be[i : i + 1])
        differs = (alone["status"][:, 0] != out["status"][:, i]).any()
        worst = 0.0
        for k in FLOATS:
            x, y = alone[k][:, 0], out[k][:, i]
            fin = np.isfinite(x) & np.isfinite(y)
            differs |= (np.isfinite(x) != np.isfinite(y)).any()
            rel = np.abs(x[fin] - y[fin]) / np.maximum(np.abs(y[fin]), 1e-300)
            worst = max(worst, float(rel.max(initial=0.0)))
            differs |= (rel > 1e-14).any()
        counts["batch_dependence"] += int(differs)
        counts["batch_checked"] += 1
        if differs and len(examples) < 20:
            examples.append({"spin": geo["spin"], "incl": geo["incl"], "alpha": float(al[i]),
                             "beta": float(be[i]), "surface": str(geo["surface"]),
                             "velocity": str(geo["velocity"]), "max_rel": worst})  # fmt: skip


def run(n_rays: int, seed: int, julia: bool) -> dict:
    rng = np.random.default_rng(seed)
    names = ("nan_at_status_0", "status_not_monotone", "g_not_positive", "r_s_inside_horizon",
             "batch_dependence", "julia_status")  # fmt: skip
    counts = dict.fromkeys(names, 0) | {"batch_checked": 0}
    on_curve_counts = {"rays": 0, "nan_at_status_0": 0, "julia_status": 0}
    n_geo = math.ceil(n_rays / PER_GEOMETRY)
    rays = 0
    examples: list[dict] = []
    for _ in range(n_geo):
        geo = _geometry(rng)
        al, be, on_curve = _pixels(rng, geo["spin"], geo["incl"])
        out = _trace(geo, al, be)
        rays += al.size
        _check(geo, out, np.ones_like(on_curve), counts)
        sub = dict.fromkeys(names, 0)
        _check(geo, out, on_curve, sub)
        on_curve_counts["rays"] += int(on_curve.sum())
        on_curve_counts["nan_at_status_0"] += sub["nan_at_status_0"]
        _batch_check(geo, al, be, out, rng, counts, examples)
        if julia:
            diff = (_julia_status(geo, al, be) != out["status"]).any(axis=0)
            counts["julia_status"] += int(diff.sum())
            on_curve_counts["julia_status"] += int((diff & on_curve).sum())
    violations = sum(v for k, v in counts.items() if k != "batch_checked")
    return {"seed": seed, "rays": rays, "geometries": n_geo, "orders": list(ORDERS),
            "ray_orders": rays * len(ORDERS), "violations": violations, "counts": counts,
            "exactly_on_critical_curve": on_curve_counts, "julia": julia,
            "examples": examples}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rays", type=int, default=51200)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-julia", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="write the result JSON here")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    print(f"fuzz_raytrace: seed {seed}, {args.rays} rays", flush=True)
    t0 = time.perf_counter()
    res = run(args.rays, seed, not args.no_julia)
    res["seconds"] = round(time.perf_counter() - t0, 1)
    res["machine"] = f"{platform.node()} {platform.machine()}, torch {torch.__version__}, " + (
        f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    print(json.dumps(res, indent=1))
    print(f"violations: {res['violations']}")
    if args.out is not None:
        atomic_write_text(json.dumps(res, indent=1) + "\n", args.out)
    return 0 if res["violations"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
