"""Elliptic integrals and Jacobi elliptic functions in torch.

torch ships none of these, and the Kerr ray tracer needs them vectorised, on any device and
differentiable. Everything is built from elementwise torch operations, so autograd
differentiates through the iterations. Conventions follow scipy.special and DLMF §19, §22:
the *parameter* ``m = k²`` (not the modulus k) and the *amplitude* ``phi`` in radians.

* :mod:`.carlson` — R_F, R_D, R_J, R_C (Carlson 1995, Numer. Algorithms 10, 13);
* :mod:`.legendre` — F, E, Π complete and incomplete, and shared sweeps (DLMF §19.25);
* :mod:`.jacobi` — sn, cn, dn, am (DLMF §22.20).

F, E, D and Π are differentiated with closed-form rules (:mod:`._grad`) instead of autograd
through the duplication iterations, and sn, cn, dn, am likewise (:mod:`._jacobi_grad`) instead
of autograd through the AGM and Landen steps; :func:`autograd_through_sweep` restores the
latter for both.
"""

from ._grad import autograd_through_sweep
from ._sweep import fused_duplication
from .carlson import elliprc, elliprd, elliprf, elliprj
from .jacobi import ellipj
from .legendre import (
    Legendre,
    ellipe,
    ellipeinc,
    ellipk,
    ellipkinc,
    ellippi,
    ellippiinc,
    legendre,
    legendre_sc,
)

__all__ = [
    "elliprf", "elliprd", "elliprj", "elliprc", "ellipk", "ellipe", "ellippi", "ellipkinc",
    "ellipeinc", "ellippiinc", "legendre", "legendre_sc", "Legendre", "ellipj",
    "fused_duplication", "autograd_through_sweep",
]  # fmt: skip
