"""Gradients of traced rays for comparing two differentiation paths of the same trace."""

from __future__ import annotations

import torch

RAY_OUTPUTS = ("x", "y", "g", "t_s")


def ray_vjps(rays: dict, params: tuple[torch.Tensor, ...], seed: int = 3
             ) -> tuple[torch.Tensor, list[torch.Tensor]]:  # fmt: skip
    """The traced (x, y, g, t_s) and, for each, the gradient of a fixed random projection
    of it with respect to ``params`` (rays with a non-zero status contribute nothing)."""
    ok = rays["status"] == 0
    gen = torch.Generator().manual_seed(seed)
    out = []
    for v in RAY_OUTPUTS:
        val = torch.where(ok, rays[v], 0.0)
        w = torch.randn(val.shape, generator=gen, dtype=torch.float64)
        out.append(torch.stack(torch.autograd.grad((w * val).sum(), params,
                                                   retain_graph=True)))  # fmt: skip
    return torch.stack([rays[v].detach() for v in RAY_OUTPUTS]), out
