"""Coarse-to-fine fitting: block-averaged copies of the target first, then full size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..models.forward import physics_reported, warn_physics_mismatch
from ..models.lensed import LensedImage
from .loop import fit, target_tensor
from .losses import fit_loss
from .result import FitResult

__all__ = ["downsample", "fit_multiscale", "stage_checkpoint"]


def stage_checkpoint(checkpoint: Any, stage: int) -> Path | None:
    """Checkpoint file of a coarse stage: ``<stem>.stage<N><suffix>`` beside ``checkpoint``."""
    if checkpoint is None:
        return None
    path = Path(checkpoint)
    return path.with_name(f"{path.stem}.stage{stage}{path.suffix}")


def downsample(target: xr.Dataset | xr.DataArray, factor: int) -> xr.Dataset:
    """Block-average an image on ``(beta, alpha)`` by ``factor`` in each direction.

    The coarse screen is the block centres (still regular), so a model point-sampling it
    sees approximately the same scene at ``factor`` times coarser resolution.

    Parameters
    ----------
    target : xarray.Dataset or DataArray
        Image (a Dataset's ``image``; its ``sigma`` is averaged in quadrature / factor).
    factor : int
        Block size; must divide both screen dimensions.

    Returns
    -------
    xarray.Dataset
        ``image`` (and ``sigma``) on the coarse screen, attrs kept.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.arange(16.0).reshape(4, 4), dims=("beta", "alpha"),
    ...                   coords={"alpha": np.arange(4.0), "beta": np.arange(4.0)})
    >>> downsample(da, 2)["image"].values.tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    ds = target.to_dataset(name="image") if isinstance(target, xr.DataArray) else target
    if not (isinstance(factor, int) and factor >= 1):
        raise ValueError(f"factor must be a positive int, got {factor!r}")
    for dim in ("alpha", "beta"):
        if ds.sizes[dim] % factor:
            raise ValueError(f"factor {factor} does not divide the {dim} size {ds.sizes[dim]}")
    out = xr.Dataset(attrs=dict(ds.attrs))
    out["image"] = ds["image"].coarsen(alpha=factor, beta=factor).mean()
    if "sigma" in ds:
        out["sigma"] = (ds["sigma"] ** 2).coarsen(alpha=factor, beta=factor).mean() ** 0.5 / factor
    return out


def fit_multiscale(
    model: LensedImage,
    target: Any,
    *,
    factors: tuple[int, ...] = (2, 1),
    steps: tuple[int, ...] = (2000, 1000),
    lr: tuple[float, ...] = (1e-2, 3e-3),
    geometry_lr: tuple[float, ...] | None = (3e-2, 1e-2),
    progress: bool | None = None,
    **fit_kwargs: Any,
) -> FitResult:
    """Coarse-to-fine joint fit: block-averaged copies of the target first, then full size.

    Each stage fits a copy of ``model`` on a screen ``factor`` times coarser (same field
    object, geometry carried over) to :func:`downsample` of the target; the last stage
    (normally ``factor = 1``) fits ``model`` itself. Coarse stages are cheap and their
    smoother loss landscape keeps the joint fit out of the local minima that trap a direct
    fit at high resolution (see benchmarks/results).

    Parameters
    ----------
    model : LensedImage
        Differentiable (``kind="kerr"``) model on the full-resolution screen.
    target : xarray.Dataset or DataArray
        Target on the model's screen (coordinates needed for downsampling).
    factors, steps, lr, geometry_lr : tuples
        Per-stage block factor, Adam steps, field and geometry learning rates.
    progress : bool or None
        Progress bars (default None: in a notebook or on a terminal, as :func:`fit`).
    **fit_kwargs
        Passed to every :func:`fit` stage (e.g. ``schedule``, ``loss``, ``device``);
        ``checkpoint`` is the last stage's file; earlier stages write theirs beside it
        (:func:`stage_checkpoint`), so ``resume=True`` continues inside any stage and
        replays finished stages from their checkpoints bit for bit.

    Returns
    -------
    FitResult
        Of the last stage, with ``history`` concatenated over stages (variable ``stage``)
        and ``initial_loss`` measured on the full-resolution model before the first stage.

    Examples
    --------
    >>> import kerrfield as kf
    >>> target = kf.synthesize("mlp", 0.94, 20.0, npix=64)  # doctest: +SKIP
    >>> model = kf.kerr_image_model(kf.EmissionField(seed=1), 0.5, 60.0, npix=64,
    ...                             relinearize_every=100, relinearize_tol=(0.01, 0.5))
    >>> res = kf.fit_multiscale(model, target)  # doctest: +SKIP
    """
    if not isinstance(model, LensedImage) or model.kind != "kerr":
        raise TypeError("fit_multiscale needs a differentiable model from kerr_image_model")
    n = len(factors)
    glr = geometry_lr if geometry_lr is not None else (None,) * n
    if not (len(steps) == len(lr) == len(glr) == n):
        raise ValueError("factors, steps, lr and geometry_lr must have the same length")
    if not isinstance(target, (xr.Dataset, xr.DataArray)):
        raise TypeError("fit_multiscale needs an xarray target (screen coordinates)")
    ds = target.to_dataset(name="image") if isinstance(target, xr.DataArray) else target
    full = target_tensor(ds, model)
    warn_physics_mismatch(model, target)  # once here, not per stage (a DataArray's own attrs)
    checkpoint = fit_kwargs.pop("checkpoint", None)
    with torch.no_grad():
        initial = float(fit_loss(fit_kwargs.get("loss", "nmse"))(
            model(), full.reshape(-1).to(model.pix_alpha.device)))  # fmt: skip
    histories, wall, res, done = [], 0.0, None, 0
    for stage, (factor, n_steps, stage_lr, stage_glr) in enumerate(
        zip(factors, steps, lr, glr, strict=True)
    ):
        last = stage == n - 1
        if factor == 1:
            stage_model, stage_target = model, ds
        else:
            stage_target = downsample(ds, factor)
            stage_model = LensedImage(
                model.field, torch.tensor(stage_target["alpha"].values),
                torch.tensor(stage_target["beta"].values), k=model.k, orders=model.orders,
                kind="kerr", spin=model.spin.item(), inclination=model.inclination.item(),
                learn_geometry=bool(model.geometry_parameters()),
                spin_bound=model.spin_bound, surface=model.surface, velocity=model.velocity,
                relinearize_every=model.relinearize_every, trust_radius=model.trust_radius,
                relinearize_tol=model.relinearize_tol, sensitivity_cut=model.sensitivity_cut,
                beam_fwhm=model.beam_fwhm,  # the telescope beam at every stage (in M)
            ).to(model.pix_alpha.device)  # fmt: skip
        with physics_reported():
            res = fit(stage_model, stage_target, steps=n_steps, lr=stage_lr,
                      geometry_lr=stage_glr, progress=progress,
                      checkpoint=checkpoint if last else stage_checkpoint(checkpoint, stage),
                      **fit_kwargs)  # fmt: skip
        wall += res.wall_time
        histories.append(res.history.assign(stage=("step", np.full(res.history.sizes["step"],
                                                                     stage))))  # fmt: skip
        if stage_model is not model:
            with torch.no_grad():  # carry the geometry over to the next stage
                model.u.copy_(stage_model.u)
                model.v.copy_(stage_model.v)
        done += res.steps
        if res.steps < n_steps:  # the callback stopped the fit: stop the whole schedule
            break
    assert res is not None
    history = xr.concat(histories, dim="step")
    history = history.assign_coords(step=np.arange(history.sizes["step"]))
    history.attrs.update(initial_loss=initial, final_loss=res.final_loss, wall_time_s=wall,
                         factors=list(factors))  # fmt: skip
    return FitResult(model, history, initial, res.final_loss, wall, done,
                     {**res.info, "factors": list(factors)})  # fmt: skip
