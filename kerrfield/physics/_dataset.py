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

# (long_name: a short label, as xarray's .plot() prints it; description; units). CF
# conventions: "1" for dimensionless quantities, none for an index; status is a flag variable.
_ATTRS: dict[str, tuple[str, str, str]] = {
    "r_s": ("emission radius r_s", "Boyer-Lindquist radius of emission", "M"),
    "theta_s": ("emission θ_s", "Boyer-Lindquist polar angle of emission", "rad"),
    "phi_s": ("emission φ_s", "Boyer-Lindquist azimuth of emission relative to the observer "
              "(unwrapped)", "rad"),
    "phi_ks": ("emission φ_KS", "Kerr-Schild azimuth of emission relative to the observer "
               "(unwrapped)", "rad"),
    "t_s": ("time delay t_s", "coordinate-time delay from emission to observation, "
            "regularised at infinity", "M"),
    "x": ("emission x", "emission position x = r_s cos(phi_ks)", "M"),
    "y": ("emission y", "emission position y = r_s sin(phi_ks)", "M"),
    "g": ("redshift factor g", "redshift factor g = nu_observed / nu_emitted", "1"),
    "nu_r": ("sign of p^r", "sign of p^r at emission", "1"),
    "nu_theta": ("sign of p^θ", "sign of p^theta at emission", "1"),
    "lam": ("λ", "energy-rescaled angular momentum lambda = -alpha sin(theta_o)", "M"),
    "eta": ("η", "energy-rescaled Carter constant eta", "M^2"),
}
_STATUS = {"long_name": "ray status", "flag_values": np.arange(4, dtype=np.int8),
           "flag_meanings": "crosses_surface falls_into_horizon escapes misses_surface",
           "description": "0: the ray crosses the surface at this order; 1: it falls into "
                          "the horizon first; 2: it escapes first; 3: its polar motion never "
                          "reaches the surface"}  # fmt: skip


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
            "n": ("n", np.asarray(orders, dtype=np.int64), {"long_name": "sub-image order"}),
            "alpha": ("alpha", al_axis, {"long_name": "α", "units": "M",
                                         "description": "horizontal screen coordinate"}),
            "beta": ("beta", be_axis, {"long_name": "β", "units": "M",
                                       "description": "vertical screen coordinate, along "
                                                      "the projected spin axis"}),
        },
    )
    for name, (long_name, description, units) in _ATTRS.items():
        ds[name].attrs.update(long_name=long_name, description=description, units=units)
    ds["status"].attrs.update(_STATUS)
    ds.attrs.update(attrs)
    return ds
