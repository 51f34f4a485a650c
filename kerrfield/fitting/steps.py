"""The named steps of :func:`kerrfield.fit`'s Adam loop.

Set-up (:func:`setup_optimizer`, :func:`setup_data`), one optimisation step
(:func:`train_step`), checkpoints (:func:`save_checkpoint`, :func:`restore_checkpoint`) and the
per-step history. They share one :class:`TrainState`, so the loop in :mod:`.loop` reads as the
sequence of these steps.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
import warnings
from collections.abc import Callable
from numbers import Real
from pathlib import Path
from typing import Any

import torch
import xarray as xr

from ..io.atomic import atomic_torch_save
from ..models.lensed import LensedImage
from .losses import check_target, total_variation, weight_decay

#: consecutive steps with non-finite gradients tolerated before the fit stops
MAX_SKIPS = 20


@dataclasses.dataclass
class TrainState:
    """Everything one Adam loop carries between steps (and into its checkpoints)."""

    model: LensedImage
    opt: torch.optim.Optimizer
    sched: Any
    scaler: Any
    gen: torch.Generator
    use_amp: bool
    loss_fn: Callable[..., torch.Tensor]
    loss_name: str
    tgt_flat: torch.Tensor
    sig_flat: torch.Tensor | None
    tv_weight: float
    weight_decay_weight: float
    params: list[torch.Tensor]
    good: list[torch.Tensor]  # last parameter values with a finite loss
    hist: dict[str, list[float]] = dataclasses.field(
        default_factory=lambda: {"loss": [], "spin": [], "inclination": [], "lr": [],
                                 "relative_residual": []}  # fmt: skip
    )
    skipped: int = 0  # consecutive steps skipped for non-finite gradients
    n_skipped: int = 0  # total
    initial_loss: float | None = None  # full-image data loss before the first step
    total_steps: int = 0  # the fit's ``steps`` (its schedule's length)
    elapsed: float = 0.0  # wall seconds of earlier sessions of a resumed fit
    t_start: float = dataclasses.field(default_factory=time.perf_counter)  # this session's
    last_pred: Any = None  # model image and target pixels of the last data_loss call
    last_target: Any = None
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)  # fit_settings

    def data_loss(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Data term (plus total variation) of the model at pixels ``idx`` (all if None)."""
        pred = self.model(idx)
        t = self.tgt_flat if idx is None else self.tgt_flat[idx]
        self.last_pred, self.last_target = pred.detach(), t
        if self.sig_flat is not None:
            total = self.loss_fn(pred, t, self.sig_flat if idx is None else self.sig_flat[idx])
        else:
            total = self.loss_fn(pred, t)
        if self.tv_weight:
            img = pred.reshape(self.model.shape)
            total = total + self.tv_weight * total_variation(
                img / img.sum() if self.loss_name == "nmse" else img
            )
        return total


def relative_residual(pred: torch.Tensor, target: torch.Tensor, loss_name: str) -> float:
    """``|I - T| / |T|`` over the pixels given, both flux-normalised for the scale-free
    losses (``nmse``, ``ncc``): unlike the normalised MSE (which scales as 1/N²) it does not
    depend on the number of pixels, so fits at different resolutions compare directly."""
    with torch.no_grad():
        p, t = pred.to(torch.float64), target.to(torch.float64)
        if loss_name in ("nmse", "ncc"):
            p, t = p / p.sum(), t / t.sum()
        return float(torch.linalg.vector_norm(p - t) / torch.linalg.vector_norm(t))


def model_relative_residual(model: LensedImage, target: xr.Dataset, loss: Any) -> float:
    """:func:`relative_residual` of a model's full image against a target Dataset's image."""
    with torch.no_grad():
        t = torch.as_tensor(target["image"].transpose("beta", "alpha").values).reshape(-1)
        return relative_residual(model(), t.to(model.pix_alpha.device),
                                 loss if isinstance(loss, str) else "custom")  # fmt: skip


def lr_schedule(opt: torch.optim.Optimizer, name: str | None, steps: int, lr_final: float):
    """Learning-rate decay from the peak to ``lr_final`` times it at ``steps`` (or None)."""
    if name in (None, "none", "constant"):
        return None
    if name == "cosine":
        def cosine(s: int) -> float:
            return lr_final + (1 - lr_final) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))

        return torch.optim.lr_scheduler.LambdaLR(opt, cosine)
    if name == "exponential":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_final ** (min(s, steps) / steps))
    raise ValueError(f"unknown schedule {name!r}; expected None, 'cosine' or 'exponential'")


def setup_optimizer(
    model: LensedImage, lr: float, geometry_lr: float | None,
    geometry_betas: tuple[float, float] | None,
) -> torch.optim.Optimizer:
    """Adam over the field (``lr``) and the geometry parameters (``geometry_lr``)."""
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
        return torch.optim.Adam(groups, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(groups)


def setup_data(
    model: LensedImage, target: Any, loss: Any, loss_name: str, sigma: Any, dev: torch.device,
    to_tensor: Callable,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Flattened target and (for χ²) per-pixel σ on the fit device, checked against the model."""
    if sigma is None and loss_name == "chi2" and isinstance(target, xr.Dataset):
        sigma = target.get("sigma")
    tgt = to_tensor(target, model)
    scalar = isinstance(sigma, Real) and not isinstance(sigma, bool)  # one σ for every pixel
    sig = torch.tensor(float(sigma)) if scalar else _sigma_tensor(sigma, to_tensor)
    check_target(tgt, loss=loss, sigma=sig, shape=model.shape)
    tgt_flat = tgt.reshape(-1).to(dev)
    sig_flat = None
    if loss_name == "chi2":
        sig_flat = (torch.full_like(tgt_flat, float(sigma)) if scalar else sig.reshape(-1)).to(dev)
    return tgt_flat, sig_flat


def _sigma_tensor(sigma: Any, to_tensor: Callable) -> torch.Tensor | None:
    """A per-pixel σ as a tensor (None stays None); TypeError naming sigma otherwise (a bool
    or a string would be read as a target or a file)."""
    if sigma is None:
        return None
    try:
        if not isinstance(sigma, (bool, str)):
            return to_tensor(sigma)
    except (TypeError, ValueError):
        pass
    raise TypeError("sigma must be one number > 0 or a per-pixel array like the target "
                    f"(tensor, array, DataArray); got {type(sigma).__name__}")


def save_checkpoint(st: TrainState, path: Path | None, step: int) -> None:
    """Everything the loop carries at ``step``, written atomically.

    Model, optimiser, scheduler, scaler, RNG, history, the last-good parameters, the skip
    counters and the linearised-geometry cache of the model (its expansion point and how
    many steps it has served), so that a resumed fit continues bit for bit.
    """
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    model = st.model
    atomic_torch_save(
        {
            "model": model.state_dict(), "optimizer": st.opt.state_dict(),
            "scheduler": None if st.sched is None else st.sched.state_dict(),
            "scaler": st.scaler.state_dict() if st.use_amp else None,
            "generator": st.gen.get_state(), "history": st.hist, "step": step,
            "model_config": model.config(), "good": st.good,
            "skipped": st.skipped, "n_skipped": st.n_skipped, "initial_loss": st.initial_loss,
            "lin": getattr(model, "_lin", None), "lin_calls": getattr(model, "_lin_calls", 0),
            "total_steps": st.total_steps, "settings": st.settings,
            "wall_time": st.elapsed + time.perf_counter() - st.t_start,
        },
        path,
    )  # fmt: skip


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not belong to this fit."""


def load_checkpoint_file(path: Path, dev: torch.device | str = "cpu") -> dict[str, Any]:
    """``torch.load`` of a kerrfield checkpoint; :class:`CheckpointError` naming the file."""
    advice = ("delete it (or pass --overwrite / resume=False) to start the fit again; it "
              "was probably truncated by a crash or a full disk")  # fmt: skip
    try:
        ck = torch.load(path, map_location=dev, weights_only=False)
    except Exception as exc:  # torch raises EOFError, UnpicklingError, RuntimeError, ...
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: "
                              f"{str(exc)[:120]}); {advice}") from exc  # fmt: skip
    if not isinstance(ck, dict) or not {"model", "optimizer", "step"} <= set(ck):
        raise CheckpointError(f"{path} is not a kerrfield fit checkpoint; {advice}")
    return ck


def _mismatch(model: dict, saved: dict, most: int = 3) -> str:
    """The first few differences between two state dicts, e.g. ``field.mlp.0.weight: (16, 2)
    in the model, (8, 2) in the checkpoint``."""
    diffs = [f"{k}: {tuple(v.shape)} in the model, {tuple(saved[k].shape)} in the checkpoint"
             for k, v in model.items() if k in saved and hasattr(saved[k], "shape")
             and tuple(saved[k].shape) != tuple(v.shape)]  # fmt: skip
    missing, extra = sorted(set(model) - set(saved)), sorted(set(saved) - set(model))
    diffs += [f"{k} not in the checkpoint" for k in missing]
    diffs += [f"{k} not in the model" for k in extra]
    more = f" and {len(diffs) - most} more" if len(diffs) > most else ""
    return "; ".join(diffs[:most]) + more


def fit_settings(st: TrainState, **given: Any) -> dict[str, Any]:
    """What a resumed fit must share with its checkpoint: the loss, the learning rates,
    schedule, batch size, regulariser weights (``given`` and ``st``'s) and a sha256 of the
    target pixels and σ. (``steps`` may grow: the schedule is then recomputed, with a
    warning.)"""
    h = hashlib.sha256(st.tgt_flat.detach().cpu().numpy().tobytes())
    if st.sig_flat is not None:
        h.update(torch.as_tensor(st.sig_flat).detach().cpu().numpy().tobytes())
    return {"loss": st.loss_name, "tv_weight": float(st.tv_weight),
            "weight_decay_weight": float(st.weight_decay_weight),
            **{k: v if v is None or isinstance(v, (bool, int, float)) else str(v)
               for k, v in given.items()}, "target_sha256": h.hexdigest()}  # fmt: skip


def restore_checkpoint(st: TrainState, path: Path, dev: torch.device) -> int:
    """Load a checkpoint into ``st``; returns the step it was written at.

    Raises :class:`CheckpointError` when the checkpoint belongs to another model, or was
    written by a fit with other :func:`fit_settings` (another loss, learning rate, target,
    ...): resuming it would splice two different fits into one history."""
    ck = load_checkpoint_file(path, dev)
    old = ck.get("settings") or {}
    changed = [f"{k} {old[k]!r} -> {v!r}" for k, v in st.settings.items()
               if k in old and old[k] != v]  # fmt: skip
    if changed:
        raise CheckpointError(
            f"checkpoint {path} was written by a fit with other settings ({'; '.join(changed)})"
            "; resume with the same ones, or start again (CLI: --overwrite; Python: "
            "resume=False)")  # fmt: skip
    try:
        st.model.load_state_dict(ck["model"])
        st.opt.load_state_dict(ck["optimizer"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(
            f"checkpoint {path} belongs to a different model or optimiser "
            f"({_mismatch(st.model.state_dict(), ck['model']) or str(exc)[:200]}); use a "
            "new output directory, or start again (CLI: --overwrite; Python: resume=False)"
        ) from exc  # fmt: skip
    if st.sched is not None and ck.get("scheduler") is not None:
        st.sched.load_state_dict(ck["scheduler"])
        planned = ck.get("total_steps")
        if planned and planned != st.total_steps and ck["step"] < st.total_steps:
            warnings.warn(
                f"resuming a fit planned for {planned} steps with steps={st.total_steps}: the "
                f"learning-rate schedule is recomputed for {st.total_steps} steps, so the "
                f"learning rate changes abruptly at step {ck['step']}", stacklevel=3)
    st.elapsed = float(ck.get("wall_time", 0.0))
    if st.use_amp and ck.get("scaler"):
        st.scaler.load_state_dict(ck.get("scaler", {}))
    st.gen.set_state(ck["generator"].to(st.gen.get_state().device))
    st.hist = {k: list(v) for k, v in ck["history"].items()}
    if ck.get("good") is not None and len(ck["good"]) == len(st.params):
        st.good = [g.to(dev) for g in ck["good"]]
    st.skipped, st.n_skipped = int(ck.get("skipped", 0)), int(ck.get("n_skipped", 0))
    st.initial_loss = ck.get("initial_loss")
    if ck.get("lin") is not None and hasattr(st.model, "_lin"):
        st.model._lin = {k: v.to(dev) for k, v in ck["lin"].items()}
        st.model._lin_calls = int(ck.get("lin_calls", 0))
    return int(ck["step"])


def end_warnings(st: TrainState) -> None:
    """After a fit: steps skipped for non-finite gradients, and a collapsed fit, whose last
    model image (``data_loss`` at the final state) is constant: a finite loss that says
    nothing (a saturated or dead field, e.g. after too large a learning rate)."""
    if st.n_skipped:
        warnings.warn(f"{st.n_skipped} steps skipped for non-finite gradients", stacklevel=3)
    pred = st.last_pred
    if pred is not None and pred.numel() > 1 and bool(pred.max() == pred.min()):
        warnings.warn(f"the fitted image is constant ({float(pred.flatten()[0]):.4g} in every "
                      "pixel): the fit has collapsed (a saturated or dead field; try a smaller "
                      "lr or another field seed)", UserWarning, stacklevel=3)  # fmt: skip


def record(st: TrainState, lval: float, spin: float, inc: float) -> None:
    """Append one step to the history (and remember its parameters as the last good ones)."""
    torch._foreach_copy_(st.good, [p.detach() for p in st.params])
    st.hist["loss"].append(lval)
    st.hist["spin"].append(spin)
    st.hist["inclination"].append(inc)
    st.hist["lr"].append(st.opt.param_groups[0]["lr"])
    st.hist.setdefault("relative_residual", [math.nan] * (len(st.hist["loss"]) - 1))
    st.hist["relative_residual"].append(
        relative_residual(st.last_pred, st.last_target, st.loss_name))


def grads_finite(params: list[torch.Tensor]) -> bool:
    """Whether every gradient is finite (one fused reduction, a single device sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return True
    return bool(torch.isfinite(torch.stack([g.sum().double() for g in grads]).sum()))


def train_step(st: TrainState, idx: torch.Tensor | None) -> tuple[torch.Tensor, float]:
    """Forward pass of one step: the objective and its value (NaN/inf is the caller's call)."""
    # autocast is applied inside the model around the field only (geometry: float64)
    value = st.data_loss(idx)
    if st.weight_decay_weight:
        value = value + st.weight_decay_weight * weight_decay(st.model.field)
    return value, float(value.detach())


def backward_and_update(st: TrainState, value: torch.Tensor) -> bool:
    """Backward pass and Adam update of one step.

    Returns False when the update was skipped: a finite loss with a non-finite gradient (e.g.
    a ray grazing the critical curve) is skipped rather than allowed to poison Adam's moments
    (the GradScaler does the same under AMP); :attr:`TrainState.skipped` counts them.
    """
    st.opt.zero_grad(set_to_none=True)
    st.scaler.scale(value).backward()
    if not st.use_amp and not grads_finite(st.params):
        st.skipped += 1
        st.n_skipped += 1
        updated = False
    else:
        st.skipped = 0
        st.scaler.step(st.opt)
        st.scaler.update()
        updated = True
    if st.sched is not None:
        st.sched.step()
    return updated
