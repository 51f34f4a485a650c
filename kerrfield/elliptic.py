"""Elliptic integrals and Jacobi elliptic functions in torch.

torch ships none of these, and the Kerr ray tracer needs them vectorised, on any device and
differentiable. Everything here is built from elementwise torch operations, so autograd
differentiates through the iterations (no custom backward formulas to get wrong).

Conventions follow scipy.special and DLMF §19, §22: the *parameter* ``m = k²`` (not the
modulus k) and the *amplitude* ``phi`` in radians.

* Carlson's symmetric integrals :func:`elliprf`, :func:`elliprd`, :func:`elliprj`,
  :func:`elliprc` by the duplication theorem (Carlson 1995, Numer. Algorithms 10, 13,
  Algorithms 1-4): iterate until the Taylor remainder of order 6 is below double-precision
  round-off, then sum the truncated series (Carlson 1995 eqs. 2.13, 2.17, 2.22, 2.34).
* Legendre forms :func:`ellipkinc` (F), :func:`ellipeinc` (E), :func:`ellippiinc` (Π) from
  Carlson's forms (DLMF 19.25.5, 19.25.9, 19.25.14), extended to any real amplitude by
  quasi-periodicity (DLMF 19.2.10); complete :func:`ellipk`, :func:`ellipe`, :func:`ellippi`.
  Π(n; φ|m) for n sin²φ > 1 is the Cauchy principal value (DLMF 19.20.14, 19.6.5).
* Jacobi :func:`ellipj` (sn, cn, dn, am) by the arithmetic-geometric mean and descending
  Landen transformation (DLMF 22.20.1-22.20.2).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "elliprf",
    "elliprd",
    "elliprj",
    "elliprc",
    "ellipk",
    "ellipe",
    "ellippi",
    "ellipkinc",
    "ellipeinc",
    "ellippiinc",
    "legendre",
    "legendre_sc",
    "Legendre",
    "ellipj",
]

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


def _steps_needed(pairs: list[tuple[Tensor, Tensor]]) -> int:
    """Duplication steps still needed for Q ≤ |4ⁿAₙ| (Carlson 1995's stopping rule, scaled).

    4ⁿAₙ grows by ~4 per step, so the count predicted from the current value is taken in one
    go and then re-checked: two or three host syncs per sweep instead of one per step, and
    one sync serves all integrals of a sweep.
    """
    with torch.no_grad():
        worst = []
        for q, a in pairs:
            if q.numel():
                ratio = q / a.abs()
                worst.append(torch.where(torch.isfinite(ratio), ratio, 0.0).amax())
        w = float(torch.stack(worst).amax()) if worst else 0.0
    if w <= 1.0:
        return 0
    return max(1, math.ceil(math.log(w) / math.log(4.0)))


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

    ``ratio`` optionally supplies 1 + e itself, for full accuracy when it is ≪ 1. A known
    max |e| (``emax``) selects a plain series where it suffices; without it every branch is
    evaluated and selected elementwise (no host sync, so it can be compiled).
    """
    if emax is not None and emax < 1e-3:
        return _rc_series(e, short=emax < 1e-6)
    small = e.abs() < 1e-3
    series = _rc_series(e, short=False)
    up = (~small) & (e > 0)
    down = (~small) & (e < 0)
    ep = torch.where(up, e, 1.0)
    root_p = torch.sqrt(ep)
    # −1 < e < 0: atanh(w)/w with w = √−e, written as (log1p(w) − ½ log(1 + e))/w so that
    # 1 + e → 0 (R_C(1, y) with y ≪ 1) keeps full accuracy
    en = torch.where(down, e, -0.5)
    root_n = torch.sqrt(-en)
    log_ratio = torch.log1p(en) if ratio is None else torch.log(torch.where(down, ratio, 0.5))
    closed_n = (torch.log1p(root_n) - 0.5 * log_ratio) / root_n
    return torch.where(up, torch.atan(root_p) / root_p, torch.where(down, closed_n, series))


class _RcOneSweep:
    """R_C(1, 1 + e) inside one R_J sweep, with the series shortened as e shrinks.

    |e| decreases monotonically along a sweep (every scaled argument grows), so once it is
    below 1e-6 three series terms are exact to round-off for the rest of the sweep and no
    further check (host sync) is needed.
    """

    def __init__(self) -> None:
        self.short = False

    def __call__(self, e: Tensor) -> Tensor:
        if not self.short:
            with torch.no_grad():
                emax = float(e.abs().amax()) if e.numel() else 0.0
            if emax >= 1e-6:
                return _rc_one(e, emax=emax)
            self.short = True
        return _rc_series(e, short=True)


def _duplicate(xn, yn, zn, pn, acc_d, acc_j, delta, two_n, rc_one):
    """One duplication step in scaled variables (see :func:`_carlson`)."""
    sx, sy, sz = torch.sqrt(xn), torch.sqrt(yn), torch.sqrt(zn)
    lam = sx * (sy + sz) + sy * sz
    if acc_d is not None:
        acc_d = acc_d + torch.reciprocal(sz * (zn + lam)) * two_n
    if pn is not None:
        sp = torch.sqrt(pn)
        d = (sp + sx) * (sp + sy) * (sp + sz)
        acc_j = acc_j + rc_one(delta / (d * d)) / d * two_n
        pn = pn + lam
    return xn + lam, yn + lam, zn + lam, pn, acc_d, acc_j


def _duplicate_fused(xn, yn, zn, pn, acc_d, acc_j, delta, two_n):
    return _duplicate(xn, yn, zn, pn, acc_d, acc_j, delta, two_n, _rc_one)


_FUSE: dict = {"enabled": False, "fns": None}


@contextlib.contextmanager
def fused_duplication(enabled: bool = True) -> Iterator[None]:
    """Run the Carlson duplication steps through ``torch.compile`` inside this block.

    One duplication step is ~30 elementwise operations; compiled, they become one fused
    kernel, about 20× faster on a 2-core CPU. The first use compiles (≈ 20-60 s on 2 cores,
    needs a C++ compiler for CPU tensors); torch caches the result on disk, so later
    processes load it in a few seconds. Only used without autograd (gradients keep the
    eager path); if compilation fails, a warning is issued and the eager path is used.

    Examples
    --------
    ``kerrfield.raytrace(..., compiled=True)`` does this for you; directly::

        with fused_duplication():
            out = kerrfield.trace_rays(0.94, 17.0, alpha, beta, orders=(0, 1, 2))
    """
    previous = _FUSE["enabled"]
    _FUSE["enabled"] = enabled
    try:
        yield
    finally:
        _FUSE["enabled"] = previous


def _fused(*tensors: Tensor | None) -> dict | None:
    """The compiled sweep phases when :func:`fused_duplication` is active and no gradient is
    needed, else None."""
    if not _FUSE["enabled"] or (
        torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)
    ):
        return None
    if _FUSE["fns"] is None:
        _FUSE["fns"] = {
            name: _guarded(torch.compile(fn, dynamic=True), fn)
            for name, fn in (
                ("start", _sweep_start),
                ("step", _duplicate_fused),
                ("end", _sweep_end),
            )
        }
    return _FUSE["fns"]


def _guarded(compiled: Callable, eager: Callable) -> Callable:
    def call(*args):
        if _FUSE["enabled"]:
            try:
                return compiled(*args)
            except Exception as exc:  # a missing compiler, an unsupported backend...
                warnings.warn(
                    f"torch.compile of the Carlson sweep failed ({type(exc).__name__}: {exc});"
                    " using the eager path",
                    RuntimeWarning,
                    stacklevel=2,
                )
                _FUSE["enabled"] = False
        return eager(*args)

    return call


def _rc_positive(x: Tensor, y: Tensor) -> Tensor:
    """R_C(x, y) for x ≥ 0, y > 0 in closed form: R_C(1, y/x)/√x, and π/(2√y) at x = 0."""
    zero = x == 0
    xs = torch.where(zero, 1.0, x)
    ratio = torch.where(zero, 1.0, y / xs)
    val = _rc_one(torch.where(zero, 0.0, (y - x) / xs), ratio) / torch.sqrt(xs)
    return torch.where(zero, (0.5 * math.pi) / torch.sqrt(torch.where(zero, y, 1.0)), val)


def _carlson(
    x: Tensor, y: Tensor, z: Tensor, p: Tensor | None = None, *, rd: bool = False
) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """R_F(x, y, z), and optionally R_D(x, y, z) and R_J(x, y, z, p), from one duplication.

    The duplication theorem maps (x, y, z) → ((x + λ)/4, (y + λ)/4, (z + λ)/4) with the same
    λ = √x√y + √x√z + √y√z for all three integrals (Carlson 1995, eqs. 2.2, 2.23, 2.35), so
    they share the square roots; only their means Aₙ and the R_D / R_J sums differ. This is
    the ray tracer's innermost loop: sharing it is most of the cost saved.

    ``p`` may carry extra leading dimensions (several characteristics for the same x, y, z).
    For p < 0 the Cauchy principal value of R_J comes from Carlson 1995 eq. (4.3),
    (y − p) R_J(x, y, z, p) = (q − y) R_J(x, y, z, q) − 3 R_F + 3 R_C(xz/y, pq/y) with
    x ≤ y ≤ z and q = y + (z − y)(y − x)/(y − p) > 0: R_J(…, q) joins the same sweep and
    R_C is closed-form.
    """
    x, y, z = torch.broadcast_tensors(x, y, z)
    pv = p is not None and bool((p < 0).any())
    fused = _fused(x, y, z, p)
    start = _sweep_start if fused is None else fused["start"]
    p, means, qf, qd, qj, delta, pv_args = start(x, y, z, p, rd, pv)
    acc_d = torch.zeros_like(x) if rd else None
    acc_j = torch.zeros_like(delta) if p is not None else None
    rc_one = _RcOneSweep()
    xn, yn, zn, pn = x, y, z, p
    done = 0
    while done < _MAX_ITER:
        pairs = [(qf, (xn + yn + zn) / 3.0)]
        if rd:
            pairs.append((qd, (xn + yn + 3.0 * zn) / 5.0))
        if p is not None:
            pairs.append((qj, (xn + yn + zn + 2.0 * pn) / 5.0))
        k = _steps_needed(pairs)
        if k == 0:
            break
        for _ in range(min(k, _MAX_ITER - done)):
            # 2ⁿ = 4ⁿ/2ⁿ: the weight of step n's terms in scaled variables
            if fused is not None:
                two_n = torch.tensor(2.0**done, dtype=x.dtype, device=x.device)
                xn, yn, zn, pn, acc_d, acc_j = fused["step"](
                    xn, yn, zn, pn, acc_d, acc_j, delta, two_n
                )
            else:
                xn, yn, zn, pn, acc_d, acc_j = _duplicate(
                    xn, yn, zn, pn, acc_d, acc_j, delta, 2.0**done, rc_one
                )
            done += 1
    two_n = torch.tensor(2.0**done, dtype=x.dtype, device=x.device)
    end = _sweep_end if fused is None else fused["end"]
    return end(x, y, z, means, xn, yn, zn, pn, acc_d, acc_j, two_n, pv_args)


def _sweep_start(x: Tensor, y: Tensor, z: Tensor, p: Tensor | None, rd: bool, pv: bool):
    """Carlson sweep set-up: the principal-value substitution p → q, the stopping scales Q
    and δ. No host syncs, so it can be compiled."""
    eps = _eps(x)
    pv_args = None
    if pv:
        neg = p < 0
        lo = torch.minimum(torch.minimum(x, y), z)
        hi = torch.maximum(torch.maximum(x, y), z)
        mid = torch.maximum(torch.minimum(x, y), torch.minimum(torch.maximum(x, y), z))
        p_neg = torch.where(neg, p, -1.0)
        q = mid + (hi - mid) * (mid - lo) / (mid - p_neg)
        p = torch.where(neg, q, p)
        pv_args = (neg, lo, hi, mid, p_neg, q)
    af = (x + y + z) / 3.0
    qf = (3.0 * eps) ** (-1.0 / 6.0) * torch.maximum(
        torch.maximum((af - x).abs(), (af - y).abs()), (af - z).abs()
    )
    qfac = (eps / 4.0) ** (-1.0 / 6.0)
    ad = aj = qd = qj = delta = None
    if rd:
        ad = (x + y + 3.0 * z) / 5.0
        qd = qfac * torch.maximum(torch.maximum((ad - x).abs(), (ad - y).abs()), (ad - z).abs())
    if p is not None:
        aj = (x + y + z + 2.0 * p) / 5.0
        qj = qfac * torch.maximum(
            torch.maximum((aj - x).abs(), (aj - y).abs()),
            torch.maximum((aj - z).abs(), (aj - p).abs()),
        )
        delta = (p - x) * (p - y) * (p - z)
    return p, (af, ad, aj), qf, qd, qj, delta, pv_args


def _sweep_end(x, y, z, means, xn, yn, zn, pn, acc_d, acc_j, two_n, pv_args):
    """Carlson sweep finish: the truncated series (Carlson 1995 eqs. 2.13, 2.29, 2.31) at the
    last scaled arguments, plus the principal-value correction. No host syncs.

    ``means`` are the initial A₀ of R_F, R_D and R_J (None where not computed)."""
    af, ad, aj = means
    an = (xn + yn + zn) / 3.0
    big_x = (af - x) / an
    big_y = (af - y) / an
    big_z = -big_x - big_y
    e2 = big_x * big_y - big_z * big_z
    e3 = big_x * big_y * big_z
    rf = (1.0 - e2 / 10.0 + e3 / 14.0 + e2 * e2 / 24.0 - 3.0 * e2 * e3 / 44.0) * (
        two_n / torch.sqrt(an)
    )

    out_d = None
    if acc_d is not None:
        an = (xn + yn + 3.0 * zn) / 5.0
        big_x = (ad - x) / an
        big_y = (ad - y) / an
        big_z = -(big_x + big_y) / 3.0
        xy, z2 = big_x * big_y, big_z * big_z
        series = _rd_rj_series(
            xy - 6.0 * z2, (3.0 * xy - 8.0 * z2) * big_z, 3.0 * (xy - z2) * z2, xy * z2 * big_z
        )
        out_d = two_n * series / (an * torch.sqrt(an)) + 3.0 * acc_d

    out_j = None
    if pn is not None:
        an = (xn + yn + zn + 2.0 * pn) / 5.0
        big_x = (aj - x) / an
        big_y = (aj - y) / an
        big_z = (aj - z) / an
        big_p = -(big_x + big_y + big_z) / 2.0
        p2 = big_p * big_p
        xyz = big_x * big_y * big_z
        e2 = big_x * big_y + big_x * big_z + big_y * big_z - 3.0 * p2
        series = _rd_rj_series(
            e2,
            xyz + 2.0 * e2 * big_p + 4.0 * p2 * big_p,
            (2.0 * xyz + e2 * big_p + 3.0 * p2 * big_p) * big_p,
            xyz * p2,
        )
        out_j = two_n * series / (an * torch.sqrt(an)) + 6.0 * acc_j
        if pv_args is not None:
            neg, lo, hi, mid, p_neg, q = pv_args
            rc = elliprc(lo * hi / mid, p_neg * q / mid)
            out_pv = ((q - mid) * out_j - 3.0 * rf + 3.0 * rc) / (mid - p_neg)
            out_j = torch.where(neg, out_pv, out_j)
    return rf, out_d, out_j


def _rd_rj_series(e2: Tensor, e3: Tensor, e4: Tensor, e5: Tensor) -> Tensor:
    """Truncated series shared by R_D and R_J (Carlson 1995 eqs. 2.29, 2.31)."""
    return (
        1.0
        - 3.0 * e2 / 14.0
        + e3 / 6.0
        + 9.0 * e2 * e2 / 88.0
        - 3.0 * e4 / 22.0
        - 9.0 * e2 * e3 / 52.0
        + 3.0 * e5 / 26.0
    )


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


def elliprf(x: Tensor | float, y: Tensor | float, z: Tensor | float) -> Tensor:
    """Carlson's symmetric integral of the first kind R_F(x, y, z) (Carlson 1995, Alg. 1).

    R_F(x, y, z) = ½ ∫₀^∞ dt / √((t + x)(t + y)(t + z)), for x, y, z ≥ 0 with at most one zero.

    Parameters
    ----------
    x, y, z : Tensor or float

    Returns
    -------
    Tensor

    Examples
    --------
    >>> round(float(elliprf(torch.tensor(1.0, dtype=torch.float64), 2.0, 0.0)), 12)
    1.311028777146
    """
    return _carlson(*_broadcast(x, y, z))[0]


def elliprd(x: Tensor | float, y: Tensor | float, z: Tensor | float) -> Tensor:
    """Carlson's integral R_D(x, y, z) = R_J(x, y, z, z) (Carlson 1995, Algorithm 4).

    Parameters
    ----------
    x, y, z : Tensor or float
        x, y ≥ 0 (at most one zero), z > 0.

    Returns
    -------
    Tensor

    Examples
    --------
    >>> round(float(elliprd(torch.tensor(0.0, dtype=torch.float64), 2.0, 1.0)), 12)
    1.797210352103
    """
    return _carlson(*_broadcast(x, y, z), rd=True)[1]


def elliprj(x: Tensor | float, y: Tensor | float, z: Tensor | float, p: Tensor | float) -> Tensor:
    """Carlson's symmetric integral of the third kind R_J(x, y, z, p) (Carlson 1995, Alg. 3).

    For p < 0 the Cauchy principal value is returned, through Carlson 1995 eq. (4.3).

    Parameters
    ----------
    x, y, z : Tensor or float
        Non-negative, at most one zero.
    p : Tensor or float
        Non-zero.

    Returns
    -------
    Tensor

    Examples
    --------
    >>> round(float(elliprj(torch.tensor(2.0, dtype=torch.float64), 3.0, 4.0, 5.0)), 12)
    0.142975796672
    """
    x, y, z, p = _broadcast(x, y, z, p)
    return _carlson(x, y, z, p)[2]


def ellipk(m: Tensor | float) -> Tensor:
    """Complete elliptic integral of the first kind K(m) = R_F(0, 1 − m, 1), m < 1."""
    (m,) = _broadcast(m)
    return _carlson(torch.zeros_like(m), 1.0 - m, torch.ones_like(m))[0]


def ellipe(m: Tensor | float) -> Tensor:
    """Complete elliptic integral of the second kind E(m) (DLMF 19.25.1), m ≤ 1."""
    (m,) = _broadcast(m)
    rf, rd, _ = _carlson(torch.zeros_like(m), 1.0 - m, torch.ones_like(m), rd=True)
    return rf - m * rd / 3.0


def ellippi(n: Tensor | float, m: Tensor | float) -> Tensor:
    """Complete elliptic integral of the third kind Π(n|m) (DLMF 19.25.2), m < 1.

    For n > 1 the Cauchy principal value.
    """
    n, m = _broadcast(n, m)
    rf, _, rj = _carlson(torch.zeros_like(m), 1.0 - m, torch.ones_like(m), 1.0 - n)
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
) -> Legendre:
    """:func:`legendre` for |φ| ≤ π/2 given as s = sin φ and c² = cos²φ.

    Callers that know s, c² and Δ² = 1 − m s² exactly (e.g. sn, cn² and dn² from
    :func:`ellipj`, or ratios of radial roots) pass them, avoiding the round trip through φ
    and the cancellation in 1 − m s², which lose relative accuracy as φ → ±π/2 and m → 1.
    ``skip`` is as in :func:`legendre`.
    """
    s, c2, m, n_t = _convert(s, c2, m, 0.0 if n is None else n)
    s2 = s * s
    one = torch.ones((), dtype=s.dtype, device=s.device)
    d2 = 1.0 - m * s2 if d2 is None else d2
    p = None
    if n is not None:
        p = 1.0 - n_t * s2
        if skip is not None:
            p = torch.where(skip, 1.0, p)
    rf, rd, rj = _carlson(c2, d2, one, p, rd=e)
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
    for _ in range(_MAX_ITER):
        c = (a - b) / 2.0
        with torch.no_grad():
            done = bool(torch.all(c.abs() <= tol * a))
        if done:
            break
        a, b = (a + b) / 2.0, torch.sqrt(a * b)
        cs.append(c)
        as_.append(a)
    phi = (2.0 ** len(cs)) * a * u
    phi_prev = phi
    for c, an in zip(reversed(cs), reversed(as_), strict=False):
        phi_prev, phi = phi, 0.5 * (phi + torch.asin((c / an) * torch.sin(phi)))
    sn, cn = torch.sin(phi), torch.cos(phi)
    # dn = cos φ₀ / cos(φ₁ − φ₀) keeps full relative accuracy as m → 1 (DLMF 22.20.2)
    dn = cn / torch.cos(phi_prev - phi) if cs else torch.ones_like(sn)
    return sn, cn, dn, phi
