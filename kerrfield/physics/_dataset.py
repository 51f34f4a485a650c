"""Packaging traced rays as an :class:`xarray.Dataset` with units (the output of raytrace).

Python-only presentation of :mod:`kerrfield.physics.raytrace`'s results; the Julia backend
returns the same flat arrays, which pass through here too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

#: float variables per (order, pixel), NaN where status != 0
FLOAT_VARS = ("r_s", "theta_s", "phi_s", "phi_ks", "t_s", "x", "y", "g", "nu_r", "nu_theta")

_ATTRS: dict[str, tuple[str, str]] = {
    "r_s": ("Boyer-Lindquist radius of emission", "M"),
    "theta_s": ("Boyer-Lindquist polar angle of emission", "rad"),
    "phi_s": ("Boyer-Lindquist azimuth of emission relative to the observer (unwrapped)", "rad"),
    "phi_ks": ("Kerr-Schild azimuth of emission relative to the observer (unwrapped)", "rad"),
    "t_s": ("coordinate-time delay from emission to observation, regularised at infinity", "M"),
    "x": ("emission position x = r_s cos(phi_ks)", "M"),
    "y": ("emission position y = r_s sin(phi_ks)", "M"),
    "g": ("redshift factor nu_observed / nu_emitted", "1"),
    "nu_r": ("sign of p^r at emission", "1"),
    "nu_theta": ("sign of p^theta at emission", "1"),
    "status": ("0 ok, 1 falls into horizon first, 2 escapes first, 3 never reaches surface", "1"),
    "lam": ("energy-rescaled angular momentum lambda = -alpha sin(theta_o)", "M"),
    "eta": ("energy-rescaled Carter constant eta", "M^2"),
}


def rays_to_dataset(flat: Mapping[str, np.ndarray], orders: Sequence[int], al_axis: np.ndarray,
                    be_axis: np.ndarray, **attrs: Any) -> xr.Dataset:  # fmt: skip
    """Reshape flat per-ray arrays onto ``(n, beta, alpha)`` with coordinates and units."""
    shape = (len(orders), be_axis.size, al_axis.size)
    data_vars: dict[str, Any] = {}
    for name in FLOAT_VARS:
        data_vars[name] = (
            ("n", "beta", "alpha"),
            np.asarray(flat[name], dtype=np.float64).reshape(shape),
        )
    data_vars["status"] = (
        ("n", "beta", "alpha"),
        np.asarray(flat["status"], dtype=np.int8).reshape(shape),
    )
    for name in ("lam", "eta"):
        data_vars[name] = (
            ("beta", "alpha"),
            np.asarray(flat[name], dtype=np.float64).reshape(shape[1:]),
        )
    ds = xr.Dataset(
        data_vars,
        coords={
            "n": (
                "n",
                np.asarray(orders, dtype=np.int64),
                {"long_name": "sub-image order", "units": "1"},
            ),
            "alpha": (
                "alpha",
                al_axis,
                {"long_name": "horizontal screen coordinate", "units": "M"},
            ),
            "beta": (
                "beta",
                be_axis,
                {"long_name": "vertical screen coordinate (along projected spin)", "units": "M"},
            ),
        },
    )
    for name, (long_name, units) in _ATTRS.items():
        ds[name].attrs.update(long_name=long_name, units=units)
    ds.attrs.update(attrs)
    return ds
