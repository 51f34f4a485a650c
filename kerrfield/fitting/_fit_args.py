"""Checks of :func:`kerrfield.fitting.loop.fit`'s numeric options, before any step: clear
errors that name the argument and its allowed range."""

from __future__ import annotations

from numbers import Integral
from typing import Any

from .._validate import check_nonnegative, check_npoints, check_positive


def check_fit_args(*, lr: Any, geometry_lr: Any, geometry_betas: Any, lr_final: Any,
                    tv_weight: Any, weight_decay_weight: Any, seed: Any,
                    checkpoint_every: Any) -> None:  # fmt: skip
    """Clear errors naming the argument for :func:`fit`'s numeric options."""
    check_positive(lr, "lr")
    if geometry_lr is not None:
        check_positive(geometry_lr, "geometry_lr")
    if geometry_betas is not None:
        if isinstance(geometry_betas, (str, bytes)) or len(geometry_betas) != 2:
            raise ValueError(
                f"geometry_betas must be a pair (beta1, beta2), got {geometry_betas!r}"
            )
        for i, b in enumerate(geometry_betas):
            if not 0.0 <= check_nonnegative(b, f"geometry_betas[{i}]") < 1.0:
                raise ValueError(f"geometry_betas[{i}] must lie in [0, 1), got {b!r}")
    check_nonnegative(lr_final, "lr_final")
    check_nonnegative(tv_weight, "tv_weight")
    check_nonnegative(weight_decay_weight, "weight_decay_weight")
    if seed is not None:
        check_npoints(seed, "seed", minimum=0)
    check_npoints(checkpoint_every, "checkpoint_every", minimum=0)


def check_batch(batch_size: Any, npix: int, tv_weight: float) -> int | None:
    """``batch_size`` as an int, or None for full-batch fitting (also when it covers every
    pixel); ValueError for anything but a positive int, or a batch with ``tv_weight``."""
    if batch_size is None:
        return None
    if isinstance(batch_size, Integral) and not isinstance(batch_size, bool):
        batch_size = int(batch_size)
    if isinstance(batch_size, bool) or not (isinstance(batch_size, int) and 0 < batch_size):
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if batch_size >= npix:
        return None
    if tv_weight:
        raise ValueError("tv_weight needs full-batch fitting (batch_size=None)")
    return batch_size
