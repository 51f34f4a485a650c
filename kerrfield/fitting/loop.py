"""Fitting lensed emission models to images with Adam.

:func:`fit` trains a :class:`~kerrfield.models.lensed.LensedImage` (the field, and
spin/inclination for a differentiable model) against a target image: full-batch or random pixel
minibatches, an optional cosine/exponential learning-rate schedule, seeded, on any torch
device, with a tqdm bar, an ``xarray`` history, atomic checkpoints with resume, a hard
stop on a non-finite loss (restoring the last finite-loss state), and optional CUDA mixed
precision for the field only (the geometry stays float64). The loop's named steps live in
:mod:`kerrfield.fitting.steps`.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import xarray as xr

from .._progress import show_progress
from .._validate import check_device, check_npoints
from ..models.forward import warn_physics_mismatch
from ..models.lensed import LensedImage
from ._fit_args import check_batch, check_fit_args
from ._interrupt import deferred_interrupt
from .losses import fit_loss
from .observation_target import (
    IMAGE_ONLY_OPTIONS,
    fit_observation_target,
    is_observation,
    load_observation,
)
from .result import FitInterrupted, FitResult, NonFiniteLossError, _result
from .steps import (
    MAX_SKIPS,
    TrainState,
    backward_and_update,
    end_warnings,
    fit_settings,
    lr_schedule,
    record,
    restore_checkpoint,
    save_checkpoint,
    setup_data,
    setup_optimizer,
    train_step,
)

if TYPE_CHECKING:
    from .observation_result import ObservationFit

__all__ = ["fit", "resolve_device", "target_tensor"]


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``"auto"``/``None`` -> CUDA when available else CPU; otherwise ``torch.device(device)``.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    return check_device("auto" if device is None else device)


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
            if target is None or np.ndim(target) == 0:
                raise TypeError("not an image")
            t = torch.tensor(np.asarray(target, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                "target must be an image (array, tensor, DataArray, or a Dataset with 'image' "
                "such as kerrfield.synthesize makes), an observation Dataset, or a .nc/.uvfits "
                f"path; got {type(target).__name__}") from exc  # fmt: skip
    if model is not None and tuple(t.shape) != model.shape:
        raise ValueError(
            f"target shape {tuple(t.shape)} does not match the model screen {model.shape} "
            "(target and model are on different screens)"
        )
    return t


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
    progress: bool | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int = 500,
    resume: bool = False,
    callback: Callable[[int, float, LensedImage], Any] | None = None,
    observation: Mapping[str, Any] | None = None,
) -> FitResult | ObservationFit:
    """Fit a lensed image model to a target image, or to an observation, with Adam.

    Parameters
    ----------
    model : LensedImage
        From :func:`~kerrfield.fixed_image_model` or
        :func:`~kerrfield.kerr_image_model` (then spin/inclination are fitted too).
    target : torch.Tensor, numpy array, xarray.DataArray, xarray.Dataset or path
        Target image on the model's screen ``(beta, alpha)``; a Dataset's ``image`` is used
        (and its ``sigma`` for ``loss="chi2"`` if ``sigma`` is not given). An
        *observation* -- a Dataset with ``vis``, ``u``, ``v``, ``sigma``, ``t1``, ``t2``
        (:func:`kerrfield.vlbi.load_uvfits`, :func:`kerrfield.vlbi.observe`) or the path of
        a ``.uvfits`` file -- is fitted by
        :func:`~kerrfield.fitting.observation.fit_observation` instead (see
        ``observation``).
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
    progress : bool or None
        Show a tqdm bar with the loss, spin and inclination (default None: in a notebook or
        when stderr is a terminal, not in a piped log).
    checkpoint : path, optional
        File written atomically every ``checkpoint_every`` steps and at the end (model,
        optimiser, scheduler, history, RNG state). Ctrl-C (SIGINT, also Jupyter's
        interrupt) ends a fit after the step in progress: the model holds that step's
        parameters, the checkpoint is written and :class:`FitInterrupted` (a
        :class:`KeyboardInterrupt`) says where it stopped; a second Ctrl-C interrupts at once.
    resume : bool
        Continue from ``checkpoint`` if it exists.
    callback : callable, optional
        ``callback(step, loss, model)`` after every step; returning ``True`` stops.
    observation : mapping, optional
        For an observation target only: keyword arguments of
        :func:`~kerrfield.fitting.observation.fit_observation` (``weights``,
        ``systematic``, ``theta_g``, ``position_angle`` (one start or a list), ``flux``,
        ``learn``, ``mem``, ``scout_steps``, ``sky_lr``, ``method``, ``gains``, ...; see
        :data:`kerrfield.fitting.observation_target.OBSERVATION_OPTIONS`). ``steps``,
        ``lr``, ``geometry_lr`` (default: fit_observation's 0.02), ``seed``, ``progress``
        and ``tv_weight`` (as ``tv``) are taken from this function's arguments. The
        image-only options (``loss``, ``sigma``, ``batch_size``, ``schedule``,
        ``lr_final``, ``geometry_betas``, ``weight_decay_weight``, ``amp``, ``checkpoint``,
        ``checkpoint_every``, ``resume``, ``callback``) must stay at their defaults, which
        are ignored; any other value raises ``ValueError``. They run on the CPU.

    Returns
    -------
    FitResult or ObservationFit
        :class:`~kerrfield.fitting.observation_result.ObservationFit` for an observation
        target (its ``summary()`` holds θ_g, PA, the ring features and the reduced χ² of
        each term; ``to_fits`` writes the image).

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
    progress = show_progress(progress)
    if isinstance(target, (list, tuple)):  # several observations (files, bands): one fit
        target = load_observation(target)
    if isinstance(target, (str, os.PathLike)) and not is_observation(target):
        from ..io.readers import load_netcdf  # a netCDF image or observation

        target = load_netcdf(target, "target")
    if is_observation(target):
        # "auto" means the CPU here: observation fits run there (NUFFT, station terms)
        auto = device is None or (isinstance(device, str) and device.strip().lower() == "auto")
        if not auto and resolve_device(device).type != "cpu":
            raise ValueError(f"device={device!r}: observation fits run on the CPU")
        image_only = {k: v for k, v in locals().items() if k in IMAGE_ONLY_OPTIONS}
        return fit_observation_target(model, target, observation=observation, steps=steps,
                                      lr=lr, geometry_lr=geometry_lr, seed=seed,
                                      progress=progress, tv_weight=tv_weight,
                                      image_options=image_only)  # fmt: skip
    if observation is not None:
        raise ValueError("observation options need an observation target (a Dataset with "
                         "'vis', 'u', 'v', ... or a .uvfits path)")
    steps = check_npoints(steps, "steps", minimum=0)
    warn_physics_mismatch(model, target)
    check_fit_args(lr=lr, geometry_lr=geometry_lr, geometry_betas=geometry_betas,
                    lr_final=lr_final, tv_weight=tv_weight,
                    weight_decay_weight=weight_decay_weight, seed=seed,
                    checkpoint_every=checkpoint_every)  # fmt: skip
    loss_fn = fit_loss(loss)
    loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
    if device is not None:
        model.to(resolve_device(device))
    dev = model.pix_alpha.device
    tgt_flat, sig_flat = setup_data(model, target, loss, loss_name, sigma, dev, target_tensor)
    batch_size = check_batch(batch_size, model.npix, tv_weight)
    use_amp = bool(amp) and dev.type == "cuda"
    if amp and not use_amp:
        warnings.warn("amp=True ignored: mixed precision is only used on CUDA", stacklevel=2)
    if use_amp:
        model.field.float()
        model.amp_dtype = torch.float16
    opt = setup_optimizer(model, lr, geometry_lr, geometry_betas)
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed) if seed is not None else int(torch.seed() % 2**62))
    params = [p for p in model.parameters() if p.requires_grad]
    st = TrainState(
        model, opt, lr_schedule(opt, schedule, max(steps, 1), lr_final),
        torch.amp.GradScaler("cuda", enabled=use_amp), gen, use_amp, loss_fn, loss_name,
        tgt_flat, sig_flat, tv_weight, weight_decay_weight, params, [], total_steps=steps,
    )  # fmt: skip
    st.settings = fit_settings(st, lr=lr, geometry_lr=geometry_lr, schedule=schedule,
                               lr_final=lr_final, batch_size=batch_size, amp=use_amp)  # fmt: skip
    start = 0
    ckpt_path = Path(checkpoint) if checkpoint is not None else None
    if resume and ckpt_path is not None and ckpt_path.exists():
        start = restore_checkpoint(st, ckpt_path, dev)
    if st.initial_loss is None:  # a fresh fit (or a checkpoint written before it was stored)
        with torch.no_grad():
            st.initial_loss = float(st.data_loss()) if not st.hist["loss"] else st.hist["loss"][0]
    initial_loss = st.initial_loss
    if not start or len(st.good) != len(params):
        st.good = [p.detach().clone() for p in params]
    t0 = st.t_start = time.perf_counter()
    step = _run_steps(st, start, steps, batch_size, progress, ckpt_path, checkpoint_every,
                      callback, initial_loss, t0)  # fmt: skip
    wall = st.elapsed + time.perf_counter() - t0  # all sessions of a resumed fit
    with torch.no_grad():
        final_loss = float(st.data_loss())
    save_checkpoint(st, ckpt_path, step)
    end_warnings(st)
    return _result(model, st.hist, initial_loss, final_loss, wall, step, loss_name=loss_name,
                   batch_size=batch_size or model.npix, skipped_steps=st.n_skipped)  # fmt: skip


def _run_steps(st: TrainState, start: int, steps: int, batch_size: int | None, progress: bool,
               ckpt_path: Path | None, checkpoint_every: int, callback: Callable | None,
               initial_loss: float, t0: float) -> int:  # fmt: skip
    """Steps ``start .. steps - 1`` with bar, checkpoints and stops; returns the step reached."""
    model, dev = st.model, st.model.pix_alpha.device
    bar = None
    if progress and steps > start:
        from .._progress import progress_bar

        bar = progress_bar(total=steps, initial=start, desc="fit", dynamic_ncols=True, leave=False)
    post_every = max(1, (steps - start) // 200)
    step = start
    try:
        with deferred_interrupt() as stop:
            for step in range(start, steps):
                idx = None
                if batch_size is not None:
                    idx = torch.randperm(model.npix, generator=st.gen, device=dev)[:batch_size]
                value, lval = train_step(st, idx)
                spin, inc = float(model.spin.detach()), float(model.inclination.detach())
                if not math.isfinite(lval):
                    with torch.no_grad():
                        torch._foreach_copy_(st.params, st.good)
                    save_checkpoint(st, ckpt_path, step)
                    last = st.hist["loss"][-1] if st.hist["loss"] else math.nan
                    res = _result(model, st.hist, initial_loss, last, time.perf_counter() - t0,
                                  step)  # fmt: skip
                    raise NonFiniteLossError(
                        f"loss became {lval} at step {step} (spin={spin:.4g}, "
                        f"inclination={inc:.4g} deg); the model was restored to the last "
                        f"finite-loss state (step {step - 1}). Try a smaller lr.", res
                    )  # fmt: skip
                record(st, lval, spin, inc)
                if not backward_and_update(st, value) and st.skipped >= MAX_SKIPS:
                    raise NonFiniteLossError(
                        f"non-finite gradients in {st.skipped} consecutive steps (last at step "
                        f"{step}, spin={spin:.4g}, inclination={inc:.4g} deg); the model "
                        "keeps its last finite state.",
                        _result(model, st.hist, initial_loss, lval, time.perf_counter() - t0, step),
                    )  # fmt: skip
                if bar is not None:
                    bar.update(1)
                    if step % post_every == 0:
                        rel = st.hist["relative_residual"][-1]
                        bar.set_postfix_str(f"loss={lval:.3e} resid={rel:.3f} spin={spin:.4f} "
                                            f"inc={inc:.2f}")  # fmt: skip
                if checkpoint_every and (step + 1) % checkpoint_every == 0:
                    save_checkpoint(st, ckpt_path, step + 1)  # no-op without a path
                if callback is not None and callback(step, lval, model):
                    return step + 1
                if stop.requested:  # Ctrl-C: end at this step boundary, checkpoint written
                    save_checkpoint(st, ckpt_path, step + 1)
                    raise FitInterrupted(step + 1, steps, ckpt_path)
            return steps
    finally:
        if bar is not None:
            bar.close()
