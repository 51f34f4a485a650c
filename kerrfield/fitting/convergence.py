"""Fitting to a measured convergence criterion, and the forward model a target asks for.

:func:`fit_to_convergence` runs :func:`kerrfield.fit` until the relative loss change over a
window of steps falls below a tolerance (or a step budget runs out) and reports the criterion
it met. :func:`resolve_physics` merges the physics a target records (orders, k, surface,
velocity, beam) with what the user asked for, printing every mismatch the user chose;
:func:`check_inference_inputs` raises the errors that must come before any fitting.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..models.forward import check_beam_width, target_physics
from ..physics._spec import parse_surface, parse_velocity
from .loop import fit

__all__ = ["ConvergenceStop", "fit_to_convergence", "fit_field_lbfgs", "resolve_physics",
           "check_inference_inputs", "target_sigma"]  # fmt: skip

_DEFAULT_PHYSICS = {"orders": (0, 1), "k": 1.0, "surface": "equatorial", "velocity": "zamo",
                    "beam_fwhm": 0.0}  # fmt: skip


class ConvergenceStop:
    """Callback for :func:`kerrfield.fit`: stop when the loss has stopped improving.

    The criterion is the relative change of the mean loss between the last two windows of
    ``window`` steps, ``|mean(previous) - mean(last)| / |mean(last)| < rtol``; it is checked
    once at least ``min_steps`` and two windows have run. A loss that *rose* by more than
    ``rtol`` over the last window is not converged (an oscillating or still-moving joint
    fit; the schedule's decay continues it).

    Examples
    --------
    >>> stop = ConvergenceStop(window=2, rtol=1e-3)
    >>> [stop(i, v, None) for i, v in enumerate([4.0, 2.0, 1.0, 1.0, 1.0, 1.0])][-1]
    True
    """

    def __init__(self, window: int = 50, rtol: float = 1e-4, min_steps: int = 0):
        if not (isinstance(window, int) and window >= 1):
            raise ValueError(f"window must be an int >= 1, got {window!r}")
        if not rtol > 0:
            raise ValueError(f"rtol must be positive, got {rtol!r}")
        self.window, self.rtol, self.min_steps = window, float(rtol), int(min_steps)
        self.losses: list[float] = []
        self.rel_change = math.inf
        self.converged = False

    def __call__(self, step: int, loss: float, model: Any) -> bool:
        self.losses.append(float(loss))
        w = self.window
        if len(self.losses) < max(2 * w, self.min_steps):
            return False
        prev = float(np.mean(self.losses[-2 * w : -w]))
        last = float(np.mean(self.losses[-w:]))
        self.rel_change = (prev - last) / max(abs(last), 1e-300)
        self.converged = abs(self.rel_change) < self.rtol
        return self.converged


def fit_to_convergence(model: Any, target: Any, *, max_steps: int = 2000, window: int = 50,
                       rtol: float = 1e-4, min_steps: int = 0, **fit_kw: Any
                       ) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """:func:`kerrfield.fit` until :class:`ConvergenceStop` fires or ``max_steps`` run out.

    Parameters
    ----------
    model : LensedImage
        As in :func:`kerrfield.fit`.
    target : torch.Tensor, numpy array, xarray.DataArray, xarray.Dataset or path
        A target *image* as in :func:`kerrfield.fit` (an observation target refuses the
        callback this function needs).
    max_steps : int
        Step budget, ``fit``'s ``steps`` (the length of its learning-rate schedule).
    window : int
        Steps per window of the criterion, >= 1.
    rtol : float
        Converged when the relative change of the mean loss between the last two windows
        is below ``rtol`` (> 0).
    min_steps : int
        No stop before this many steps.
    **fit_kw
        Other :func:`kerrfield.fit` arguments (not ``steps`` or ``callback``); ``progress``
        defaults to False.

    Returns
    -------
    (FitResult, dict)
        The fit and its convergence record ``{"converged", "steps", "rel_change",
        "window", "rtol"}`` (``rel_change`` is the last measured relative change, signed:
        > 0 while the loss falls; ``inf`` if fewer than two windows ran).

    Raises
    ------
    ValueError
        If ``window`` is not an int >= 1 or ``rtol`` not > 0, and as :func:`kerrfield.fit`.
    TypeError
        If ``fit_kw`` holds ``steps`` or ``callback``.
    NonFiniteLossError
        As :func:`kerrfield.fit`, when the loss becomes NaN/inf.
    """
    stop = ConvergenceStop(window, rtol, min_steps)
    fit_kw.setdefault("progress", False)
    result = fit(model, target, steps=int(max_steps), callback=stop, **fit_kw)
    info = {"converged": bool(stop.converged), "steps": int(len(stop.losses)),
            "rel_change": float(stop.rel_change), "window": int(window), "rtol": float(rtol)}
    return result, info


def fit_field_lbfgs(model: Any, target: xr.Dataset, *, loss: str = "chi2",
                    max_iter: int = 1000, window: int = 25, rtol: float = 1e-5,
                    history_size: int = 50) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """Fit only the field of a fixed-geometry model, full batch, with L-BFGS to convergence.

    On fixed geometry the objective is a smooth function of the field's weights alone, and
    L-BFGS with a strong-Wolfe line search reaches a far lower χ² than Adam in the same time
    (measured: 2.3 vs 5.9 per pixel at a wrong geometry, 0.83 vs 0.90 at the truth, 20² ring).
    Runs blocks of ``window`` iterations until the relative loss change over a block is
    below ``rtol`` or ``max_iter`` iterations ran.

    Returns
    -------
    (result, dict)
        ``result`` has ``final_loss`` and a ``history`` Dataset (``loss``, ``spin``,
        ``inclination`` per block, ``step`` = iterations so far); the dict is the
        convergence record as in :func:`fit_to_convergence`.
    """
    from types import SimpleNamespace

    from .loop import target_tensor
    from .losses import fit_loss

    fn = fit_loss(loss)
    tgt = target_tensor(target, model).reshape(-1)
    sig = torch.as_tensor(target_sigma(target)).reshape(-1) if loss == "chi2" else None
    params = [p for p in model.field.parameters() if p.requires_grad]
    opt = torch.optim.LBFGS(params, lr=1.0, max_iter=int(window), history_size=history_size,
                            line_search_fn="strong_wolfe", tolerance_grad=0.0,
                            tolerance_change=0.0)  # fmt: skip

    def objective() -> torch.Tensor:
        pred = model()
        return fn(pred, tgt, sig) if sig is not None else fn(pred, tgt)

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        value = objective()
        value.backward()
        return value

    with torch.no_grad():
        losses, steps = [float(objective())], [0]
    rel, converged = math.inf, False
    good = [p.detach().clone() for p in params]
    while steps[-1] < max_iter:
        opt.step(closure)
        with torch.no_grad():
            value = float(objective())
        if not math.isfinite(value):  # restore the last finite state and stop
            with torch.no_grad():
                torch._foreach_copy_(params, good)
            break
        good = [p.detach().clone() for p in params]
        rel = (losses[-1] - value) / max(abs(value), 1e-300)
        losses.append(value)
        steps.append(int(opt.state[opt._params[0]].get("n_iter", steps[-1] + window)))
        if rel < rtol or steps[-1] == steps[-2]:
            converged = True
            break
    spin, inc = float(model.spin), float(model.inclination)
    hist = xr.Dataset({"loss": ("step", losses), "spin": ("step", [spin] * len(losses)),
                       "inclination": ("step", [inc] * len(losses))},
                      coords={"step": steps})  # fmt: skip
    result = SimpleNamespace(final_loss=losses[-1], history=hist.assign_coords(step=steps))
    info = {"converged": converged, "steps": steps[-1], "rel_change": float(rel),
            "window": int(window), "rtol": float(rtol)}  # fmt: skip
    return result, info


def target_sigma(target: xr.Dataset) -> np.ndarray | None:
    """The target's per-pixel noise σ, or None when it has none (absent or not all > 0)."""
    if not isinstance(target, xr.Dataset) or "sigma" not in target:
        return None
    sig = np.asarray(target["sigma"].transpose("beta", "alpha").values, dtype=float)
    return sig if (np.isfinite(sig).all() and (sig > 0).all()) else None


def resolve_physics(target: xr.Dataset, requested: Mapping[str, Any] | None = None, *,
                    stream: Any = None, quiet: bool = False) -> dict[str, Any]:  # fmt: skip
    """The forward model of a fit: the target's recorded physics unless the user said otherwise.

    Parameters
    ----------
    target : xarray.Dataset
        Target carrying ``orders``, ``k``, ``surface``, ``velocity``, ``beam_fwhm`` attrs
        (as :func:`kerrfield.synthesize` writes them); missing ones take the defaults.
    requested : mapping, optional
        Options the user set explicitly; each one that differs from the target's is kept
        and printed as a deliberate mismatch.
    stream : file, optional
        Where the mismatches are printed (stderr by default).
    quiet : bool
        Print nothing (the caller has reported the mismatches already).

    Returns
    -------
    dict
        ``orders`` (tuple), ``k``, ``surface`` and ``velocity`` (objects for the ray
        tracer), ``beam_fwhm``.
    """
    recorded = target_physics(target)
    out = {**_DEFAULT_PHYSICS, **recorded}
    for key, value in dict(requested or {}).items():
        if key not in _DEFAULT_PHYSICS or value is None:
            continue
        value = tuple(int(n) for n in value) if key == "orders" else value
        value = float(value) if key in ("k", "beam_fwhm") else value
        if key in recorded and _differs(recorded[key], value) and not quiet:
            print(f"kerrfield: forward-model mismatch (as asked): {key} = {value!r}, the target "
                  f"was made with {recorded[key]!r}", file=stream or sys.stderr)  # fmt: skip
        out[key] = value
    out["surface"] = parse_surface(out["surface"])
    out["velocity"] = parse_velocity(out["velocity"])
    return out


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12)
    return str(a) != str(b) if not isinstance(a, tuple) else tuple(a) != tuple(b)


def check_inference_inputs(target: xr.Dataset, *, loss: str = "nmse",
                           spins: Any = (), inclinations: Any = (),
                           beam_fwhm: float = 0.0, screen: Any = None) -> None:  # fmt: skip
    """Errors that must stop an inference before any fitting starts.

    Raises ``ValueError`` for: ``loss="chi2"`` with a target without a positive noise
    ``sigma``; a spin outside ``(-1, 1)`` or an inclination outside ``(0, 180)`` degrees;
    a beam FWHM not smaller than the screen; a ``screen`` ``(alpha, beta)`` (of a model or
    a precomputed geometry) that is not the target's.
    """
    if loss == "chi2" and target_sigma(target) is None:
        raise ValueError("loss 'chi2' needs the target's per-pixel noise: the target has no "
                         "'sigma' variable with all values > 0 (synthesize with noise > 0, "
                         "give target.sigma_variable, or use loss = 'nmse')")  # fmt: skip
    for s in np.atleast_1d(np.asarray(spins, dtype=float)):
        if not -1.0 < s < 1.0:
            raise ValueError(f"spin {s:g} is outside the physical range (-1, 1)")
    for t in np.atleast_1d(np.asarray(inclinations, dtype=float)):
        if not 0.0 < t < 180.0:
            raise ValueError(f"inclination {t:g} deg is outside the physical range (0, 180)")
    alpha, beta = target["alpha"].values, target["beta"].values
    check_beam_width(beam_fwhm, alpha, beta)
    if screen is not None:
        a2, b2 = (np.asarray(v.detach().cpu() if isinstance(v, torch.Tensor) else v,
                             dtype=float) for v in screen)  # fmt: skip
        for name, mine, theirs in (("alpha", alpha, a2), ("beta", beta, b2)):
            if mine.shape != theirs.shape or not np.allclose(mine, theirs, rtol=1e-6,
                                                              atol=1e-9):  # fmt: skip
                raise ValueError(
                    f"target and model screens are incompatible ({name}: target has "
                    f"{mine.size} points in [{mine.min():g}, {mine.max():g}] M, model "
                    f"{theirs.size} in [{theirs.min():g}, {theirs.max():g}] M)")  # fmt: skip
