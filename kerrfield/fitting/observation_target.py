"""Observations as targets of :func:`kerrfield.fit`, ``kerrfield fit`` and ``kerrfield infer``.

An *observation* is an :class:`xarray.Dataset` of visibilities (``vis``, ``u``, ``v``,
``sigma``, ``t1``, ``t2``, ``time``) from :func:`kerrfield.vlbi.load_uvfits` or
:func:`kerrfield.vlbi.observe`, or a path to a ``.uvfits`` file or to a netCDF file holding
one. Given one, :func:`kerrfield.fit` hands the fit to
:func:`~kerrfield.fitting.observation.fit_observation`: the field, θ_g, PA, optionally the
flux (and spin/inclination for a model that learns its geometry) are fitted to a weighted
combination of the χ² terms. The options of that fit are one mapping, ``observation=``
(keys :data:`OBSERVATION_OPTIONS`, those of ``fit_observation`` less the ones
:func:`kerrfield.fit` already has: ``steps``, ``lr``, ``geometry_lr``, ``seed``,
``progress`` and ``tv_weight``, which becomes ``tv``).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .._validate import check_npoints, check_positive
from ..io.atomic import atomic_write, atomic_write_json
from ..models.lensed import LensedImage

if TYPE_CHECKING:
    from .observation_result import ObservationFit

__all__ = ["OBSERVATION_OPTIONS", "IMAGE_ONLY_OPTIONS", "is_observation", "load_observation",
           "check_observation_options", "observation_image_model", "fit_observation_target",
           "observation_summary", "write_observation_outputs"]

#: keys of ``kf.fit(..., observation={...})`` (keyword arguments of ``fit_observation``)
OBSERVATION_OPTIONS = ("weights", "systematic", "theta_g", "position_angle", "flux", "learn",
                       "mem", "flux_weight", "prior_fwhm", "scout_steps", "scout_rounds",
                       "finalists", "sky_lr", "minimal", "scan_average", "gains", "gain_sigma",
                       "uv_min", "pixel", "method")
#: options of :func:`kerrfield.fit` for image targets only, with their defaults: an
#: observation target accepts them at these values (they are then ignored), any other is an error
IMAGE_ONLY_OPTIONS: dict[str, Any] = {
    "geometry_betas": None, "schedule": "cosine", "lr_final": 0.01, "loss": "nmse",
    "sigma": None, "batch_size": None, "weight_decay_weight": 0.0, "amp": False,
    "checkpoint": None, "checkpoint_every": 500, "resume": False, "callback": None}
_OBS_VARS = ("vis", "u", "v", "sigma", "t1", "t2")
_UVFITS = (".uvfits", ".uvf")


def is_observation(target: Any) -> bool:
    """Whether ``target`` is an observation: a Dataset with visibilities, or a uvfits path.

    A netCDF path is not opened here (see :func:`load_observation`).

    Examples
    --------
    >>> is_observation("m87.uvfits"), is_observation(xr.Dataset())
    (True, False)
    """
    if isinstance(target, xr.Dataset):
        return all(v in target.variables for v in _OBS_VARS)
    if isinstance(target, (list, tuple)):  # several observations, fitted jointly
        return bool(target) and all(is_observation(t) for t in target)
    if isinstance(target, (str, os.PathLike)):
        return Path(target).suffix.lower() in _UVFITS
    return False


def load_observation(target: Any, name: str = "target") -> xr.Dataset:
    """The observation Dataset of ``target``: itself, a uvfits file or a netCDF file, or a
    list or tuple of these joined with :func:`~kerrfield.vlbi.concat_observations` (a joint
    fit of bands or days; closures stay within each).

    Raises
    ------
    FileNotFoundError
        Naming ``name`` when the file does not exist (as :func:`kerrfield.load_uvfits`).
    TypeError
        Naming ``name`` (``target[0]`` in a list) for anything but a Dataset or a path.
    ValueError
        When it holds no visibilities.
    """
    if isinstance(target, (list, tuple)) and len(target) == 1:  # one file: itself
        return load_observation(target[0], f"{name}[0]")
    if isinstance(target, (list, tuple)):
        from ..vlbi.combine import concat_observations

        return concat_observations([load_observation(t, f"{name}[{k}]")
                                    for k, t in enumerate(target)])
    if isinstance(target, xr.Dataset):
        obs = target
    elif not isinstance(target, (str, os.PathLike)):
        raise TypeError(f"{name} must be an observation (Dataset, .uvfits or .nc path), got "
                        f"{type(target).__name__}; a list of observations is fitted jointly, "
                        "an image target is an array, tensor or DataArray (not a list)")
    else:
        path = Path(target)
        if not path.is_file():
            raise FileNotFoundError(f"{name}: no such file {str(path)!r}")
        if path.suffix.lower() in _UVFITS:
            from ..vlbi.uvfits import load_uvfits

            return load_uvfits(path)
        from ..io.readers import load_netcdf

        obs = load_netcdf(path, name)
    missing = [v for v in _OBS_VARS if v not in obs.variables]
    if missing:
        raise ValueError(f"{name} is not an observation: it lacks {missing} (an observation "
                         "comes from kerrfield.vlbi.load_uvfits or kerrfield.vlbi.observe)")
    return obs


def _number(name: str, value: Any, lo: float, hi: float = math.inf, lo_open: bool = False
            ) -> float:  # fmt: skip
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
        side = "(" if lo_open else "["
        end = ")" if math.isinf(hi) else "]"  # inf itself is never allowed
        raise ValueError(f"{name} must be a finite number in {side}{lo:g}, {hi:g}{end}, got "
                         f"{value!r}")  # fmt: skip
    return float(value)


def check_observation_options(options: Mapping[str, Any] | None,
                              name: str = "observation") -> dict[str, Any]:  # fmt: skip
    """Check the ``observation=`` options of :func:`kerrfield.fit` without any data.

    Returns the options as a dict; raises ``ValueError`` naming ``name.key`` for an
    unknown key or a value ``fit_observation`` would refuse.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ValueError(f"{name} must be a mapping of fit_observation options, got {options!r}")
    out = dict(options)
    for key in out:
        if key not in OBSERVATION_OPTIONS:
            close = difflib.get_close_matches(str(key), OBSERVATION_OPTIONS, n=1)
            hint = " (set it as kerrfield.fit's own argument)" if key in (
                "steps", "lr", "geometry_lr", "seed", "progress", "tv") else (
                f" (did you mean {close[0]!r}?)" if close else "")  # fmt: skip
            raise ValueError(f"{name}: unknown option {key!r}{hint}; allowed: "
                             f"{', '.join(OBSERVATION_OPTIONS)}")  # fmt: skip
    if "weights" in out:
        from ..vlbi.losses import TERMS

        w = out["weights"]
        if not isinstance(w, Mapping) or not w:
            raise ValueError(f"{name}.weights must be a non-empty mapping term -> weight, "
                             f"terms {TERMS}; got {w!r}")  # fmt: skip
        for term, val in w.items():
            if term not in TERMS:
                raise ValueError(f"{name}.weights: unknown term {term!r}; choose from {TERMS}")
            _number(f"{name}.weights.{term}", val, 0.0)
        if not any(float(v) > 0 for v in w.values()):
            raise ValueError(f"{name}.weights: at least one weight must be > 0, got {dict(w)}")
        out["weights"] = {k: float(v) for k, v in w.items()}
    if out.get("gains") is True:
        from ..vlbi.losses import gains_need_amplitudes

        gains_need_amplitudes(out.get("weights"), f"{name}.gains")
    _check_scalars(out, name)
    return out


def _check_scalars(out: dict[str, Any], name: str) -> None:
    for key, lo, hi, lo_open in (("systematic", 0.0, 1.0, False),
                                 ("flux", 0.0, math.inf, True), ("mem", 0.0, math.inf, False),
                                 ("flux_weight", 0.0, math.inf, False),
                                 ("sky_lr", 0.0, math.inf, True),
                                 ("uv_min", 0.0, math.inf, False)):  # fmt: skip
        if key in out:
            out[key] = _number(f"{name}.{key}", out[key], lo, hi, lo_open)
    if "gain_sigma" in out:  # one width, or per station with an optional "default"
        g = out["gain_sigma"]
        out["gain_sigma"] = ({str(k): _number(f"{name}.gain_sigma.{k}", v, 0.0, lo_open=True)
                              for k, v in g.items()} if isinstance(g, Mapping)
                             else _number(f"{name}.gain_sigma", g, 0.0, lo_open=True))
    if out.get("prior_fwhm") is not None:
        out["prior_fwhm"] = _number(f"{name}.prior_fwhm", out["prior_fwhm"], 0.0, lo_open=True)
    for key, minimum in (("scout_steps", 0), ("scout_rounds", 1), ("finalists", 1)):
        if key in out:
            out[key] = check_npoints(out[key], f"{name}.{key}", minimum=minimum)
    # one start or a list of starts (each scouted, the best continue)
    for key, lo, lo_open in (("position_angle", -math.inf, False), ("theta_g", 0.0, True)):
        if key in out:
            val = out[key]
            vals = list(val) if isinstance(val, (list, tuple)) else [val]
            if not vals:
                raise ValueError(f"{name}.{key} must not be an empty list")
            vals = [_number(f"{name}.{key}", v, lo, lo_open=lo_open) for v in vals]
            out[key] = vals if isinstance(val, (list, tuple)) else vals[0]
    if "learn" in out:
        learn = out["learn"]
        if isinstance(learn, str) or not set(learn) <= {"theta_g", "position_angle", "flux"}:
            raise ValueError(f"{name}.learn must be a list of 'theta_g', 'position_angle', "
                             f"'flux'; got {learn!r}")  # fmt: skip
        out["learn"] = list(learn)
    for key in ("minimal", "scan_average", "gains"):
        if key in out and not isinstance(out[key], bool):
            raise ValueError(f"{name}.{key} must be true or false, got {out[key]!r}")
    for key, choices in (("pixel", ("box", "triangle", "delta")), ("method", ("dft", "nufft"))):
        if key in out and out[key] not in choices:
            raise ValueError(f"{name}.{key} must be one of {choices}, got {out[key]!r}")


def check_image_only(options: Mapping[str, Any]) -> None:
    """``ValueError`` for an image-target option of :func:`kerrfield.fit` set to a non-default
    value with an observation target (its data terms are ``observation['weights']``)."""
    for key, value in options.items():
        default = IMAGE_ONLY_OPTIONS[key]
        if default is None or isinstance(default, bool):
            same = value is default
        else:
            same = isinstance(value, (int, float, str)) and not isinstance(value, bool) \
                and value == default
        if not same:
            raise ValueError(
                f"{key}={value!r} does not apply to an observation target (its data terms "
                "and options are given by observation={'weights': ..., ...}); leave it at "
                f"its default {default!r}")


def observation_image_model(field: Any, spin: float, inclination: float, *, fov: float = 8.0,
                            npix: int = 40, orders: Any = (0, 1), k: float = 3.0,
                            velocity: Any = "keplerian", surface: Any = "equatorial",
                            axisymmetric: bool = True, match_steps: int = 300,
                            learn_geometry: bool = False,
                            **geometry_options: Any) -> LensedImage:  # fmt: skip
    """A model for observation fits (as ``kerrfield fit-obs`` builds it).

    Parameters
    ----------
    field : torch.nn.Module
        Emission field of (x, y) on the disk plane, e.g. ``EmissionField(scale=10.0)``.
    spin, inclination : float
        Geometry (inclination in degrees; M87: 163): fixed, or the start with
        ``learn_geometry``.
    fov, npix : float, int
        Screen half-width in M and pixels per side.
    orders, k, velocity, surface
        Image orders, redshift power (I = g^k f), emitter velocity and emitting surface.
    axisymmetric : bool
        Wrap the field in :class:`~kerrfield.fields.axisymmetric.Axisymmetric` (f(r)).
    match_steps : int
        Adam steps pre-training the field to a neutral disk
        (:func:`~kerrfield.fields.axisymmetric.match_emission`); 0 skips it.
    learn_geometry : bool
        A differentiable :func:`~kerrfield.models.builders.kerr_image_model` (spin and
        inclination fitted too; ``geometry_options`` such as ``relinearize_every`` go to
        it) instead of the ray tracing done once for fixed geometry.

    Returns
    -------
    LensedImage
    """
    from ..models.builders import fixed_image_model, kerr_image_model
    from ..models.synthetic import AnalyticEmission
    from ..physics.raytrace import raytrace
    from .observation import Axisymmetric, match_emission

    screen = dict(fov=check_positive(fov, "fov"), npix=check_npoints(npix, "npix", minimum=2),
                  orders=tuple(orders), velocity=velocity, surface=surface)  # fmt: skip
    if axisymmetric:
        field = Axisymmetric(field)
    if check_npoints(match_steps, "match_steps", minimum=0):
        match_emission(field, AnalyticEmission("disk", R=5.0, p1=3.0, p2=3.0), steps=match_steps)
    if learn_geometry:
        return kerr_image_model(field, spin, inclination, k=float(k), learn_geometry=True,
                                **screen, **geometry_options)  # fmt: skip
    if geometry_options:
        raise ValueError(f"geometry options {sorted(geometry_options)} need learn_geometry=True")
    return fixed_image_model(field, raytrace(spin, inclination, **screen), k=float(k))


def fit_observation_target(model: LensedImage, target: Any, *,
                           observation: Mapping[str, Any] | None, steps: int, lr: float,
                           geometry_lr: float | None, seed: int | None, progress: bool,
                           tv_weight: float,
                           image_options: Mapping[str, Any] | None = None) -> ObservationFit:
    """:func:`kerrfield.fit` for an observation target (see the module docstring)."""
    from .observation import fit_observation

    check_image_only(image_options or {})
    opts = check_observation_options(observation)
    obs = load_observation(target)
    kw: dict[str, Any] = dict(steps=check_npoints(steps, "steps", minimum=0),
                              lr=check_positive(lr, "lr"), seed=seed, progress=progress,
                              tv=float(tv_weight))  # fmt: skip
    if geometry_lr is not None:
        kw["geometry_lr"] = check_positive(geometry_lr, "geometry_lr")
    return fit_observation(model, obs, **kw, **opts)


def observation_summary(res: ObservationFit) -> dict[str, Any]:
    """``res.summary()`` plus the number of data of each term and the total χ².

    ``chi2_<term>`` (from ``res.summary()``) are reduced χ²; ``n_<term>`` counts real
    numbers (2 per complex visibility for ``vis``; ``n_vis`` and ``n_amp`` count the
    ``n_rows_used`` rows at or above ``uv_min``, ``n_rows`` every row); ``chi2_total`` sums
    χ²_reduced · n over the terms of positive weight and ``n_data`` their n. A joint fit
    (``n_observations`` > 1; ``file`` joins the names with ``"; "``) adds
    ``chi2_by_observation`` (:meth:`ObservationFit.chi2_by_observation`); two or more
    finalists add ``finalists`` (each one's final loss, θ_g, PA, total χ² and
    ``delta_chi2``, ring diameter and η, the fit first) and ``position_angle_ambiguous``
    (:func:`~.observation_result.position_angle_ambiguous`: another PA basin within
    Δχ² < 4).
    """
    from .observation_result import chi2_total, position_angle_ambiguous, term_counts

    out = res.summary()
    obs = res.terms.obs
    n = term_counts(res.terms)
    for term in res.chi2:
        out[f"n_{term}"] = n[term]
    n_data = sum(n[t] for t in res.chi2 if res.terms.weights.get(t, 0.0) > 0)
    out.update(chi2_total=chi2_total(res.chi2, res.terms), n_data=n_data,
               n_rows=int(obs.sizes["row"]), n_rows_used=int(res.terms.used.sum()),
               weights=dict(res.terms.weights), source=obs.attrs.get("source", ""),
               file=str(obs.attrs.get("file", "")), mjd=obs.attrs.get("mjd"))
    if out["n_observations"] > 1:
        out["chi2_by_observation"] = res.chi2_by_observation()
    if res.finalists:  # the runners-up: another PA basin at a similar χ² is worth knowing
        out["finalists"] = [dict(f) for f in res.finalists]
        out["position_angle_ambiguous"] = position_angle_ambiguous(res.finalists)
    return out


def write_observation_outputs(res: ObservationFit, out: str | os.PathLike,
                              extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Write ``summary.json`` (:func:`observation_summary` + ``extra``), the best-fit image
    ``image.fits`` and ``fit.png`` (data against model and the image,
    :func:`~.observation_fit_plot.plot_observation_fit`) into ``out``, each atomically;
    returns the summary."""
    from .observation_fit_plot import plot_observation_fit

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {**observation_summary(res), **(extra or {})}
    summary["files"] = ["summary.json", "image.fits", "fit.png"]
    res.to_fits(out / "image.fits", overwrite=True)
    fig = plot_observation_fit(res)
    atomic_write(lambda p: fig.savefig(p, dpi=110, format="png"), out / "fit.png")
    atomic_write_json(summary, out / "summary.json", default=_plain)
    return summary


def _plain(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating)):
        return obj.item()
    return str(obj)
