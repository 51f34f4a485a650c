"""The outcome of a fit: :class:`FitResult` and the error raised on a non-finite loss.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np
import xarray as xr

from ..models.lensed import LensedImage

__all__ = ["FitInterrupted", "FitResult", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """Raised by :func:`fit` when the loss becomes NaN/inf.

    The model has been restored to the last state with a finite loss; ``result`` holds the
    :class:`FitResult` up to that step.
    """

    def __init__(self, message: str, result: FitResult):
        super().__init__(message)
        self.result = result


class FitInterrupted(KeyboardInterrupt):
    """Raised by :func:`fit` when Ctrl-C (SIGINT) ended it at a step boundary: ``step``
    steps of ``steps`` are done and ``checkpoint`` (a path, or None) holds them; the model
    has that step's parameters. A :class:`KeyboardInterrupt`, so code that catches that
    catches this too."""

    def __init__(self, step: int, steps: int, checkpoint: Any) -> None:
        self.step, self.steps, self.checkpoint = step, steps, checkpoint
        where = (f"; checkpoint {checkpoint} written, resume=True continues from it"
                 if checkpoint is not None else "; the model holds that step's parameters")
        super().__init__(f"fit interrupted after step {step} of {steps}{where}")


@dataclass
class FitResult:
    """Outcome of :func:`fit`.

    Attributes
    ----------
    model : LensedImage
        The trained model (on the fit device).
    history : xarray.Dataset
        Per-step ``loss``, ``spin``, ``inclination`` (deg), ``lr`` and the
        resolution-independent ``relative_residual`` on dim ``step``.
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


def _result(model, hist, initial, final, wall, step, **info) -> FitResult:
    n = len(hist["loss"])
    history = xr.Dataset(
        {
            "loss": ("step", np.asarray(hist["loss"]), {"long_name": "training loss"}),
            "spin": ("step", np.asarray(hist["spin"]), {"long_name": "spin a/M"}),
            "inclination": ("step", np.asarray(hist["inclination"]), {"units": "deg"}),
            "lr": ("step", np.asarray(hist["lr"]), {"long_name": "field learning rate"}),
            **({"relative_residual": ("step", np.asarray(hist["relative_residual"]), {
                "long_name": "relative residual |I - T| / |T| (flux-normalised for nmse)",
                "units": "1"})} if len(hist.get("relative_residual", ())) == n else {}),
        },
        coords={"step": np.arange(n)},
        attrs={"initial_loss": initial, "final_loss": final, "wall_time_s": wall,
               **{k: v for k, v in info.items() if isinstance(v, (int, float, str))}},
    )  # fmt: skip
    return FitResult(model, history, initial, final, wall, step, dict(info))
