"""``kerrfield infer`` ``[mode] kind = "search"`` on an interferometric observation.

The affordable analogue of the image-target ``search`` strategy (:mod:`.search_run`):

1. **grid**: the units of the observation scan (:mod:`.observation_infer`), unchanged: the
   field, θ_g and PA fitted at each fixed spin x inclination point;
2. **refine**: from the ``search.refine`` grid units of lowest χ² (distinct geometry), a
   joint fit in which spin and inclination are fitted too: the unit's fit is repeated (its
   best field seed, the same sky starts: the same fitted field, θ_g, PA and χ², recorded as
   ``chi2_start``) and continued from there for ``search.refine_steps`` Adam steps on
   :func:`~kerrfield.fitting.observation_target.observation_image_model` with
   ``learn_geometry=True`` (the rays re-traced at every step). The model's reparametrisation
   (spin = 0.999 tanh u, inclination = 180° sigmoid v) keeps the geometry inside the
   physical range, and ``search.refine_geometry_lr`` (default 0.02) is the Adam learning
   rate of u and v. A fit that ends within 0.01 of |spin| = 0.999 or 1° of 0°/180° is
   marked ``at_bound``, one whose loss becomes non-finite is recorded with χ² = NaN
   (``failed``) and never chosen. Each is written atomically to
   ``<output>/units/refine_XX.nc`` with the attributes of a grid unit (spin and
   inclination: the fitted values; ``fingerprint``: the configuration's full one) plus
   ``stage``, ``init_from``, ``start_spin``, ``start_inclination`` and
   ``refine_geometry_lr``; a rerun skips it unless its start unit or the configuration
   (refinement settings included) changed;
3. **report** (:func:`search_summary`, called by
   :func:`~kerrfield.fitting.observation_report.write_observation_report`): the estimate is
   the lowest-χ² unit of both stages; the intervals stay those of the grid's Δχ² profiles
   (a refined point cannot narrow an interval the grid does not resolve). A parameter is
   ``unconstrained`` when its grid profile is flat, when it is not on the grid (held fixed
   there: no interval), when the grid has fewer than 3 values along it (two points cannot
   tell a minimum from a slope), when a refinement's χ² lies further below the best grid
   χ² than the grid's whole χ² range along it (the grid fits were not converged: their
   profile is not one of converged fits), or when an acceptable refinement (Δχ² <= 3.84 ×
   inflation + 2 × optimiser scatter from the best fit) lands outside the grid's 95 %
   range (its 95 % interval joined with the grid values within the optimiser scatter of
   the minimum).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..io.atomic import write_netcdf
from .config import InferenceConfig
from .observation_report import MIN_PROFILE_VALUES
from .plan import Unit, load_unit

__all__ = ["plan_refine", "load_refined", "fit_refine_unit", "refine_unit_task",
           "search_summary"]

_SPIN_EDGE, _INC_EDGE = 0.989, 1.0  # |spin| / inclination margin marked "at_bound"


def _finite(chi2: Any) -> float:
    v = float(chi2)
    return v if np.isfinite(v) else np.inf


def plan_refine(cfg: InferenceConfig, grid: list[Unit],
                done: Mapping[str, xr.Dataset]) -> list[Unit]:  # fmt: skip
    """The refinements of a complete grid: its ``search.refine`` lowest-χ² units (finite χ²,
    distinct geometry), each started at its grid point with that unit's best field seed."""
    ranked = sorted((u for u in grid if u.name in done
                     and np.isfinite(float(done[u.name].attrs["chi2_total"]))),
                    key=lambda u: float(done[u.name].attrs["chi2_total"]))  # fmt: skip
    out: list[Unit] = []
    seen: set[tuple[float, float]] = set()
    for u in ranked:
        if len(out) == cfg.search["refine"]:
            break
        if (u.spin, u.inclination) in seen:
            continue
        seen.add((u.spin, u.inclination))
        out.append(Unit(f"refine_{len(out):02d}", int(done[u.name].attrs["seed"]), u.spin,
                        u.inclination, True, True, dict(u.index), stage="refine",
                        init_from=u.name))  # fmt: skip
    return out


def load_refined(units: list[Unit], unit_dir: Path, fingerprint: str) -> dict[str, xr.Dataset]:
    """The finished refinements on disk of this configuration (``fingerprint``: its full
    one) whose start unit is still the planned one; the others are fitted again."""
    out = {}
    for u in units:
        # the folder was accepted on the grid fingerprint: a refinement of other settings
        # (or a scan's leftover) is stale, not an error
        ds = load_unit(unit_dir / f"{u.name}.nc", fingerprint, refit_other=True)
        if ds is not None and ds.attrs.get("init_from") == u.init_from:
            out[u.name] = ds
    return out


def fit_refine_unit(cfg: InferenceConfig, unit: Unit, obs: xr.Dataset) -> xr.Dataset:
    """One refinement: spin, inclination, the field and the sky fitted from the grid point
    ``unit`` starts at (see the module docstring)."""
    from .observation_infer import fit_seed

    t0 = time.perf_counter()
    start = {"start_spin": unit.spin, "start_inclination": unit.inclination,
             "stage": "refine", "init_from": unit.init_from}  # fmt: skip
    try:
        ds = fit_seed(cfg, unit, obs, unit.seed, refine_steps=cfg.search["refine_steps"],
                      geometry_lr=cfg.search["refine_geometry_lr"])  # fmt: skip
    except FloatingPointError as exc:  # the geometry ran into a singular screen
        ds = xr.Dataset(attrs={"unit": unit.name, "seed": unit.seed, "spin": unit.spin,
                               "inclination": unit.inclination, "chi2_total": np.nan,
                               "loss": np.nan, "n_data": 0, "failed": str(exc),
                               "index": json.dumps(unit.index),
                               "fingerprint": cfg.fingerprint})  # fmt: skip
    else:
        at_bound = (abs(ds.attrs["spin"]) > _SPIN_EDGE
                    or not _INC_EDGE <= ds.attrs["inclination"] <= 180.0 - _INC_EDGE)
        ds.attrs["at_bound"] = int(at_bound)
    ds.attrs.update(start, seconds=time.perf_counter() - t0,
                    chi2_seeds=json.dumps([float(ds.attrs["chi2_total"])]))
    return ds


def refine_unit_task(cfg: InferenceConfig, unit: Unit, obs: xr.Dataset, unit_dir: str) -> str:
    """Fit one refinement and write it atomically (the task an executor runs)."""
    write_netcdf(fit_refine_unit(cfg, unit, obs), Path(unit_dir) / f"{unit.name}.nc")
    return unit.name


def refined_row(unit: Unit, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The summary row of a finished refinement."""
    return {"unit": unit.name, "init_from": unit.init_from, "start_spin": unit.spin,
            "start_inclination": unit.inclination, "spin": float(attrs["spin"]),
            "inclination": float(attrs["inclination"]),
            "chi2_total": float(attrs["chi2_total"]),
            "chi2_start": float(attrs.get("chi2_start", np.nan)),
            "at_bound": bool(attrs.get("at_bound")),
            "failed": str(attrs.get("failed", "")), "seconds": float(attrs["seconds"])}


def _range95(e: Mapping[str, Any]) -> tuple[float, float]:
    """The grid's 95 % range of one axis: its 95 % interval (unbounded on an open side)
    joined with the grid values within the optimiser scatter of the minimum."""
    iv = e["95"]
    lo = -np.inf if iv["open_lo"] else float(iv["lo"])
    hi = np.inf if iv["open_hi"] else float(iv["hi"])
    near = e.get("consistent") or []
    return (min([lo, *near]), max([hi, *near]))


def _range_text(lo: float, hi: float) -> str:
    """A range that may be open at the grid's edge, without printing ±inf."""
    if np.isinf(lo) and np.isinf(hi):
        return "(the whole grid and beyond)"
    if np.isinf(lo):
        return f"(≤ {hi:.4g}, open below the grid)"
    if np.isinf(hi):
        return f"(≥ {lo:.4g}, open above the grid)"
    return f"[{lo:.4g}, {hi:.4g}]"


def _judge_axis(name: str, prof: Mapping[str, Any], ok: list[dict[str, Any]],
                fixed: float, gain: float) -> tuple[bool, str]:  # fmt: skip
    """Whether the search leaves ``name`` unconstrained, and the sentence saying why.

    ``gain`` is how far the best refinement's χ² lies below the best grid χ² (-inf
    without one): beyond the grid's whole χ² range along the axis, the grid fits were not
    converged and their profile says nothing about the axis.
    """
    vals = ", ".join(f"{r[name]:.4g}" for r in ok) or "none"
    if name not in prof:
        return True, (f"{name} unconstrained by the grid (held at {fixed:g} there, so no "
                      f"interval); refined {name}: {vals}")  # fmt: skip
    e = prof[name]
    why = ["flat on the grid"] if e["flat"] else []
    if len(e["grid"]) < MIN_PROFILE_VALUES:
        why.append(f"only {len(e['grid'])} grid values, too few for a profile")
    delta = np.asarray(e["delta_chi2"], float)
    span = float(np.max(delta[np.isfinite(delta)], initial=0.0)) * prof["inflation"]
    if gain > span:
        why.append(f"a refinement lowered χ² by {gain:.4g} below the best grid point, more "
                   f"than the grid's whole χ² range along {name} ({span:.4g}): the grid fits "
                   "are not converged, so their profile cannot bound it (raise fit.steps)")
    if why:
        return True, f"{name} unconstrained: {'; '.join(why)}; refined {name}: {vals}"
    lo, hi = _range95(e)
    out = [r[name] for r in ok if not lo <= r[name] <= hi]
    if out:
        return True, (f"{name} unconstrained: refined fits at {', '.join(f'{v:.4g}' for v in out)}"
                      f" lie outside the grid's 95 % range {_range_text(lo, hi)}")  # fmt: skip
    return False, (f"{name}: refined fits ({vals}) agree with the grid's 95 % range "
                   f"{_range_text(lo, hi)}; the interval is the grid's")  # fmt: skip


def search_summary(summary: dict[str, Any], grid_best: Mapping[str, Any],
                   refined: list[dict[str, Any]], fixed: Mapping[str, float]) -> None:
    """Add ``estimate``, ``refined``, ``unconstrained`` and the refinement sentences of
    ``constraints`` to a complete search ``summary`` (with its grid ``profile``)."""
    prof, best = summary["profile"], summary["best"]
    infl, scatter = prof["inflation"], prof.get("scatter") or 0.0
    tol = 3.84 * infl + 2.0 * scatter
    for r in refined:
        r["delta_chi2_vs_grid"] = r["chi2_total"] - grid_best["chi2_total"]
    ok = [r for r in refined if np.isfinite(r["chi2_total"])
          and r["chi2_total"] - best["loss"] <= tol]  # fmt: skip
    summary["refined"] = refined
    summary["estimate"] = {
        "stage": best["stage"], "unit": best["unit"], "spin": best["spin"],
        "inclination": best["inclination"], "chi2_total": best["loss"],
        "grid_best": {k: grid_best[k] for k in ("unit", "spin", "inclination", "chi2_total")},
        "acceptable_refinements": [r["unit"] for r in ok], "acceptable_delta_chi2": tol}
    finite = [r["chi2_total"] for r in refined if np.isfinite(r["chi2_total"])]
    gain = grid_best["chi2_total"] - min(finite) if finite else -np.inf
    flags, lines = {}, []
    for name in ("spin", "inclination"):
        flags[name], line = _judge_axis(name, prof, ok, fixed[name], gain)
        lines.append(line)
    summary["unconstrained"] = flags
    where = ("a refinement" if best["stage"] == "refine" else "the grid (no refinement "
             "improved on it)")  # fmt: skip
    lines.insert(0, f"estimate from {where}: spin {best['spin']:.4g}, inclination "
                    f"{best['inclination']:.4g}, chi2 {best['loss']:.1f}; intervals from "
                    "the grid's profiles")  # fmt: skip
    lines += [f"{r['unit']} (from {r['init_from']}: spin {r['start_spin']:g}, inclination "
              f"{r['start_inclination']:g}, chi2 {r.get('chi2_start', np.nan):.1f}) -> spin "
              f"{r['spin']:.4g}, inclination {r['inclination']:.4g}, chi2 "
              f"{r['chi2_total']:.1f}"
              + (" (at the edge of the physical range)" if r["at_bound"] else "")
              + (f" (failed: {r['failed']})" if r["failed"] else "") for r in refined]
    # an axis with too few grid values gets one sentence, the search's (it adds the refined
    # values to the profile's own "too few" sentence)
    few = [prof[n]["constraint"] for n in ("spin", "inclination")
           if n in prof and len(prof[n]["grid"]) < MIN_PROFILE_VALUES]
    kept = [c for c in summary.get("constraints", []) if c not in few]
    summary["constraints"] = [*kept, *lines]
