"""Synthetic lensed targets with recorded ground truth.

Emission families (all functions of the emitter position in M, equatorial by default):

* ``"mlp"`` -- a randomly initialised :class:`~kerrfield.fields.EmissionField`
  (Krang.jl's neural-network example: 2→20→20→1, tanh, sigmoid; the reference scenario);
* ``"ring"`` -- Gaussian ring ``exp(-(r - radius)^2 / (2 width^2))``;
* ``"disk"`` -- Krang-like power-law disk ``(r/R)^p1 / (1 + (r/R)^(p1 + p2))``;
* ``"hotspot"`` -- Gaussian hot spot of size ``sigma`` on an orbit of radius ``radius`` at
  azimuth ``phase`` (degrees).

:func:`synthesize` lenses one through :func:`kerrfield.trace_rays` (or a precomputed
geometry), optionally blurs it with a Gaussian beam (FWHM in M) and adds Gaussian noise
(seeded), and returns an ``xarray.Dataset`` recording the truth in its attrs.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from .._validate import check_nonnegative
from ..fields import EmissionField, emission_map, field_from_config
from ..physics._spec import parse_surface, parse_velocity, surface_text, velocity_text
from .builders import render
from .forward import check_beam_width, gaussian_beam

__all__ = ["AnalyticEmission", "make_emission", "synthesize", "truth_emission", "FAMILIES"]

FAMILIES = ("mlp", "ring", "disk", "hotspot")

_DEFAULTS: dict[str, dict[str, float]] = {
    "ring": {"radius": 5.0, "width": 1.0},
    "disk": {"R": 5.0, "p1": 3.0, "p2": 3.0},
    "hotspot": {"radius": 6.0, "phase": 30.0, "sigma": 1.5},
}
#: the analytic families' parameters that must be > 0 (lengths in M)
_POSITIVE = {("ring", "radius"), ("ring", "width"), ("disk", "R"), ("hotspot", "sigma")}
_MLP_DEFAULTS: dict[str, Any] = {"width": 20, "depth": 2, "activation": "tanh",
                                 "output": "sigmoid", "scale": 1.0}  # fmt: skip


class AnalyticEmission(nn.Module):
    """Parameter-free analytic emission ``f(x, y)`` (coordinates in M).

    Parameters
    ----------
    family : {"ring", "disk", "hotspot"}
        See the module docstring.
    **params : float
        Family parameters (lengths in M, ``phase`` in degrees); defaults fill the rest.

    Examples
    --------
    >>> f = AnalyticEmission("ring", radius=5.0, width=1.0)
    >>> float(f(torch.tensor([[5.0, 0.0]], dtype=torch.float64))[0])
    1.0
    """

    in_features = 2

    def __init__(self, family: str, **params: float):
        super().__init__()
        if family not in _DEFAULTS:
            raise ValueError(f"unknown emission family {family!r}; expected one of {FAMILIES}")
        unknown = set(params) - set(_DEFAULTS[family])
        if unknown:
            raise TypeError(
                f"unknown parameters {sorted(unknown)} for emission {family!r}; "
                f"expected {sorted(_DEFAULTS[family])}"
            )
        self.family = family
        self.params = {**_DEFAULTS[family], **{k: float(v) for k, v in params.items()}}
        for name, value in self.params.items():
            positive = (family, name) in _POSITIVE
            if not math.isfinite(value) or (positive and value <= 0):
                unit = {"phase": " (deg)", "p1": "", "p2": ""}.get(name, " (M)")
                raise ValueError(f"{family} parameter {name} must be a finite number"
                                 f"{' > 0' if positive else ''}{unit}, got {value!r}")

    def forward(self, xyz: torch.Tensor) -> torch.Tensor:
        x, y = xyz[:, 0], xyz[:, 1]
        p = self.params
        if self.family == "ring":
            r = torch.sqrt(x * x + y * y)
            return torch.exp(-((r - p["radius"]) ** 2) / (2 * p["width"] ** 2))
        if self.family == "disk":
            # r/R floored so r = 0 (masked pixels are evaluated at 0) stays finite
            s = torch.sqrt(x * x + y * y).clamp_min(1e-12) / p["R"]
            return s ** p["p1"] / (1 + s ** (p["p1"] + p["p2"]))
        phase = math.radians(p["phase"])
        x0, y0 = p["radius"] * math.cos(phase), p["radius"] * math.sin(phase)
        return torch.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * p["sigma"] ** 2))

    def extra_repr(self) -> str:
        return f"{self.family}, {self.params}"


def make_emission(family: str = "mlp", *, seed: int = 0, **params: Any) -> nn.Module:
    """Build a ground-truth emission of a family.

    Parameters
    ----------
    family : {"mlp", "ring", "disk", "hotspot"}
    seed : int
        Seed of the random MLP (ignored by analytic families).
    **params
        Family parameters; for ``"mlp"`` any :class:`~kerrfield.fields.EmissionField`
        keyword (default: Krang's 2→20→20→1 tanh/sigmoid MLP on raw coordinates in M).

    Examples
    --------
    >>> make_emission("mlp", seed=1).config["width"]
    20
    """
    if not isinstance(family, str):
        raise TypeError(f"emission must be a family name, got {type(family).__name__}")
    if family == "mlp":
        allowed = set(inspect.signature(EmissionField).parameters) - {"seed"}
        if unknown := set(params) - allowed:
            raise TypeError(f"unknown parameters {sorted(unknown)} for emission 'mlp'; "
                            f"expected EmissionField options {sorted(allowed)}")  # fmt: skip
        return EmissionField(**{**_MLP_DEFAULTS, **params, "seed": seed})
    return AnalyticEmission(family, **params)


def synthesize(
    emission: str | nn.Module = "mlp",
    spin: float = 0.94,
    inclination: float = 20.0,
    *,
    fov: float = 10.0,
    npix: int = 30,
    orders: Sequence[int] = (0, 1),
    k: float = 1.0,
    surface: str = "equatorial",
    velocity: str = "zamo",
    geometry: xr.Dataset | None = None,
    noise: float = 0.0,
    blur_fwhm: float | None = None,
    seed: int = 0,
    emission_params: dict[str, Any] | None = None,
    device: torch.device | str | None = None,
    noise_seed: int | None = None,
) -> xr.Dataset:
    """Synthesise a lensed target image with its ground truth recorded.

    Parameters
    ----------
    emission : str or nn.Module
        Family name (see :data:`FAMILIES`) or an emission module.
    spin, inclination : float
        True geometry (inclination in degrees).
    fov, npix : float, int
        Screen ``linspace(-fov, fov, npix)`` in M.
    orders, k, surface, velocity
        Image orders, redshift power ``g^k`` and ray-tracer options.
    geometry : xarray.Dataset, optional
        Precomputed geometry (then ``spin``/``inclination``/``fov``/``npix`` come from it).
    noise : float
        Gaussian noise standard deviation as a fraction of the clean image peak.
    blur_fwhm : float, optional
        FWHM (in M) of a circular Gaussian beam applied before the noise.
    seed : int
        Seeds the random MLP, and the noise unless ``noise_seed`` is given.
    emission_params : dict, optional
        Family parameters (see :func:`make_emission`).
    device : torch device, optional
    noise_seed : int, optional
        Seeds the noise alone: other noise draws of the same emission (calibration runs).

    Returns
    -------
    xarray.Dataset
        ``image`` (the target) and ``clean`` (noise- and blur-free) on ``(beta, alpha)``,
        ``sigma`` (per-pixel noise, for chi²) and ``emission`` (the true emission on the
        equatorial grid, dims ``(y_e, x_e)`` in M); attrs record the forward model as plain
        values (spin, inclination, k, orders, surface and velocity as text, fov, npix,
        ``beam_fwhm`` = ``blur_fwhm`` in M), the family and its parameters (JSON),
        noise_sigma, noise, seed and noise_seed, so
        :func:`kerrfield.models.forward.target_physics` can read them back.

    Raises
    ------
    ValueError
        Naming the argument: an unknown emission family, spin or inclination out of range,
        a negative noise or beam, an invalid screen, or an emission that is zero on every
        pixel of the lensed image.
    TypeError
        For an emission that is neither a family name nor an ``nn.Module``, a parameter the
        family does not take (``emission_params``), or arguments of the wrong type.

    Examples
    --------
    >>> import kerrfield as kf
    >>> ds = kf.synthesize("ring", 0.5, 30.0, npix=32, noise=0.01)  # doctest: +SKIP
    >>> ds.image.dims, ds.attrs["spin"]  # doctest: +SKIP
    (('beta', 'alpha'), 0.5)
    """
    params = dict(emission_params or {})
    if isinstance(emission, str):
        family = emission
        field = make_emission(family, seed=seed, **params)
    elif isinstance(emission, nn.Module):
        family, field = "custom", emission
    else:
        raise TypeError(f"emission must be a family name or nn.Module, got {emission!r}")
    noise = check_nonnegative(noise, "noise")  # fraction of the image peak
    if blur_fwhm is not None:
        blur_fwhm = check_nonnegative(blur_fwhm, "blur_fwhm")  # in M
    surface, velocity = parse_surface(surface), parse_velocity(velocity)
    clean = render(
        field, spin, inclination, fov=fov, npix=npix, k=k, orders=orders, surface=surface,
        velocity=velocity, geometry=geometry, device=device,
    )  # fmt: skip
    alpha, beta = clean["alpha"].values, clean["beta"].values
    if not np.any(clean.values):
        raise ValueError(f"the lensed {family} image is zero on every pixel: no emission of "
                         f"orders {orders!r} reaches this screen (fov {fov:g} M); check "
                         "the emission parameters, the orders and the field of view")
    check_beam_width(blur_fwhm, alpha, beta, "blur_fwhm")
    img = clean.values.copy()
    if blur_fwhm:  # the same differentiable beam the fitted model applies
        img = gaussian_beam(torch.from_numpy(img), blur_fwhm, float(beta[1] - beta[0]),
                            float(alpha[1] - alpha[0])).numpy()  # fmt: skip
    noise_sigma = float(noise) * float(np.abs(clean.values).max())
    if noise_sigma > 0:
        rng = np.random.default_rng(seed if noise_seed is None else int(noise_seed))
        img = img + rng.normal(0.0, noise_sigma, img.shape)
    if isinstance(field, EmissionField):
        truth = {"field_config": field.config}
    else:
        truth = dict(getattr(field, "params", {}))
    extent = float(max(np.abs(alpha).max(), np.abs(beta).max()))
    emap = emission_map(field, extent, min(max(len(alpha), 64), 256))
    coord_attrs = {"units": "M"}
    ds = xr.Dataset(
        {
            "image": (("beta", "alpha"), img, {"units": "arbitrary", "long_name": "target"}),
            "clean": (("beta", "alpha"), clean.values, {"units": "arbitrary",
                      "long_name": "noise- and blur-free lensed image"}),
            "sigma": (("beta", "alpha"), np.full(img.shape, noise_sigma),
                      {"units": "arbitrary", "long_name": "per-pixel noise sigma"}),
            "emission": emap.rename({"x": "x_e", "y": "y_e"}),
        },
        coords={"alpha": ("alpha", alpha, coord_attrs), "beta": ("beta", beta, coord_attrs)},
        attrs={
            "title": "kerrfield synthetic target",
            "spin": float(clean.attrs["spin"]),
            "inclination": float(clean.attrs["inclination"]),
            "inclination_units": "deg",
            "k": float(k),
            "orders": [int(n) for n in clean.attrs["orders"]],
            "surface": surface_text(surface),  # "equatorial" / "cone:DEG"
            "velocity": velocity_text(velocity),  # "zamo" / "general:XI,BETA_R,BETA_PHI"
            "fov": float(max(np.abs(alpha).max(), np.abs(beta).max())),
            "npix": int(len(alpha)),
            "emission_family": family,
            "emission_params": json.dumps(truth),
            "noise": float(noise),
            "noise_sigma": noise_sigma,
            "blur_fwhm": float(blur_fwhm or 0.0),
            "blur_fwhm_units": "M",
            "beam_fwhm": float(blur_fwhm or 0.0),
            "beam_fwhm_units": "M",
            "seed": int(seed),
            "noise_seed": int(seed if noise_seed is None else noise_seed),
        },
    )  # fmt: skip
    return ds


def truth_emission(target: xr.Dataset) -> nn.Module:
    """Rebuild the ground-truth emission module recorded by :func:`synthesize`.

    Parameters
    ----------
    target : xarray.Dataset
        From :func:`synthesize`, with its ``emission_family`` and ``emission_params``
        (JSON) attributes.

    Returns
    -------
    torch.nn.Module
        For ``"mlp"`` the :class:`~kerrfield.fields.EmissionField` of the recorded config,
        re-initialised from its seed (the same weights); for ``"ring"``, ``"disk"`` and
        ``"hotspot"`` an :class:`AnalyticEmission` with the recorded parameters (lengths in
        M, ``phase`` in degrees), a function of the emitter position in M.

    Raises
    ------
    ValueError
        If the target records no rebuildable family (a ``"custom"`` module passed to
        :func:`synthesize`, or no ``emission_family`` attribute).

    Examples
    --------
    >>> import kerrfield as kf
    >>> ds = kf.synthesize("disk", npix=8)  # doctest: +SKIP
    >>> kf.truth_emission(ds).family  # doctest: +SKIP
    'disk'
    """
    family = target.attrs.get("emission_family")
    params = json.loads(target.attrs.get("emission_params", "{}"))
    if family == "mlp":
        return field_from_config(params["field_config"])
    if family in _DEFAULTS:
        return AnalyticEmission(family, **params)
    raise ValueError(f"target records no reconstructible emission (family {family!r})")
