"""Image-comparison losses and regularisers for fitting lensed emission models.

All losses take a prediction and a target of the same shape (flattened pixels or 2-D
images) and return a 0-d tensor. They assume a validated target; run
:func:`check_target` once before a fit rather than on every step (it synchronises the
device).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = [
    "normalized_mse",
    "mse",
    "chi2",
    "ncc",
    "ncc_loss",
    "total_variation",
    "weight_decay",
    "get_loss",
    "check_target",
    "LOSSES",
]


def normalized_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Normalised MSE ``mean((I / sum I - T / sum T)^2)`` (Krang's example loss).

    Invariant to the overall flux scale of either image.

    Examples
    --------
    >>> t = torch.rand(10, dtype=torch.float64) + 0.1
    >>> float(normalized_mse(3 * t, t)) < 1e-30
    True
    """
    return torch.mean((pred / pred.sum() - target / target.sum()) ** 2)


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean((I - T)^2)``.

    Examples
    --------
    >>> float(mse(torch.ones(4), torch.zeros(4)))
    1.0
    """
    return torch.mean((pred - target) ** 2)


def chi2(pred: torch.Tensor, target: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Reduced chi-squared ``mean(((I - T) / sigma)^2)`` with per-pixel ``sigma``.

    Parameters
    ----------
    sigma : torch.Tensor or float
        Per-pixel (broadcastable) standard deviation, > 0.

    Examples
    --------
    >>> float(chi2(torch.ones(4), torch.zeros(4), 0.5))
    4.0
    """
    return torch.mean(((pred - target) / sigma) ** 2)


def ncc(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Normalised cross-correlation (Pearson coefficient over pixels), in ``[-1, 1]``.

    Examples
    --------
    >>> t = torch.arange(5.0)
    >>> round(float(ncc(2 * t + 1, t)), 6)
    1.0
    """
    p = pred - pred.mean()
    t = target - target.mean()
    return (p * t).sum() / torch.sqrt((p * p).sum() * (t * t).sum() + eps)


def ncc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - ncc(pred, target)``: 0 for a perfect (affine-invariant) match."""
    return 1.0 - ncc(pred, target)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Anisotropic (L1) total variation ``mean|dI/dx| + mean|dI/dy|``.

    Parameters
    ----------
    image : torch.Tensor
        ``(..., n_beta, n_alpha)`` image.

    Examples
    --------
    >>> round(float(total_variation(torch.eye(3))), 4)
    1.3333
    """
    if image.ndim < 2:
        raise ValueError("total_variation needs a 2-D image (..., n_beta, n_alpha)")
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    return dx + dy


def weight_decay(module: nn.Module) -> torch.Tensor:
    """Sum of squared weights of ``module`` (biases and 0/1-d parameters excluded).

    Examples
    --------
    >>> lin = nn.Linear(2, 1, bias=False); _ = nn.init.ones_(lin.weight)
    >>> weight_decay(lin).item()
    2.0
    """
    terms = [(p**2).sum() for p in module.parameters() if p.ndim >= 2 and p.requires_grad]
    if not terms:
        return torch.zeros(())
    return torch.stack([t.to(torch.float64) for t in terms]).sum()


LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    "nmse": normalized_mse,
    "mse": mse,
    "chi2": chi2,
    "ncc": ncc_loss,
}


def get_loss(name: str | Callable) -> Callable[..., torch.Tensor]:
    """Look up a loss by name (``"nmse"``, ``"mse"``, ``"chi2"``, ``"ncc"``) or pass a callable.

    Examples
    --------
    >>> get_loss("nmse") is normalized_mse
    True
    """
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"loss must be a name or a callable, got {type(name).__name__}")
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(LOSSES)}") from None


def check_target(
    target: torch.Tensor,
    *,
    loss: str | Callable = "nmse",
    sigma: torch.Tensor | float | None = None,
    shape: tuple[int, ...] | None = None,
) -> None:
    """Validate a target image for a loss; raises ``ValueError`` naming the argument.

    Parameters
    ----------
    target : torch.Tensor
        Target image.
    loss : str or callable
        Loss it will be used with (``"nmse"`` needs a non-zero total flux, ``"ncc"`` a
        non-constant image, ``"chi2"`` a positive finite ``sigma``).
    sigma : tensor or float, optional
        Per-pixel noise for ``"chi2"``.
    shape : tuple, optional
        Expected shape (the model's screen).

    Examples
    --------
    >>> check_target(torch.zeros(3, 3), loss="mse")
    >>> check_target(torch.zeros(3, 3), loss="nmse")
    Traceback (most recent call last):
    ...
    ValueError: target has zero total flux: the normalised loss 'nmse' is undefined
    """
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch.Tensor, got {type(target).__name__}")
    if shape is not None and tuple(target.shape) != tuple(shape):
        raise ValueError(
            f"target shape {tuple(target.shape)} does not match the model screen {tuple(shape)}"
        )
    if not torch.isfinite(target).all():
        raise ValueError("target contains NaN or inf values")
    name = loss if isinstance(loss, str) else getattr(loss, "__name__", "")
    if name in ("nmse", "normalized_mse") and float(target.sum()) == 0.0:
        raise ValueError(f"target has zero total flux: the normalised loss {name!r} is undefined")
    if name in ("ncc", "ncc_loss") and float(target.std()) == 0.0:
        raise ValueError("target is constant: the cross-correlation loss 'ncc' is undefined")
    if name == "chi2":
        if sigma is None:
            raise ValueError("sigma is required for the chi2 loss")
        s = torch.as_tensor(sigma)
        if not (torch.isfinite(s).all() and (s > 0).all()):
            raise ValueError("sigma must be finite and > 0 for the chi2 loss")
