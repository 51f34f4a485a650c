"""Profiles of an observation fit: the best χ² at fixed values of θ_g or of the position angle.

A profile fits the model again at each fixed value of one sky parameter (the others and the
field free) and records the reduced χ² of every data term, the fitted parameters and the
ring features. It shows which values the data allow, independently of where one
multi-start fit happens to land (EHT Collaboration 2019, Paper VI, Sec. 5 scans parameters
the same way for its geometric models).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..models.lensed import LensedImage
from .observation import fit_observation

__all__ = ["profile_observation"]

_FIXABLE = ("theta_g", "position_angle")


def profile_observation(model: LensedImage, obs: xr.Dataset, parameter: str,
                        values: Sequence[float], *, ring: bool = True,
                        **fit_kwargs: Any) -> list[dict[str, float]]:
    """Fit ``model`` to ``obs`` at each fixed value of θ_g or of the spin axis' PA.

    Parameters
    ----------
    model : LensedImage
        The starting model; each value starts from a copy of it (``model`` is unchanged).
    obs : xarray.Dataset
        The observation (see :func:`~kerrfield.fitting.observation.fit_observation`).
    parameter : {'theta_g', 'position_angle'}
        The parameter held fixed: θ_g in µas per M or the PA in degrees east of north.
    values : sequence of float
        Its values.
    ring : bool
        Measure the ring features of each fit (a little slower).
    **fit_kwargs
        Passed to :func:`~kerrfield.fitting.observation.fit_observation` (``steps``,
        ``method``, ``systematic``, starts of the other parameter, ...); ``learn`` defaults
        to θ_g and PA, from which ``parameter`` is removed.

    Returns
    -------
    list of dict
        Per value: ``parameter``, ``value``, the fit's summary (reduced χ² per term,
        θ_g, PA, ring features) and ``loss`` (weighted sum of the χ² terms).

    Raises
    ------
    ValueError
        Unknown ``parameter``, no values, or invalid fit arguments.
    """
    if parameter not in _FIXABLE:
        raise ValueError(f"parameter must be one of {_FIXABLE}, got {parameter!r}")
    vals = np.atleast_1d(np.asarray(values, float))
    if vals.size == 0 or not np.all(np.isfinite(vals)):
        raise ValueError("values must be a non-empty sequence of finite numbers")
    learn = [p for p in fit_kwargs.pop("learn", ("theta_g", "position_angle"))
             if p != parameter]
    weights = fit_kwargs.get("weights") or {"cphase": 1.0, "lcamp": 1.0}
    out = []
    for val in vals:
        fit = fit_observation(copy.deepcopy(model), obs, learn=learn,
                              **{**fit_kwargs, parameter: float(val)})
        row = {"parameter": parameter, "value": float(val), **fit.summary(ring=ring)}
        row["loss"] = float(sum(w * fit.chi2[k] for k, w in weights.items()))
        out.append(row)
    return out
