"""Carlson's degenerate integral R_C in closed form, and its one-argument kernel used inside the
duplication sweeps (DLMF 19.2.17-19.2.20, Carlson 1995 eq. 2.34 for the series near y = x).

Kept apart from :mod:`._sweep` because the sweep's principal-value branch needs R_C itself.
:func:`elliprc` is public through :mod:`kerrfield.physics.elliptic.carlson`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ._base import _broadcast


def _rc_series(e: Tensor, short: bool) -> Tensor:
    """Taylor series of R_C(1, 1 + e): exact to round-off for |e| < 1e-3, and with three
    terms (e³/7 below round-off) for |e| < 1e-6."""
    if short:
        return 1.0 + e * (-1.0 / 3.0 + e / 5.0)
    return 1.0 + e * (
        -1.0 / 3.0 + e * (1.0 / 5.0 + e * (-1.0 / 7.0 + e * (1.0 / 9.0 - e / 11.0)))
    )


def _rc_one(e: Tensor, ratio: Tensor | None = None, emax: float | None = None) -> Tensor:
    """R_C(1, 1 + e) for e > −1 in closed form (DLMF 19.2.18-19), a Taylor series near e = 0.

    Each lane's formula depends on its own |e| only (three terms below 1e-6, six below
    1e-3, the closed form above), so a lane's value never depends on its batch-mates.
    ``ratio`` optionally supplies 1 + e itself, for full accuracy when it is ≪ 1. A known
    max |e| over the finite lanes (``emax``) skips branches no lane needs; without it every
    branch is evaluated and selected elementwise (no host sync, so it can be compiled).
    """
    small = e.abs() < 1e-6
    if emax is not None and emax < 1e-6:
        return _rc_series(e, short=True)
    full = torch.where(small, _rc_series(e, short=True), _rc_series(e, short=False))
    if emax is not None and emax < 1e-3:
        return full
    series = e.abs() < 1e-3
    up = (~series) & (e > 0)
    down = (~series) & (e < 0)
    ep = torch.where(up, e, 1.0)
    root_p = torch.sqrt(ep)
    # −1 < e < 0: atanh(w)/w with w = √−e, written as (log1p(w) − ½ log(1 + e))/w so that
    # 1 + e → 0 (R_C(1, y) with y ≪ 1) keeps full accuracy
    en = torch.where(down, e, -0.5)
    root_n = torch.sqrt(-en)
    log_ratio = torch.log1p(en) if ratio is None else torch.log(torch.where(down, ratio, 0.5))
    closed_n = (torch.log1p(root_n) - 0.5 * log_ratio) / root_n
    return torch.where(up, torch.atan(root_p) / root_p, torch.where(down, closed_n, full))


class _RcOneSweep:
    """R_C(1, 1 + e) inside one R_J sweep, with the series shortened as e shrinks.

    |e| decreases monotonically along a sweep for every lane still iterating (every scaled
    argument grows), so once it is below 1e-6 on all of them three series terms are exact to
    round-off for the rest of the sweep and no further check (host sync) is needed. The max
    is taken over finite lanes that may still iterate (``alive``, set by the sweep at each
    re-check; a lane paused until the next re-check counts, a finished one does not): a NaN
    lane (e.g. a pixel exactly on the critical curve) or a converged one never changes the
    formula another lane gets, which is :func:`_rc_one`'s per-lane choice in every case.
    """

    def __init__(self) -> None:
        self.short = False
        self.alive: Tensor | None = None

    def __call__(self, e: Tensor, active: Tensor | None = None) -> Tensor:
        if not self.short:
            with torch.no_grad():
                alive = self.alive
                keep = torch.isfinite(e) if alive is None else torch.isfinite(e) & alive
                mags = torch.where(keep, e.abs(), 0.0)
                emax = float(mags.amax()) if e.numel() else 0.0
            if emax >= 1e-6:
                return _rc_one(e, emax=emax)
            self.short = True
        return _rc_series(e, short=True)


def _rc_positive(x: Tensor, y: Tensor) -> Tensor:
    """R_C(x, y) for x ≥ 0, y > 0 in closed form: R_C(1, y/x)/√x, and π/(2√y) at x = 0."""
    zero = x == 0
    xs = torch.where(zero, 1.0, x)
    ratio = torch.where(zero, 1.0, y / xs)
    val = _rc_one(torch.where(zero, 0.0, (y - x) / xs), ratio) / torch.sqrt(xs)
    return torch.where(zero, (0.5 * math.pi) / torch.sqrt(torch.where(zero, y, 1.0)), val)


def elliprc(x: Tensor | float, y: Tensor | float) -> Tensor:
    """Carlson's degenerate integral R_C(x, y) = R_F(x, y, y), in closed form.

    R_C(x, y) = atan(√((y − x)/x))/√(y − x) for y > x and atanh(√((x − y)/x))/√(x − y) for
    y < x (DLMF 19.2.18-19.2.19), a Taylor series for y ≈ x; for y < 0 the Cauchy principal
    value √(x/(x − y)) R_C(x − y, −y) (DLMF 19.2.20).

    Parameters
    ----------
    x, y : Tensor or float
        x ≥ 0 and y ≠ 0.

    Returns
    -------
    Tensor
        R_C(x, y), broadcast over the inputs.

    Examples
    --------
    >>> float(elliprc(torch.tensor(0.0, dtype=torch.float64), 1.0))  # π/2
    1.5707963267948966
    """
    x, y = _broadcast(x, y)
    neg = y < 0
    xs = torch.where(neg, x - y, x)
    # √(x/(x − y)), with x = 0 kept out of the square root so its gradient stays finite
    scaled = neg & (x > 0)
    pref = torch.where(
        scaled, torch.sqrt(torch.where(scaled, x, 1.0) / torch.where(neg, xs, 1.0)), 1.0
    )
    pref = torch.where(neg & ~scaled, 0.0, pref)
    return pref * _rc_positive(xs, torch.where(neg, -y, y))
