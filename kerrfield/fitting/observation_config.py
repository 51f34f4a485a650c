"""Fits to interferometric observations from a TOML configuration (``examples/m87_2017.toml``).

Sections: ``[data]`` (``uvfits`` path, or ``day``/``band`` of the EHT 2017 M87 release;
a list of paths, days or bands is fitted jointly, closures formed within each file),
``[model]`` (geometry and field), ``[sky]`` (θ_g, PA starts, flux, what is learnt),
``[fit]`` (data-term weights, systematic, steps, regularisers) and ``[output]``
(``directory``: ``summary.json`` and ``image.fits`` are written there, atomically).
Changing ``data.uvfits`` is all it takes to fit another data set. As with
``kerrfield infer``, a relative ``data.uvfits`` is relative to the TOML file and a relative
``output.directory`` to the working directory.
"""

from __future__ import annotations

import difflib
import os
import sys
from pathlib import Path
from typing import Any

from .._validate import (
    check_inclination,
    check_npoints,
    check_orders,
    check_positive,
    check_spin,
)
from ..fields.emission import EmissionField
from ..models.builders import fixed_image_model
from ..models.synthetic import AnalyticEmission
from ..physics.raytrace import raytrace
from ..vlbi.closures import UV_MIN
from ..vlbi.dataset import eht_m87_2017_filename, eht_m87_2017_pairs, fetch_eht_m87_2017
from .observation import Axisymmetric, fit_observation, match_emission
from .observation_result import ObservationFit
from .observation_target import (
    _number,
    check_observation_options,
    load_observation,
    write_observation_outputs,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["run_observation_config", "SECTIONS"]

SECTIONS = {
    "data": {"uvfits": None, "day": 6, "band": "hi"},
    "model": {"spin": 0.94, "inclination": 163.0, "velocity": "keplerian", "k": 3.0,
              "fov": 8.0, "npix": 40, "orders": [0, 1], "width": 32, "depth": 2,
              "axisymmetric": False, "seed": 0},
    "sky": {"theta_g": [2.8, 3.4, 4.0, 4.6],
            "position_angle": [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0],
            "flux": 0.6, "learn": ["theta_g", "position_angle"]},
    "fit": {"weights": {"cphase": 1.0, "lcamp": 1.0}, "systematic": 0.02, "steps": 500,
            "scout_steps": 40, "scout_rounds": 2, "finalists": 2, "lr": 0.01,
            "sky_lr": 0.01, "tv": 0.0, "mem": 0.0, "scan_average": True, "gains": False,
            "gain_sigma": 0.1, "uv_min": UV_MIN, "method": "nufft"},
    "output": {"directory": "m87_2017_fit"},
}


#: where a `kerrfield infer` setting goes in a fit-obs config, for the unknown-key message
_INFER_NAMES = {("fit", "tv_weight"): "infer's fit.tv_weight is fit.tv here",
                ("fit", "observation"): "infer's [fit.observation] keys go directly in [fit]",
                ("target", None): "infer's [target.observation] is [data] here",
                ("field", None): "infer's [field] width/depth are [model] width/depth here"}


def _merge(config: dict[str, Any], base: Path) -> dict[str, dict[str, Any]]:
    unknown = set(config) - set(SECTIONS)
    if unknown:
        hint = "; ".join(_INFER_NAMES[(s, None)] for s in sorted(unknown)
                         if (s, None) in _INFER_NAMES)  # fmt: skip
        raise ValueError(f"config: unknown section(s) {sorted(unknown)}; expected "
                         f"{sorted(SECTIONS)}{' (' + hint + ')' if hint else ''}")
    out = {}
    for name, defaults in SECTIONS.items():
        given = dict(config.get(name, {}))
        bad = set(given) - set(defaults)
        if bad:
            hints = []
            for k in sorted(bad):  # the infer config's name for it, or a near spelling
                if (name, k) in _INFER_NAMES:
                    hints.append(_INFER_NAMES[(name, k)])
                elif close := difflib.get_close_matches(k, list(defaults), n=1):
                    hints.append(f"{k!r}: did you mean {close[0]!r}?")
            hint = "; ".join(hints)
            raise ValueError(f"config [{name}]: unknown key(s) {sorted(bad)}; expected "
                             f"{sorted(defaults)}{' (' + hint + ')' if hint else ''}")
        out[name] = {**defaults, **given}
    learn = out["sky"]["learn"]
    if isinstance(learn, str) or not set(learn) <= {"theta_g", "position_angle", "flux"}:
        raise ValueError(f"config [sky] learn must be a list of 'theta_g', 'position_angle', "
                         f"'flux'; got {learn!r}")  # fmt: skip
    files = out["data"]["uvfits"]
    if files:
        paths = [Path(os.path.expandvars(str(f))).expanduser()
                 for f in (files if isinstance(files, list) else [files])]
        out["data"]["uvfits"] = [p if p.is_absolute() else base / p for p in paths]
    # relative to the working directory, as kerrfield infer's output.directory (the data
    # file above is relative to the config file, as infer's target.observation.uvfits)
    out["output"]["directory"] = Path(str(out["output"]["directory"])).expanduser()
    _check_model(out["model"])
    if not files:  # the release's day/band, named as the config names them
        try:
            for day, band in eht_m87_2017_pairs(out["data"]["day"], out["data"]["band"]):
                eht_m87_2017_filename(day, band)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"config [data]: {exc}") from None
    return out


def _check_model(m: dict[str, Any]) -> None:
    """``[model]``'s values, each error naming ``config [model].key`` (before any data)."""
    name = "config [model]."
    check_spin(m["spin"], name + "spin")
    check_inclination(m["inclination"], name + "inclination")
    check_positive(m["fov"], name + "fov")
    check_positive(m["k"], name + "k")
    check_npoints(m["npix"], name + "npix", minimum=2)
    check_npoints(m["width"], name + "width")
    check_npoints(m["depth"], name + "depth", minimum=0)
    check_npoints(m["seed"], name + "seed", minimum=0)
    check_orders(m["orders"], name + "orders")


def _observation(d: dict[str, Any]):
    """The ``[data]`` section's observation: one file, or several joined for a joint fit."""
    for p in d["uvfits"] or []:
        if not p.is_file():
            raise FileNotFoundError(f"config [data] uvfits: no such file {str(p.resolve())!r} "
                                    "(a relative path is relative to the config file)")
    paths = d["uvfits"] or [fetch_eht_m87_2017(day, band)
                            for day, band in eht_m87_2017_pairs(d["day"], d["band"])]
    return load_observation(paths)


def _model(m: dict[str, Any]):
    geo = raytrace(m["spin"], m["inclination"], fov=m["fov"], npix=m["npix"],
                   orders=tuple(m["orders"]), velocity=m["velocity"])
    field = EmissionField(in_features=2, width=m["width"], depth=m["depth"], scale=10.0,
                          seed=m["seed"])
    if m["axisymmetric"]:
        field = Axisymmetric(field)
    match_emission(field, AnalyticEmission("disk", R=5.0, p1=3.0, p2=3.0))
    return fixed_image_model(field, geo, k=m["k"])


def run_observation_config(config: str | os.PathLike | dict[str, Any], *,
                           steps: int | None = None, progress: bool | None = False,
                           output: str | os.PathLike | None = None, overwrite: bool = False
                           ) -> tuple[ObservationFit, dict[str, Any]]:  # fmt: skip
    """Run the fit a configuration describes and write its summary and image.

    Parameters
    ----------
    config : path or dict
        TOML file or the parsed mapping. A relative ``data.uvfits`` is relative to the TOML
        file (to the working directory for a mapping); a relative ``output.directory`` is
        relative to the working directory, as in ``kerrfield infer``.
    steps : int, optional
        Override ``fit.steps``.
    progress : bool or None
        Progress bar (None: when stderr is a terminal).
    output : path, optional
        Override ``output.directory``.
    overwrite : bool
        Replace an earlier fit's ``summary.json`` / ``image.fits`` / ``fit.png`` there (else
        refused).

    Returns
    -------
    (ObservationFit, dict)
        The fit and its summary (also in ``<output.directory>/summary.json``; the image in
        ``image.fits``).

    Raises
    ------
    ValueError
        Unknown sections or keys, invalid values (named ``config [section].key``, checked
        before any data are read), or an earlier fit in the output directory without
        ``overwrite``.
    """
    if isinstance(config, dict):
        raw, base = config, Path.cwd()
    else:
        path = Path(config)
        try:
            raw, base = tomllib.loads(path.read_text(encoding="utf-8")), path.parent
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"config file {path}: not valid TOML ({exc})") from None
    cfg = _merge(raw, base)
    if output is not None:
        cfg["output"]["directory"] = Path(output).expanduser()
    f, s = cfg["fit"], cfg["sky"]
    # the checks kf.fit / kerrfield fit make, named by the config's sections and keys
    check_observation_options({k: s[k] for k in ("theta_g", "position_angle", "flux", "learn")},
                              "config [sky]")
    check_observation_options({k: f[k] for k in (
        "weights", "systematic", "scout_steps", "scout_rounds", "finalists", "sky_lr", "mem",
        "scan_average", "gains", "gain_sigma", "uv_min", "method")}, "config [fit]")  # fmt: skip
    for key in ("lr", "tv"):
        _number(f"config [fit].{key}", f[key], 0.0, lo_open=key == "lr")
    steps = f["steps"] if steps is None else check_npoints(steps, "steps", minimum=0)
    out_dir = Path(cfg["output"]["directory"])
    earlier = [n for n in ("summary.json", "image.fits", "fit.png") if (out_dir / n).exists()]
    if earlier and not overwrite:
        raise ValueError(f"{out_dir} holds an earlier fit ({', '.join(earlier)}); pass "
                         "--overwrite (overwrite=True) or choose another [output] directory / "
                         "--output")  # fmt: skip
    obs = _observation(cfg["data"])
    res = fit_observation(
        _model(cfg["model"]), obs, weights=f["weights"], systematic=f["systematic"],
        theta_g=s["theta_g"], position_angle=s["position_angle"], flux=s["flux"],
        learn=s["learn"], tv=f["tv"], mem=f["mem"],
        steps=steps,
        scout_steps=f["scout_steps"], scout_rounds=f["scout_rounds"],
        finalists=f["finalists"], lr=f["lr"], sky_lr=f["sky_lr"],
        scan_average=f["scan_average"], gains=f["gains"], gain_sigma=f["gain_sigma"],
        uv_min=f["uv_min"], method=f["method"],
        seed=cfg["model"]["seed"], progress=progress)
    # the same summary (χ² total, data counts, weights) as `fit --target X.uvfits` and `infer`
    summary = write_observation_outputs(res, cfg["output"]["directory"])
    return res, summary
