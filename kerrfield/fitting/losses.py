"""Image-comparison losses and regularisers for fitting lensed emission models.

All losses take a prediction and a target of the same shape (flattened pixels or 2-D
images) and return a 0-d tensor. :func:`normalized_mse` and :func:`ncc` refuse inputs on
which they are undefined (one host sync per call); :func:`check_target` validates a target
fully (shape, NaN, the loss's needs) once before a fit.
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
    """Normalised MSE ``mean((I / ΣI - T / ΣT)^2)``, invariant to the flux scale of either image.

    The loss of Krang.jl's neural-network example (a definition, no paper equation).

    Parameters
    ----------
    pred : torch.Tensor
        Model image I, any shape (flattened pixels or ``(n_beta, n_alpha)``), any flux unit.
        A prediction with ΣI = 0 gives NaN, on which :func:`kerrfield.fit` stops.
    target : torch.Tensor
        Target image T, the same shape, with ΣT ≠ 0.

    Returns
    -------
    torch.Tensor
        0-d, dimensionless (it scales as 1/N² for N pixels); differentiable in ``pred``.

    Raises
    ------
    ValueError
        If ``target`` sums to zero (an all-zero image): its normalisation is undefined.

    Examples
    --------
    >>> t = torch.rand(10, dtype=torch.float64) + 0.1
    >>> float(normalized_mse(3 * t, t)) < 1e-30
    True
    """
    # an all-zero target would give NaN, not an error (one host sync; fits use _nmse)
    if float(target.detach().sum()) == 0.0:
        raise ValueError("target has zero total flux (target.sum() = 0): normalized_mse is "
                         "undefined; use mse")  # fmt: skip
    return _nmse(pred, target)


def _nmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.mean((pred / pred.sum() - target / target.sum()) ** 2)


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean((I - T)^2)``.

    Parameters
    ----------
    pred, target : torch.Tensor
        Model and target images of the same (or broadcastable) shape, in one flux unit.

    Returns
    -------
    torch.Tensor
        0-d, in that unit squared; differentiable in ``pred``.

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
    """Normalised cross-correlation: the Pearson coefficient of the pixel values, in [-1, 1].

    ``Σ(I - Ī)(T - T̄) / √(Σ(I - Ī)² Σ(T - T̄)² + eps)``; unchanged by ``I → cI + d`` (c > 0).

    Parameters
    ----------
    pred, target : torch.Tensor
        Model and target images with the same number of pixels (any shape, any flux unit);
        neither may be constant.
    eps : float
        Added under the square root, so that nearly constant images keep a finite gradient.

    Returns
    -------
    torch.Tensor
        0-d, dimensionless; differentiable in ``pred``.

    Raises
    ------
    ValueError
        If ``pred`` or ``target`` is constant (zero variance, one pixel included) or empty:
        the correlation is undefined.

    Examples
    --------
    >>> t = torch.arange(5.0)
    >>> round(float(ncc(2 * t + 1, t)), 6)
    1.0
    """
    for name, x in (("pred", pred), ("target", target)):
        if x.numel() == 0:
            raise ValueError(f"{name} is empty: ncc needs at least 2 pixels")
    # min == max is exact, unlike a zero test of Σ(I - Ī)² (a constant minus its float mean
    # need not be exactly 0); one host sync for both inputs
    (p_lo, p_hi), (t_lo, t_hi) = torch.aminmax(pred.detach()), torch.aminmax(target.detach())
    const = torch.stack([p_lo == p_hi, t_lo == t_hi]).tolist()
    if any(const):
        names = " and ".join(n for n, c in zip(("pred", "target"), const, strict=True) if c)
        raise ValueError(f"{names} {'are' if all(const) else 'is'} constant (zero variance): "
                         "the correlation ncc is undefined")  # fmt: skip
    return _ncc(pred, target, eps)


def _ncc(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    p = pred - pred.mean()
    t = target - target.mean()
    return (p * t).sum() / torch.sqrt((p * p).sum() * (t * t).sum() + eps)


def ncc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - ncc(pred, target)``: 0 for a perfect (affine-invariant) match, at most 2.

    Parameters
    ----------
    pred, target : torch.Tensor
        As in :func:`ncc`.

    Returns
    -------
    torch.Tensor
        0-d, dimensionless, in [0, 2]; differentiable in ``pred``.

    Raises
    ------
    ValueError
        If ``pred`` or ``target`` is constant (see :func:`ncc`).

    Examples
    --------
    >>> t = torch.arange(5.0)
    >>> round(float(ncc_loss(-t, t)), 6)
    2.0
    """
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
    """Sum of squared weights ``Σ w²`` of ``module`` (an L2 penalty on its weight matrices).

    Only trainable parameters with 2 or more dimensions count: biases and other 0/1-d
    parameters are not penalised.

    Parameters
    ----------
    module : torch.nn.Module
        Usually the emission field of a model.

    Returns
    -------
    torch.Tensor
        0-d float64 on the parameters' device (a float32 CPU zero when nothing counts);
        differentiable in the weights.

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
    """Look up a data loss by name, or pass a callable through unchanged.

    Parameters
    ----------
    name : {"nmse", "mse", "chi2", "ncc"} or callable
        :func:`normalized_mse`, :func:`mse`, :func:`chi2` or :func:`ncc_loss`; a callable
        ``f(pred, target)`` (``f(pred, target, sigma)`` for χ²-like losses) is returned as is.

    Returns
    -------
    callable
        ``f(pred, target[, sigma]) -> 0-d torch.Tensor``.

    Raises
    ------
    TypeError
        If ``name`` is neither a string nor a callable.
    ValueError
        If ``name`` is not one of the names above (the message lists them).

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


#: the named losses as the fit loops call them: without the per-call checks, since a fit
#: validates its whole target once (:func:`check_target`) and a random pixel batch may be
#: all zero or constant, and a field's prediction may be constant for a step
_FIT_LOSSES: dict[str, Callable[..., torch.Tensor]] = {
    **LOSSES, "nmse": _nmse, "ncc": lambda pred, target: 1.0 - _ncc(pred, target)}


def fit_loss(name: str | Callable) -> Callable[..., torch.Tensor]:
    """:func:`get_loss` for the fit loops: the same losses (and errors for a bad ``name``)
    without the per-call input checks of :func:`normalized_mse` and :func:`ncc`."""
    fn = get_loss(name)
    return _FIT_LOSSES[name] if isinstance(name, str) else fn


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
        if s.dim() and tuple(s.shape) != tuple(target.shape):
            raise ValueError(f"sigma shape {tuple(s.shape)} does not match the target "
                             f"{tuple(target.shape)} (give one σ per pixel, or one number)")
        if not (torch.isfinite(s).all() and (s > 0).all()):
            raise ValueError("sigma must be finite and > 0 for the chi2 loss")
