"""Hidden-truth calibration of the default ``search`` strategy's intervals.

Targets are drawn with a seed (``--seed``, default 20261130) never used while tuning the
strategy: spin uniform in [-0.9, 0.95], inclination uniform in [15°, 75°] or, with
probability 1/2, mirrored into [105°, 165°], emission family cycling through ring, disk,
hotspot and mlp (with random parameters), orders n = 0, 1, Gaussian noise. Each is fitted by
``kerrfield.run_inference`` in ``search`` mode over the full prior range, and the script
reports how often the 68 % and 95 % intervals contain the truth, the point-estimate errors
where the profile is not flagged, and every flagged case.

    python benchmarks/coverage.py                       # the full protocol: 40 targets, 64²
    python benchmarks/coverage.py --n 40 --npix 24 --shard 0/2 --output a.json  # one core
    python benchmarks/coverage.py --merge a.json b.json --output coverage.json
    python benchmarks/coverage.py --pool run1.json run2.json  # unflagged z-scores by family

Results: ``benchmarks/results/coverage.json`` (written atomically).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.stats import binom

import kerrfield as kf
from kerrfield.fitting.profile import LEVELS_1D
from kerrfield.io.atomic import atomic_write_text

FAMILIES = ("ring", "disk", "hotspot", "mlp")


def draw_targets(n: int, seed: int, npix: int, noise: float) -> list[dict]:
    """The hidden truths: synthesize() keyword dicts."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        spin = float(rng.uniform(-0.9, 0.95))
        inc = float(rng.uniform(15.0, 75.0))
        if rng.uniform() < 0.5:
            inc = 180.0 - inc
        family = FAMILIES[i % len(FAMILIES)]
        params = {
            "ring": {"radius": float(rng.uniform(4.5, 7.0)), "width": float(rng.uniform(1.0, 2.0))},
            "disk": {"R": float(rng.uniform(4.0, 6.0)), "p1": 3.0,
                     "p2": float(rng.uniform(2.0, 4.0))},
            "hotspot": {"radius": float(rng.uniform(5.0, 7.0)),
                        "phase": float(rng.uniform(0, 360)), "sigma": 2.0},
            "mlp": {},
        }[family]
        out.append({"emission": family, "emission_params": params, "spin": spin,
                    "inclination": inc, "fov": 10.0, "npix": npix, "orders": [0, 1],
                    "noise": noise, "seed": int(seed % 10000 + i)})
    return out


def config(spec: dict, outdir: Path, args: argparse.Namespace) -> dict:
    """The default strategy over the full prior range (both hemispheres)."""
    return {
        "seed": 0,
        "target": {"synthetic": spec},
        "field": {"width": args.width, "depth": 2, "output": "softplus", "scale": 10.0},
        "fit": {"steps": args.steps},
        "mode": {"kind": "search",
                 "spin": {"start": -0.9, "stop": 0.95, "num": args.n_spin},
                 "inclination": {"start": 15.0, "stop": 165.0, "num": args.n_inc}},
        "search": {"field_seeds": 1, "profile_points": 5},
        "output": {"directory": str(outdir), "progress": False, "plots": False},
    }


def run_one(spec: dict, workdir: Path, args: argparse.Namespace, i: int) -> dict:
    t0 = time.perf_counter()
    s = kf.run_inference(config(spec, workdir / f"t{i:03d}", args))
    se = s["search"]
    row = {"i": i, "family": spec["emission"], "truth_spin": spec["spin"],
           "truth_inclination": spec["inclination"], "seconds": time.perf_counter() - t0,
           "reduced_chi2": se["estimate"]["reduced_chi2"], "birge": se["birge_factor"],
           "interval_scale": se.get("interval_scale", 1.0)}
    for name in ("spin", "inclination"):
        iv = se["intervals"].get(name)
        if iv is None:  # no local grid along this axis: count a miss, flagged
            row.update({f"{name}_estimate": se["estimate"][name],
                        f"{name}_error": se["estimate"][name] - spec[name],
                        f"{name}_68": None, f"{name}_95": None, f"{name}_in68": False,
                        f"{name}_in95": False, f"{name}_unconstrained": True,
                        f"{name}_extrapolated": True})
            continue
        row[f"{name}_estimate"] = se["estimate"][name]
        row[f"{name}_error"] = se["estimate"][name] - spec[name]
        row[f"{name}_68"] = [iv["68"]["lo"], iv["68"]["hi"]]
        row[f"{name}_95"] = [iv["95"]["lo"], iv["95"]["hi"]]
        row[f"{name}_in68"] = bool(iv["truth_inside"]["68"])
        row[f"{name}_in95"] = bool(iv["truth_inside"]["95"])
        row[f"{name}_sigma_fit"] = iv.get("sigma_fit")  # the bare Δχ² = 1 half-width
        row[f"{name}_local_68"] = [iv["local"]["68"]["lo"], iv["local"]["68"]["hi"]]
        row[f"{name}_local_95"] = [iv["local"]["95"]["lo"], iv["local"]["95"]["hi"]]
        row[f"{name}_local_in68"] = bool(iv["truth_inside_local"]["68"])
        row[f"{name}_local_in95"] = bool(iv["truth_inside_local"]["95"])
        row[f"{name}_unconstrained"] = bool(se["unconstrained"][name])
        row[f"{name}_extrapolated"] = bool(se.get("extrapolated", {}).get(name))
        row[f"{name}_at_range_edge"] = bool(se.get("at_range_edge", {}).get(name))
    row["multimodal"] = bool(se.get("multimodal"))
    row["misfit"] = bool(se.get("misfit"))
    row["flag_reasons"] = se.get("flag_reasons", {})
    return row


# each flag reason starts with one of these (the misfit text itself mentions "coarse grid")
_TAGS = (("misfit:", "misfit"), ("coarse grid:", "coarse grid"),
         ("two refinements", "two basins"), ("the local grid does not close", "extrapolated"),
         (("no quadratic", "no trusted quadratic", "the quadratic", "local χ² too noisy"),
          "no bowl"))


def _why(r: dict) -> str:
    """Short flag tags of a row: from its ``flag_reasons`` (or the older ``why`` record)."""
    reasons = [t for ts in (r.get("flag_reasons") or {}).values() for t in ts]
    tags = [tag for key, tag in _TAGS if any(t.startswith(key) for t in reasons)]
    w = r.get("why") or {}
    if w and not reasons:
        tags = [tag for tag, on in (
            ("misfit", w.get("misfit")), ("coarse grid", any((w.get("coarse") or {}).values())),
            ("two basins", w.get("multimodal")),
            ("extrapolated", any((w.get("extrap") or {}).values())),
            ("no bowl", not w.get("resolved", True))) if on]  # fmt: skip
    if r.get("spin_at_range_edge") or r.get("inclination_at_range_edge"):
        tags.append("range edge")
    return ", ".join(tags) or "–"


def markdown(rows: list[dict]) -> str:
    """The per-target table of docs/identifiability.md."""
    yn = "ny"
    out = ["| # | family | truth a, θo | estimate a [68 %] | estimate θo [68 %] | in 68 % | "
           "in 95 % | flag | why | χ²/N |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: r["i"]):
        (a0, a1), (t0, t1) = r["spin_68"] or (np.nan,) * 2, r["inclination_68"] or (np.nan,) * 2
        flag = "a" * r["spin_unconstrained"] + "θ" * r["inclination_unconstrained"]
        out.append(
            f"| {r['i']} | {r['family']} | {r['truth_spin']:+.3f}, {r['truth_inclination']:.1f}° "
            f"| {r['spin_estimate']:+.3f} [{a0:+.3f}, {a1:+.3f}] | "
            f"{r['inclination_estimate']:.2f}° [{t0:.1f}, {t1:.1f}] | "
            f"{yn[r['spin_in68']]}{yn[r['inclination_in68']]} | "
            f"{yn[r['spin_in95']]}{yn[r['inclination_in95']]} | {flag or '–'} | {_why(r)} | "
            f"{r['reduced_chi2']:.2f} |")
    return "\n".join(out)


def table(rows: list[dict]) -> dict:
    """Coverage of the quoted intervals (coarse-grid ones where flagged), of the local
    profile's alone, and of the unflagged ones; errors where unflagged."""
    out = {"n": len(rows)}
    for name in ("spin", "inclination"):
        ok = [r for r in rows if not r[f"{name}_unconstrained"]]

        def frac(key: str, rs: list[dict]) -> float:
            return float(np.mean([bool(r.get(key)) for r in rs])) if rs else float("nan")

        out[name] = {
            "coverage68": frac(f"{name}_in68", rows),
            "coverage95": frac(f"{name}_in95", rows),
            "coverage68_local": frac(f"{name}_local_in68", rows),
            "coverage95_local": frac(f"{name}_local_in95", rows),
            "coverage68_unflagged": frac(f"{name}_in68", ok),
            "coverage95_unflagged": frac(f"{name}_in95", ok),
            "n_unflagged": len(ok),
            "flagged": [r["i"] for r in rows if r[f"{name}_unconstrained"]],
        }
        err = np.abs([r[f"{name}_error"] for r in ok]) if ok else np.array([np.nan])
        out[name]["median_abs_error_unflagged"] = float(np.median(err))
        out[name]["max_abs_error_unflagged"] = float(np.max(err))
    return out


def _z(r: dict, name: str) -> float:
    """Error in units of the 68 % half-width on the side of the truth (the intervals are not
    symmetric about the estimate)."""
    lo, hi = r[f"{name}_68"]
    est, true = r[f"{name}_estimate"], r[f"truth_{name}"]
    half = hi - est if true > est else est - lo
    return (true - est) / half if half > 0 else float("inf")


def pooled(results: list[dict]) -> str:
    """Markdown table of the unflagged parameters of one or more result files by family:
    coverage, the binomial probability of so few truths in the 95 % interval were it
    calibrated, and the rms and median |z| (a calibrated interval: median |z| ≈ 0.67)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for res in results:
        for r in res["rows"]:
            for name in ("spin", "inclination"):
                if not r[f"{name}_unconstrained"]:
                    for fam in (r["family"], "all"):
                        groups.setdefault((fam, name), []).append(r)
    out = ["| family | parameter | unflagged | in 68 % | in 95 % | P(≤ in 95 %) | rms z | "
           "median abs z |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for fam in (*FAMILIES, "all"):
        for name in ("spin", "inclination"):
            rs = groups.get((fam, name), [])
            if not rs:
                continue
            n, z = len(rs), np.abs([_z(r, name) for r in rs])
            k68, k95 = (sum(bool(r[f"{name}_in{c}"]) for r in rs) for c in (68, 95))
            out.append(f"| {fam} | {name} | {n} | {k68} ({k68 / n:.0%}) | {k95} ({k95 / n:.0%})"
                       f" | {binom.cdf(k95, n, 0.95):.2g} | {np.sqrt(np.mean(z**2)):.2f} | "
                       f"{np.median(z):.2f} |")  # fmt: skip
    return "\n".join(out)


def calibrate(results: list[dict]) -> dict:
    """The interval scale by the rule of docs/identifiability.md (*The interval scale*): the
    68th percentile of |z| over the unflagged parameters (spin and inclination pooled) of
    the given runs, rounded to 0.05; with the coverage the scaled intervals would have had
    on the same runs (an in-sample figure: judge the factor on other seeds)."""
    # on the bare Δχ² = 1 half-width: a row quoted with a scale f has z / f of the bare one
    z = np.abs([_z(r, name) * r.get("interval_scale", 1.0) for res in results
                for r in res["rows"] for name in ("spin", "inclination")
                if not r[f"{name}_unconstrained"]])  # fmt: skip
    q68 = float(np.quantile(z, 0.68))
    f = round(float(np.round(q68 / 0.05) * 0.05), 2)
    return {"n_parameters": int(z.size), "q68_abs_z": q68, "interval_scale": f,
            "coverage68_in_sample": float(np.mean(z <= f)),
            "coverage95_in_sample": float(np.mean(z <= np.sqrt(LEVELS_1D["95"]) * f))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=40, help="number of hidden targets")
    p.add_argument("--npix", type=int, default=64)
    p.add_argument("--noise", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=20261130, help="seed of the hidden truths")
    p.add_argument("--width", type=int, default=8, help="fitted field width")
    p.add_argument("--steps", type=int, default=300, help="L-BFGS iterations per grid point")
    p.add_argument("--n-spin", type=int, default=5)
    p.add_argument("--n-inc", type=int, default=9)
    p.add_argument("--shard", default="0/1", help="K/M: fit the targets i with i %% M == K")
    p.add_argument("--keep", help="write each target's run directory here (default: a "
                   "temporary directory, deleted at the end)")
    p.add_argument("--merge", nargs="+", help="combine shard results into --output")
    p.add_argument("--markdown", metavar="RESULT", help="print the per-target table of a "
                   "result file (as in docs/identifiability.md) and exit")
    p.add_argument("--pool", nargs="+", metavar="RESULT", help="print the unflagged "
                   "parameters' coverage and z-scores by family, pooled over result files")
    p.add_argument("--calibrate", nargs="+", metavar="RESULT", help="print the interval "
                   "scale the rule of docs/identifiability.md gives on these result files")
    p.add_argument("--output", default=str(Path(__file__).parent / "results" / "coverage.json"))
    args = p.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())["rows"]))
        return 0
    if args.calibrate:
        print(json.dumps(calibrate([json.loads(Path(f).read_text())
                                    for f in args.calibrate]), indent=1))  # fmt: skip
        return 0
    if args.pool:
        print(pooled([json.loads(Path(f).read_text()) for f in args.pool]))
        return 0
    if args.merge:
        parts = [json.loads(Path(f).read_text()) for f in args.merge]
        rows = sorted((r for part in parts for r in part["rows"]), key=lambda r: r["i"])
        merged = {**parts[0]["args"], "shard": "merged", "merged_from": list(args.merge),
                  "output": args.output}  # fmt: skip
        result = {"args": merged, "table": table(rows), "rows": rows}
        atomic_write_text(json.dumps(result, indent=1), Path(args.output))
        print(json.dumps(result["table"], indent=1))
        return 0
    k, m = (int(v) for v in args.shard.split("/"))
    specs = draw_targets(args.n, args.seed, args.npix, args.noise)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kerrfield-coverage-") as tmp:
        if args.keep:
            tmp = args.keep
        for i, spec in enumerate(specs):
            if i % m != k:
                continue
            rows.append(run_one(spec, Path(tmp), args, i))
            r = rows[-1]
            print(f"[{i}/{len(specs)}] {r['family']:8s} truth ({r['truth_spin']:+.3f}, "
                  f"{r['truth_inclination']:6.2f}) est ({r['spin_estimate']:+.3f}, "
                  f"{r['inclination_estimate']:6.2f}) in68 "
                  f"{r['spin_in68']:d}{r['inclination_in68']:d}"
                  f" in95 {r['spin_in95']:d}{r['inclination_in95']:d} flags "
                  f"{r['spin_unconstrained']:d}{r['inclination_unconstrained']:d} "
                  f"{r['seconds']:.0f}s", flush=True)
            result = {"args": vars(args), "table": table(rows), "rows": rows}
            atomic_write_text(json.dumps(result, indent=1), Path(args.output))
    print(json.dumps(result["table"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
