"""Conserved quantities of a ray from its screen point, and the crossing status codes.

λ = −α sin θo and η = (α² − a²)cos²θo + β² (Gralla & Lupsasca 2020, PRD 101, 044031,
eqs. 58-59). Status codes: 0 the n-th crossing exists, 1 the ray falls into the horizon first,
2 it escapes first, 3 its polar motion never reaches the surface. Twin of
``julia/src/geodesics/conserved.jl``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["conserved_quantities", "STATUS_OK", "STATUS_HORIZON", "STATUS_ESCAPE", "STATUS_MISSES"]


STATUS_OK = 0


STATUS_HORIZON = 1


STATUS_ESCAPE = 2


STATUS_MISSES = 3


def conserved_quantities(
    a: Tensor, theta_o: Tensor, alpha: Tensor, beta: Tensor
) -> tuple[Tensor, Tensor]:
    """λ = −α sin θo and η = (α² − a²)cos²θo + β² (GL20b, PRD 101 044031, eqs. 58-59)."""
    lam = -alpha * torch.sin(theta_o)
    eta = (alpha * alpha - a * a) * torch.cos(theta_o) ** 2 + beta * beta
    return lam, eta
