"""Validation of an inference configuration whose target is an observation.

``[target.observation]`` names the data (``uvfits = "file"``, relative to the config file,
or ``day``/``band`` of the EHT 2017 M87 release); then ``[mode] kind = "scan"`` (the
default) over spin and/or inclination fits, in each unit, the field and the sky parameters at
fixed geometry, and ``kind = "search"`` runs that grid and then refines its best
``search.refine`` points with spin and inclination fitted too (``[search]`` takes
``refine``, ``refine_steps`` and ``refine_geometry_lr`` only; see
:mod:`~kerrfield.fitting.observation_search`). ``[model]`` takes the screen and physics of
:func:`~kerrfield.fitting.observation_target.observation_image_model`, ``[fit]`` the
options of :func:`kerrfield.fit` that apply to observations, with the ``fit_observation``
options in ``[fit.observation]``. A violation raises
:class:`~kerrfield.fitting.config.ConfigError` naming the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._schema import ConfigError, _bool, _number, _str, _table, _unknown
from .config_sections import _lensing_spec, field_section, mode_section, output_section

__all__ = ["observation_target_section", "observation_sections", "OBSERVATION_MODEL",
           "REFINEMENT_KEYS"]

#: ``[model]`` keys for an observation target and their defaults
OBSERVATION_MODEL: dict[str, Any] = {
    "orders": [0, 1], "k": 3.0, "velocity": "keplerian", "surface": "equatorial", "fov": 8.0,
    "npix": 40, "axisymmetric": True, "match_steps": 300}
_FIT_KEYS = ("steps", "lr", "tv_weight", "field_seeds", "observation")
#: ``[search]`` keys of an observation search; each changes only the refinements, never a
#: grid unit (so they are left out of :attr:`InferenceConfig.grid_fingerprint`)
REFINEMENT_KEYS = ("refine", "refine_steps", "refine_geometry_lr")
#: default Adam learning rate of the refinements' geometry parameters u, v: fit_observation's
REFINE_GEOMETRY_LR = 0.02
_DAYS = (5, 6, 10, 11, 95, 96, 100, 101)


def observation_target_section(table: Any, source: Path | None) -> dict[str, Any]:
    """``[target.observation]``: ``uvfits`` (must exist) or ``day`` and ``band``; a list of
    files, days or bands is fitted jointly (every day × band pair of the lists)."""
    obs = _table("target.observation", table)
    _unknown("target.observation", obs, ("uvfits", "day", "band"))
    if "uvfits" in obs:
        if "day" in obs or "band" in obs:
            raise ConfigError("config [target.observation] takes 'uvfits' or 'day'/'band', "
                              "not both")  # fmt: skip
        paths = [_uvfits_path(f, source) for f in _one_or_list(obs["uvfits"])]
        return {"uvfits": paths if isinstance(obs["uvfits"], list) else paths[0]}
    days = [int(_number("target.observation.day", d, integer=True))
            for d in _one_or_list(obs.get("day", 6))]
    for day in days:
        if day not in _DAYS:
            raise ConfigError(f"config key 'target.observation.day' must be one of {_DAYS} "
                              f"(April 2017 day or day of year), got {day}")  # fmt: skip
    bands = [_str("target.observation.band", b, ("hi", "lo"))
             for b in _one_or_list(obs.get("band", "hi"))]
    return {"day": days if isinstance(obs.get("day"), list) else days[0],
            "band": bands if isinstance(obs.get("band"), list) else bands[0]}


def _one_or_list(value: Any) -> list[Any]:
    if isinstance(value, list) and not value:
        raise ConfigError("config [target.observation]: an empty list names no data")
    return value if isinstance(value, list) else [value]


def _uvfits_path(value: Any, source: Path | None) -> str:
    path = Path(_str("target.observation.uvfits", value)).expanduser()
    if not path.is_absolute() and source is not None:
        path = source.parent / path
    if not path.is_file():
        raise ConfigError(f"config key 'target.observation.uvfits': no such file "
                          f"{str(path)!r}")  # fmt: skip
    return str(path)


def _model(raw: dict[str, Any]) -> dict[str, Any]:
    model = _table("model", raw.get("model", {}))
    _unknown("model", model, list(OBSERVATION_MODEL))
    model = {**OBSERVATION_MODEL, **model}
    _number("model.k", model["k"])
    _number("model.fov", model["fov"], lo=0, lo_open=True)
    model["npix"] = int(_number("model.npix", model["npix"], lo=2, hi=1024, integer=True))
    model["match_steps"] = int(_number("model.match_steps", model["match_steps"], lo=0,
                                       integer=True))  # fmt: skip
    _bool("model.axisymmetric", model["axisymmetric"])
    return _lensing_spec("model", model)


def _fit(raw: dict[str, Any]) -> dict[str, Any]:
    from .observation_target import IMAGE_ONLY_OPTIONS, check_observation_options

    fit = _table("fit", raw.get("fit", {}))
    for key in fit:
        if key in IMAGE_ONLY_OPTIONS or key == "geometry_lr":
            raise ConfigError(f"config key 'fit.{key}' does not apply to an observation target "
                              "(each unit fits at fixed geometry; the data terms are "
                              "'fit.observation.weights')")  # fmt: skip
    _unknown("fit", fit, _FIT_KEYS)
    fit.setdefault("steps", 250)
    fit["steps"] = int(_number("fit.steps", fit["steps"], lo=1, integer=True))
    # fits per unit from this many field seeds, the best kept; their spread is the
    # optimiser scatter the report compares the Δχ² profiles with
    fit["field_seeds"] = int(_number("fit.field_seeds", fit.get("field_seeds", 1), lo=1, hi=64,
                                     integer=True))  # fmt: skip
    if "lr" in fit:
        _number("fit.lr", fit["lr"], lo=0, lo_open=True)
    if "tv_weight" in fit:
        _number("fit.tv_weight", fit["tv_weight"], lo=0)
    try:
        opts = check_observation_options(_table("fit.observation", fit.get("observation", {})),
                                         "fit.observation")  # fmt: skip
    except ValueError as exc:
        raise ConfigError(f"config key {exc}") from None
    fit["observation"] = {"position_angle": [0.0, 90.0, 180.0, 270.0], "method": "nufft",
                          **opts}  # fmt: skip
    return fit


def _search(raw: dict[str, Any], kind: str, steps: int) -> dict[str, Any]:
    """``[search]`` of an observation search: ``refine`` (grid points refined, default 2),
    ``refine_steps`` (Adam steps of each refinement, default 2 × ``fit.steps``) and
    ``refine_geometry_lr`` (Adam learning rate of the refinement's geometry parameters u, v,
    where spin = 0.999 tanh u and inclination = 180° sigmoid v; default 0.02)."""
    if kind != "search":
        if "search" in raw:
            raise ConfigError("config section [search] applies to an observation target only "
                              "with mode.kind = 'search' (got kind = 'scan')")  # fmt: skip
        return {}
    search = _table("search", raw.get("search", {}))
    for key in search:
        if key not in REFINEMENT_KEYS:
            raise ConfigError(f"config key 'search.{key}' does not apply to an observation "
                              f"search; allowed: {', '.join(REFINEMENT_KEYS)} (refine: grid "
                              "points refined, an integer >= 1; refine_steps: Adam steps of "
                              "each refinement, an integer >= 1; refine_geometry_lr: their "
                              "learning rate of spin/inclination, a number > 0)")  # fmt: skip
    return {"refine": int(_number("search.refine", search.get("refine", 2), lo=1, hi=64,
                                  integer=True)),
            "refine_steps": int(_number("search.refine_steps",
                                        search.get("refine_steps", 2 * steps), lo=1,
                                        integer=True)),
            "refine_geometry_lr": _number("search.refine_geometry_lr",
                                          search.get("refine_geometry_lr", REFINE_GEOMETRY_LR),
                                          lo=0, lo_open=True)}  # fmt: skip


def observation_sections(raw: dict[str, Any], seed: int) -> dict[str, Any]:
    """Every section but ``[target]`` for an observation target, as ``InferenceConfig``
    keyword arguments (mode ``scan`` or ``search``; spin and inclination fixed within each
    grid unit, fitted in the refinements of ``search``)."""
    mode = _table("mode", raw.get("mode", {}))
    kind = mode.get("kind", "scan")
    if kind not in ("scan", "search"):
        raise ConfigError(f"config key 'mode.kind' for an observation target must be 'scan' "
                          f"or 'search', got {kind!r}")  # fmt: skip
    for key in ("fit_spin", "fit_inclination", "init_jitter", "warm_start"):
        if key in mode and mode[key] is not False and mode[key] != {}:
            raise ConfigError(f"config key 'mode.{key}' does not apply to an observation "
                              f"{kind}: each grid unit holds spin and inclination fixed")
    given = {**mode, "kind": "scan", "fit_spin": False, "fit_inclination": False}
    out = mode_section({**raw, "mode": given}, seed)
    out["mode"] = kind
    field = _table("field", raw.get("field", {}))
    field.setdefault("scale", 10.0)  # the disk plane out to ~10 M
    fit = _fit(raw)
    return dict(model=_model(raw), field=field_section({"field": field}), fit=fit,
                **out, search=_search(raw, kind, fit["steps"]), **output_section(raw))
