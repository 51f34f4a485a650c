"""Emission fields for fits to interferometric data: an axisymmetric wrapper f(r) and the
pre-training of a field to a reference emission (the neutral start of a search)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Axisymmetric", "match_emission"]


def match_emission(field: nn.Module, reference: nn.Module, *, extent: float = 12.0,
                   npts: int = 64, steps: int = 300, lr: float = 1e-2) -> float:
    """Pre-train ``field`` to reproduce ``reference`` on the disk plane (a neutral start).

    Both are evaluated at (x, y) on an ``npts``² grid over ``[-extent, extent]`` M; the
    reference is scaled to a maximum of 0.5. Returns the final mean squared error.
    """
    x = torch.linspace(-extent, extent, npts, dtype=torch.float64)
    xx, yy = torch.meshgrid(x, x, indexing="ij")
    pts = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    with torch.no_grad():
        ref = reference(pts).to(torch.float64)
        ref = 0.5 * ref / ref.max()
    opt = torch.optim.Adam([p for p in field.parameters() if p.requires_grad], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.mean((field(pts).to(torch.float64) - ref) ** 2)
        loss.backward()
        opt.step()
    return float(loss.detach())


class Axisymmetric(nn.Module):
    """An emission field made axisymmetric: ``f(x, y) = inner(r, 0)`` with r = √(x² + y²).

    All azimuthal structure of the image then comes from the Doppler boost and the lensing,
    which are tied to the projected spin axis, so the data constrain its position angle
    (a free field could instead rotate its emission in the disk plane).
    """

    in_features = 2

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, pts: torch.Tensor) -> torch.Tensor:  # noqa: D102
        r = torch.sqrt(pts[:, 0] ** 2 + pts[:, 1] ** 2 + 1e-24)
        return self.inner(torch.stack([r, torch.zeros_like(r)], dim=1))
