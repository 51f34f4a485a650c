"""kerrfield: neural emission fields fitted to black-hole images through Kerr lensing.

The public API is flat::

    import kerrfield as kf
    ds = kf.raytrace(spin=0.94, inclination=17.0)

Submodules are imported lazily, so ``import kerrfield`` stays cheap and never starts Julia.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__
from .raytrace import raytrace  # noqa: F401  (see below)

# kerrfield.raytrace is both a submodule and the main function: the function is bound
# eagerly, otherwise the first ``import kerrfield.raytrace`` would shadow it with the module.

# public name -> defining submodule (one module per concept)
_LAZY: dict[str, str] = {
    # ray tracing
    "raytrace": "raytrace",
    "trace_rays": "raytrace",
    "Cone": "raytrace",
    "critical_curve": "kerr",
    "horizon": "kerr",
    "isco": "kerr",
    "GeneralVelocity": "redshift",
    # scripted inference
    "run_inference": "inference",
    "load_inference_config": "inference",
    "InferenceConfig": "inference",
    # physical units and FITS export
    "SOURCES": "units",
    "gravitational_angle": "units",
    "gravitational_time": "units",
    "screen_to_muas": "units",
    "muas_to_screen": "units",
    "with_sky_coords": "units",
    "to_fits": "units",
    "from_fits": "units",
    # emission fields, lensed image models, losses, synthetic targets, fitting, plots
    "EmissionField": "fields",
    "field_from_config": "fields",
    "emission_map": "fields",
    "positional_encoding": "fields",
    "FourierFeatures": "fields",
    "HashGridEncoding": "fields",
    "LensedImage": "image",
    "fixed_image_model": "image",
    "kerr_image_model": "image",
    "render": "image",
    "psnr": "image",
    "save_model": "image",
    "load_model": "image",
    "normalized_mse": "losses",
    "mse": "losses",
    "chi2": "losses",
    "ncc": "losses",
    "ncc_loss": "losses",
    "total_variation": "losses",
    "weight_decay": "losses",
    "get_loss": "losses",
    "check_target": "losses",
    "synthesize": "synthetic",
    "make_emission": "synthetic",
    "AnalyticEmission": "synthetic",
    "truth_emission": "synthetic",
    "fit": "fitting",
    "fit_multiscale": "fitting",
    "downsample": "fitting",
    "FitResult": "fitting",
    "NonFiniteLossError": "fitting",
    "plot_emission_and_image": "plotting",
    "plot_fit": "plotting",
    "plot_loss": "plotting",
    "plot_parameters": "plotting",
    "plot_geometry": "plotting",
    # Julia bridge
    "julia_info": "julia_bridge",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'kerrfield' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
