"""Jacobi elliptic functions sn, cn, dn and the amplitude am in torch.

Arithmetic-geometric mean and descending Landen transformation (DLMF 22.20.1-22.20.2), with
the parameter ``m = k²`` as in scipy.special.ellipj. Twin of ``julia/src/elliptic/jacobi.jl``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._base import _MAX_ITER, _broadcast, _eps

__all__ = ["ellipj"]


def ellipj(u: Tensor | float, m: Tensor | float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Jacobi elliptic functions sn, cn, dn and the amplitude am = φ for 0 ≤ m < 1.

    Arithmetic-geometric mean with the descending Landen transformation (DLMF 22.20.1-2):
    a₀ = 1, b₀ = √(1 − m), then φ_N = 2^N a_N u and φ_{n−1} = ½(φ_n + arcsin((c_n/a_n) sin φ_n)).
    The amplitude is continuous (unwrapped) in u.

    Parameters
    ----------
    u : Tensor or float
        Argument.
    m : Tensor or float
        Parameter, 0 ≤ m < 1.

    Returns
    -------
    sn, cn, dn, am : Tensor

    Examples
    --------
    >>> sn, cn, dn, am = ellipj(torch.tensor(0.5, dtype=torch.float64), 0.3)
    >>> round(float(sn), 12)
    0.474215622712
    """
    u, m = _broadcast(u, m)
    a = torch.ones_like(m)
    b = torch.sqrt(1.0 - m)
    cs: list[Tensor] = []
    as_: list[Tensor] = []
    tol = _eps(u)
    steps = torch.zeros_like(m)
    for _ in range(_MAX_ITER):
        c = (a - b) / 2.0
        # per lane, and NaN compares False: a lane stops at its own N and a non-finite lane
        # never keeps the others iterating (issue 12, item 1); a finished lane takes c = 0
        # steps, i.e. exact doublings of φ_N undone exactly on the way down
        with torch.no_grad():
            active = c.abs() > tol * a
            if not bool(active.any()):
                break
        a, b = torch.where(active, (a + b) / 2.0, a), torch.where(active, torch.sqrt(a * b), b)
        cs.append(torch.where(active, c, 0.0))
        as_.append(a)
        steps = steps + active.to(steps.dtype)
    phi = (2.0 ** len(cs)) * a * u
    phi_prev = phi
    for c, an in zip(reversed(cs), reversed(as_), strict=False):
        phi_prev, phi = phi, 0.5 * (phi + torch.asin((c / an) * torch.sin(phi)))
    sn, cn = torch.sin(phi), torch.cos(phi)
    # dn = cos φ₀ / cos(φ₁ − φ₀) keeps full relative accuracy as m → 1 (DLMF 22.20.2)
    if not cs:
        return sn, cn, torch.ones_like(sn), phi
    dn = torch.where(steps > 0, cn / torch.cos(phi_prev - phi), 1.0)
    return sn, cn, dn, phi
