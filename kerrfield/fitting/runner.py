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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..io.atomic import atomic_write_text, write_netcdf
from ..io.readers import CorruptFileError, load_netcdf
from .config import ConfigError, InferenceConfig, load_inference_config
from .plan import Unit, plan_units
from .steps import CheckpointError
from .summary import _collect, _jsonable, _plots, _summarise

__all__ = ["run_inference"]


# -- target ---------------------------------------------------------------------------------
def _load_target(cfg: InferenceConfig) -> xr.Dataset:
    if "file" in cfg.target:
        ds = load_netcdf(cfg.target["file"], "target file (config key 'target.file')")
        var = cfg.target["variable"]
        if var not in ds:
            raise ConfigError(f"config key 'target.variable': {var!r} is not in "
                              f"{cfg.target['file']} (variables: {list(ds.data_vars)})")
        img = ds[var]
        if set(img.dims) != {"alpha", "beta"}:
            raise ConfigError(f"config key 'target.variable': {var!r} must be an image on "
                              f"('beta', 'alpha'), got dims {img.dims}")  # fmt: skip
        out = xr.Dataset({"image": img.transpose("beta", "alpha")}, attrs=dict(ds.attrs))
        sv = cfg.target.get("sigma_variable")
        if sv:
            out["sigma"] = ds[sv].transpose("beta", "alpha")
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
    from .loop import fit

    torch.manual_seed(unit.seed)
    field = EmissionField(**cfg.field, seed=unit.seed)
    model_kw = dict(cfg.model)
    model_kw["orders"] = tuple(model_kw.get("orders", (0, 1)))
    learn = unit.fit_spin or unit.fit_inclination
    alpha = np.array(target["alpha"].values, dtype=np.float64)
    beta = np.array(target["beta"].values, dtype=np.float64)
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
        model = fixed_image_model(field, geometry, k=float(model_kw.get("k", 1.0)))
    fit_kw = dict(cfg.fit)
    fit_kw["steps"] = int(fit_kw["steps"])
    if "batch_size" in fit_kw:
        fit_kw["batch_size"] = int(fit_kw["batch_size"])
    if "checkpoint_every" in fit_kw:
        fit_kw["checkpoint_every"] = int(fit_kw["checkpoint_every"])
    t0 = time.perf_counter()
    # an interrupted unit continues from its last checkpoint (kerrfield.fit's resume)
    result = fit(
        model, target, seed=unit.seed, progress=cfg.progress, checkpoint=checkpoint,
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
            "spin": model.spin.item(), "inclination": model.inclination.item(),
            "loss": float(history["final_loss"]), "seconds": elapsed,
            "relative_residual": _relative_residual(model, target, fit_kw.get("loss", "nmse")),
            "index": json.dumps(unit.index), "fingerprint": cfg.fingerprint,
        },
    )  # fmt: skip
    return ds, model


def _relative_residual(model: Any, target: xr.Dataset, loss: Any) -> float:
    """Resolution-independent |I - T| / |T| of the fitted model (see fitting.steps)."""
    import torch

    from .steps import relative_residual

    with torch.no_grad():
        t = torch.as_tensor(target["image"].transpose("beta", "alpha").values).reshape(-1)
        return relative_residual(model(), t.to(model.pix_alpha.device),
                                 loss if isinstance(loss, str) else "custom")  # fmt: skip


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


# -- persistence ----------------------------------------------------------------------------
def _load_unit(path: Path, fingerprint: str) -> xr.Dataset | None:
    """A finished unit from disk, or None if absent; error if from another config."""
    if not path.exists():
        return None
    try:
        ds = load_netcdf(path, "unit result")
    except CorruptFileError as exc:  # e.g. truncated by a full disk: fit the unit again
        print(f"kerrfield infer: {exc.args[0].split(';')[0]}; fitting this unit again",
              file=sys.stderr)  # fmt: skip
        return None
    if ds.attrs.get("fingerprint") != fingerprint:
        raise ConfigError(
            f"{path} was written by a different configuration; use a new output.directory "
            "or pass overwrite=True (--overwrite) to start again"
        )
    return ds


# -- the run --------------------------------------------------------------------------------
def _progress(iterable: Sequence[Any], enabled: bool, desc: str) -> Iterator[Any]:
    if not enabled:
        yield from iterable
        return
    from .._progress import progress_bar

    yield from progress_bar(iterable, desc=desc, unit="fit", dynamic_ncols=True)


def run_inference(
    config: str | os.PathLike[str] | Mapping[str, Any] | InferenceConfig,
    *,
    output: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    max_units: int | None = None,
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

    Returns
    -------
    dict
        The summary also written to ``<output>/summary.json``: mode, best-fit spin and
        inclination, per-unit results, truth (for synthetic targets), timings and the
        names of all files written.

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
    out = cfg.output
    unit_dir = out / "units"
    unit_dir.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for f in [*unit_dir.glob("*.nc"), *unit_dir.glob("*.ckpt.pt")]:
            f.unlink()

    stamp = out / "config.json"
    if stamp.exists() and not overwrite:
        previous = json.loads(stamp.read_text()).get("fingerprint")
        if previous != cfg.fingerprint:
            raise ConfigError(
                f"{out} holds results of a different configuration (fingerprint {previous}, "
                f"now {cfg.fingerprint}); use a new output.directory or --overwrite"
            )
    atomic_write_text(json.dumps({"fingerprint": cfg.fingerprint, "config": cfg.raw}, indent=2,
                            default=str), stamp)  # fmt: skip

    t_start = time.perf_counter()
    target = _load_target(cfg)
    target_path = out / "target.nc"
    if not target_path.exists() or overwrite:
        write_netcdf(target, target_path)

    units = plan_units(cfg)
    done: dict[str, xr.Dataset] = {}
    for unit in units:
        ds = _load_unit(unit_dir / f"{unit.name}.nc", cfg.fingerprint)
        if ds is not None:
            done[unit.name] = ds
    todo = [u for u in units if u.name not in done]
    skipped = len(done)
    if show and skipped:
        print(f"kerrfield infer: resuming, {skipped} of {len(units)} fits already done",
              file=sys.stderr)  # fmt: skip
    fitted = 0
    for unit in _progress(todo, show, f"{cfg.mode} fits"):
        if max_units is not None and fitted >= max_units:
            break
        ckpt = unit_dir / f"{unit.name}.ckpt.pt"
        try:
            ds, model = _fit_unit(cfg, unit, target, checkpoint=ckpt)
        except CheckpointError as exc:  # unreadable checkpoint: this unit starts again
            print(f"kerrfield infer: {exc.args[0].split(';')[0]}; fitting this unit again",
                  file=sys.stderr)  # fmt: skip
            ckpt.unlink(missing_ok=True)
            ds, model = _fit_unit(cfg, unit, target, checkpoint=ckpt)
        write_netcdf(ds, unit_dir / f"{unit.name}.nc")
        ckpt.unlink(missing_ok=True)
        if cfg.save_models:
            from ..models.persistence import save_model

            save_model(model, out / "models" / unit.name)
        done[unit.name] = ds
        fitted += 1

    complete = len(done) == len(units)
    summary = _summarise(cfg, units, done, target, complete)
    summary["timing"] = {"seconds": time.perf_counter() - t_start, "units_fitted": fitted,
                         "units_resumed": skipped}  # fmt: skip
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
    atomic_write_text(json.dumps(summary, indent=2, default=_jsonable), out / "summary.json")
    return summary
