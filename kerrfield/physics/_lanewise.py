"""Elementwise functions whose value does not depend on where a lane sits in its tensor.

On CPU, torch evaluates ``pow`` with a non-integer exponent and ``atan2`` with vectorised
(SLEEF) kernels on full SIMD blocks and with libm on the remainder, and the two differ in the
last bit: a pixel's result then depends on the batch size and on its position (issue 12,
item 1; seen as 1e-13 relative in φ_s, y). These replacements use only operations that are
the same on both paths (+, −, ×, ÷, √, exp, log, atan). No Julia twin: the Julia backend is
scalar.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def atan2(y: Tensor, x: Tensor) -> Tensor:
    """atan2(y, x) ∈ (−π, π] from atan of the ratio that is at most 1 in magnitude.

    |y| ≤ |x|: atan(y/x), plus ±π for x < 0 (sign of y, +π for y = ±0); |y| > |x|:
    sign(y)π/2 − atan(x/y). atan2(0, 0) = 0.
    """
    swap = y.abs() > x.abs()
    both_zero = (x == 0) & (y == 0)
    num = torch.where(swap, x, y)
    den = torch.where(swap, y, torch.where(both_zero, 1.0, x))
    t = torch.atan(num / den)
    sgn = torch.where(y >= 0, torch.ones_like(t), -torch.ones_like(t))
    flat = torch.where(x < 0, t + sgn * math.pi, t)
    return torch.where(swap, sgn * (0.5 * math.pi) - t, flat)


def cbrt(x: Tensor, tiny: float = 1e-300) -> Tensor:
    """Real cube root sign(x)|x|^{1/3} (|x| clamped below at ``tiny``): exp(log|x|/3) and one
    Newton step, c ← c − (c³ − |x|)/(3c²), which brings it to within an ulp or so."""
    ax = x.abs().clamp_min(tiny)
    c = torch.exp(torch.log(ax) / 3.0)
    c = c - (c * c * c - ax) / (3.0 * c * c)
    return torch.sign(x) * c


def pow_three_halves(x: Tensor) -> Tensor:
    """x^{3/2} = x√x for x ≥ 0."""
    return x * torch.sqrt(x)
