"""``kerrfield infer`` on an interferometric observation: a resumable spin x inclination scan
(``[mode] kind = "scan"``), followed for ``kind = "search"`` by the refinements of
:mod:`.observation_search`.

Each unit (a grid point of ``[mode] spin`` x ``inclination``) builds the model at that fixed
geometry (:func:`~kerrfield.fitting.observation_target.observation_image_model`), fits the
field and the sky parameters (θ_g, PA, optionally the flux) with :func:`kerrfield.fit` on
the observation from ``fit.field_seeds`` field seeds (the lowest χ² kept, all recorded in
``chi2_seeds``) and is written atomically to ``<output>/units/<unit>.nc`` (the sky image,
the loss history and, in its attributes, the total χ² = Σ_terms χ²_reduced · n, the reduced χ²
and n of each term, θ_g, PA, flux and the ring features). A rerun of the same configuration
skips the units on disk. The report (:mod:`.observation_report`) is written at the end.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..io.atomic import atomic_write_json, write_netcdf
from ..io.sky import FITS_OVERSAMPLE
from .config import InferenceConfig
from .executor import Executor, executor_workers
from .plan import Unit, load_done, plan_units, prepare_output

__all__ = ["load_config_observation", "fit_observation_unit", "fit_seed",
           "observation_unit_task", "run_observation_scan"]


def load_config_observation(cfg: InferenceConfig) -> xr.Dataset:
    """The observation ``[target.observation]`` names (uvfits files or the EHT 2017 data;
    several are joined with :func:`~kerrfield.vlbi.concat_observations`)."""
    from ..vlbi.dataset import eht_m87_2017_pairs, fetch_eht_m87_2017
    from .observation_target import load_observation

    t = cfg.target["observation"]
    return load_observation(t["uvfits"] if "uvfits" in t else
                            [fetch_eht_m87_2017(d, b) for d, b in
                             eht_m87_2017_pairs(t["day"], t["band"])])


def fit_observation_unit(cfg: InferenceConfig, unit: Unit, obs: xr.Dataset) -> xr.Dataset:
    """Fit one grid point from ``fit.field_seeds`` field seeds and keep the lowest total χ²;
    returns its result Dataset (see the module docstring)."""
    t0 = time.perf_counter()
    fits = [fit_seed(cfg, unit, obs, unit.seed + k) for k in range(cfg.fit["field_seeds"])]
    ds = min(fits, key=lambda d: d.attrs["chi2_total"] if np.isfinite(d.attrs["chi2_total"])
             else np.inf)  # fmt: skip
    ds.attrs.update(seconds=time.perf_counter() - t0,
                    chi2_seeds=json.dumps([float(d.attrs["chi2_total"]) for d in fits]))
    return ds


def fit_seed(cfg: InferenceConfig, unit: Unit, obs: xr.Dataset, seed: int, *,
             refine_steps: int | None = None, geometry_lr: float | None = None) -> xr.Dataset:
    """One fit of ``unit`` from field seed ``seed`` at its fixed geometry; with
    ``refine_steps``, that fit continued for ``refine_steps`` Adam steps with spin and
    inclination fitted too, at learning rate ``geometry_lr`` of their parameters u, v
    (default fit_observation's). The attributes ``spin``/``inclination`` are then the fitted
    values, ``chi2_start`` the χ² of the fixed-geometry fit it started from, and
    ``fingerprint`` the configuration's full :attr:`~InferenceConfig.fingerprint` (a grid
    fit's is its :attr:`~InferenceConfig.grid_fingerprint`)."""
    import torch

    from ..fields.emission import EmissionField
    from .loop import fit
    from .observation_target import observation_image_model, observation_summary

    torch.manual_seed(seed)
    m = cfg.model
    screen = {k: m[k] for k in ("fov", "npix", "orders", "k", "velocity", "surface")}
    model = observation_image_model(
        EmissionField(**cfg.field, seed=seed), unit.spin, unit.inclination, **screen,
        axisymmetric=m["axisymmetric"], match_steps=m["match_steps"])
    kw = {k: v for k, v in cfg.fit.items() if k not in ("observation", "field_seeds")}
    bars = None if cfg.progress else False  # per-step bars: on a terminal only, not in logs
    res = fit(model, obs, seed=seed, progress=bars, observation=cfg.fit["observation"],
              **kw)  # fmt: skip
    extra: dict[str, Any] = {"spin": unit.spin, "inclination": unit.inclination,
                             "fingerprint": cfg.grid_fingerprint}  # fmt: skip
    if refine_steps is not None:  # the same field, θ_g, PA and flux, now with free geometry
        extra["chi2_start"] = float(observation_summary(res)["chi2_total"])
        free = observation_image_model(model.field, unit.spin, unit.inclination, **screen,
                                       axisymmetric=False, match_steps=0, learn_geometry=True)
        sky = res.sky
        opts = {**cfg.fit["observation"], "theta_g": float(sky.theta_g.detach()),
                "position_angle": float(sky.position_angle.detach()),
                "flux": float(sky.flux.detach())}  # fmt: skip
        history = res.history
        res = fit(free, obs, seed=seed, progress=bars, observation=opts,
                  **{**kw, "steps": refine_steps}, geometry_lr=geometry_lr)  # fmt: skip
        res.history = history + res.history
        extra["fingerprint"] = cfg.fingerprint
        if geometry_lr is not None:
            extra["refine_geometry_lr"] = float(geometry_lr)
    s = observation_summary(res)
    # netCDF attributes hold no booleans: flags as 0/1
    attrs = {k: int(v) if isinstance(v, bool) else v for k, v in s.items()
             if isinstance(v, (int, float, str)) and v is not None}
    if refine_steps is not None:
        extra.update(spin=float(s["spin"]), inclination=float(s["inclination_deg"]))
    attrs.update(unit=unit.name, seed=seed, **extra,
                 loss=float(s["chi2_total"]), weights=json.dumps(s["weights"]),
                 index=json.dumps(unit.index))  # fmt: skip
    image = res.sky_image(oversample=FITS_OVERSAMPLE)  # written as the run's image.fits
    image.attrs = {k: v for k, v in image.attrs.items() if isinstance(v, (int, float, str))}
    loss = np.array([h["loss"] for h in res.history], dtype=float)
    return xr.Dataset({"sky_image": image, "loss_history": ("iteration", loss)},
                      coords={"iteration": np.arange(loss.size)}, attrs=attrs)  # fmt: skip


def observation_unit_task(cfg: InferenceConfig, unit: Unit, obs: xr.Dataset,
                          unit_dir: str) -> str:  # fmt: skip
    """Fit one unit and write it atomically (the task an executor runs)."""
    write_netcdf(fit_observation_unit(cfg, unit, obs), Path(unit_dir) / f"{unit.name}.nc")
    return unit.name


def run_observation_scan(cfg: InferenceConfig, *, overwrite: bool = False,
                         max_units: int | None = None, scheduler: str | None = None,
                         workers: int | None = None) -> dict[str, Any]:  # fmt: skip
    """Run (or resume) the scan or search of an observation; see
    :func:`kerrfield.run_inference`.

    Returns the summary also written to ``<output>/summary.json``; with every unit done,
    ``results.nc`` (χ² and sky numbers on the spin x inclination grid), the best unit's image
    as ``image.fits`` and, with ``output.plots``, ``profile.png``. With ``mode = "search"``
    the refinements of :mod:`.observation_search` run once the grid is complete (within
    ``max_units`` new fits in all).

    The grid units carry the configuration's
    :attr:`~kerrfield.fitting.config.InferenceConfig.grid_fingerprint` (everything but
    ``mode.kind`` and the ``[search]`` refinement keys), the refinements its full
    ``fingerprint``. So a finished ``scan`` folder rerun as a ``search`` (or a search rerun
    with other ``search.refine``/``refine_steps``/``refine_geometry_lr``) reuses every grid
    unit and fits only the refinements (those of other refinement settings are fitted
    again); any other change is refused. Grid units written before grid fingerprints existed
    (their fingerprint the full one) are still resumed by the same configuration.
    """
    from .observation_report import write_observation_report
    from .observation_search import load_refined, plan_refine, refine_unit_task

    t_start = time.perf_counter()
    out, unit_dir = cfg.output, cfg.output / "units"
    obs = load_config_observation(cfg)  # first: a missing file or network writes nothing
    prepare_output(cfg, out, unit_dir, overwrite)
    units = plan_units(cfg)
    done = load_done(units, unit_dir, (cfg.grid_fingerprint, cfg.fingerprint))
    resumed = len(done)
    if cfg.progress and resumed:
        print(f"kerrfield infer: resuming, {resumed} of {len(units)} grid fits already done",
              file=sys.stderr)  # fmt: skip
    todo = [u for u in units if u.name not in done][:max_units]
    refine: list[Unit] = []
    with Executor(scheduler, workers) as executor:
        _run_stage(cfg, executor, observation_unit_task, todo, obs, unit_dir, done)
        fitted = len(todo)
        if cfg.mode == "search" and all(u.name in done for u in units):
            refine = plan_refine(cfg, units, done)
            found = load_refined(refine, unit_dir, cfg.fingerprint)
            done.update(found)
            resumed += len(found)
            left = None if max_units is None else max_units - fitted
            later = [u for u in refine if u.name not in done][:left]
            _run_stage(cfg, executor, refine_unit_task, later, obs, unit_dir, done)
            fitted += len(later)
    summary = write_observation_report(cfg, units, done, obs, refine)
    summary["timing"] = {"units_fitted": fitted, "units_resumed": resumed,
                         "seconds": time.perf_counter() - t_start,
                         "workers": executor_workers(scheduler, workers)}  # fmt: skip
    atomic_write_json(summary, out / "summary.json", indent=2, default=_plain)
    return summary


def _run_stage(cfg: InferenceConfig, executor: Executor, task: Any, todo: list[Unit],
               obs: xr.Dataset, unit_dir: Path, done: dict[str, xr.Dataset]) -> None:
    """Fit ``todo`` with ``task`` on ``executor``, reading each finished unit into ``done``."""
    calls = [(cfg, u, obs, str(unit_dir)) for u in todo]
    starts = {u.name: u for u in todo}
    for name in executor.map(task, calls):
        done[name] = xr.load_dataset(unit_dir / f"{name}.nc")
        if cfg.progress:
            a, u = done[name].attrs, starts[name]
            came = (f" from spin {u.spin:.3g}, inclination {u.inclination:.4g}"
                    if u.stage == "refine" else "")  # fmt: skip
            print(f"kerrfield infer: {name} (spin {a['spin']:.3g}, inclination "
                  f"{a['inclination']:.4g}{came}): chi2 {a['chi2_total']:.1f} / "
                  f"{a['n_data']}, {a['seconds']:.0f} s", file=sys.stderr)  # fmt: skip


def _plain(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
