"""Visibilities through finufft (type-2 NUFFT) with a torch autograd wrapper.

Same result and conventions as :func:`kerrfield.vlbi.visibilities.dft`, in
O(n² log n + N) instead of O(N n²) (Barnett, Magland & af Klinteberg 2019, SIAM J. Sci.
Comput. 41, C479). Runs on the CPU (tensors on other devices are moved and moved back).
Gradients flow to the image and to (u, v) — hence to θ_g and the position angle.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from kerrfield.vlbi.visibilities import SIGN, _uv_image_frame, pixel_response

__all__ = ["nufft"]

EPS = 1e-12


def _finufft():
    try:
        import finufft
    except ImportError as err:
        raise ImportError("method='nufft' needs finufft: pip install 'kerrfield[nufft]'") from err
    return finufft


def _modes(n: int) -> np.ndarray:
    return np.arange(n) - n // 2  # finufft's default (modeord=0) ordering


class _Type2(torch.autograd.Function):
    """c_j = Σ_k f[kb, ka] exp(i·SIGN·(tb_j kb + ta_j ka)) for real f."""

    @staticmethod
    def forward(ctx, f, tb, ta):  # noqa: D102
        fn = _finufft()
        fc = f.detach().cpu().numpy().astype(np.complex128)
        xb = tb.detach().cpu().numpy().astype(np.float64)
        xa = ta.detach().cpu().numpy().astype(np.float64)
        c = fn.nufft2d2(xb, xa, fc, isign=int(SIGN), eps=EPS)
        ctx.save_for_backward(f, tb, ta)
        cdtype = torch.complex128 if f.dtype == torch.float64 else torch.complex64
        return torch.as_tensor(c, device=f.device).to(cdtype)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        fn = _finufft()
        f, tb, ta = ctx.saved_tensors
        g = grad.detach().cpu().numpy().astype(np.complex128)
        xb = tb.detach().cpu().numpy().astype(np.float64)
        xa = ta.detach().cpu().numpy().astype(np.float64)
        nb, na = f.shape
        grad_f = grad_tb = grad_ta = None
        if ctx.needs_input_grad[0]:
            adj = fn.nufft2d1(xb, xa, g, (nb, na), isign=-int(SIGN), eps=EPS)
            grad_f = torch.as_tensor(adj.real, device=f.device).to(f.dtype)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            fc = f.detach().cpu().numpy().astype(np.complex128)
            kb, ka = _modes(nb)[:, None], _modes(na)[None, :]
            db = fn.nufft2d2(xb, xa, 1j * SIGN * kb * fc, isign=int(SIGN), eps=EPS)
            da = fn.nufft2d2(xb, xa, 1j * SIGN * ka * fc, isign=int(SIGN), eps=EPS)
            grad_tb = torch.as_tensor((np.conj(g) * db).real, device=tb.device).to(tb.dtype)
            grad_ta = torch.as_tensor((np.conj(g) * da).real, device=ta.device).to(ta.dtype)
        return grad_f, grad_tb, grad_ta


def _wrap(t: torch.Tensor) -> torch.Tensor:
    return torch.remainder(t + math.pi, 2 * math.pi) - math.pi


def nufft(intensity: torch.Tensor, a: torch.Tensor, b: torch.Tensor, u: torch.Tensor,
          v: torch.Tensor, matrix: torch.Tensor | None = None,
          pixel: str = "box") -> torch.Tensor:
    """Visibilities of a gridded image by NUFFT; arguments and result as :func:`.dft`.

    Raises
    ------
    ImportError
        If finufft is not installed.
    """
    if matrix is None:
        matrix = torch.eye(2, dtype=u.dtype, device=u.device)
    ua, ub = _uv_image_frame(u, v, matrix.to(u.device))
    nb, na = intensity.shape
    da, db = float(a[1] - a[0]), float(b[1] - b[0])
    ac = a[0].to(ua.dtype) + (na // 2) * da
    bc = b[0].to(ua.dtype) + (nb // 2) * db
    c = _Type2.apply(intensity.to(ua.dtype), _wrap(2 * math.pi * ub * db),
                     _wrap(2 * math.pi * ua * da))
    phase = SIGN * 2.0 * math.pi * (ua * ac + ub * bc)
    return c * torch.polar(torch.ones_like(phase), phase) * pixel_response(ua, ub, da, db, pixel)
