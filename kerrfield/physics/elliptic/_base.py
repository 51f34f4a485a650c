"""Argument handling shared by the elliptic functions: broadcasting to one float dtype and the
round-off scale of that dtype.
"""

from __future__ import annotations

import torch
from torch import Tensor

_MAX_ITER = 40


def _eps(t: Tensor) -> float:
    return torch.finfo(t.dtype).eps


def _broadcast(*args: Tensor | float) -> list[Tensor]:
    ref = next((a for a in args if isinstance(a, Tensor)), None)
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.get_default_dtype()
    device = ref.device if ref is not None else None
    ts = [torch.as_tensor(a, dtype=dtype, device=device) for a in args]
    return list(torch.broadcast_tensors(*ts))


def _convert(*args: Tensor | float) -> list[Tensor]:
    """Tensors of one dtype/device, *not* expanded: torch broadcasts inside the kernels, so
    arguments shared between several characteristics are computed on once."""
    ref = next((a for a in args if isinstance(a, Tensor)), None)
    dtype = ref.dtype if ref is not None and ref.is_floating_point() else torch.get_default_dtype()
    device = ref.device if ref is not None else None
    return [torch.as_tensor(a, dtype=dtype, device=device) for a in args]
