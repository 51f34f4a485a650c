"""Legendre's elliptic integrals F, E, Π (complete and incomplete) from Carlson's forms.

Conventions follow scipy.special and DLMF §19: the *parameter* ``m = k²`` and the amplitude
``phi`` in radians. F, E, Π come from Carlson's forms (DLMF 19.25.5, 19.25.9, 19.25.14),
extended to any real amplitude by quasi-periodicity (DLMF 19.2.10); Π(n; φ|m) for n sin²φ > 1
is the Cauchy principal value (DLMF 19.20.14, 19.6.5). :func:`legendre` returns F, E, D and Π
of many amplitudes and characteristics from one shared duplication sweep. Twin of
``julia/src/elliptic/legendre.jl``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from ._base import _broadcast, _convert
from ._grad import carlson_z1

__all__ = [
    "ellipk", "ellipe", "ellippi", "ellipkinc", "ellipeinc", "ellippiinc", "legendre",
    "legendre_sc", "Legendre",
]  # fmt: skip


def _one(m: Tensor) -> Tensor:
    return torch.ones((), dtype=m.dtype, device=m.device)


def ellipk(m: Tensor | float) -> Tensor:
    """Complete elliptic integral of the first kind K(m) = R_F(0, 1 − m, 1), m < 1."""
    (m,) = _broadcast(m)
    return carlson_z1(torch.zeros_like(m), 1.0 - m, _one(m), None, False)[0]


def ellipe(m: Tensor | float) -> Tensor:
    """Complete elliptic integral of the second kind E(m) (DLMF 19.25.1), m ≤ 1."""
    (m,) = _broadcast(m)
    rf, rd, _ = carlson_z1(torch.zeros_like(m), 1.0 - m, _one(m), None, True)
    return rf - m * rd / 3.0


def ellippi(n: Tensor | float, m: Tensor | float) -> Tensor:
    """Complete elliptic integral of the third kind Π(n|m) (DLMF 19.25.2), m < 1.

    For n > 1 the Cauchy principal value.
    """
    n, m = _broadcast(n, m)
    rf, _, rj = carlson_z1(torch.zeros_like(m), 1.0 - m, _one(m), 1.0 - n, False)
    return rf + n * rj / 3.0


class Legendre(NamedTuple):
    """Incomplete Legendre integrals of one amplitude and parameter (see :func:`legendre`)."""

    F: Tensor
    E: Tensor | None
    D: Tensor | None
    Pi: Tensor | None


def legendre_sc(
    s: Tensor,
    c2: Tensor,
    m: Tensor | float,
    n: Tensor | float | None = None,
    *,
    e: bool = False,
    d2: Tensor | None = None,
    skip: Tensor | None = None,
    one_minus_n: Tensor | None = None,
) -> Legendre:
    """:func:`legendre` for |φ| ≤ π/2 given as s = sin φ and c² = cos²φ.

    Callers that know s, c² and Δ² = 1 − m s² exactly (e.g. sn, cn² and dn² from
    :func:`ellipj`, or ratios of radial roots) pass them, avoiding the round trip through φ
    and the cancellation in 1 − m s², which lose relative accuracy as φ → ±π/2 and m → 1.
    Likewise ``one_minus_n`` (1 − n, for n ≤ 1) gives Π's characteristic as
    1 − n s² = (1 − n) + n c², a sum of non-negative terms, exact as n → 1 where 1 − n s²
    cancels (e.g. n = u₊ → 1 for rays passing close to a pole). ``skip`` is as in
    :func:`legendre`.
    """
    s, c2, m, n_t = _convert(s, c2, m, 0.0 if n is None else n)
    s2 = s * s
    one = torch.ones((), dtype=s.dtype, device=s.device)
    d2 = 1.0 - m * s2 if d2 is None else d2
    p = None
    if n is not None:
        p = 1.0 - n_t * s2 if one_minus_n is None else one_minus_n + n_t * c2
        if skip is not None:
            p = torch.where(skip, 1.0, p)
    rf, rd, rj = carlson_z1(c2, d2, one, p, e)
    f = s * rf
    d = s * s2 * rd / 3.0 if e else None
    pi = f + n_t * s * s2 * rj / 3.0 if n is not None else None
    return Legendre(f, None if d is None else f - m * d, d, pi)


def _row_invariant(t: Tensor, ndim: int) -> bool:
    """Whether ``t`` broadcast against an ``ndim``-dimensional amplitude is constant along
    the amplitude's first axis."""
    return t.dim() < ndim or t.shape[t.dim() - ndim] == 1


def legendre(
    phi: Tensor | float,
    m: Tensor | float,
    n: Tensor | float | None = None,
    *,
    e: bool = False,
    skip: Tensor | None = None,
) -> Legendre:
    """F(φ|m), and optionally E(φ|m), D(φ|m) and Π(n; φ|m), from one Carlson sweep.

    With s = sin φ, c = cos φ, Δ² = 1 − m s² (DLMF 19.25.5, 19.25.9, 19.25.14, 19.2.6):
    F = s R_F(c², Δ², 1), D = (F − E)/m = s³ R_D(c², Δ², 1)/3, E = F − m D and
    Π = F + (n/3) s³ R_J(c², Δ², 1, 1 − n s²), the Cauchy principal value where n s² > 1.
    Any real amplitude: φ = jπ + φ_r adds 2j times the complete integrals (DLMF 19.2.10).

    The ray tracer needs several of these at once for the same (φ, m); one duplication sweep
    serves them all. Arguments are broadcast, not expanded: ``n`` may carry extra leading
    dimensions (several characteristics) and ``m`` may be smaller than ``phi``. When ``m``
    and ``n`` do not vary along ``phi``'s first axis (rows of amplitudes), the complete
    integrals join the same sweep as one extra row at φ = π/2.

    Parameters
    ----------
    phi : Tensor or float
        Amplitude in radians, any real value.
    m : Tensor or float
        Parameter, m ≤ 1 (m < 1 where |φ| > π/2).
    n : Tensor or float, optional
        Characteristic of Π; Π is not computed without it.
    e : bool
        Also compute E and D.
    skip : Tensor of bool, optional
        Broadcastable to Π's shape: (characteristic, amplitude) pairs whose Π is not needed
        (typically an amplitude sitting exactly on that characteristic's pole). They are
        evaluated at a harmless stand-in, so that no infinity reaches a backward pass, and
        their Π is meaningless.

    Returns
    -------
    Legendre
        Named tuple (F, E, D, Pi); fields not asked for are None.

    Examples
    --------
    >>> out = legendre(torch.tensor(1.0, dtype=torch.float64), 0.5, 0.3, e=True)
    >>> round(float(out.F), 12), round(float(out.E), 12), round(float(out.Pi), 12)
    (1.083216772845, 0.927329883624, 1.192325436935)
    """
    phi, m, n_t = _convert(phi, m, 0.0 if n is None else n)
    j = torch.round(phi / math.pi)
    pr = phi - j * math.pi
    s, c = torch.sin(pr), torch.cos(pr)
    c2 = c * c
    wrap = j != 0
    if not bool(wrap.any()):
        return legendre_sc(s, c2, m, n, e=e, skip=skip)
    nd = phi.dim()
    if nd >= 1 and _row_invariant(m, nd) and _row_invariant(n_t, nd):
        rows = phi.shape[0]
        s = torch.cat([s, torch.ones_like(s[:1])])
        c2 = torch.cat([c2, torch.zeros_like(c2[:1])])
        if skip is not None and not _row_invariant(skip, nd):
            ax = skip.dim() - nd
            skip = torch.cat([skip, torch.zeros_like(skip.narrow(ax, 0, 1))], dim=ax)
        both = legendre_sc(s, c2, m, n, e=e, skip=skip)

        def split(t: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
            if t is None:
                return None, None
            ax = t.dim() - nd
            return t.narrow(ax, 0, rows), t.narrow(ax, rows, 1)

        (f, kc), (d, dc), (pi, pc) = split(both.F), split(both.D), split(both.Pi)
    else:
        out = legendre_sc(s, c2, m, n, e=e, skip=skip)
        f, d, pi = out.F, out.D, out.Pi
        one = torch.ones((), dtype=phi.dtype, device=phi.device)
        full = legendre_sc(one, one - 1.0, m, n, e=e)  # φ = π/2: the complete integrals
        kc, dc, pc = full.F, full.D, full.Pi
    two_j = 2.0 * j
    f = f + torch.where(wrap, two_j * kc, 0.0)
    if e:
        d = d + torch.where(wrap, two_j * dc, 0.0)
    if n is not None:
        pi = pi + torch.where(wrap, two_j * pc, 0.0)
    return Legendre(f, None if d is None else f - m * d, d, pi)


def ellipkinc(phi: Tensor | float, m: Tensor | float) -> Tensor:
    """Incomplete elliptic integral of the first kind F(φ|m) for any real φ, m ≤ 1.

    F(φ|m) = sin φ R_F(cos²φ, 1 − m sin²φ, 1) (DLMF 19.25.5), plus 2jK(m) for φ = jπ + φ_r.
    """
    return legendre(*_broadcast(phi, m)).F


def ellipeinc(phi: Tensor | float, m: Tensor | float) -> Tensor:
    """Incomplete elliptic integral of the second kind E(φ|m) for any real φ (DLMF 19.25.9)."""
    return legendre(*_broadcast(phi, m), e=True).E


def ellippiinc(n: Tensor | float, phi: Tensor | float, m: Tensor | float) -> Tensor:
    """Incomplete elliptic integral of the third kind Π(n; φ|m) for any real φ.

    Π(n; φ|m) = ∫₀^φ dθ / ((1 − n sin²θ) √(1 − m sin²θ)), computed as
    sin φ R_F(c, Δ², 1) + (n/3) sin³φ R_J(c, Δ², 1, 1 − n sin²φ) (DLMF 19.25.14); the
    Cauchy principal value where n sin²φ > 1. ``n`` may carry extra leading dimensions
    (several characteristics share the R_F and the x, y, z part of R_J's duplication).
    """
    n, phi, m = _convert(n, phi, m)
    phi, m = torch.broadcast_tensors(phi, m)
    val = legendre(phi, m, n).Pi
    return torch.broadcast_to(val, torch.broadcast_shapes(n.shape, phi.shape))
