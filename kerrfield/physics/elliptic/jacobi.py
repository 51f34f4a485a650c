"""Jacobi elliptic functions sn, cn, dn and the amplitude am in torch.

Arithmetic-geometric mean and descending Landen transformation (DLMF 22.20.1-22.20.2), with
the parameter ``m = k²`` as in scipy.special.ellipj. Twin of ``julia/src/elliptic/jacobi.jl``.

Gradients in u and m come from closed forms (:mod:`._jacobi_grad`) instead of autograd
through the sweep; :func:`~._grad.autograd_through_sweep` restores the latter.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ._base import _MAX_ITER, _broadcast, _eps
from ._grad import _MODE
from ._jacobi_grad import jacobi_grads

__all__ = ["ellipj"]


def ellipj(u: Tensor | float, m: Tensor | float) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Jacobi elliptic functions sn, cn, dn and the amplitude am = φ for 0 ≤ m < 1.

    Arithmetic-geometric mean with the descending Landen transformation (DLMF 22.20.1-2):
    a₀ = 1, b₀ = √(1 − m), then φ_N = 2^N a_N u and φ_{n−1} = ½(φ_n + arcsin((c_n/a_n) sin φ_n)).
    The amplitude is continuous (unwrapped) in u. The backward pass uses closed forms in u
    (DLMF 22.13.1-3) and m (:mod:`._jacobi_grad`), not the sweep's recorded steps.

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
    needs = u.requires_grad or m.requires_grad
    if _MODE["closed_form"] and needs and torch.is_grad_enabled():
        return _Ellipj.apply(u, m)
    return _agm_landen(u, m)[:4]


def _agm_landen(
    u: Tensor, m: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor, list[Tensor], list[Tensor], Tensor]:
    """sn, cn, dn, am of broadcast ``u``, ``m``, and what the closed-form m-derivative reuses:
    the sweep's a₁…a_N, sin φ₁…sin φ_N (amplitudes of the descent, φ₀ = am) and φ_N = 2^N a_N u
    (u itself when N = 0)."""
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
    phi_top = phi_prev = phi
    sines: list[Tensor] = []
    for c, an in zip(reversed(cs), reversed(as_), strict=False):
        sines.append(torch.sin(phi))
        phi_prev, phi = phi, 0.5 * (phi + torch.asin((c / an) * sines[-1]))
    sines.reverse()
    sn, cn = torch.sin(phi), torch.cos(phi)
    # dn = cos φ₀ / cos(φ₁ − φ₀) keeps full relative accuracy as m → 1 (DLMF 22.20.2)
    if not cs:
        return sn, cn, torch.ones_like(sn), phi, as_, sines, phi_top
    dn = torch.where(steps > 0, cn / torch.cos(phi_prev - phi), 1.0)
    return sn, cn, dn, phi, as_, sines, phi_top


class _Ellipj(torch.autograd.Function):
    """:func:`ellipj` with the closed-form backward of :mod:`._jacobi_grad`."""

    @staticmethod
    def forward(ctx, u: Tensor, m: Tensor):
        sn, cn, dn, am, as_, sines, phi_top = _agm_landen(u, m)
        ctx.n_levels = len(as_)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(u, m, sn, cn, dn, am, phi_top, *as_, *sines)
        return sn, cn, dn, am

    @staticmethod
    @once_differentiable
    def backward(ctx, g_sn, g_cn, g_dn, g_am):
        u, m, sn, cn, dn, am, phi_top, *rest = ctx.saved_tensors
        landen = (rest[: ctx.n_levels], rest[ctx.n_levels :], phi_top)
        want_u, want_m = ctx.needs_input_grad
        grads = (g_sn, g_cn, g_dn, g_am)
        gu, gm = jacobi_grads(u, m, sn, cn, dn, am, landen, grads, want_m)
        return (gu if want_u else None), gm
