"""Argument checks of :class:`~kerrfield.models.lensed.LensedImage` (kept out of its module)."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from .._validate import check_positive


def _open_unit(name: str, value: object) -> float:
    x = check_positive(value, name)
    if not x < 1.0:
        raise ValueError(f"{name} must lie in (0, 1), got {x}")
    return x


def _positive_pair(name: str, value: object) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair of numbers (spin, degrees) or None, "
                         f"got {value!r}")  # fmt: skip
    return tuple(check_positive(v, f"{name}[{i}]") for i, v in enumerate(value))  # type: ignore


def _check_geometry(geometry: dict[str, torch.Tensor], k: float) -> None:
    """Crossings must be finite where ``status == 0``; ``g^k`` needs g > 0 unless k is whole."""
    mask = geometry["status"] == 0
    for name in ("x", "y", "z", "g"):
        if not bool(torch.isfinite(geometry[name][mask]).all()):
            raise ValueError(f"geometry {name!r} is NaN or infinite where status == 0; "
                             "pass a Dataset from kerrfield.raytrace")  # fmt: skip
    g = geometry["g"][mask]
    if g.numel() and float(g.min()) <= 0 and not float(k).is_integer():
        raise ValueError(f"geometry 'g' has values <= 0 (min {float(g.min()):g}) where "
                         f"status == 0, so g**k with non-integer k={k} is undefined")  # fmt: skip


def _fit_field_scale(field: nn.Module, alpha: torch.Tensor, beta: torch.Tensor) -> None:
    """A hash-grid field with the default scale takes the screen's half-width; a much smaller
    explicit scale would clamp most crossings onto the grid's edge: warn."""
    extent = float(max(alpha.detach().abs().max(), beta.detach().abs().max()))
    if getattr(field, "scale_auto", False):
        field.set_scale(extent)
    elif (getattr(field, "encoding_name", None) == "hashgrid"
          and float(getattr(field, "scale", extent)) < 0.5 * extent):  # fmt: skip
        warnings.warn(
            f"hash-grid field with scale={field.scale:g} M on a screen reaching {extent:g} M: "
            "the grid clamps coordinates to ±scale, so emission beyond it lands on the grid "
            f"edge; use scale≈{extent:g} (or leave scale unset)", stacklevel=3,
        )  # fmt: skip
