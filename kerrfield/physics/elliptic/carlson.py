"""Carlson's symmetric elliptic integrals R_F, R_D, R_J, R_C in torch (Carlson 1995).

Everything is elementwise torch, so autograd differentiates through the duplication
iterations. R_C is closed form (DLMF 19.2.17-19.2.19); R_F, R_D and R_J run one duplication
sweep (:mod:`kerrfield.physics.elliptic._sweep`). Twin of ``julia/src/elliptic/carlson.jl``.
"""

from __future__ import annotations

from torch import Tensor

from ._base import _broadcast
from ._rc import elliprc
from ._sweep import _carlson

__all__ = ["elliprc", "elliprf", "elliprd", "elliprj"]


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
    >>> import torch
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
    >>> import torch
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
    >>> import torch
    >>> round(float(elliprj(torch.tensor(2.0, dtype=torch.float64), 3.0, 4.0, 5.0)), 12)
    0.142975796672
    """
    x, y, z, p = _broadcast(x, y, z, p)
    return _carlson(x, y, z, p)[2]
