"""kerrfield: neural emission fields fitted to black-hole images through Kerr lensing.

The public API is flat::

    import kerrfield as kf
    ds = kf.raytrace(spin=0.94, inclination=17.0)

Submodules are imported lazily, so ``import kerrfield`` stays cheap and never starts Julia.
"""

from __future__ import annotations

import importlib as _importlib

from ._version import __version__

# public name -> defining submodule; see docs/architecture.md for the rooms
_LAZY: dict[str, str] = {
    # ray tracing
    "raytrace": "physics.raytrace",
    "trace_rays": "physics.raytrace",
    "raytrace_to_netcdf": "physics._stream",
    "Cone": "physics.raytrace",
    "critical_curve": "physics.kerr",
    "horizon": "physics.kerr",
    "isco": "physics.kerr",
    "GeneralVelocity": "physics.redshift",
    # scripted inference
    "run_inference": "fitting.runner",
    "load_inference_config": "fitting.config",
    "InferenceConfig": "fitting.config",
    # physical units and FITS export
    "SOURCES": "io.units",
    "gravitational_angle": "io.units",
    "gravitational_time": "io.units",
    "screen_to_muas": "io.units",
    "muas_to_screen": "io.units",
    "with_sky_coords": "io.units",
    "to_fits": "io.fits",
    "from_fits": "io.fits",
    # emission fields, lensed image models, losses, synthetic targets, fitting, plots
    "EmissionField": "fields.emission",
    "field_from_config": "fields.emission",
    "emission_map": "fields.emission",
    "positional_encoding": "fields.encodings",
    "FourierFeatures": "fields.encodings",
    "HashGridEncoding": "fields.encodings",
    "LensedImage": "models.lensed",
    "fixed_image_model": "models.builders",
    "kerr_image_model": "models.builders",
    "render": "models.builders",
    "psnr": "models.builders",
    "save_model": "models.persistence",
    "load_model": "models.persistence",
    "normalized_mse": "fitting.losses",
    "mse": "fitting.losses",
    "chi2": "fitting.losses",
    "ncc": "fitting.losses",
    "ncc_loss": "fitting.losses",
    "total_variation": "fitting.losses",
    "weight_decay": "fitting.losses",
    "get_loss": "fitting.losses",
    "check_target": "fitting.losses",
    "synthesize": "models.synthetic",
    "make_emission": "models.synthetic",
    "AnalyticEmission": "models.synthetic",
    "truth_emission": "models.synthetic",
    "fit": "fitting.loop",
    "fit_multiscale": "fitting.multiscale",
    "downsample": "fitting.multiscale",
    "FitResult": "fitting.result",
    "NonFiniteLossError": "fitting.result",
    "FitInterrupted": "fitting.result",
    "plot_emission_and_image": "plotting",
    "plot_fit": "plotting",
    "plot_loss": "plotting",
    "plot_parameters": "plotting",
    "plot_geometry": "plotting",
    "plot_image": "plotting",
    "plot_observation_fit": "fitting.observation_fit_plot",
    # Julia bridge
    "julia_info": "bridge.api",
    # interferometric data (VLBI): uvfits, visibilities, closures, synthetic observations
    "load_uvfits": "vlbi.uvfits",
    "save_uvfits": "vlbi.uvfits",
    "fetch_eht_m87_2017": "vlbi.dataset",
    "visibilities": "vlbi.visibilities",
    "observe": "vlbi.observe",
    "array_obs": "vlbi.observe",
    "closure_phases": "vlbi.closures",
    "log_closure_amplitudes": "vlbi.closures",
    "add_systematic": "vlbi.closures",
    "average_scans": "vlbi.average",
    "concat_observations": "vlbi.combine",
    "select_segment": "vlbi.combine",
    "ring_features": "vlbi.ring",
    "to_ehtim": "vlbi.ehtim_io",
    "from_ehtim": "vlbi.ehtim_io",
    "theta_g_uas": "io.sky",
    "sky_image": "io.sky",
    "read_fits_image": "io.skyfits",
    "write_fits_image": "io.skyfits",
    "fit_observation": "fitting.observation",
    # observations as targets of kf.fit / kerrfield fit / kerrfield infer
    "is_observation": "fitting.observation_target",
    "load_observation": "fitting.observation_target",
    "observation_image_model": "fitting.observation_target",
    # trustworthy inference: the forward model's beam, convergence, profile intervals
    "gaussian_beam": "models.forward",
    "target_physics": "models.forward",
    "target_truth": "models.forward",
    "PhysicsMismatchWarning": "models.forward",
    "fit_to_convergence": "fitting.convergence",
    "profile_intervals": "fitting.profile",
    "SkyModel": "fitting.observation",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> object:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'kerrfield' has no attribute {name!r}") from None
    value = getattr(_importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
