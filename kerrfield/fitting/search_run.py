"""Running the ``search`` strategy stage by stage: grid, refinement, local profile rounds.

Each stage's units are planned from the results of the previous ones (deterministically, so
a rerun plans the same units and skips those on disk) and executed by an
:class:`~kerrfield.fitting.executor.Executor`. The local profile grid is re-centred and
re-scaled for up to ``search.profile_rounds`` rounds until the 95 % interval of every free
axis is closed and spans at least two local steps.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..io.atomic import write_netcdf
from ..models.forward import physics_reported
from .config import InferenceConfig
from .plan import Unit, load_unit, plan_grid
from .profile import profile_intervals, quadratic_fit, quadratic_intervals, widened
from .search import fit_search_unit, plan_polish, plan_profile, plan_refine, unit_chi2

__all__ = ["run_search", "search_task", "chi2_grid"]

_SCATTER_MAX = 5.0  # χ² units: the largest rms residual of a trusted local quadratic


def search_task(cfg: InferenceConfig, unit: Unit, target: xr.Dataset,
                init_params: np.ndarray | None, path: str) -> str:  # fmt: skip
    """Fit one search unit and write it atomically to ``path`` (what a worker runs)."""
    with physics_reported():  # the run printed the mismatches asked for, once
        write_netcdf(fit_search_unit(cfg, unit, target, init_params), path)
    return unit.name


@dataclasses.dataclass
class _Run:
    cfg: InferenceConfig
    target: xr.Dataset
    unit_dir: Path
    executor: Any
    budget: int | None
    show: bool = False
    done: dict[str, xr.Dataset] = dataclasses.field(default_factory=dict)
    units: list[Unit] = dataclasses.field(default_factory=list)
    fitted: int = 0
    resumed: int = 0

    def stage(self, units: list[Unit]) -> bool:
        """Run the units not yet on disk; False when the unit budget ran out first."""
        self.units += units
        todo = []
        for u in units:
            ds = load_unit(self.unit_dir / f"{u.name}.nc", self.cfg.fingerprint)
            if ds is None:
                todo.append(u)
            else:
                self.done[u.name] = ds
                self.resumed += 1
        if self.budget is not None:
            todo, cut = todo[: max(self.budget - self.fitted, 0)], len(todo)
            complete = len(todo) == cut
        else:
            complete = True
        calls = []
        for u in todo:
            init = None
            if u.init_from:
                init = np.asarray(self.done[u.init_from]["field_params"].values)
            calls.append((self.cfg, u, self.target, init, str(self.unit_dir / f"{u.name}.nc")))
        if self.show and units:
            print(f"kerrfield infer: stage {units[0].stage}: {len(calls)} of {len(units)} "
                  "units to fit", file=sys.stderr)  # fmt: skip
        for name in self.executor.map(search_task, calls):
            self.done[name] = xr.load_dataset(self.unit_dir / f"{name}.nc")
            self.fitted += 1
            if self.show:  # one line per finished unit, as observation searches print
                a = self.done[name].attrs
                print(f"kerrfield infer: {name} (spin {a['spin']:.4g}, inclination "
                      f"{a['inclination']:.4g}): {a.get('loss_name', 'chi2')} "
                      f"{unit_chi2(self.done[name]):.6g}, "
                      f"{'converged' if a.get('converged') else 'not converged'}, "
                      f"{a.get('seconds', 0.0):.0f} s", file=sys.stderr)  # fmt: skip
        return complete


def chi2_grid(units: list[Unit], done: dict[str, xr.Dataset]) -> tuple[dict, np.ndarray]:
    """Axes and ``(n_spin, n_inclination)`` chi^2 of one grid stage's units."""
    spins = sorted({u.spin for u in units})
    incs = sorted({u.inclination for u in units})
    chi2 = np.full((len(spins), len(incs)), np.nan)
    for u in units:
        if u.name in done:
            chi2[spins.index(u.spin), incs.index(u.inclination)] = unit_chi2(done[u.name])
    return {"spin": np.array(spins), "inclination": np.array(incs)}, chi2


def coarse_profile(res: dict[str, Any], name: str) -> tuple[np.ndarray, np.ndarray]:
    """The coarse grid's values of ``name`` and its profile χ² there (minimum over the other
    parameter; all NaN while no coarse unit is done)."""
    axes, chi2 = chi2_grid(res["grid"], res["run"].done)
    x = np.asarray(axes[name], dtype=float)
    if not np.isfinite(chi2).any():
        return x, np.full(x.size, np.nan)
    return x, np.nanmin(chi2, axis=1 - ("spin", "inclination").index(name))


def _centre(run: _Run, names: list[str]) -> Unit:
    """The fitted point of the best unit among ``names``, as a profile centre."""
    best = min(names, key=lambda n: unit_chi2(run.done[n]))
    a = run.done[best].attrs
    return Unit(best, int(a["seed"]), float(a["spin"]), float(a["inclination"]), False, False,
                {}, stage=str(a["stage"]))  # fmt: skip


def _step(values: Any, fallback: float) -> float:
    v = np.asarray(values if isinstance(values, list) else [values], dtype=float)
    return float(np.min(np.diff(v))) if v.size > 1 else fallback


def _bowl(q: dict | None) -> bool:
    """A quadratic that describes its local grid (rms residual within a few χ² units)."""
    return q is not None and q["scatter"] <= 5.0 + 0.01 * abs(q["chi2_min"])


def _next_spans(axes: dict, q: dict | None, spans: dict[str, float], centre: Unit,
                chi2_range: float = 0.0) -> dict[str, float] | None:  # fmt: skip
    """Spans of the next local round (±2 × the 95 % half-width of the quadratic profile),
    or None when the current spans are within a factor 2 of that and the vertex lies in
    the central half of the grid. ``chi2_range`` is max − min χ² of the local grid."""
    new, changed = dict(spans), False
    # a local grid far wider than the minimum: χ² rises by > 1000 inside it (far beyond any
    # interval's Δχ²) and no quadratic bowl describes it (too few points within the cap, or
    # a large scatter): zoom in on the best point
    too_wide = not _bowl(q) and chi2_range > 1000.0
    for name in ("spin", "inclination"):
        if np.asarray(axes[name]).size < 2:
            continue
        if q is None or too_wide:
            new[name], changed = spans[name] * (0.25 if too_wide else 2.5), True
            continue
        i = q["names"].index(name)
        want = max(2.0 * float(np.sqrt(3.84 * q["cov1"][i][i])), 1e-4)
        off = abs(q["vertex"][i] - float(getattr(centre, name)))
        if not 0.5 <= want / spans[name] <= 2.0 or off > 0.5 * spans[name]:
            new[name], changed = min(want, 4.0 * spans[name]), True
    return new if changed else None


def _vertex_centre(best: Unit, q: dict | None, axes: dict, spans: dict[str, float],
                   n: int) -> Unit:  # fmt: skip
    """Next centre: the quadratic's vertex when it lies within one local step of the best
    fitted point (where the quadratic is trustworthy), else that best point."""
    if not _bowl(q):  # no vertex to trust
        return best
    v = dict(zip(q["names"], q["vertex"], strict=True))
    for name, value in v.items():
        if abs(value - float(getattr(best, name))) > 2.0 * spans[name] / (n - 1):
            return best
    spin = float(np.clip(v.get("spin", best.spin), -0.998, 0.998))
    inc = float(np.clip(v.get("inclination", best.inclination), 0.2, 179.8))
    return dataclasses.replace(best, spin=spin, inclination=inc)


def _rejection(q: dict | None, axes: dict, observed: float) -> dict[str, Any] | None:
    """Why the local quadratic profile is not trusted, or None when it is.

    Checked in this order, the first that fails is returned with its numbers: a fit exists
    (``"no fit"``); its vertex lies on the local grid (``"vertex off grid"``: ``parameter``,
    ``vertex``, ``grid``); its rms residual is at most ``_SCATTER_MAX`` = 5 χ² units, a
    third of the bowl's rise at the local grid's edges (``"noisy"``: ``scatter``,
    ``allowed``); its minimum is not more than ``max(5, 3 × scatter)`` below the best fitted
    point (``"extrapolated"``: ``chi2_min``, ``observed``, ``allowed``). Each record has a
    one-line ``text`` for the summary's flag reasons.
    """
    if q is None:
        return {"reason": "no fit", "text": "no quadratic fit to the local grid (too few "
                "finite points, or χ² not bowl-shaped: no positive curvature)"}  # fmt: skip
    for i, name in enumerate(q["names"]):
        x = np.asarray(axes[name], dtype=float)
        if not x.min() <= q["vertex"][i] <= x.max():
            return {"reason": "vertex off grid", "parameter": name,
                    "vertex": float(q["vertex"][i]), "grid": [float(x.min()), float(x.max())],
                    "text": f"the quadratic's vertex is off the local grid ({name} "
                            f"{q['vertex'][i]:.4g} outside {x.min():.4g}..{x.max():.4g})"
                    }  # fmt: skip
    # the local grid spans ±2 × the 95 % half-width, so the bowl rises by ≈ 4 × 3.84 ≈ 15
    # at its edges: a scatter above 5 (a third of that) hides it, whatever χ²'s own size.
    # (An allowance growing with χ²_min, as before, let profiles scattered by 18 and 44 χ²
    # units through at N = 4096: two of the three gross unflagged misses in 120 targets.)
    allowed = _SCATTER_MAX
    if q["scatter"] > allowed:  # not a quadratic bowl at this scale
        return {"reason": "noisy", "scatter": float(q["scatter"]), "allowed": float(allowed),
                "text": f"local χ² too noisy for a quadratic (scatter {q['scatter']:.3g} > "
                        f"{allowed:.3g}); raise search.profile_steps or fit.steps"}  # fmt: skip
    floor = observed - max(5.0, 3.0 * q["scatter"])
    if not q["chi2_min"] >= floor:
        return {"reason": "extrapolated", "chi2_min": float(q["chi2_min"]),
                "observed": float(observed), "allowed": float(floor),
                "text": f"the quadratic's minimum (χ² {q['chi2_min']:.6g}) lies far below "
                        f"every fitted point (best {observed:.6g})"}  # fmt: skip
    return None


def run_search(cfg: InferenceConfig, target: xr.Dataset, unit_dir: Path, executor: Any,
               max_units: int | None = None, show: bool = False) -> dict[str, Any]:  # fmt: skip
    """Run (or resume) every stage of a search; returns units, results and the analysis."""
    run = _Run(cfg, target, unit_dir, executor, max_units, show)
    grid = plan_grid(cfg)
    out: dict[str, Any] = {"run": run, "complete": False}
    if not run.stage(grid):
        return out
    refine = plan_refine(cfg, grid, run.done)
    if not run.stage(refine):
        return out
    polish = plan_polish(refine, run.done, int(cfg.search["field_seeds"]))
    if not run.stage(polish):
        return out
    centre = _centre(run, [u.name for u in polish] or [u.name for u in grid])
    # first local grid: an eighth of the coarse step (refined minima are sharp where the data
    # decide; the rounds widen it fourfold at most per round where they do not)
    spans = {"spin": _step(cfg.spin, 0.8) / 8, "inclination": _step(cfg.inclination, 40.0) / 8}
    rounds = []
    for r in range(1, int(cfg.search["profile_rounds"]) + 1):
        local = plan_profile(cfg, r, centre, spans)
        if not run.stage(local):
            return out
        axes, chi2 = chi2_grid(local, run.done)
        q = quadratic_fit(axes, chi2, cap=float(cfg.search["fit_cap"]))
        rounds.append({"round": r, "centre": {"spin": centre.spin, "inclination":
                       centre.inclination, "unit": centre.name}, "spans": dict(spans),
                       "quadratic": q})  # fmt: skip
        finite = np.asarray(chi2, dtype=float)[np.isfinite(chi2)]
        nxt = _next_spans(axes, q, spans, centre, float(np.ptp(finite)) if finite.size else 0.0)
        if nxt is None or r == int(cfg.search["profile_rounds"]):
            break
        best = _centre(run, [centre.name, *(u.name for u in local)])
        centre = _vertex_centre(best, q, axes, spans, int(cfg.search["profile_points"]))
        spans = nxt
    observed = min(unit_chi2(run.done[n]) for n in run.done)
    rejected = _rejection(q, axes, observed)  # recorded: the flag reason quotes it
    q = q if rejected is None else None
    chi2_min = min(observed, q["chi2_min"]) if q is not None else observed
    intervals = profile_intervals(axes, chi2, chi2_min)
    npix = int(target["image"].size)
    # a field that cannot reach the noise floor (χ²/N > 1: model inadequacy) would give
    # intervals that are too narrow; widen them by the Birge ratio sqrt(χ²_min / N)
    birge = max(1.0, chi2_min / npix) if cfg.search["inflate"] else 1.0
    scale = float(cfg.search["interval_scale"])
    if q is not None:  # the quadratic averages the optimiser scatter out: primary intervals
        q = widened(q, birge, scale)
        for name, entry in quadratic_intervals(q, axes).items():
            intervals[name] = {**intervals[name], **entry, "grid_intervals": {
                c: intervals[name][c] for c in ("68", "95")}}
    out.update(complete=True, grid=grid, refine=refine, local=local, rounds=rounds,
               axes=axes, chi2=chi2, chi2_min=chi2_min, quadratic=q, intervals=intervals,
               resolved=q is not None, quadratic_rejected=rejected, interval_scale=scale)
    return out
