"""``kerrfield infer CONFIG.toml``: scripted, resumable spin/inclination inference."""

from __future__ import annotations

import argparse
from typing import Any

from ..fitting.config import load_inference_config
from ..fitting.plan import output_status, plan_units
from ..fitting.runner import check_target, run_inference


def add_cli(subparsers: Any) -> None:
    """Register ``kerrfield infer CONFIG.toml``."""
    p = subparsers.add_parser(
        "infer",
        help="scripted spin/inclination inference from a TOML config (resumable)",
        description="Run the inference described by a TOML file (see examples/*.toml); "
        "[mode] kind is one of: search (the default: a coarse spin x inclination grid, "
        "joint refinements of its best points, then profile likelihood), joint (one fit "
        "with spin and/or inclination free), scan (a profile over a spin/inclination grid) "
        "or ensemble (the joint fit repeated over seeds). A [target.observation] "
        "(uvfits) is scanned over spin x inclination with the field and theta_g/PA fitted "
        "at each point (examples/m87_2017_scan.toml); kind = \"search\" then refines the "
        "best grid points with spin and inclination fitted too "
        "(examples/m87_2017_search.toml). Completed fits are saved one by one; "
        "running the same command again resumes.",
    )
    p.add_argument("config", help="TOML configuration file")
    p.add_argument("--output", "-o", help="output directory (overrides output.directory)")
    p.add_argument("--overwrite", action="store_true",
                   help="discard earlier results in the output directory instead of resuming")
    p.add_argument("--check", action="store_true",
                   help="validate the configuration, list the fits and exit")
    p.add_argument("--quiet", "-q", action="store_true",
                   help="no progress lines or bars (per-step bars are drawn only on a "
                        "terminal; the units' bar also in logs)")
    p.add_argument("--dask", action="store_true",
                   help="run the fits on a dask LocalCluster (one worker per core, or --workers)")
    p.add_argument("--workers", type=int, default=None, help="workers of the local cluster")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the fits on a running dask scheduler (e.g. tcp://host:8786, "
                   "or one started by dask-jobqueue on SLURM)")
    p.set_defaults(func=_cli_infer, interrupt_hint=_interrupt_hint)


def _interrupt_hint(args: argparse.Namespace) -> str:
    try:
        out = load_inference_config(args.config, output=args.output).output
    except (ValueError, OSError):
        return "rerun to resume"
    n = len(list((out / "units").glob("*.nc"))) if (out / "units").is_dir() else 0
    return f"{n} unit{'s' if n != 1 else ''} saved in {out}, rerun to resume"


def _print_check(args: argparse.Namespace, cfg: Any) -> None:
    """``--check``: validate what the run would (the target's checks too), list the fits and
    say what the output folder holds; fits nothing, writes nothing."""
    units = plan_units(cfg)
    if "observation" not in cfg.target:
        check_target(cfg)  # the target and the checks made before any fit
    later = (" (the grid; refinements and profile points follow)"
             if cfg.mode == "search" and "observation" not in cfg.target else "")
    # a grid point fits the field from several seeds (best kept): say so, not "N fits"
    if "observation" in cfg.target:
        seeds = cfg.fit.get("field_seeds", 1)
    else:  # a synthetic search's grid units list their seeds; other modes fit one each
        seeds = max((len(u.seeds) for u in units), default=1) or 1
    what = (f"{len(units)} grid point(s) x {seeds} field seeds = {len(units) * seeds} fits"
            if seeds > 1 else f"{len(units)} fit(s)")
    print(f"{args.config}: valid; mode {cfg.mode}, {what}{later} -> {cfg.output}")
    # reads attributes, fits nothing
    if (status := output_status(cfg, units, args.overwrite)) is not None:
        print(f"  {status}")
    if later:
        print(f"  {_search_plan(cfg, len(units))}")
    if "observation" in cfg.target:
        t, o = cfg.target["observation"], cfg.fit["observation"]
        if "uvfits" in t:
            files = t["uvfits"] if isinstance(t["uvfits"], list) else [t["uvfits"]]
        else:
            from ..vlbi.dataset import (
                EHT_M87_2017_URL,
                eht_m87_2017_pairs,
                locate_eht_m87_2017,
            )

            files = []
            for day, band in eht_m87_2017_pairs(t["day"], t["band"]):
                found = locate_eht_m87_2017(day, band)
                files.append(f"EHT 2017 M87, day {day} {band}" + (
                    f" (found: {found})" if found is not None else
                    f" (not on this machine: it will be downloaded from {EHT_M87_2017_URL}; "
                    "without network set KERRFIELD_DATA_DIR)"))  # fmt: skip
        data = "; ".join(files)
        if len(files) > 1:
            data = f"{len(files)} files fitted jointly: {data}"
        print(f"  observation {data}"
              f"; weights {o.get('weights', {'cphase': 1.0, 'lcamp': 1.0})}, "
              f"systematic {o.get('systematic', 0.02)}; field and sky fitted at fixed "
              "geometry in each unit")  # fmt: skip
        if cfg.mode == "search":
            n = min(cfg.search["refine"], len(units))
            print(f"  then {n} refinement(s) of the best grid point(s) with spin and "
                  f"inclination fitted too, {cfg.search['refine_steps']} steps each at "
                  f"geometry learning rate {cfg.search['refine_geometry_lr']:g}")
    for u in units:
        print(f"  {u.name}: spin {u.spin:.4g} ({'free' if u.fit_spin else 'fixed'}), "
              f"inclination {u.inclination:.4g} ({'free' if u.fit_inclination else 'fixed'})"
              f", seed {u.seed}")  # fmt: skip


def _cli_infer(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.workers is not None and args.scheduler:
        raise ValueError("--workers sizes a local cluster; with --scheduler the workers are "
                         "those of the running cluster (drop one of the two)")
    cfg = load_inference_config(args.config, output=args.output)
    if args.check:
        _print_check(args, cfg)
        return 0
    scheduler = args.scheduler or ("local" if args.dask or args.workers else None)
    summary = run_inference(cfg, overwrite=args.overwrite, progress=not args.quiet,
                            scheduler=scheduler, workers=args.workers)  # fmt: skip
    best = summary.get("best", {})
    print(f"kerrfield infer: {summary['n_done']}/{summary['n_units']} fits; best spin "
          f"{best.get('spin', float('nan')):.4f}, inclination "
          f"{best.get('inclination', float('nan')):.3f} deg, {best.get('loss_name', 'loss')} "
          f"{best.get('loss', float('nan')):.4g}; results in {cfg.output}")  # fmt: skip
    if summary.get("target") == "observation" and "best" in summary:
        print(f"  best unit: theta_g {summary['theta_g_uas']:.3f} uas, PA "
              f"{summary['position_angle_deg']:.1f} deg, ring d {summary['ring_diameter_uas']:.1f}"
              f" uas, brightness PA {summary['brightness_pa_deg']:.0f} deg (at "
              f"{summary.get('ring_resolution_uas', 20.0):g} uas), chi2 "
              f"{summary['chi2_total']:.1f} for {summary['n_data']} data")  # fmt: skip
        if "estimate" in summary:
            e, flags = summary["estimate"], summary["unconstrained"]
            print(f"  estimate ({e['stage']} stage, {e['unit']}): spin {e['spin']:.4f}, "
                  f"inclination {e['inclination']:.3f} deg, chi2 {e['chi2_total']:.1f} "
                  f"(best grid point {e['grid_best']['chi2_total']:.1f}); unconstrained: "
                  f"{', '.join(n for n, v in flags.items() if v) or 'none'}")  # fmt: skip
        for line in summary.get("constraints", []):
            print(f"  {line}")
    for name in ("inclination", "spin"):
        if f"profile_{name}" in summary:
            prof = summary[f"profile_{name}"]
            edge = (" -- at the edge of the grid: the minimum may lie beyond it; extend "
                    f"mode.{name}") if prof.get("at_grid_edge") else ""  # fmt: skip
            print(f"  profile over {name}: minimum at {prof['recovered']:.4g}{edge}")
    if "search" in summary:
        from ..fitting.search_report import format_estimate, search_header

        print(f"  {search_header(summary['search'])}")  # the loss the fits used
        for line in format_estimate(summary["search"], summary.get("truth", {})):
            print(line)
    elif summary.get("truth"):
        t = summary["truth"]
        print(f"  truth: spin {t.get('spin', float('nan')):.4f}, inclination "
              f"{t.get('inclination', float('nan')):.3f} deg")
    if "ensemble" in summary:
        e = summary["ensemble"]
        print(f"  ensemble of {e['n']}: spin {e['spin_mean']:.4f} ± {e['spin_std']:.4f}, "
              f"inclination {e['inclination_mean']:.3f} ± {e['inclination_std']:.3f} deg "
              "(optimiser spread, not a statistical interval)")
    return 0


def _search_plan(cfg: Any, n_grid: int) -> str:
    """What an image search fits after its grid (the counts depend on the grid's results,
    so they are upper bounds)."""
    sc = cfg.search
    free = [n for n, v in (("spin", cfg.spin), ("inclination", cfg.inclination))
            if isinstance(v, list)]  # fmt: skip
    n_ref = min(int(sc["refine"]), n_grid)
    per_round = int(sc["profile_points"]) ** len(free)
    return (f"then up to {n_ref} joint refinement(s) of the best non-neighbouring grid points "
            f"(each polished on its geometry), then up to {sc['profile_rounds']} local "
            f"profile grid(s) of {per_round} point(s) over {' x '.join(free) or 'nothing'}")
