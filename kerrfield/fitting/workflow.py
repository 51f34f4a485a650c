"""Fit-and-report workflows: fit a model, write the model, history, figures and a summary.

:func:`run_fit_workflow` is what ``kerrfield fit`` runs; :func:`run_demo` is the reference
scenario of ``kerrfield demo`` (Krang.jl's neural-emission example).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from .._validate import check_npoints
from ..io.atomic import atomic_write_json, write_netcdf
from ..models.forward import target_truth
from ..models.lensed import LensedImage
from .loop import fit, resolve_device, target_tensor
from .multiscale import fit_multiscale
from .steps import relative_residual

__all__ = ["run_fit_workflow", "run_demo", "DEMO", "claim_output"]

#: reference-scenario settings (Krang.jl's example; see docs / benchmarks/results)
DEMO = {"spin": 0.94, "inclination": 20.0, "spin0": 0.5, "inclination0": 60.0, "fov": 10.0,
        "target_seed": 0, "field_seed": 1, "steps": 6000, "lr": 1e-2, "geometry_lr": 3e-2,
        "schedule": "cosine", "lr_final": 0.01, "relinearize_every": 100,
        "relinearize_tol": (0.01, 0.5)}  # fmt: skip


#: the files ``kerrfield fit`` writes into its output folder (image and observation fits)
FIT_OUTPUTS = ("summary.json", "model.pt", "model.json", "history.nc", "fitted.nc",
               "target.nc", "fit.png", "loss.png", "parameters.png", "image.fits")


def claim_output(out: Path, *, resume: bool, overwrite: bool, delete: bool = True
                 ) -> list[Path]:  # fmt: skip
    """Refuse to write over an earlier fit unless told to resume or overwrite.

    Raises ``ValueError`` naming the earlier fit's file and both options when ``out`` holds
    a checkpoint or any of :data:`FIT_OUTPUTS` and neither ``resume`` nor ``overwrite`` is
    set. With ``overwrite`` returns those files (and only those) and, unless ``delete`` is
    False (the caller deletes them once its fit has succeeded), deletes them, so that no file
    of the earlier fit is left beside the new one's.
    """
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    found = sorted(p for p in (out / "checkpoint.pt", *out.glob("checkpoint.stage*.pt"))
                   if p.exists())  # fmt: skip
    found += [p for p in (out / name for name in FIT_OUTPUTS) if p.exists()]
    if not found or resume:
        return []
    if not overwrite:
        raise ValueError(
            f"{found[0]} holds an earlier fit; pass --resume to continue it (an image fit "
            "with a checkpoint) or --overwrite to start again (or choose another --output)"
        )  # fmt: skip
    for p in found if delete else ():
        p.unlink()
    return found


def run_fit_workflow(
    target: xr.Dataset, model: LensedImage, out: Path, fit_kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Fit ``model`` to ``target`` and write model, history, figures and summary to ``out``.

    Returns the summary dict (also written to ``out/summary.json``).
    """
    from ..models.builders import psnr
    from ..models.persistence import save_model
    from ..plotting import plot_fit, plot_loss, plot_parameters

    out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        start_img = model.to_xarray()
    fit_kwargs = dict(fit_kwargs)
    multiscale = fit_kwargs.pop("multiscale", None)
    if multiscale:
        for key in ("steps", "lr", "geometry_lr"):
            fit_kwargs.pop(key, None)
        res = fit_multiscale(model, target, checkpoint=out / "checkpoint.pt", **multiscale,
                             **fit_kwargs)  # fmt: skip
    else:
        res = fit(model, target, checkpoint=out / "checkpoint.pt", **fit_kwargs)
    save_model(res.model, out)
    write_netcdf(res.history, out / "history.nc")
    fitted = res.model.to_xarray()
    write_netcdf(fitted.to_dataset(name="image"), out / "fitted.nc")
    recorded = target_truth(target)
    truth = {k: recorded.get(k) for k in ("spin", "inclination")}
    figs = {
        "fit.png": plot_fit(target["image"], start_img, fitted,
                            losses=(res.initial_loss, res.final_loss),
                            suptitle=_fit_title(target, res.model)),  # fmt: skip
        "loss.png": plot_loss(res.history),
        "parameters.png": plot_parameters(res.history, truth=truth),
    }
    for name, fig in figs.items():
        fig.savefig(out / name, dpi=110)
    ref = target["clean"] if "clean" in target else target["image"]
    with torch.no_grad():
        rel = relative_residual(res.model(), target_tensor(target, res.model).reshape(-1).to(
            res.model.pix_alpha.device), res.info.get("loss_name", "nmse"))  # fmt: skip
    summary = {
        "spin": res.model.spin.item(), "inclination_deg": res.model.inclination.item(),
        "true_spin": truth["spin"], "true_inclination_deg": truth["inclination"],
        "loss": res.info.get("loss_name", "nmse"),  # what initial/final_loss are
        "initial_loss": res.initial_loss, "final_loss": res.final_loss,
        "relative_residual": rel,
        "loss_ratio": res.loss_ratio, "psnr_db": psnr(fitted, ref, normalize=True),
        "steps": res.steps, "wall_time_s": res.wall_time,
        "steps_per_s": (len(res.history.step) / res.wall_time) if res.wall_time else None,
        "device": str(model.pix_alpha.device), "screen": list(model.shape),
        "fit_kwargs": {k: v for k, v in fit_kwargs.items() if k != "device"},
        "multiscale": multiscale,
    }  # fmt: skip
    summary = {k: (float(v) if isinstance(v, np.floating) else v) for k, v in summary.items()}
    atomic_write_json(summary, out / "summary.json")
    return summary


def _fit_title(target: xr.Dataset, model: LensedImage) -> str:
    from ..plotting import geometry_title

    truth = geometry_title(target.attrs)
    fit = f"fit: a = {model.spin.item():.3f}, θo = {model.inclination.item():.1f}°"
    return f"truth: {truth}; {fit}" if truth else fit


def run_demo(
    output: str | Path = "demo-output",
    *,
    npix: int = 30,
    steps: int | None = None,
    device: torch.device | str | None = "auto",
    progress: bool | None = None,
) -> dict[str, Any]:
    """The reference scenario: ray trace, synthesise a random-MLP target, fit jointly.

    Target: random 2→20→20→1 MLP at spin 0.94, inclination 20°, orders n = 0, 1, ZAMO
    redshift (k = 1), ``npix``² pixels over ±10 M; the fit starts a fresh MLP at spin 0.5,
    inclination 60° (settings in :data:`DEMO`). Writes ``raytrace.nc``/``.png``,
    ``target.nc``/``.png`` and everything :func:`run_fit_workflow` writes into ``output``.

    Returns
    -------
    dict
        The fit summary, plus ``total_time_s``.
    """
    from ..fields.emission import EmissionField
    from ..models.builders import kerr_image_model
    from ..models.synthetic import synthesize
    from ..physics.raytrace import raytrace
    from ..plotting import plot_emission_and_image, plot_geometry

    npix = check_npoints(npix, "npix", minimum=2)  # before any tracing
    if steps is not None:
        check_npoints(steps, "steps", minimum=0)
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    d = DEMO
    t0 = time.perf_counter()
    geo = raytrace(d["spin"], d["inclination"], fov=d["fov"], npix=npix, orders=(0, 1))
    write_netcdf(geo, out / "raytrace.nc")
    plot_geometry(geo, ("r_s", "g")).savefig(out / "raytrace.png", dpi=110)
    # the target is rendered on the geometry just traced (no second trace)
    target = synthesize("mlp", geometry=geo, seed=d["target_seed"])
    write_netcdf(target, out / "target.nc")
    plot_emission_and_image(target["emission"], target["image"],
                            title="target: random MLP emission, a = 0.94, θo = 20°",
                            ).savefig(out / "target.png", dpi=110)  # fmt: skip
    field = EmissionField(width=20, depth=2, seed=d["field_seed"])
    model = kerr_image_model(field, d["spin0"], d["inclination0"], fov=d["fov"],
                             npix=npix, relinearize_every=d["relinearize_every"],
                             relinearize_tol=d["relinearize_tol"])  # fmt: skip
    kw = dict(steps=d["steps"] if steps is None else steps, lr=d["lr"],
              geometry_lr=d["geometry_lr"], schedule=d["schedule"], lr_final=d["lr_final"],
              device=resolve_device(device), progress=progress)  # fmt: skip
    summary = run_fit_workflow(target, model, out, kw)
    return {**summary, "total_time_s": time.perf_counter() - t0}
