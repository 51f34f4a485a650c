"""Running scripted inference: units (grid points, ensemble members), resume, collection.

Each unit is fitted, written atomically to ``<output>/units/<unit>.nc`` and skipped when
found on disk by a rerun of the same configuration (see :mod:`kerrfield.fitting.config` for
the configuration and :mod:`kerrfield.fitting.summary` for what is reported).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..io.atomic import atomic_write_json, write_netcdf
from ..io.readers import load_netcdf
from ..models.forward import physics_reported
from .config import ConfigError, InferenceConfig, load_inference_config
from .executor import executor_workers
from .plan import Unit, label_unit, load_done, plan_units, prepare_output
from .steps import CheckpointError, model_relative_residual
from .summary import _collect, _jsonable, _loss_label, _plots, _summarise

__all__ = ["run_inference"]


# -- target ---------------------------------------------------------------------------------
def _screen_variable(ds: xr.Dataset, key: str, name: str, file: str) -> xr.DataArray:
    """Variable ``name`` of a target file (config key ``key``), an image on the screen."""
    if name not in ds:
        raise ConfigError(f"config key {key!r}: {name!r} is not in {file} "
                          f"(variables: {list(ds.data_vars)})")  # fmt: skip
    if set(ds[name].dims) != {"alpha", "beta"}:
        raise ConfigError(f"config key {key!r}: {name!r} must be on ('beta', 'alpha') (an "
                          f"image), got dims {ds[name].dims}")  # fmt: skip
    return ds[name].transpose("beta", "alpha")


def _load_target(cfg: InferenceConfig) -> xr.Dataset:
    if "file" in cfg.target:
        file = cfg.target["file"]
        ds = load_netcdf(file, "target file (config key 'target.file')")
        img = _screen_variable(ds, "target.variable", cfg.target["variable"], file)
        out = xr.Dataset({"image": img}, attrs=dict(ds.attrs))
        # a target written by kf.synthesize / kerrfield synth carries its noise as `sigma`:
        # use it unless told otherwise ("" = no σ), so χ² is the default where it can be
        sv = cfg.target.get("sigma_variable", "sigma" if "sigma" in ds else "")
        if sv:
            out["sigma"] = _screen_variable(ds, "target.sigma_variable", sv, file)
        return out
    from ..models.synthetic import synthesize

    return synthesize(**cfg.target["synthetic"])


# -- one fit --------------------------------------------------------------------------------
def _fit_unit(cfg: InferenceConfig, unit: Unit, target: xr.Dataset,
              checkpoint: Path | None = None) -> tuple[xr.Dataset, Any]:  # fmt: skip
    """Fit one unit; returns its result Dataset and the fitted model."""
    import torch

    from ..fields.emission import EmissionField
    from ..models.builders import kerr_image_model
    from .convergence import resolve_physics
    from .loop import fit

    torch.manual_seed(unit.seed)
    field = EmissionField(**cfg.field, seed=unit.seed)
    # the physics the target was made with, unless the config says otherwise
    model_kw = resolve_physics(target, {k: v for k, v in cfg.model.items() if k != "spin_bound"},
                               quiet=True)  # fmt: skip
    for key in ("spin_bound", "relinearize_every"):
        if key in cfg.model:
            model_kw[key] = int(cfg.model[key]) if key == "relinearize_every" else cfg.model[key]
    learn = unit.fit_spin or unit.fit_inclination
    alpha = np.array(target["alpha"].values, dtype=np.float64)
    beta = np.array(target["beta"].values, dtype=np.float64)
    if learn and cfg.warm_start:
        field = _warm_field(field, unit, target, model_kw, alpha, beta)
    if learn:
        model = kerr_image_model(
            field, unit.spin, unit.inclination, alpha=torch.tensor(alpha),
            beta=torch.tensor(beta), learn_geometry=True, **model_kw,
        )  # fmt: skip
        model.u.requires_grad_(unit.fit_spin)
        model.v.requires_grad_(unit.fit_inclination)
    else:
        # geometry held fixed: trace the screen once instead of at every step
        import importlib

        from ..models.builders import fixed_image_model

        raytrace = importlib.import_module("kerrfield.physics.raytrace").raytrace
        trace_kw = {k: model_kw[k] for k in ("surface", "velocity") if k in model_kw}
        geometry = raytrace(unit.spin, unit.inclination, alpha=alpha, beta=beta,
                            orders=model_kw["orders"], **trace_kw)  # fmt: skip
        model = fixed_image_model(field, geometry, k=float(model_kw["k"]),
                                  beam_fwhm=model_kw["beam_fwhm"])  # fmt: skip
    fit_kw = dict(cfg.fit)
    fit_kw["steps"] = int(fit_kw["steps"])
    if "batch_size" in fit_kw:
        fit_kw["batch_size"] = int(fit_kw["batch_size"])
    if "checkpoint_every" in fit_kw:
        fit_kw["checkpoint_every"] = int(fit_kw["checkpoint_every"])
    t0 = time.perf_counter()
    # an interrupted unit continues from its last checkpoint (kerrfield.fit's resume); its
    # per-step bar only on a terminal (None), so piped logs keep one line per unit
    result = fit(
        model, target, seed=unit.seed, progress=None if cfg.progress else False,
        checkpoint=checkpoint,
        resume=checkpoint is not None, **fit_kw,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    history = _history(result)
    pred = model.to_xarray("model")
    ds = xr.Dataset(
        {
            "model": pred,
            "residual": pred - target["image"],
            "loss_history": ("iteration", history["loss"]),
            "spin_history": ("iteration", history["spin"]),
            "inclination_history": ("iteration", history["inclination"]),
        },
        coords={"iteration": history["iteration"]},
        attrs={
            "unit": unit.name, "seed": unit.seed, "spin_init": unit.spin,
            "inclination_init": unit.inclination, "fit_spin": int(unit.fit_spin),
            "fit_inclination": int(unit.fit_inclination),
            "spin": float(model.spin.detach()),
            "inclination": float(model.inclination.detach()),
            "loss": float(history["final_loss"]), "seconds": elapsed,
            "relative_residual": model_relative_residual(model, target, fit_kw.get("loss", "nmse")),
            "index": json.dumps(unit.index), "fingerprint": cfg.fingerprint,
        },
    )  # fmt: skip
    return label_unit(ds, fit_kw.get("loss", "nmse"), target), model


def _warm_field(field: Any, unit: Unit, target: xr.Dataset, phys: dict[str, Any],
                alpha: np.ndarray, beta: np.ndarray) -> Any:  # fmt: skip
    """The field fitted (L-BFGS, to convergence) on the geometry of the starting point, so
    the joint fit starts from a field that explains the image rather than from noise."""
    from ..models.builders import fixed_image_model
    from ..physics.raytrace import raytrace
    from .convergence import fit_field_lbfgs, target_sigma

    geometry = raytrace(unit.spin, unit.inclination, alpha=alpha, beta=beta,
                        orders=phys["orders"], surface=phys["surface"],
                        velocity=phys["velocity"])  # fmt: skip
    model = fixed_image_model(field, geometry, k=phys["k"], beam_fwhm=phys["beam_fwhm"])
    fit_field_lbfgs(model, target, loss="chi2" if target_sigma(target) is not None else "nmse",
                    max_iter=300, rtol=2e-4)  # fmt: skip
    return model.field


def _history(result: Any) -> dict[str, Any]:
    """Loss / spin / inclination per step from a :class:`kerrfield.FitResult`."""
    hist = result.history
    loss = np.asarray(hist["loss"].values, dtype=float)
    return {
        "loss": loss,
        "iteration": np.asarray(hist["step"].values, dtype=int),
        "spin": np.asarray(hist["spin"].values, dtype=float),
        "inclination": np.asarray(hist["inclination"].values, dtype=float),
        "final_loss": float(result.final_loss),
    }


# -- the run --------------------------------------------------------------------------------
def _progress(iterable: Any, enabled: bool, desc: str, total: int | None = None
              ) -> Iterator[Any]:  # fmt: skip
    if not enabled:
        yield from iterable
        return
    from .._progress import progress_bar

    yield from progress_bar(iterable, desc=desc, unit="fit", dynamic_ncols=True, total=total)


def run_inference(
    config: str | os.PathLike[str] | Mapping[str, Any] | InferenceConfig,
    *,
    output: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    max_units: int | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Run a configured inference, resuming any finished units already in the output.

    Parameters
    ----------
    config : str, os.PathLike, mapping or InferenceConfig
        A TOML file, a parsed mapping, or a validated :class:`InferenceConfig`.
    output : str or os.PathLike, optional
        Override ``output.directory``.
    overwrite : bool
        Delete earlier unit results in the output directory instead of resuming.
    progress : bool, optional
        Override ``output.progress`` (tqdm bars on stderr).
    max_units : int, optional
        Stop after fitting this many new units (for interrupting runs deliberately; the
        summary then reports ``"complete": false``).
    scheduler : None, "local" or str
        Run the units on dask.distributed: ``"local"`` starts a ``LocalCluster`` (one
        single-threaded worker process per core, or ``workers``), any other string is the
        address of a running scheduler. Results are bitwise identical to a serial run on
        CPU; units finished on a worker are on disk even if the run dies.
    workers : int, optional
        Workers of the local cluster.

    Returns
    -------
    dict
        The summary also written to ``<output>/summary.json``: mode, best-fit spin and
        inclination, per-unit results, truth (for synthetic targets), timings and the
        names of all files written. For a ``[target.observation]`` the scan or search of
        :func:`~kerrfield.fitting.observation_infer.run_observation_scan` (θ_g, PA, ring
        features, χ² per term, Δχ² profiles, ``image.fits``; a search adds ``estimate``,
        ``refined`` and ``unconstrained``).

    Examples
    --------
    >>> import kerrfield as kf
    >>> summary = kf.run_inference("examples/joint_fit.toml")  # doctest: +SKIP
    >>> summary["best"]["spin"]  # doctest: +SKIP
    0.91...
    """
    cfg = config if isinstance(config, InferenceConfig) else load_inference_config(config)
    if output is not None:
        cfg.output = Path(output)
    show = cfg.progress if progress is None else bool(progress)
    cfg.progress = show  # also the per-step bar inside each unit's fit
    if max_units is not None and max_units < 0:
        raise ValueError(f"max_units must be >= 0, got {max_units}")
    if "observation" in cfg.target:  # an interferometric observation: its own scan
        from .observation_infer import run_observation_scan

        return run_observation_scan(cfg, overwrite=overwrite, max_units=max_units,
                                    scheduler=scheduler, workers=workers)  # fmt: skip
    out = cfg.output
    unit_dir = out / "units"
    prepare_output(cfg, out, unit_dir, overwrite)
    t_start = time.perf_counter()
    target = _load_target(cfg)
    _check_before_fitting(cfg, target)
    target_path = out / "target.nc"
    if not target_path.exists() or overwrite:
        write_netcdf(target, target_path)
    from .executor import Executor

    with Executor(scheduler, workers) as executor:
        if cfg.mode == "search":
            summary = _run_search_mode(cfg, target, unit_dir, executor, max_units, show)
        else:
            summary = _run_units_mode(cfg, target, unit_dir, executor, max_units, show)
    summary["timing"]["seconds"] = time.perf_counter() - t_start
    summary["timing"]["workers"] = executor_workers(scheduler, workers)
    atomic_write_json(summary, out / "summary.json", indent=2, default=_jsonable)
    return summary


def check_target(cfg: InferenceConfig) -> xr.Dataset:
    """Load (or synthesise) an image target and run the checks a run makes before fitting:
    for ``kerrfield infer --check``, so that it rejects what the run would (fits nothing)."""
    target = _load_target(cfg)
    _check_before_fitting(cfg, target)
    return target


def _check_before_fitting(cfg: InferenceConfig, target: xr.Dataset) -> None:
    """Clear errors (and the deliberate physics mismatches) before any unit is fitted."""
    from .convergence import check_inference_inputs, resolve_physics, target_sigma

    phys = resolve_physics(target, {k: v for k, v in cfg.model.items() if k != "spin_bound"})
    loss = cfg.fit.get("loss", "chi2" if cfg.mode == "search" and target_sigma(target)
                       is not None else "nmse")  # fmt: skip
    try:
        check_inference_inputs(target, loss=loss, spins=cfg.spin, inclinations=cfg.inclination,
                               beam_fwhm=phys["beam_fwhm"])  # fmt: skip
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def unit_task(cfg: InferenceConfig, unit: Unit, target: xr.Dataset, unit_dir: str) -> str:
    """Fit one joint/scan/ensemble unit and write it (and its model) atomically."""
    with physics_reported():  # the run printed the mismatches asked for, once
        unit_dir_p = Path(unit_dir)
        ckpt = unit_dir_p / f"{unit.name}.ckpt.pt"
        try:
            ds, model = _fit_unit(cfg, unit, target, checkpoint=ckpt)
        except CheckpointError as exc:  # unreadable checkpoint: this unit starts again
            print(f"kerrfield infer: {exc.args[0].split(';')[0]}; fitting this unit again",
                  file=sys.stderr)  # fmt: skip
            ckpt.unlink(missing_ok=True)
            ds, model = _fit_unit(cfg, unit, target, checkpoint=ckpt)
        write_netcdf(ds, unit_dir_p / f"{unit.name}.nc")
        ckpt.unlink(missing_ok=True)
        if cfg.save_models:
            from ..models.persistence import save_model

            save_model(model, cfg.output / "models" / unit.name)
    return unit.name


def _run_units_mode(cfg: InferenceConfig, target: xr.Dataset, unit_dir: Path, executor: Any,
                    max_units: int | None, show: bool) -> dict[str, Any]:  # fmt: skip
    units = plan_units(cfg)
    done = load_done(units, unit_dir, cfg.fingerprint)
    todo = [u for u in units if u.name not in done]
    skipped = len(done)
    if show and skipped:
        print(f"kerrfield infer: resuming, {skipped} of {len(units)} fits already done",
              file=sys.stderr)  # fmt: skip
    if max_units is not None:
        todo = todo[:max_units]
    calls = [(cfg, u, target, str(unit_dir)) for u in todo]
    fitted = 0
    for name in _progress(executor.map(unit_task, calls), show, f"{cfg.mode} fits", len(calls)):
        done[name] = xr.load_dataset(unit_dir / f"{name}.nc")
        fitted += 1
    complete = len(done) == len(units)
    summary = _summarise(cfg, units, done, target, complete)
    summary["timing"] = {"units_fitted": fitted, "units_resumed": skipped}
    out = cfg.output
    files = ["target.nc", *(f"units/{u.name}.nc" for u in units if u.name in done)]
    if complete:
        results = _collect(cfg, units, done)
        write_netcdf(results, out / "results.nc")
        files.append("results.nc")
        if cfg.plots:
            if fitted or not (out / "images.png").exists():
                files += _plots(cfg, units, done, target, results, summary, out)
            else:  # nothing new: the figures on disk are current
                files += sorted(p.name for p in out.glob("*.png"))
    summary["files"] = files
    return summary


def _run_search_mode(cfg: InferenceConfig, target: xr.Dataset, unit_dir: Path, executor: Any,
                     max_units: int | None, show: bool) -> dict[str, Any]:  # fmt: skip
    from ..models.forward import target_truth
    from .search_report import search_plots, search_results, search_rows, search_summary
    from .search_run import run_search
    from .summary import _plot_images

    res = run_search(cfg, target, unit_dir, executor, max_units, show)
    run = res["run"]
    truth = target_truth(target)
    summary: dict[str, Any] = {
        "mode": "search", "complete": res["complete"], "n_units": len(run.units),
        "n_done": sum(u.name in run.done for u in run.units), "truth": truth,
        "fingerprint": cfg.fingerprint, "config": cfg.raw, "units": search_rows(res),
        "timing": {"units_fitted": run.fitted, "units_resumed": run.resumed},
    }  # fmt: skip
    files = ["target.nc", *sorted(f"units/{n}.nc" for n in run.done)]  # not completion order
    if res["complete"]:
        summary["search"] = search_summary(res, truth)
        est = summary["search"]["estimate"]
        summary["best"] = {"unit": est["unit"], "spin": est["spin"],
                           "inclination": est["inclination"],
                           "loss": float(run.done[est["unit"]].attrs["loss"]),
                           "loss_name": _loss_label(str(est["loss"]))}  # fmt: skip
        write_netcdf(search_results(res), cfg.output / "results.nc")
        files.append("results.nc")
        if cfg.plots:
            plt = _pyplot()
            figs = search_plots(plt, res, truth, cfg.output)
            figs["images.png"] = _plot_images(plt, target, run.done[est["unit"]])
            for name, fig in figs.items():
                fig.savefig(cfg.output / name, dpi=110)
                plt.close(fig)
            files += list(figs)
    summary["files"] = files
    return summary


def _pyplot() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
