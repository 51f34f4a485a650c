"""When are spin and inclination recoverable? One factor at a time around a base scenario.

Base: ring emission, a = 0.6, θo = 50°, orders n = 0, 1, ZAMO redshift, 2 % noise, field
width 8, fitted by the default ``search`` strategy (kerrfield.run_inference) over the full
range a ∈ [-0.9, 0.95], θo ∈ [10°, 80°]. Each row changes one thing: screen resolution,
orders, redshift model, emission family, noise level, field capacity. Reported per row:
estimate, 68 % interval half-widths (σ), errors against the truth, the "unconstrained" flags
(the 95 % region reaches the searched grid's edge: the data do not determine that parameter
there) and the wall time.

    python benchmarks/identifiability.py            # full study (64² base, 30/64/128 screens)
    python benchmarks/identifiability.py --quick    # reduced study in docs/identifiability.md

Results: ``benchmarks/results/identifiability.json`` (written atomically).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import kerrfield as kf
from kerrfield.io.atomic import atomic_write_text

BASE = {"emission": "ring", "emission_params": {"radius": 6.0, "width": 1.5}, "spin": 0.6,
        "inclination": 50.0, "fov": 10.0, "npix": 64, "orders": [0, 1], "velocity": "zamo",
        "noise": 0.02, "seed": 7}  # fmt: skip


def rows(quick: bool) -> list[tuple[str, dict, dict]]:
    """(label, target overrides, field overrides)."""
    screens = (16, 24, 32) if quick else (30, 64, 128)
    out = [(f"screen {n}²", {"npix": n}, {}) for n in screens]
    base_n = 24 if quick else 64
    more = [
        ("orders n = 0 only", {"orders": [0]}, {}),
        ("Keplerian redshift", {"velocity": "keplerian"}, {}),
        ("family disk", {"emission": "disk", "emission_params": {}}, {}),
        ("family hotspot", {"emission": "hotspot", "emission_params": {}}, {}),
        ("family mlp", {"emission": "mlp", "emission_params": {}}, {}),
        ("noise 5 %", {"noise": 0.05}, {}),
        ("field width 4", {}, {"width": 4}),
        ("field width 16", {}, {"width": 16}),
    ]
    if not quick:
        more.append(("noise 0.5 %", {"noise": 0.005}, {}))
    return out + [(lab, {"npix": base_n, **t}, f) for lab, t, f in more]


def run_row(label: str, target: dict, field: dict, workdir: Path) -> dict:
    spec = {**BASE, **target}
    cfg = {
        "seed": 0, "target": {"synthetic": spec},
        "field": {"width": 8, "depth": 2, "output": "softplus", "scale": 10.0, **field},
        "fit": {"steps": 300},
        "mode": {"kind": "search", "spin": {"start": -0.9, "stop": 0.95, "num": 4},
                 "inclination": {"start": 10.0, "stop": 80.0, "num": 5}},
        "search": {"field_seeds": 1, "refine": 2, "profile_points": 5},
        "output": {"directory": str(workdir / label.replace(" ", "_")), "progress": False,
                   "plots": False},
    }  # fmt: skip
    t0 = time.perf_counter()
    s = kf.run_inference(cfg)
    se = s["search"]
    row = {"label": label, "seconds": time.perf_counter() - t0,
           "reduced_chi2": se["estimate"]["reduced_chi2"]}  # fmt: skip
    for name in ("spin", "inclination"):
        iv = se["intervals"][name]
        row[name] = se["estimate"][name]
        row[f"{name}_sigma68"] = 0.5 * (iv["68"]["hi"] - iv["68"]["lo"])
        row[f"{name}_error"] = se["estimate"][name] - spec[name]
        row[f"{name}_in68"] = bool(iv["truth_inside"]["68"])
        row[f"{name}_in95"] = bool(iv["truth_inside"]["95"])
        row[f"{name}_unconstrained"] = bool(se["unconstrained"][name])
    return row


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced study (small screens)")
    p.add_argument("--only", nargs="*", default=None, help="run only these row labels")
    p.add_argument("--output",
                   default=str(Path(__file__).parent / "results" / "identifiability.json"))
    args = p.parse_args(argv)
    out = []
    with tempfile.TemporaryDirectory(prefix="kerrfield-ident-") as tmp:
        for label, target, field in rows(args.quick):
            if args.only and label not in args.only:
                continue
            r = run_row(label, target, field, Path(tmp))
            out.append(r)
            print(f"{label:22s} a = {r['spin']:+.4f} ± {r['spin_sigma68']:.4f} "
                  f"(err {r['spin_error']:+.4f}) θo = {r['inclination']:.2f} ± "
                  f"{r['inclination_sigma68']:.2f} (err {r['inclination_error']:+.2f}) "
                  f"flags {r['spin_unconstrained']:d}{r['inclination_unconstrained']:d} "
                  f"χ²/N {r['reduced_chi2']:.2f} {r['seconds']:.0f}s", flush=True)
            atomic_write_text(json.dumps({"quick": args.quick, "base": BASE, "rows": out},
                                         indent=1), Path(args.output))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
