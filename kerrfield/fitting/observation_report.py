"""The report of an observation scan or search: best unit, Δχ² profiles with intervals, image,
figure.

The total χ² of a unit is Σ_terms χ²_reduced · n over the terms of positive weight. Its
profile over spin (minimum over inclination) and over inclination gives Δχ² curves and the
68 %/95 % intervals of :func:`~kerrfield.fitting.profile.profile_intervals`. When the best
fit does not reach the noise floor (χ²_min / n > 1, usual for the EHT data with a few per
cent of systematic error), Δχ² is divided by χ²_min / n before the intervals are read (the
``inflation`` in the summary), as the ``search`` strategy's ``inflate`` does. An axis whose
68 % interval spans the whole grid is reported as *flat*: the data do not constrain it there.
The Δχ² of neural-field fits also carry optimiser scatter (each unit stops after
``fit.steps``, in a local minimum that depends on the field's seed): with
``fit.field_seeds >= 2`` the median spread of χ² between the seeds of a unit is reported as
``optimiser_scatter``; grid values whose profile Δχ² lies within 1 + 2 × that scatter of the
minimum cannot be told from it, and an axis where both grid ends can is reported as flat
(unconstrained) as well. An axis with fewer than 3 grid values is unconstrained too (two
points cannot tell a minimum from a slope). The summary's ``unconstrained`` says per
parameter whether the grid leaves it unconstrained (flat, fewer than 3 values, or held
fixed). For ``mode = "search"`` the best unit may be a refinement (spin and
inclination fitted too); the intervals are still the grid's, and
:func:`~kerrfield.fitting.observation_search.search_summary` adds the estimate, the refined
geometries and its own ``unconstrained`` flags.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from .config import InferenceConfig
from .plan import Unit
from .profile import profile_intervals

__all__ = ["SKY_KEYS", "observation_profile", "write_observation_report"]

#: per-unit numbers reported for the best unit and collected on the grid
SKY_KEYS = ("theta_g_uas", "position_angle_deg", "flux_jy", "ring_diameter_uas",
            "ring_width_uas", "brightness_pa_deg", "brightness_pa_model_deg",
            "ring_resolution_uas")


#: fewer grid values along an axis cannot tell a minimum from a slope: unconstrained
MIN_PROFILE_VALUES = 3


def _axes(cfg: InferenceConfig) -> dict[str, list[float]]:
    return {n: [float(v) for v in (g if isinstance(g, list) else [g])]
            for n, g in (("spin", cfg.spin), ("inclination", cfg.inclination))}


def _grid(units: list[Unit], done: Mapping[str, xr.Dataset], shape: tuple[int, int],
          key: str) -> np.ndarray:  # fmt: skip
    out = np.full(shape, np.nan)
    for u in units:
        if u.name in done:
            out[u.index["spin"] if "spin" in u.index else 0,
                u.index["inclination"] if "inclination" in u.index else 0] = float(
                    done[u.name].attrs.get(key, np.nan))  # fmt: skip
    return out


def observation_profile(axes: Mapping[str, list[float]], chi2: np.ndarray, n_data: int,
                        scatter: float | None = None) -> dict[str, Any]:  # fmt: skip
    """Δχ² profiles and intervals of a ``(spin, inclination)`` grid of total χ².

    Each free axis gets ``flat``, ``at_edge``, ``excursion``, ``unconstrained`` (flat, the
    minimum on a grid edge, or fewer than 3 grid values) and a ``constraint`` sentence.
    Without ``scatter`` it is flat when its 68 % interval spans the grid. With ``scatter``
    (the optimiser scatter of χ², the median spread between field seeds) the grid values
    whose profile lies within ``1 + 2 error`` of the minimum cannot be told from it
    (``consistent``), where the error is the larger of ``scatter`` and the profile's own
    ``excursion`` (the largest fall of Δχ² walking away from the minimum, which a unimodal
    likelihood does not have: a second basin or fits that missed their minimum by that
    much; it is used without ``scatter`` too). The axis is flat when the consistent values
    include both ends of the grid, and ``contiguous`` says whether they form one run (a
    broken run means the optimiser, not the data, shapes the profile). A minimum on the
    first or last grid value is ``at_edge`` ("lower"/"upper"): bounded on one side only.
    """
    chi2_min = float(np.nanmin(chi2))
    inflation = max(1.0, chi2_min / max(n_data, 1))
    prof = profile_intervals({k: np.asarray(v) for k, v in axes.items()}, chi2 / inflation,
                             chi2_min / inflation)  # fmt: skip
    for name in ("spin", "inclination"):
        if name in prof:
            _judge(prof[name], name, list(axes[name]), inflation, scatter)
    prof.update(inflation=inflation, chi2_min=chi2_min, scatter=scatter)
    return prof


def _judge(e: dict[str, Any], name: str, x: list[float], inflation: float,
           scatter: float | None) -> None:  # fmt: skip
    """Set ``flat``, ``unconstrained`` and the ``constraint`` sentence of one axis' profile;
    fewer than 3 grid values cannot tell a minimum from a slope: unconstrained."""
    _judge_profile(e, name, x, inflation, scatter)
    _judge_edge(e, name, x)
    e["unconstrained"] = bool(e["flat"] or len(x) < MIN_PROFILE_VALUES or e["at_edge"])
    if len(x) < MIN_PROFILE_VALUES:
        # no interval is quoted: two points bound nothing (any curve passes through them),
        # whether or not their Δχ² happens to be small; none is saved either
        e["68"] = e["95"] = None
        e["constraint"] = (f"{name} unconstrained: only {len(x)} grid values [{x[0]:g}, "
                           f"{x[-1]:g}], too few for a profile and an interval (use at "
                           f"least {MIN_PROFILE_VALUES})")  # fmt: skip


def _excursion(delta: np.ndarray) -> tuple[float, int | None]:
    """The largest rise-then-fall of a profile walking away from its minimum, and where.

    A unimodal likelihood's profile only climbs away from its minimum. Where a grid value
    lies below one nearer the minimum, either a second basin is there or a unit's fit
    missed its own minimum by at least that much: a direct lower bound on the
    point-to-point error of the profile, which two field seeds can underestimate.
    """
    i, depth, where = int(np.nanargmin(delta)), 0.0, None
    for step in (-1, 1):
        top, j = delta[i], i + step
        while 0 <= j < delta.size:
            if np.isfinite(delta[j]):
                if top - delta[j] > depth:
                    depth, where = float(top - delta[j]), j
                top = max(top, delta[j])
            j += step
    return depth, where


def _judge_profile(e: dict[str, Any], name: str, x: list[float], inflation: float,
                   scatter: float | None) -> None:  # fmt: skip
    iv, rng = e["68"], f"[{x[0]:g}, {x[-1]:g}]"
    ends = [w for w, o in (("below", iv["open_lo"]), ("above", iv["open_hi"])) if o]
    formal = (f"68 % interval (Δχ² = 1) [{iv['lo']:.4g}, {iv['hi']:.4g}]"
              + (f" (open {' and '.join(ends)})" if ends else ""))
    e["flat"] = bool(iv["open_lo"] and iv["open_hi"])
    delta = np.asarray(e["delta_chi2"], float) * inflation
    depth, where = _excursion(delta)
    e["excursion"] = {"delta_chi2": depth, "at": None if where is None else x[where]}
    if scatter is None and depth <= 0.0:
        e["constraint"] = (f"{name} unconstrained: the profile is flat, Δχ² <= 1 over the whole "
                           f"grid {rng}" if e["flat"] else
                           f"{name} {formal}; optimiser scatter not measured (set "
                           "fit.field_seeds >= 2), so the interval may be set by it")
        return
    # the profile's error: the seeds' spread, or its own dip where that is larger
    error = max(scatter or 0.0, depth)
    inside = np.isfinite(delta) & (delta <= 1.0 + 2.0 * error)
    idx = np.flatnonzero(inside)
    e["consistent"] = [x[i] for i in idx]
    e["contiguous"] = bool(idx.size and idx[-1] - idx[0] + 1 == idx.size)
    e["flat"] = e["flat"] or bool(inside[0] and inside[-1])
    what = (f"the optimiser scatter ({2 * error:.4g})" if error == (scatter or 0.0) else
            f"the profile's own dip ({2 * error:.4g}; it falls by {depth:.4g} at "
            f"{x[where]:g} walking away from its minimum: a second basin, or fits that "
            f"missed their minimum by more than the field seeds' spread)")
    tol = f"within 2 × {what} of the minimum"
    if e["flat"]:
        e["constraint"] = (f"{name} unconstrained: the χ² profile is flat, both ends of the "
                           f"grid {rng} lie {tol}")  # fmt: skip
        return
    broken = "" if e["contiguous"] else (" (not one run: the optimiser, not the data, shapes "
                                         "this profile)")  # fmt: skip
    e["constraint"] = (f"{name}: values {tol}: {', '.join(f'{v:g}' for v in e['consistent'])}"
                       f"{broken}; the formal {formal} ignores that error")  # fmt: skip


def _judge_edge(e: dict[str, Any], name: str, x: list[float]) -> None:
    """A minimum on the grid's first or last value bounds the parameter on one side only:
    the data may prefer values beyond the grid (extend it), so no interval is a measurement."""
    i = int(np.nanargmin(np.asarray(e["delta_chi2"], float)))
    e["at_edge"] = None
    if e["flat"] or len(x) < MIN_PROFILE_VALUES or i not in (0, len(x) - 1):
        return
    side = e["at_edge"] = ("lower", "upper")[i > 0]
    e["constraint"] = (f"{name} unconstrained: the profile's minimum is on the grid's {side} "
                       f"edge ({x[i]:g}), so the data may prefer values beyond it (extend "
                       f"the grid); {e['constraint']}")  # fmt: skip


def _scatter(rows: list[dict[str, Any]]) -> dict[str, Any]:
    spreads = [max(r["chi2_seeds"]) - min(r["chi2_seeds"]) for r in rows
               if len(r["chi2_seeds"]) > 1 and np.all(np.isfinite(r["chi2_seeds"]))]
    if not spreads:
        return {"n_seeds": 1, "median": None, "max": None}
    return {"n_seeds": max(len(r["chi2_seeds"]) for r in rows),
            "median": float(np.median(spreads)), "max": float(np.max(spreads))}


def _row(name: str, a: Mapping[str, Any]) -> dict[str, Any]:
    return {"unit": name, "spin": float(a["spin"]), "inclination": float(a["inclination"]),
            "chi2_total": float(a["chi2_total"]), "n_data": int(a["n_data"]),
            **{k: float(v) for k, v in a.items()
               if k.startswith("chi2_") and k not in ("chi2_total", "chi2_seeds")},
            **{k: int(v) for k, v in a.items()
               if k.startswith("n_") and k not in ("n_data", "n_rows", "n_rows_used")},
            **{k: float(a.get(k, np.nan)) for k in SKY_KEYS},
            "chi2_seeds": json.loads(a.get("chi2_seeds", "[]")),
            "seconds": float(a["seconds"])}  # fmt: skip


def _lowest(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return min(rows, key=lambda r: r["chi2_total"] if np.isfinite(r["chi2_total"]) else np.inf)


def write_observation_report(cfg: InferenceConfig, units: list[Unit],
                             done: Mapping[str, xr.Dataset], obs: xr.Dataset,
                             refine: Sequence[Unit] = ()) -> dict[str, Any]:  # fmt: skip
    """The summary of an observation scan or search (also ``results.nc``, ``image.fits`` and
    ``profile.png`` once every unit is done); ``summary.json`` is written by the caller.

    ``units`` is the grid, ``refine`` the planned refinements of a search (see
    :mod:`.observation_search`): the best unit is then the lowest χ² of both stages, the
    profiles and intervals stay the grid's.
    """
    rows = [_row(u.name, done[u.name].attrs) for u in units if u.name in done]
    refined = [{**_row(u.name, done[u.name].attrs), "stage": "refine"} for u in refine
               if u.name in done and np.isfinite(float(done[u.name].attrs["chi2_total"]))]
    search = cfg.mode == "search"
    n_refine = len(refine) if refine else min(cfg.search.get("refine", 0), len(units))
    complete = len(rows) == len(units) and all(u.name in done for u in refine)
    summary: dict[str, Any] = {
        "mode": cfg.mode, "target": "observation", "complete": complete,
        "n_units": len(units) + (n_refine if search else 0),
        "n_done": len(rows) + sum(u.name in done for u in refine),
        "fingerprint": cfg.fingerprint, "config": cfg.raw,
        "observation": {"file": str(obs.attrs.get("file", "")),
                        "source": obs.attrs.get("source", ""), "mjd": obs.attrs.get("mjd"),
                        "n_rows": int(obs.sizes["row"])},
        "units": rows, "files": ["units/" + u.name + ".nc" for u in [*units, *refine]
                                 if u.name in done]}  # fmt: skip
    if not rows:
        return summary
    best = _lowest(rows + refined)
    summary["best"] = {"unit": best["unit"], "spin": best["spin"],
                       "inclination": best["inclination"], "loss": best["chi2_total"],
                       "loss_name": "total chi2"}
    if search:
        summary["best"]["stage"] = best.get("stage", "grid")
    summary.update({k: v for k, v in best.items() if k not in ("unit", "spin", "inclination",
                                                              "seconds", "chi2_seeds",
                                                              "stage")})  # fmt: skip
    summary["optimiser_scatter"] = _scatter(rows)  # fmt: skip
    if not complete:
        return summary
    axes = _axes(cfg)
    shape = (len(axes["spin"]), len(axes["inclination"]))
    grids = {k: _grid(units, done, shape, k) for k in ("chi2_total", *SKY_KEYS)}
    summary["profile"] = observation_profile(axes, grids["chi2_total"], best["n_data"],
                                             summary["optimiser_scatter"]["median"])
    summary["constraints"] = [summary["profile"][n]["constraint"]
                              for n in ("spin", "inclination") if n in summary["profile"]]
    summary["unconstrained"] = {n: bool(summary["profile"].get(n, {}).get("unconstrained", True))
                                for n in ("spin", "inclination")}  # fmt: skip
    summary["constraints"] += [f"{n} unconstrained: held at {v[0]:g} on the grid (no interval)"
                               for n, v in axes.items() if len(v) < 2 and not search]
    if search:
        from .observation_search import refined_row, search_summary

        fixed = {n: v[0] for n, v in axes.items()}
        search_summary(summary, _lowest(rows), [refined_row(u, done[u.name].attrs)
                                                for u in refine], fixed)  # fmt: skip
    _write_products(cfg, axes, grids, done[best["unit"]], obs, summary)
    return summary


def _write_products(cfg: InferenceConfig, axes: Mapping[str, list[float]],
                    grids: Mapping[str, np.ndarray], best: xr.Dataset, obs: xr.Dataset,
                    summary: dict[str, Any]) -> None:  # fmt: skip
    from ..io.atomic import write_netcdf
    from ..io.skyfits import write_fits_image

    out = cfg.output
    results = xr.Dataset({k: (("spin", "inclination"), v) for k, v in grids.items()},
                         coords=dict(axes), attrs={"fingerprint": cfg.fingerprint,
                                                   "best_unit": best.attrs["unit"]})
    write_netcdf(results, out / "results.nc")
    a = obs.attrs
    write_fits_image(best["sky_image"], out / "image.fits", source=a.get("source", ""),
                     ra=a.get("ra", 0.0), dec=a.get("dec", 0.0), frequency=a.get("frequency"),
                     mjd=a.get("mjd"), overwrite=True)  # fmt: skip
    summary["files"] += ["results.nc", "image.fits"]
    if cfg.plots and "profile" in summary:
        _save_profile(summary, obs, out / "profile.png")
        summary["files"].append("profile.png")
    summary["files"].append("summary.json")


def _save_profile(summary: Mapping[str, Any], obs: xr.Dataset, path: Any) -> None:
    """``profile.png``: the grid's Δχ² profiles and, for a search, its refinements."""
    from pathlib import Path

    from ..io.atomic import atomic_write
    from .observation_plot import plot_observation_profile

    a = obs.attrs
    data = ", ".join(str(v) for v in (a.get("source") or "observation",
                                      Path(str(a.get("file", ""))).name,
                                      f"MJD {a['mjd']}" if a.get("mjd") else "") if v)
    fig = plot_observation_profile(summary["profile"], title=data, grid=summary["units"],
                                   refined=summary.get("refined", ()))  # fmt: skip
    atomic_write(lambda p: fig.savefig(p, dpi=110, format="png"), path)
