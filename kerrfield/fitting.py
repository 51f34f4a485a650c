"""Fitting lensed emission models to images with Adam.

:func:`fit` trains a :class:`~kerrfield.image.LensedImage` (the field, and spin/inclination
for a differentiable model) against a target image: full-batch or random pixel
minibatches, an optional cosine/exponential learning-rate schedule, seeded, on any torch
device, with a tqdm bar, an ``xarray`` history, atomic checkpoints with resume, a hard
stop on a non-finite loss (restoring the last finite-loss state), and optional CUDA mixed
precision for the field only (the geometry stays float64).

The module also provides the ``kerrfield fit``, ``render`` and ``demo`` subcommands.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from .image import LensedImage, atomic_torch_save, atomic_write_text
from .losses import check_target, get_loss, total_variation, weight_decay

__all__ = [
    "fit",
    "fit_multiscale",
    "downsample",
    "FitResult",
    "NonFiniteLossError",
    "resolve_device",
    "target_tensor",
]


class NonFiniteLossError(FloatingPointError):
    """Raised by :func:`fit` when the loss becomes NaN/inf.

    The model has been restored to the last state with a finite loss; ``result`` holds the
    :class:`FitResult` up to that step.
    """

    def __init__(self, message: str, result: FitResult):
        super().__init__(message)
        self.result = result


@dataclass
class FitResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    model : LensedImage
        The trained model (on the fit device).
    history : xarray.Dataset
        Per-step ``loss``, ``spin``, ``inclination`` (deg) and ``lr`` on dim ``step``.
    initial_loss, final_loss : float
        Full-image loss (data term) before the first and after the last step.
    wall_time : float
        Seconds spent in the optimisation loop (this call).
    steps : int
        Total steps completed (including resumed ones).
    """

    model: LensedImage
    history: xr.Dataset
    initial_loss: float
    final_loss: float
    wall_time: float
    steps: int
    info: dict[str, Any] = dc_field(default_factory=dict)

    @property
    def loss_ratio(self) -> float:
        """``initial_loss / final_loss``."""
        return self.initial_loss / self.final_loss if self.final_loss > 0 else math.inf


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``"auto"``/``None`` -> CUDA when available else CPU; otherwise ``torch.device(device)``.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def target_tensor(target: Any, model: LensedImage | None = None) -> torch.Tensor:
    """Convert a target (tensor, array, DataArray or Dataset with ``image``) to float64.

    If ``model`` is given the target must lie on the model's screen (same shape and, for
    xarray inputs, the same ``alpha``/``beta`` coordinates); raises ``ValueError`` naming
    ``target`` otherwise.
    """
    if isinstance(target, xr.Dataset):
        if "image" not in target:
            raise ValueError("target Dataset has no 'image' variable")
        target = target["image"]
    if isinstance(target, xr.DataArray):
        if model is not None:
            for c in ("alpha", "beta"):
                if c not in target.coords:
                    raise ValueError(f"target DataArray lacks the screen coordinate {c!r}")
                ref = getattr(model, c).cpu().numpy()
                val = target[c].values
                if val.shape != ref.shape or not np.allclose(val, ref, rtol=1e-6, atol=1e-9):
                    raise ValueError(
                        f"target and model are on different screens ({c}: target has "
                        f"{val.size} points in [{val.min():g}, {val.max():g}] M, model "
                        f"{ref.size} in [{ref.min():g}, {ref.max():g}] M)"
                    )
            target = target.transpose("beta", "alpha")
        target = target.values
    if isinstance(target, torch.Tensor):
        t = target.detach().to(torch.float64)
    else:
        try:
            t = torch.tensor(np.asarray(target, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"target must be an image array, got {type(target).__name__}") from exc
    if model is not None and tuple(t.shape) != model.shape:
        raise ValueError(
            f"target shape {tuple(t.shape)} does not match the model screen {model.shape} "
            "(target and model are on different screens)"
        )
    return t


def _schedule(opt, name: str | None, steps: int, lr_final: float):
    if name in (None, "none", "constant"):
        return None
    if name == "cosine":
        def cosine(s: int) -> float:
            return lr_final + (1 - lr_final) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))

        return torch.optim.lr_scheduler.LambdaLR(opt, cosine)
    if name == "exponential":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_final ** (min(s, steps) / steps))
    raise ValueError(f"unknown schedule {name!r}; expected None, 'cosine' or 'exponential'")


def fit(
    model: LensedImage,
    target: Any,
    *,
    steps: int = 2000,
    lr: float = 1e-2,
    geometry_lr: float | None = None,
    geometry_betas: tuple[float, float] | None = None,
    schedule: str | None = "cosine",
    lr_final: float = 0.01,
    loss: str | Callable = "nmse",
    sigma: Any = None,
    batch_size: int | None = None,
    tv_weight: float = 0.0,
    weight_decay_weight: float = 0.0,
    seed: int | None = 0,
    device: torch.device | str | None = None,
    amp: bool = False,
    progress: bool = True,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    resume: bool = False,
    callback: Callable[[int, float, LensedImage], Any] | None = None,
) -> FitResult:
    """Fit a lensed image model to a target image with Adam.

    Parameters
    ----------
    model : LensedImage
        From :func:`~kerrfield.image.fixed_image_model` or
        :func:`~kerrfield.image.kerr_image_model` (then spin/inclination are fitted too).
    target : torch.Tensor, numpy array, xarray.DataArray or xarray.Dataset
        Target image on the model's screen ``(beta, alpha)``; a Dataset's ``image`` is used
        (and its ``sigma`` for ``loss="chi2"`` if ``sigma`` is not given).
    steps : int
        Total number of Adam steps (a resumed fit continues up to this number).
    lr : float
        Peak learning rate of the field parameters.
    geometry_lr : float, optional
        Learning rate of the spin/inclination parameters ``u, v`` (default ``lr``).
    geometry_betas : (float, float), optional
        Adam ``betas`` of the geometry group (default Adam's ``(0.9, 0.999)``); a shorter
        second-moment memory such as ``(0.9, 0.99)`` keeps the geometry moving once its
        gradients shrink late in a fit.
    schedule : {None, "cosine", "exponential"}
        Decay of every learning rate from its peak to ``lr_final`` times it at ``steps``.
    lr_final : float
        Final learning-rate factor of the schedule.
    loss : {"nmse", "mse", "chi2", "ncc"} or callable
        Data term (see :mod:`kerrfield.losses`); ``"nmse"`` is Krang's normalised MSE.
    sigma : array-like, optional
        Per-pixel noise for ``"chi2"``.
    batch_size : int, optional
        Random pixels per step (re-drawn every step; with a differentiable model only they
        are ray traced); full batch when ``None``.
    tv_weight : float
        Weight of :func:`~kerrfield.losses.total_variation` of the (normalised, for
        ``nmse``) model image; full batch only.
    weight_decay_weight : float
        Weight of :func:`~kerrfield.losses.weight_decay` of the field.
    seed : int, optional
        Seeds the minibatch sampling (the field's initialisation is seeded where it is
        built, e.g. ``EmissionField(seed=...)``).
    device : torch device or "auto", optional
        Device of the fit; the model and target are moved there. ``None`` keeps the
        model's device.
    amp : bool
        CUDA mixed precision (float16 autocast + gradient scaling) for the field; the
        field is converted to float32, geometry and loss stay float64. Ignored on CPU.
    progress : bool
        Show a tqdm bar with the loss, spin and inclination.
    checkpoint : path, optional
        File written atomically every ``checkpoint_every`` steps and at the end (model,
        optimiser, scheduler, history, RNG state).
    resume : bool
        Continue from ``checkpoint`` if it exists.
    callback : callable, optional
        ``callback(step, loss, model)`` after every step; returning ``True`` stops.

    Returns
    -------
    FitResult

    Raises
    ------
    NonFiniteLossError
        When the loss becomes NaN/inf (model restored to the last finite-loss state).

    Examples
    --------
    >>> import kerrfield as kf
    >>> truth = kf.synthesize("mlp", 0.94, 20.0, npix=30)  # doctest: +SKIP
    >>> model = kf.kerr_image_model(kf.EmissionField(seed=1), 0.5, 60.0, npix=30)  # doctest: +SKIP
    >>> res = kf.fit(model, truth, steps=3000, lr=3e-3)  # doctest: +SKIP
    >>> res.model.spin.item(), res.model.inclination.item()  # doctest: +SKIP
    """
    if not isinstance(model, LensedImage):
        raise TypeError(f"model must be a LensedImage, got {type(model).__name__}")
    if not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"steps must be a non-negative int, got {steps!r}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    loss_fn = get_loss(loss)
    loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
    if device is not None:
        model.to(resolve_device(device))
    dev = model.pix_alpha.device
    if sigma is None and loss_name == "chi2" and isinstance(target, xr.Dataset):
        sigma = target.get("sigma")
    tgt = target_tensor(target, model)
    check_target(tgt, loss=loss, sigma=None if sigma is None else target_tensor(sigma),
                 shape=model.shape)  # fmt: skip
    tgt_flat = tgt.reshape(-1).to(dev)
    sig_flat = None
    if loss_name == "chi2":
        sig = target_tensor(sigma) if not isinstance(sigma, (int, float)) else None
        sig_flat = torch.full_like(tgt_flat, float(sigma)) if sig is None else sig.reshape(-1)
        sig_flat = sig_flat.to(dev)
    if batch_size is not None:
        if not (isinstance(batch_size, int) and 0 < batch_size):
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if batch_size >= model.npix:
            batch_size = None
        elif tv_weight:
            raise ValueError("tv_weight needs full-batch fitting (batch_size=None)")

    use_amp = bool(amp) and dev.type == "cuda"
    if amp and not use_amp:
        warnings.warn("amp=True ignored: mixed precision is only used on CUDA", stacklevel=2)
    if use_amp:
        model.field.float()
        model.amp_dtype = torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    geo = model.geometry_parameters()
    geo_ids = {id(p) for p in geo}
    field_params = [p for p in model.parameters() if p.requires_grad and id(p) not in geo_ids]
    groups = [{"params": field_params, "lr": lr}]
    if geo:
        group = {"params": geo, "lr": lr if geometry_lr is None else geometry_lr}
        if geometry_betas is not None:
            group["betas"] = tuple(geometry_betas)
        groups.append(group)
    model.invalidate_geometry()  # a linearised geometry is re-traced at the first step
    try:  # the fused kernel removes Adam's per-parameter Python loop (~4x faster step)
        opt = torch.optim.Adam(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):
        opt = torch.optim.Adam(groups)
    sched = _schedule(opt, schedule, max(steps, 1), lr_final)
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed) if seed is not None else int(torch.seed() % 2**62))

    hist: dict[str, list[float]] = {"loss": [], "spin": [], "inclination": [], "lr": []}
    start = 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt_path is not None and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=dev, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if sched is not None and ck.get("scheduler") is not None:
            sched.load_state_dict(ck["scheduler"])
        scaler.load_state_dict(ck.get("scaler", {})) if use_amp and ck.get("scaler") else None
        gen.set_state(ck["generator"].to(gen.get_state().device))
        hist = {k: list(v) for k, v in ck["history"].items()}
        start = int(ck["step"])

    def data_loss(idx=None) -> torch.Tensor:
        pred = model(idx)
        t = tgt_flat if idx is None else tgt_flat[idx]
        if sig_flat is not None:
            total = loss_fn(pred, t, sig_flat if idx is None else sig_flat[idx])
        else:
            total = loss_fn(pred, t)
        if tv_weight:
            img = pred.reshape(model.shape)
            total = total + tv_weight * total_variation(
                img / img.sum() if loss_name == "nmse" else img
            )
        return total

    def save_checkpoint(step: int) -> None:
        if ckpt_path is None:
            return
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(
            {
                "model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": None if sched is None else sched.state_dict(),
                "scaler": scaler.state_dict() if use_amp else None,
                "generator": gen.get_state(), "history": hist, "step": step,
                "model_config": model.config(),
            },
            ckpt_path,
        )  # fmt: skip

    with torch.no_grad():
        initial_loss = float(data_loss()) if not hist["loss"] else hist["loss"][0]
    params = [p for p in model.parameters() if p.requires_grad]
    good = [p.detach().clone() for p in params]  # last state with a finite loss
    show = progress and steps > start
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, initial=start, desc="fit", dynamic_ncols=True, leave=False)
    post_every = max(1, (steps - start) // 200)
    t0 = time.perf_counter()
    step = start
    skipped = n_skipped = 0  # consecutive / total steps skipped for non-finite gradients
    max_skips = 20
    try:
        for step in range(start, steps):
            idx = None
            if batch_size is not None:
                idx = torch.randperm(model.npix, generator=gen, device=dev)[:batch_size]
            # autocast is applied inside the model around the field only (geometry: float64)
            value = data_loss(idx)
            if weight_decay_weight:
                value = value + weight_decay_weight * weight_decay(model.field)
            lval = float(value.detach())
            spin, inc = float(model.spin.detach()), float(model.inclination.detach())
            if not math.isfinite(lval):
                with torch.no_grad():
                    torch._foreach_copy_(params, good)
                save_checkpoint(step)
                res = _result(model, hist, initial_loss, hist["loss"][-1] if hist["loss"]
                              else math.nan, time.perf_counter() - t0, step)  # fmt: skip
                raise NonFiniteLossError(
                    f"loss became {lval} at step {step} (spin={spin:.4g}, "
                    f"inclination={inc:.4g} deg); the model was restored to the last "
                    f"finite-loss state (step {step - 1}). Try a smaller lr.", res
                )  # fmt: skip
            torch._foreach_copy_(good, [p.detach() for p in params])
            hist["loss"].append(lval)
            hist["spin"].append(spin)
            hist["inclination"].append(inc)
            hist["lr"].append(opt.param_groups[0]["lr"])
            opt.zero_grad(set_to_none=True)
            scaler.scale(value).backward()
            if not use_amp and not _grads_finite(params):
                # a finite loss with a non-finite gradient (e.g. a ray grazing the critical
                # curve): skip this update rather than poison Adam's moments; the GradScaler
                # does the same under AMP
                skipped += 1
                if skipped >= max_skips:
                    raise NonFiniteLossError(
                        f"non-finite gradients in {skipped} consecutive steps (last at step "
                        f"{step}, spin={spin:.4g}, inclination={inc:.4g} deg); the model "
                        "keeps its last finite state.",
                        _result(model, hist, initial_loss, lval, time.perf_counter() - t0,
                                step),
                    )  # fmt: skip
                n_skipped += 1
            else:
                skipped = 0
                scaler.step(opt)
                scaler.update()
            if sched is not None:
                sched.step()
            if bar is not None:
                bar.update(1)
                if step % post_every == 0:
                    bar.set_postfix_str(f"loss={lval:.3e} spin={spin:.4f} inc={inc:.2f}")
            if ckpt_path is not None and checkpoint_every and (step + 1) % checkpoint_every == 0:
                save_checkpoint(step + 1)
            if callback is not None and callback(step, lval, model):
                step += 1
                break
        else:
            step = steps
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - t0
    with torch.no_grad():
        final_loss = float(data_loss())
    save_checkpoint(step)
    if n_skipped:
        warnings.warn(f"{n_skipped} steps skipped for non-finite gradients", stacklevel=2)
    return _result(model, hist, initial_loss, final_loss, wall, step, loss_name=loss_name,
                   batch_size=batch_size or model.npix, skipped_steps=n_skipped)  # fmt: skip


def _grads_finite(params: list[torch.Tensor]) -> bool:
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return True
    # one fused reduction and a single device sync
    return bool(torch.isfinite(torch.stack([g.sum().double() for g in grads]).sum()))


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
    progress: bool = True,
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
    progress : bool
        Progress bars.
    **fit_kwargs
        Passed to every :func:`fit` stage (e.g. ``schedule``, ``loss``, ``device``);
        ``checkpoint`` applies to the last stage only.

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
    checkpoint = fit_kwargs.pop("checkpoint", None)
    with torch.no_grad():
        initial = float(get_loss(fit_kwargs.get("loss", "nmse"))(
            model(), full.reshape(-1).to(model.pix_alpha.device)))  # fmt: skip
    histories, wall, res = [], 0.0, None
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
            ).to(model.pix_alpha.device)  # fmt: skip
        res = fit(stage_model, stage_target, steps=n_steps, lr=stage_lr,
                  geometry_lr=stage_glr, progress=progress,
                  checkpoint=checkpoint if last else None, **fit_kwargs)  # fmt: skip
        wall += res.wall_time
        histories.append(res.history.assign(stage=("step", np.full(res.history.sizes["step"],
                                                                     stage))))  # fmt: skip
        if stage_model is not model:
            with torch.no_grad():  # carry the geometry over to the next stage
                model.u.copy_(stage_model.u)
                model.v.copy_(stage_model.v)
    assert res is not None
    history = xr.concat(histories, dim="step")
    history = history.assign_coords(step=np.arange(history.sizes["step"]))
    history.attrs.update(initial_loss=initial, final_loss=res.final_loss, wall_time_s=wall,
                         factors=list(factors))  # fmt: skip
    return FitResult(model, history, initial, res.final_loss, wall, int(sum(steps)),
                     {**res.info, "factors": list(factors)})  # fmt: skip


def _result(model, hist, initial, final, wall, step, **info) -> FitResult:
    n = len(hist["loss"])
    history = xr.Dataset(
        {
            "loss": ("step", np.asarray(hist["loss"]), {"long_name": "training loss"}),
            "spin": ("step", np.asarray(hist["spin"]), {"long_name": "spin a/M"}),
            "inclination": ("step", np.asarray(hist["inclination"]), {"units": "deg"}),
            "lr": ("step", np.asarray(hist["lr"]), {"long_name": "field learning rate"}),
        },
        coords={"step": np.arange(n)},
        attrs={"initial_loss": initial, "final_loss": final, "wall_time_s": wall,
               **{k: v for k, v in info.items() if isinstance(v, (int, float, str))}},
    )  # fmt: skip
    return FitResult(model, history, initial, final, wall, step, dict(info))


# -- CLI: fit, render, demo -------------------------------------------------------------------
_UNITS = ("Units: G = c = M = 1; screen coordinates alpha/beta, fov, field scale and beam "
          "FWHM in M; inclination in degrees; spin dimensionless (a/M).")  # fmt: skip


def _add_field_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("emission field (defaults: Krang's 2→20→20→1 tanh/sigmoid MLP)")
    g.add_argument("--width", type=int, default=20, help="hidden width")
    g.add_argument("--depth", type=int, default=2, help="hidden layers")
    g.add_argument("--activation", default="tanh", help="tanh | relu | sine (SIREN)")
    g.add_argument("--encoding", default="none", help="none | positional | fourier | hashgrid")
    g.add_argument("--head", default="sigmoid", help="output head: sigmoid | softplus | exp")
    g.add_argument("--scale", type=float, default=1.0, help="coordinate scale of the field, M")
    g.add_argument("--omega0", type=float, default=30.0, help="SIREN frequency factor")
    g.add_argument("--n-frequencies", type=int, default=6, help="positional-encoding octaves")
    g.add_argument("--fourier-sigma", type=float, default=1.0, help="Fourier-feature bandwidth")
    g.add_argument("--field-seed", type=int, default=1, help="seed of the fitted field's init")


def _add_fit_args(p: argparse.ArgumentParser, steps: int = 3000) -> None:
    g = p.add_argument_group("optimisation (Adam)")
    g.add_argument("--steps", type=int, default=steps, help="Adam steps")
    g.add_argument("--lr", type=float, default=1e-2, help="peak learning rate (field)")
    g.add_argument("--geometry-lr", type=float, default=None, help="lr of spin/inclination")
    g.add_argument("--schedule", default="cosine", help="cosine | exponential | none")
    g.add_argument("--lr-final", type=float, default=0.01, help="final lr / peak lr")
    g.add_argument("--loss", default="nmse", help="nmse | mse | chi2 | ncc")
    g.add_argument("--batch-size", type=int, default=None, help="random pixels per step")
    g.add_argument("--tv-weight", type=float, default=0.0, help="total-variation weight")
    g.add_argument("--seed", type=int, default=0, help="seed of the minibatch sampling")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    g.add_argument("--amp", action="store_true", help="CUDA mixed precision for the field")
    g.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    g.add_argument("--resume", action="store_true", help="resume from OUTPUT/checkpoint.pt")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_cli(subparsers: Any) -> None:
    """Register ``kerrfield fit``, ``kerrfield render`` and ``kerrfield demo``."""
    from .synthetic import FAMILIES, add_geometry_args

    p = subparsers.add_parser(
        "fit", help="fit an emission field (and spin/inclination) to a target image",
        description="Fit a neural emission field, jointly with spin and inclination unless "
        "a fixed geometry is given, to a target image (a netCDF 'image' on (beta, alpha), "
        "or a synthetic target). Writes model.pt + model.json, history.nc, PNGs and "
        f"summary.json into --output. {_UNITS}",
    )  # fmt: skip
    p.add_argument("--target", default=None, help="target netCDF (variable 'image'); "
                   "synthesised from the options below when omitted")  # fmt: skip
    t = p.add_argument_group("synthetic target (when --target is omitted)")
    t.add_argument("--emission", default="mlp", choices=FAMILIES, help="emission family")
    t.add_argument("--noise", type=float, default=0.0, help="noise sigma / image peak")
    t.add_argument("--blur-fwhm", type=float, default=None, help="beam FWHM in M")
    t.add_argument("--target-seed", type=int, default=0, help="seed of the target MLP/noise")
    add_geometry_args(t)
    m = p.add_argument_group("model geometry")
    m.add_argument("--spin0", type=float, default=0.5, help="initial spin")
    m.add_argument("--inclination0", type=float, default=60.0, help="initial inclination, deg")
    m.add_argument("--geometry", default=None,
                   help="precomputed ray-traced netCDF: fit the field on this fixed geometry")
    m.add_argument("--fix-geometry", action="store_true",
                   help="keep spin0/inclination0 fixed (fit the field only)")
    m.add_argument("--relinearize-every", type=int, default=100,
                   help="re-trace the geometry exactly every K steps and use its first-order "
                   "expansion in between (1 = exact autograd tracing every step)")
    m.add_argument("--relinearize-tol", type=float, nargs=2, default=[0.01, 0.5],
                   metavar=("SPIN", "DEG"),
                   help="also re-trace once spin / inclination moved this far")
    m.add_argument("--coarse-steps", type=int, default=0,
                   help="coarse-to-fine: first fit the 2x2-block-averaged target for this "
                   "many steps (screen size must be even), then --steps at full size")
    _add_field_args(p)
    _add_fit_args(p)
    p.add_argument("--output", "-o", default="fit-output", help="output directory")
    p.set_defaults(func=_cli_fit)

    r = subparsers.add_parser(
        "render", help="render a fitted model at any resolution, spin or inclination",
        description=f"Render a model written by 'kerrfield fit'. {_UNITS}",
    )  # fmt: skip
    r.add_argument("model", help="directory containing model.pt and model.json")
    r.add_argument("--spin", type=float, default=None, help="spin (default: fitted)")
    r.add_argument("--inclination", type=float, default=None, help="deg (default: fitted)")
    r.add_argument("--fov", type=float, default=None, help="screen half-width in M")
    r.add_argument("--npix", type=int, default=256, help="pixels per side")
    r.add_argument("--reference", default=None, help="netCDF image to report PSNR against")
    r.add_argument("--device", default="auto", help="auto | cpu | cuda")
    r.add_argument("--output", "-o", default="render.png", help=".png and/or .nc path")
    r.set_defaults(func=_cli_render)

    d = subparsers.add_parser(
        "demo", help="reference scenario: ray trace, synthesise, jointly fit (~1 min on CPU)",
        description="Krang.jl's neural-emission example: target = random 2→20→20→1 MLP, "
        "spin 0.94, inclination 20 deg, orders n = 0, 1, ZAMO redshift (k = 1), 30×30 "
        "pixels over ±10 M; fit a fresh MLP with spin and inclination from 0.5 and 60 deg "
        f"with Adam on the normalised MSE. {_UNITS}",
    )  # fmt: skip
    d.add_argument("--output", "-o", default="demo-output", help="output directory")
    d.add_argument("--npix", type=int, default=30, help="pixels per side")
    d.add_argument("--steps", type=int, default=None, help="Adam steps (default: reference)")
    d.add_argument("--device", default="auto", help="auto | cpu | cuda")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(func=_cli_demo)


def _field_from_args(args: argparse.Namespace):
    from .fields import EmissionField

    return EmissionField(
        width=args.width, depth=args.depth, activation=args.activation,
        encoding=args.encoding, output=args.head, scale=args.scale, omega0=args.omega0,
        n_frequencies=args.n_frequencies, fourier_sigma=args.fourier_sigma,
        seed=args.field_seed,
    )  # fmt: skip


def run_fit_workflow(
    target: xr.Dataset, model: LensedImage, out: Path, fit_kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Fit ``model`` to ``target`` and write model, history, figures and summary to ``out``.

    Returns the summary dict (also written to ``out/summary.json``).
    """
    from .image import psnr, save_model
    from .plotting import plot_fit, plot_loss, plot_parameters

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
    tmp = out / f".history.nc.tmp{os.getpid()}"
    res.history.to_netcdf(tmp)
    os.replace(tmp, out / "history.nc")
    fitted = res.model.to_xarray()
    _atomic_netcdf(fitted.to_dataset(name="image"), out / "fitted.nc")
    truth = {k: target.attrs.get(k) for k in ("spin", "inclination")}
    figs = {
        "fit.png": plot_fit(target["image"], start_img, fitted,
                            losses=(res.initial_loss, res.final_loss)),  # fmt: skip
        "loss.png": plot_loss(res.history),
        "parameters.png": plot_parameters(res.history, truth=truth),
    }
    for name, fig in figs.items():
        fig.savefig(out / name, dpi=110)
    ref = target["clean"] if "clean" in target else target["image"]
    summary = {
        "spin": res.model.spin.item(), "inclination_deg": res.model.inclination.item(),
        "true_spin": truth["spin"], "true_inclination_deg": truth["inclination"],
        "initial_loss": res.initial_loss, "final_loss": res.final_loss,
        "loss_ratio": res.loss_ratio, "psnr_db": psnr(fitted, ref, normalize=True),
        "steps": res.steps, "wall_time_s": res.wall_time,
        "steps_per_s": (len(res.history.step) / res.wall_time) if res.wall_time else None,
        "device": str(model.pix_alpha.device), "screen": list(model.shape),
        "fit_kwargs": {k: v for k, v in fit_kwargs.items() if k != "device"},
        "multiscale": multiscale,
    }  # fmt: skip
    summary = {k: (float(v) if isinstance(v, np.floating) else v) for k, v in summary.items()}
    atomic_write_text(json.dumps(summary, indent=1, default=str), out / "summary.json")
    return summary


def _atomic_netcdf(ds: xr.Dataset, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    ds.to_netcdf(tmp)
    os.replace(tmp, path)


def _fit_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        steps=args.steps, lr=args.lr, geometry_lr=args.geometry_lr,
        schedule=None if args.schedule == "none" else args.schedule, lr_final=args.lr_final,
        loss=args.loss, batch_size=args.batch_size, tv_weight=args.tv_weight, seed=args.seed,
        device=resolve_device(args.device), amp=args.amp, progress=not args.no_progress,
        checkpoint_every=args.checkpoint_every, resume=args.resume,
    )  # fmt: skip


def _cli_fit(args: argparse.Namespace) -> int:
    from .image import fixed_image_model, kerr_image_model
    from .synthetic import synthesize

    out = Path(args.output)
    if args.target:
        if not Path(args.target).exists():
            raise FileNotFoundError(f"--target: no such file {args.target!r}")
        target = xr.load_dataset(args.target)
    else:
        target = synthesize(
            args.emission, args.spin, args.inclination, fov=args.fov, npix=args.npix,
            orders=args.orders, k=args.k, noise=args.noise, blur_fwhm=args.blur_fwhm,
            seed=args.target_seed,
        )  # fmt: skip
        out.mkdir(parents=True, exist_ok=True)
        _atomic_netcdf(target, out / "target.nc")
    field = _field_from_args(args)
    if args.geometry:
        model = fixed_image_model(field, xr.load_dataset(args.geometry), k=args.k,
                                  orders=args.orders)  # fmt: skip
    else:
        model = kerr_image_model(
            field, args.spin0, args.inclination0,
            alpha=torch.tensor(target["alpha"].values), beta=torch.tensor(target["beta"].values),
            k=args.k, orders=args.orders, learn_geometry=not args.fix_geometry,
            relinearize_every=args.relinearize_every,
            relinearize_tol=tuple(args.relinearize_tol),
        )  # fmt: skip
    kw = _fit_kwargs(args)
    if args.coarse_steps and not args.geometry:
        kw["multiscale"] = dict(factors=(2, 1), steps=(args.coarse_steps, args.steps),
                                lr=(args.lr, 0.3 * args.lr),
                                geometry_lr=(kw["geometry_lr"] or args.lr,
                                             0.3 * (kw["geometry_lr"] or args.lr)))  # fmt: skip
    summary = run_fit_workflow(target, model, out, kw)
    print(json.dumps({k: summary[k] for k in ("spin", "inclination_deg", "initial_loss",
                      "final_loss", "psnr_db", "wall_time_s")}, indent=1))  # fmt: skip
    print(f"wrote {out}/")
    return 0


def _cli_render(args: argparse.Namespace) -> int:
    from .image import load_model, psnr, render

    model = load_model(args.model)
    fov = args.fov if args.fov is not None else float(model.alpha.abs().max())
    img = render(
        model.field, model.spin.item() if args.spin is None else args.spin,
        model.inclination.item() if args.inclination is None else args.inclination,
        fov=fov, npix=args.npix, k=model.k, orders=model.orders, surface=model.surface,
        velocity=model.velocity, device=resolve_device(args.device),
    )  # fmt: skip
    if args.reference:
        ref = xr.load_dataset(args.reference)
        print(f"PSNR = {psnr(img, ref['image'], normalize=True):.2f} dB")
    out = Path(args.output)
    if out.suffix == ".nc":
        _atomic_netcdf(img.to_dataset(name="image"), out)
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(5, 4.3), layout="constrained")
        ax = fig.subplots()
        im = ax.imshow(img.values, origin="lower", cmap="afmhot",
                       extent=(-fov, fov, -fov, fov))  # fmt: skip
        ax.set_xlabel("α [M]")
        ax.set_ylabel("β [M]")
        ax.set_title(f"a = {img.attrs['spin']:.3f}, θo = {img.attrs['inclination']:.2f}°")
        fig.colorbar(im, ax=ax)
        fig.savefig(out, dpi=120)
    print(f"wrote {out}")
    return 0


#: reference-scenario settings (Krang.jl's example; see docs / benchmarks/results)
DEMO = {"spin": 0.94, "inclination": 20.0, "spin0": 0.5, "inclination0": 60.0, "fov": 10.0,
        "target_seed": 0, "field_seed": 1, "steps": 6000, "lr": 1e-2, "geometry_lr": 3e-2,
        "schedule": "cosine", "lr_final": 0.01, "relinearize_every": 100,
        "relinearize_tol": (0.01, 0.5)}  # fmt: skip


def _cli_demo(args: argparse.Namespace) -> int:
    from .fields import EmissionField
    from .image import kerr_image_model
    from .plotting import plot_emission_and_image, plot_geometry
    from .raytrace import raytrace
    from .synthetic import synthesize

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    device = resolve_device(args.device)
    d = DEMO
    t0 = time.perf_counter()
    geo = raytrace(d["spin"], d["inclination"], fov=d["fov"], npix=args.npix, orders=(0, 1))
    _atomic_netcdf(geo, out / "raytrace.nc")
    plot_geometry(geo, ("r_s", "g")).savefig(out / "raytrace.png", dpi=110)
    # the target is rendered on the geometry just traced (no second trace)
    target = synthesize("mlp", geometry=geo, seed=d["target_seed"])
    _atomic_netcdf(target, out / "target.nc")
    plot_emission_and_image(target["emission"], target["image"],
                            title="target: random MLP emission, a = 0.94, θo = 20°",
                            ).savefig(out / "target.png", dpi=110)  # fmt: skip
    field = EmissionField(width=20, depth=2, seed=d["field_seed"])
    model = kerr_image_model(field, d["spin0"], d["inclination0"], fov=d["fov"],
                             npix=args.npix, relinearize_every=d["relinearize_every"],
                             relinearize_tol=d["relinearize_tol"])  # fmt: skip
    kw = dict(steps=args.steps or d["steps"], lr=d["lr"], geometry_lr=d["geometry_lr"],
              schedule=d["schedule"],
              lr_final=d["lr_final"], device=device, progress=not args.no_progress)  # fmt: skip
    summary = run_fit_workflow(target, model, out, kw)
    print(
        f"demo: spin {summary['spin']:.4f} (true 0.94), inclination "
        f"{summary['inclination_deg']:.3f} deg (true 20), loss {summary['initial_loss']:.3e} "
        f"-> {summary['final_loss']:.3e}, fit {summary['wall_time_s']:.1f} s, total "
        f"{time.perf_counter() - t0:.1f} s; outputs in {out}/"
    )
    return 0
