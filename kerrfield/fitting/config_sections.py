"""Validation of each section of an inference configuration (see :mod:`.config`).

Each function checks one TOML table, fills its defaults and returns it; a violation raises
:class:`~kerrfield.fitting.config.ConfigError` naming the key and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._validate import warn_if_radians
from ._schema import (
    _INC_RANGE,
    _SPIN_RANGE,
    MODES,
    ConfigError,
    _allowed_kwargs,
    _axis,
    _bool,
    _number,
    _str,
    _table,
    _unknown,
)

# keyword arguments of kerrfield.fit that inference sets itself
_FIT_RESERVED = ("model", "target", "sigma", "seed", "progress", "checkpoint", "resume",
                 "callback", "observation")  # fmt: skip

_MODEL_KEYS = ("orders", "k", "surface", "velocity", "spin_bound", "beam_fwhm",
               "relinearize_every")


def target_section(raw: dict[str, Any], source: Path | None) -> dict[str, Any]:
    """``[target]``: exactly one of ``file`` (relative to the config's folder), ``synthetic`` or
    ``observation`` (:mod:`.observation_sections`)."""
    if "target" not in raw:
        raise ConfigError("config section [target] is required (give file or synthetic)")
    target = _table("target", raw["target"])
    _unknown("target", target, ("file", "variable", "sigma_variable", "synthetic",
                                "observation"))  # fmt: skip
    if sum(k in target for k in ("file", "synthetic", "observation")) != 1:
        raise ConfigError("config [target] needs exactly one of 'target.file', "
                          "'target.synthetic' or 'target.observation'")  # fmt: skip
    if "observation" in target:
        from .observation_sections import observation_target_section

        if len(target) > 1:
            raise ConfigError("config [target.observation] takes no other [target] key, "
                              f"got {sorted(set(target) - {'observation'})}")  # fmt: skip
        return {"observation": observation_target_section(target["observation"], source)}
    if "file" in target:
        path = Path(_str("target.file", target["file"])).expanduser()
        if not path.is_absolute() and source is not None:
            path = source.parent / path
        if not path.exists():
            raise ConfigError(f"config key 'target.file': no such file {str(path)!r}")
        target["file"] = str(path)
        _str("target.variable", target.setdefault("variable", "image"))
        if "sigma_variable" in target:  # default: the file's `sigma`, if it has one
            _str("target.sigma_variable", target["sigma_variable"])
    else:
        from ..models import synthetic

        syn = _table("target.synthetic", target["synthetic"])
        allowed = [k for k in _allowed_kwargs(synthetic.synthesize) if k not in
                   ("geometry", "device")]  # fmt: skip
        _unknown("target.synthetic", syn, allowed)
        if "emission" in syn:
            _str("target.synthetic.emission", syn["emission"], synthetic.FAMILIES)
        if "spin" in syn:
            _number("target.synthetic.spin", syn["spin"], lo=-1, hi=1, lo_open=True,
                    hi_open=True)  # fmt: skip
        if "inclination" in syn:
            inc = _number("target.synthetic.inclination", syn["inclination"], lo=0, hi=180,
                          lo_open=True, hi_open=True)  # fmt: skip
            warn_if_radians(inc, "target.synthetic.inclination")
        if "npix" in syn:
            _number("target.synthetic.npix", syn["npix"], lo=2, hi=4096, integer=True)
        if "fov" in syn:
            _number("target.synthetic.fov", syn["fov"], lo=0, lo_open=True)
        if "noise" in syn:
            _number("target.synthetic.noise", syn["noise"], lo=0)
        if "emission_params" in syn:
            params = _table("target.synthetic.emission_params", syn["emission_params"])
            if syn.get("emission", "mlp") != "mlp":  # analytic families take numbers (in M)
                for k, v in params.items():
                    _number(f"target.synthetic.emission_params.{k}", v)
        target["synthetic"] = _lensing_spec("target.synthetic", syn)
    return target


def model_section(raw: dict[str, Any]) -> dict[str, Any]:
    """``[model]``: keyword arguments of :func:`kerrfield.kerr_image_model`."""
    model = _table("model", raw.get("model", {}))
    _unknown("model", model, _MODEL_KEYS)
    if "k" in model:
        _number("model.k", model["k"])
    if "relinearize_every" in model:
        _number("model.relinearize_every", model["relinearize_every"], lo=1, integer=True)
    if "beam_fwhm" in model:
        _number("model.beam_fwhm", model["beam_fwhm"], lo=0)
    if "spin_bound" in model:
        _number("model.spin_bound", model["spin_bound"], lo=0, hi=1, lo_open=True, hi_open=True)
    return _lensing_spec("model", model)


def _lensing_spec(prefix: str, table: dict[str, Any]) -> dict[str, Any]:
    """Check ``orders``, ``surface`` and ``velocity`` as the run will; parse the last two
    (``"cone:DEG"``, ``"general:XI,BETA_R,BETA_PHI"``) into their objects."""
    from ..physics._spec import parse_surface, parse_velocity

    if "orders" in table:
        orders = table["orders"]
        if not (isinstance(orders, list) and orders and all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 10
                for n in orders)) or len(set(orders)) != len(orders):  # fmt: skip
            raise ConfigError(f"config key '{prefix}.orders' must be a non-empty list of "
                              f"distinct integers in [0, 10], got {orders!r}")  # fmt: skip
    for key, parse in (("surface", parse_surface), ("velocity", parse_velocity)):
        if key in table:
            _str(f"{prefix}.{key}", table[key])
            try:
                table[key] = parse(table[key], name=f"config key '{prefix}.{key}'")
            except (TypeError, ValueError) as exc:
                msg = str(exc)
                if f"'{prefix}.{key}'" not in msg:
                    msg = f"config key '{prefix}.{key}': {msg}"
                raise ConfigError(msg) from None
    return table


def field_section(raw: dict[str, Any]) -> dict[str, Any]:
    """``[field]``: keyword arguments of :class:`kerrfield.EmissionField`."""
    from ..fields.emission import EmissionField

    field = _table("field", raw.get("field", {}))
    _unknown("field", field, [k for k in _allowed_kwargs(EmissionField) if k not in
                              ("dtype", "seed")])  # fmt: skip
    try:  # build one now so that --check catches what the run would
        EmissionField(**field, seed=0)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config [field]: {exc}") from None
    return field


def fit_section(raw: dict[str, Any]) -> dict[str, Any]:
    """``[fit]``: keyword arguments of :func:`kerrfield.fit` (``steps`` defaults to 200)."""
    from .loop import fit as _fit

    fit = _table("fit", raw.get("fit", {}))
    _unknown("fit", fit, [k for k in _allowed_kwargs(_fit) if k not in _FIT_RESERVED])
    fit.setdefault("steps", 200)
    _number("fit.steps", fit["steps"], lo=1, integer=True)
    for key in ("lr", "geometry_lr"):
        if key in fit:
            _number(f"fit.{key}", fit[key], lo=0, lo_open=True)
    if "lr_final" in fit:
        _number("fit.lr_final", fit["lr_final"], lo=0, hi=1, lo_open=True)
    if "batch_size" in fit:
        _number("fit.batch_size", fit["batch_size"], lo=1, integer=True)
    if "checkpoint_every" in fit:
        _number("fit.checkpoint_every", fit["checkpoint_every"], lo=1, integer=True)
    for key in ("tv_weight", "weight_decay_weight"):
        if key in fit:
            _number(f"fit.{key}", fit[key], lo=0)
    if "schedule" in fit:
        _str("fit.schedule", fit["schedule"], ("none", "constant", "cosine", "exponential"))
    if "loss" in fit:
        from .losses import LOSSES

        _str("fit.loss", fit["loss"], sorted(LOSSES))
    if "amp" in fit:
        _bool("fit.amp", fit["amp"])
    if "device" in fit:
        _str("fit.device", fit["device"])
        if fit["device"] != "auto":
            from .._validate import check_device

            try:
                check_device(fit["device"], "config key 'fit.device'")
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    return fit


def mode_section(raw: dict[str, Any], seed: int) -> dict[str, Any]:
    """``[mode]``: the kind of run, its grid or starting values, free parameters and seeds."""
    mode = _table("mode", raw.get("mode", {}))
    _unknown("mode", mode, ("kind", "spin", "inclination", "fit_spin", "fit_inclination",
                            "seeds", "init_jitter", "warm_start"))  # fmt: skip
    kind = _str("mode.kind", mode.get("kind", "search"), MODES)
    search = kind == "search"
    spin = _axis("mode.spin", mode.get("spin", _SEARCH_SPIN if search else 0.5), *_SPIN_RANGE)
    inc = _axis("mode.inclination", mode.get("inclination", _SEARCH_INC if search else 45.0),
                *_INC_RANGE)  # fmt: skip
    # radians by mistake: every value below π/2 "degrees" (an all-face-on grid is unlikely)
    warn_if_radians(max(inc) if isinstance(inc, list) else inc, "mode.inclination")
    grid = {"spin": isinstance(spin, list), "inclination": isinstance(inc, list)}
    if search:
        if "fit_spin" in mode or "fit_inclination" in mode:
            raise ConfigError("mode.kind = 'search' fits neither axis directly: give "
                              "'mode.spin' / 'mode.inclination' as grids (searched) or "
                              "numbers (held fixed) instead of fit_spin/fit_inclination")
        if not any(grid.values()):
            raise ConfigError("mode.kind = 'search' needs a grid in 'mode.spin' and/or "
                              "'mode.inclination'")  # fmt: skip
        mode.setdefault("fit_spin", False)
        mode.setdefault("fit_inclination", False)
    if kind not in ("scan", "search") and any(grid.values()):
        which = [k for k, v in grid.items() if v][0]
        raise ConfigError(f"config key 'mode.{which}' is a grid, which only mode.kind = "
                          f"'scan' or 'search' accepts (got kind = {kind!r})")  # fmt: skip
    if kind == "scan" and not any(grid.values()):
        raise ConfigError("mode.kind = 'scan' needs a grid: give 'mode.inclination' and/or "
                          "'mode.spin' as a list or a {start, stop, num} range")  # fmt: skip
    fit_spin = _bool("mode.fit_spin", mode.get("fit_spin", not grid["spin"]))
    fit_inc = _bool("mode.fit_inclination", mode.get("fit_inclination", not grid["inclination"]))
    if grid["spin"] and fit_spin:
        raise ConfigError("config key 'mode.fit_spin' must be false when 'mode.spin' is a grid")
    if grid["inclination"] and fit_inc:
        raise ConfigError("config key 'mode.fit_inclination' must be false when "
                          "'mode.inclination' is a grid")  # fmt: skip
    if kind == "joint" and not (fit_spin or fit_inc):
        raise ConfigError("mode.kind = 'joint' fits the field with the spin and/or the "
                          "inclination: set 'mode.fit_spin' or 'mode.fit_inclination' true "
                          "(a fit with both fixed is a 'scan' of one point)")  # fmt: skip
    seeds_raw = mode.get("seeds", 4 if kind == "ensemble" else [seed])
    if isinstance(seeds_raw, list):
        seeds = [_number(f"mode.seeds[{i}]", s, lo=0, integer=True)
                 for i, s in enumerate(seeds_raw)]  # fmt: skip
        if not seeds or len(set(seeds)) != len(seeds):
            raise ConfigError(f"config key 'mode.seeds' must be distinct integers, got {seeds_raw}")
    else:
        count = _number("mode.seeds", seeds_raw, lo=1, hi=10000, integer=True)
        seeds = [seed + i for i in range(int(count))]
    if kind != "ensemble" and len(seeds) != 1:
        raise ConfigError("config key 'mode.seeds' with several seeds needs mode.kind = "
                          "'ensemble'")  # fmt: skip
    jitter = _table("mode.init_jitter", mode.get("init_jitter", {}))
    _unknown("mode.init_jitter", jitter, ("spin", "inclination"))
    jitter = {
        "spin": _number("mode.init_jitter.spin", jitter.get("spin", 0.0), lo=0, hi=1),
        "inclination": _number("mode.init_jitter.inclination", jitter.get("inclination", 0.0),
                               lo=0, hi=90),  # fmt: skip
    }
    warm = _bool("mode.warm_start", mode.get("warm_start", False))
    return dict(mode=kind, spin=spin, inclination=inc, fit_spin=fit_spin, fit_inclination=fit_inc,
                seeds=seeds, init_jitter=jitter, warm_start=warm)


_SEARCH_SPIN = {"start": -0.9, "stop": 0.9, "num": 7}
_SEARCH_INC = {"start": 10.0, "stop": 80.0, "num": 8}
#: [search] keys: (default, lower bound, upper bound, integer)
_SEARCH_KEYS: dict[str, tuple[float, float, float | None, bool]] = {
    "field_seeds": (2, 1, 64, True),          # field seeds per grid point (best kept)
    "refine": (4, 0, 64, True),               # best grid points (not neighbours) refined
                                              #   jointly; 4: docs/identifiability.md
    "refine_steps": (3000, 1, None, True),    # max steps of a joint refinement (it stops
                                              #   earlier once converged)
    "refine_geometry_lr": (0.01, 0, None, False),
    "relinearize_every": (20, 1, None, True),  # exact re-trace every K refinement steps
    "profile_points": (7, 3, 101, True),      # local grid points per free axis
    "profile_rounds": (4, 1, 10, True),       # local grids re-centred / re-scaled at most
    "window": (50, 1, None, True),            # refinement (Adam) converged: relative loss
    "rtol": (1e-4, 0, None, False),           #   change over `window` steps below `rtol`
    "min_steps": (100, 0, None, True),
    "field_window": (25, 1, None, True),      # field fits (L-BFGS) converged: relative
    "field_rtol": (2e-4, 0, None, False),     #   change over `field_window` iterations
    "profile_steps": (300, 1, None, True),    # max L-BFGS iterations of a profile point
    "polish_steps": (1000, 1, None, True),    # max L-BFGS iterations polishing a refined point
    "fit_cap": (50.0, 0, None, False),        # profile points within this Δχ² of the grid
                                              #   minimum enter the quadratic fit
    "interval_scale": (1.2, 0, None, False),  # local intervals × this: the field-family
                                              #   systematic, docs/identifiability.md
}


def search_section(raw: dict[str, Any]) -> dict[str, Any]:
    """``[search]``: options of the ``search`` strategy (defaults filled in)."""
    sec = _table("search", raw.get("search", {}))
    _unknown("search", sec, [*_SEARCH_KEYS, "inflate"])
    # widen intervals by sqrt(chi2_min / N) when the fit does not reach the noise floor
    out: dict[str, Any] = {"inflate": _bool("search.inflate", sec.get("inflate", True))}
    for key, (default, lo, hi, integer) in _SEARCH_KEYS.items():
        value = sec.get(key, default)
        out[key] = _number(f"search.{key}", value, lo=lo, hi=hi, integer=integer,
                           lo_open=not integer)  # fmt: skip
    return out


def output_section(raw: dict[str, Any]) -> dict[str, Any]:
    """``[output]``: the results folder (relative to the working directory), what to write."""
    out = _table("output", raw.get("output", {}))
    _unknown("output", out, ("directory", "save_models", "plots", "progress"))
    # relative to the working directory (target.file is relative to the config file)
    outdir = Path(_str("output.directory", out.get("directory", "kerrfield-results")))
    outdir = outdir.expanduser()
    return dict(output=outdir,
                save_models=_bool("output.save_models", out.get("save_models", False)),
                plots=_bool("output.plots", out.get("plots", True)),
                progress=_bool("output.progress", out.get("progress", True)))
