"""Scripted, resumable inference of spin and inclination from a TOML configuration.

``kerrfield infer CONFIG.toml`` (or :func:`run_inference`) runs one of three modes on a
target image:

``joint``
    One fit of the emission field together with spin and/or inclination.
``scan``
    A grid over inclination and/or spin. At each grid point the emission (and any
    parameter not on the grid that is marked free) is fitted with the gridded parameters
    held fixed; the best loss as a function of the grid is a profile likelihood.
``ensemble``
    The joint fit repeated with different seeds (field initialisation and, optionally,
    jittered starting values); the spread of the results measures how well the fit
    determines spin and inclination.

Each grid point or ensemble member is a *unit*. A finished unit is written atomically
(temporary file + :func:`os.replace`) to ``<output>/units/<unit>.nc``; an interrupted run
started again with the same configuration skips every unit already on disk. At the end the
units are collected into ``<output>/results.nc``, figures ``<output>/*.png`` and
``<output>/summary.json``.

Configuration (all sections but ``[target]`` optional; see ``examples/*.toml``)::

    seed = 0                          # base seed

    [target]                          # exactly one of file / synthetic
    file = "target.nc"                # netCDF with an image on (beta, alpha)
    variable = "image"
    # synthetic = { emission = "ring", spin = 0.94, inclination = 30.0, npix = 24 }

    [model]                           # forward model (kerrfield.kerr_image_model)
    orders = [0, 1]
    k = 1.0
    velocity = "zamo"

    [field]                           # kerrfield.EmissionField keyword arguments
    width = 20
    depth = 2

    [fit]                             # kerrfield.fit keyword arguments
    steps = 200
    lr = 0.01
    geometry_lr = 0.02
    loss = "nmse"

    [mode]
    kind = "scan"                     # joint | scan | ensemble
    inclination = { start = 10.0, stop = 60.0, num = 6 }   # grid (list or range)
    spin = 0.5                        # fixed, or initial value if fit_spin = true
    fit_spin = false

    [output]
    directory = "out/scan"            # relative to the working directory
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import hashlib
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "ConfigError",
    "InferenceConfig",
    "load_inference_config",
    "run_inference",
    "add_cli",
    "MODES",
]

#: Inference modes accepted by ``[mode] kind``.
MODES = ("joint", "scan", "ensemble")

_SPIN_RANGE = (-0.999, 0.999)
_INC_RANGE = (0.0, 180.0)


class ConfigError(ValueError):
    """An invalid inference configuration; the message names the offending key."""


# -- validation helpers ---------------------------------------------------------------------
def _unknown(section: str, keys: Mapping[str, Any], allowed: Sequence[str]) -> None:
    for key in keys:
        if key not in allowed:
            hint = difflib.get_close_matches(key, list(allowed), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            where = f"{section}.{key}" if section else key
            raise ConfigError(
                f"unknown config key {where!r}{extra}; allowed: {', '.join(sorted(allowed))}"
            )


def _number(key: str, value: Any, *, lo: float | None = None, hi: float | None = None,
            lo_open: bool = False, hi_open: bool = False, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise ConfigError(f"config key {key!r} must be {kind}, got {value!r}")
    if integer and not float(value).is_integer():
        raise ConfigError(f"config key {key!r} must be an integer, got {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if lo is not None:
        bad |= v <= lo if lo_open else v < lo
    if hi is not None:
        bad |= v >= hi if hi_open else v > hi
    if bad:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        rng = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
        raise ConfigError(f"config key {key!r} must lie in {rng}, got {value!r}")
    return int(v) if integer else v


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
    return value


def _str(key: str, value: Any, choices: Sequence[str] | None = None) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"config key {key!r} must be a string, got {value!r}")
    if choices is not None and value not in choices:
        raise ConfigError(f"config key {key!r} must be one of {list(choices)}, got {value!r}")
    return value


def _table(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"config key {key!r} must be a table, got {value!r}")
    return dict(value)


def _axis(key: str, value: Any, lo: float, hi: float) -> list[float] | float:
    """A scalar, a list, or a ``{start, stop, num}`` range, every value in (lo, hi)."""
    if isinstance(value, Mapping):
        _unknown(key, value, ("start", "stop", "num"))
        for need in ("start", "stop", "num"):
            if need not in value:
                raise ConfigError(f"config key '{key}.{need}' is required for a range")
        num = _number(f"{key}.num", value["num"], lo=1, integer=True)
        start = _number(f"{key}.start", value["start"], lo=lo, hi=hi, lo_open=True, hi_open=True)
        stop = _number(f"{key}.stop", value["stop"], lo=lo, hi=hi, lo_open=True, hi_open=True)
        return [float(x) for x in np.linspace(start, stop, int(num))]
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"config key {key!r} must not be an empty list")
        out = [
            _number(f"{key}[{i}]", v, lo=lo, hi=hi, lo_open=True, hi_open=True)
            for i, v in enumerate(value)
        ]
        if len(set(out)) != len(out):
            raise ConfigError(f"config key {key!r} has repeated values: {value}")
        return out
    return _number(key, value, lo=lo, hi=hi, lo_open=True, hi_open=True)


def _allowed_kwargs(func: Any) -> list[str]:
    params = inspect.signature(func).parameters
    return [n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


# -- the configuration ----------------------------------------------------------------------
@dataclasses.dataclass
class InferenceConfig:
    """A validated inference configuration (see the module docstring for the keys).

    Attributes
    ----------
    mode : {"joint", "scan", "ensemble"}
    target : dict
        ``{"file": path, "variable": name}`` or ``{"synthetic": synthesize kwargs}``.
    model, field, fit : dict
        Keyword arguments for :func:`kerrfield.kerr_image_model`, the
        :class:`kerrfield.EmissionField` and the fit.
    spin, inclination : float or list of float
        Starting values / fixed values (scalars) or grids (lists, ``scan`` only).
    fit_spin, fit_inclination : bool
        Whether a scalar ``spin`` / ``inclination`` is fitted.
    seeds : list of int
        One fit per seed (``ensemble``); otherwise the single base seed.
    init_jitter : dict
        Per-member uniform jitter of the starting ``spin`` and ``inclination``
        (``ensemble``).
    output : pathlib.Path
        Output directory.
    save_models, plots, progress : bool
        Write the fitted models; draw PNG figures; show tqdm progress bars.
    source : pathlib.Path or None
        The TOML file, for resolving relative paths.
    raw : dict
        The configuration as read, for the record in ``summary.json``.
    """

    mode: str
    target: dict[str, Any]
    model: dict[str, Any]
    field: dict[str, Any]
    fit: dict[str, Any]
    spin: float | list[float]
    inclination: float | list[float]
    fit_spin: bool
    fit_inclination: bool
    seeds: list[int]
    init_jitter: dict[str, float]
    output: Path
    save_models: bool = False
    plots: bool = True
    progress: bool = True
    source: Path | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Hash of everything that changes the results (not the output options)."""
        keep = {k: v for k, v in self.raw.items() if k != "output"}
        blob = json.dumps(keep, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


_TOP = ("seed", "target", "model", "field", "fit", "mode", "output")
# keyword arguments of kerrfield.fit that inference sets itself
_FIT_RESERVED = ("model", "target", "sigma", "seed", "progress", "checkpoint", "resume",
                 "callback")  # fmt: skip
_MODEL_KEYS = ("orders", "k", "surface", "velocity", "spin_bound")


def _validate(raw: Mapping[str, Any], source: Path | None) -> InferenceConfig:
    raw = dict(raw)
    _unknown("", raw, _TOP)
    seed = _number("seed", raw.get("seed", 0), lo=0, integer=True)

    # [target]
    if "target" not in raw:
        raise ConfigError("config section [target] is required (give file or synthetic)")
    target = _table("target", raw["target"])
    _unknown("target", target, ("file", "variable", "sigma_variable", "synthetic"))
    if ("file" in target) == ("synthetic" in target):
        raise ConfigError("config [target] needs exactly one of 'target.file' or "
                          "'target.synthetic'")  # fmt: skip
    if "file" in target:
        path = Path(_str("target.file", target["file"])).expanduser()
        if not path.is_absolute() and source is not None:
            path = source.parent / path
        if not path.exists():
            raise ConfigError(f"config key 'target.file': no such file {str(path)!r}")
        target["file"] = str(path)
        _str("target.variable", target.setdefault("variable", "image"))
    else:
        from . import synthetic

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
            _number("target.synthetic.inclination", syn["inclination"], lo=0, hi=180,
                    lo_open=True, hi_open=True)  # fmt: skip
        if "npix" in syn:
            _number("target.synthetic.npix", syn["npix"], lo=2, hi=4096, integer=True)
        if "fov" in syn:
            _number("target.synthetic.fov", syn["fov"], lo=0, lo_open=True)
        if "noise" in syn:
            _number("target.synthetic.noise", syn["noise"], lo=0)
        target["synthetic"] = syn

    # [model]
    model = _table("model", raw.get("model", {}))
    _unknown("model", model, _MODEL_KEYS)
    if "orders" in model:
        orders = model["orders"]
        if not (isinstance(orders, list) and orders and all(
                isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 10
                for n in orders)):  # fmt: skip
            raise ConfigError(f"config key 'model.orders' must be a non-empty list of "
                              f"integers in [0, 10], got {orders!r}")  # fmt: skip
    if "k" in model:
        _number("model.k", model["k"])
    if "spin_bound" in model:
        _number("model.spin_bound", model["spin_bound"], lo=0, hi=1, lo_open=True, hi_open=True)
    for key in ("surface", "velocity"):
        if key in model:
            _str(f"model.{key}", model[key])

    # [field]
    from .fields import EmissionField

    field = _table("field", raw.get("field", {}))
    _unknown("field", field, [k for k in _allowed_kwargs(EmissionField) if k not in
                              ("dtype", "seed")])  # fmt: skip

    # [fit]
    from .fitting import fit as _fit

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

    # [mode]
    mode = _table("mode", raw.get("mode", {}))
    _unknown("mode", mode, ("kind", "spin", "inclination", "fit_spin", "fit_inclination",
                            "seeds", "init_jitter"))  # fmt: skip
    kind = _str("mode.kind", mode.get("kind", "joint"), MODES)
    spin = _axis("mode.spin", mode.get("spin", 0.5), *_SPIN_RANGE)
    inc = _axis("mode.inclination", mode.get("inclination", 45.0), *_INC_RANGE)
    grid = {"spin": isinstance(spin, list), "inclination": isinstance(inc, list)}
    if kind != "scan" and any(grid.values()):
        which = [k for k, v in grid.items() if v][0]
        raise ConfigError(f"config key 'mode.{which}' is a grid, which only mode.kind = "
                          f"'scan' accepts (got kind = {kind!r})")  # fmt: skip
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

    # [output]
    out = _table("output", raw.get("output", {}))
    _unknown("output", out, ("directory", "save_models", "plots", "progress"))
    # relative to the working directory (target.file is relative to the config file)
    outdir = Path(_str("output.directory", out.get("directory", "kerrfield-results")))
    outdir = outdir.expanduser()

    return InferenceConfig(
        mode=kind, target=target, model=model, field=field, fit=fit, spin=spin,
        inclination=inc, fit_spin=fit_spin, fit_inclination=fit_inc, seeds=seeds,
        init_jitter=jitter, output=outdir,
        save_models=_bool("output.save_models", out.get("save_models", False)),
        plots=_bool("output.plots", out.get("plots", True)),
        progress=_bool("output.progress", out.get("progress", True)),
        source=source, raw=raw,
    )  # fmt: skip


def load_inference_config(
    config: str | os.PathLike[str] | Mapping[str, Any],
    *,
    output: str | os.PathLike[str] | None = None,
) -> InferenceConfig:
    """Read and validate an inference configuration.

    Parameters
    ----------
    config : str, os.PathLike or mapping
        A TOML file or an already-parsed mapping with the same structure. A relative
        ``target.file`` is relative to the TOML file, a relative ``output.directory`` to
        the working directory.
    output : str or os.PathLike, optional
        Override ``output.directory``.

    Returns
    -------
    InferenceConfig

    Raises
    ------
    ConfigError
        For a missing file, invalid TOML, an unknown key or a value out of range; the
        message names the key and the allowed values.

    Examples
    --------
    >>> import kerrfield as kf
    >>> cfg = kf.load_inference_config({
    ...     "target": {"synthetic": {"emission": "ring", "npix": 16}},
    ...     "mode": {"kind": "scan", "inclination": {"start": 10, "stop": 50, "num": 5}},
    ... })
    >>> cfg.mode, cfg.inclination
    ('scan', [10.0, 20.0, 30.0, 40.0, 50.0])
    """
    source = None
    if isinstance(config, Mapping):
        raw = dict(config)
    else:
        source = Path(config)
        if not source.is_file():
            raise ConfigError(f"config file {str(source)!r} does not exist")
        try:
            raw = tomllib.loads(source.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: invalid TOML: {exc}") from None
    cfg = _validate(raw, source)
    if output is not None:
        cfg.output = Path(output)
    return cfg


# -- units of work --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class _Unit:
    name: str
    seed: int
    spin: float
    inclination: float
    fit_spin: bool
    fit_inclination: bool
    index: dict[str, int]


def _units(cfg: InferenceConfig) -> list[_Unit]:
    if cfg.mode == "joint":
        return [_Unit("joint", cfg.seeds[0], float(cfg.spin), float(cfg.inclination),  # type: ignore[arg-type]
                      cfg.fit_spin, cfg.fit_inclination, {})]  # fmt: skip
    if cfg.mode == "ensemble":
        out = []
        for i, seed in enumerate(cfg.seeds):
            rng = np.random.default_rng(seed)
            s = float(cfg.spin) + cfg.init_jitter["spin"] * rng.uniform(-1, 1)  # type: ignore[arg-type]
            t = float(cfg.inclination) + cfg.init_jitter["inclination"] * rng.uniform(-1, 1)  # type: ignore[arg-type]
            s = float(np.clip(s, -0.98, 0.98))
            t = float(np.clip(t, 1.0, 179.0))
            out.append(_Unit(f"seed{seed:04d}", seed, s, t, cfg.fit_spin, cfg.fit_inclination,
                             {"member": i}))  # fmt: skip
        return out
    spins = cfg.spin if isinstance(cfg.spin, list) else [cfg.spin]
    incs = cfg.inclination if isinstance(cfg.inclination, list) else [cfg.inclination]
    out = []
    for i, s in enumerate(spins):
        for j, t in enumerate(incs):
            out.append(_Unit(f"spin{i:03d}_inc{j:03d}", cfg.seeds[0], float(s), float(t),
                             cfg.fit_spin, cfg.fit_inclination, {"spin": i, "inclination": j}))
    return out


# -- target ---------------------------------------------------------------------------------
def _load_target(cfg: InferenceConfig) -> xr.Dataset:
    if "file" in cfg.target:
        ds = xr.load_dataset(cfg.target["file"])
        var = cfg.target["variable"]
        if var not in ds:
            raise ConfigError(f"config key 'target.variable': {var!r} is not in "
                              f"{cfg.target['file']} (variables: {list(ds.data_vars)})")
        img = ds[var]
        if set(img.dims) != {"alpha", "beta"}:
            raise ConfigError(f"config key 'target.variable': {var!r} must be an image on "
                              f"('beta', 'alpha'), got dims {img.dims}")  # fmt: skip
        out = xr.Dataset({"image": img.transpose("beta", "alpha")}, attrs=dict(ds.attrs))
        sv = cfg.target.get("sigma_variable")
        if sv:
            out["sigma"] = ds[sv].transpose("beta", "alpha")
        return out
    from .synthetic import synthesize

    return synthesize(**cfg.target["synthetic"])


# -- one fit --------------------------------------------------------------------------------
def _fit_unit(cfg: InferenceConfig, unit: _Unit, target: xr.Dataset,
              checkpoint: Path | None = None) -> tuple[xr.Dataset, Any]:  # fmt: skip
    """Fit one unit; returns its result Dataset and the fitted model."""
    import torch

    from . import fitting
    from .fields import EmissionField
    from .image import kerr_image_model

    torch.manual_seed(unit.seed)
    field = EmissionField(**cfg.field, seed=unit.seed)
    model_kw = dict(cfg.model)
    model_kw["orders"] = tuple(model_kw.get("orders", (0, 1)))
    learn = unit.fit_spin or unit.fit_inclination
    alpha = np.array(target["alpha"].values, dtype=np.float64)
    beta = np.array(target["beta"].values, dtype=np.float64)
    if learn:
        model = kerr_image_model(
            field, unit.spin, unit.inclination, alpha=torch.tensor(alpha),
            beta=torch.tensor(beta), learn_geometry=True, **model_kw,
        )  # fmt: skip
        model.u.requires_grad_(unit.fit_spin)
        model.v.requires_grad_(unit.fit_inclination)
    else:
        # geometry held fixed: trace the screen once instead of at every step
        import importlib

        from .image import fixed_image_model

        raytrace = importlib.import_module("kerrfield.raytrace").raytrace
        trace_kw = {k: model_kw[k] for k in ("surface", "velocity") if k in model_kw}
        geometry = raytrace(unit.spin, unit.inclination, alpha=alpha, beta=beta,
                            orders=model_kw["orders"], **trace_kw)  # fmt: skip
        model = fixed_image_model(field, geometry, k=float(model_kw.get("k", 1.0)))
    fit_kw = dict(cfg.fit)
    fit_kw["steps"] = int(fit_kw["steps"])
    if "batch_size" in fit_kw:
        fit_kw["batch_size"] = int(fit_kw["batch_size"])
    if "checkpoint_every" in fit_kw:
        fit_kw["checkpoint_every"] = int(fit_kw["checkpoint_every"])
    t0 = time.perf_counter()
    # an interrupted unit continues from its last checkpoint (kerrfield.fit's resume)
    result = fitting.fit(
        model, target, seed=unit.seed, progress=False, checkpoint=checkpoint,
        resume=checkpoint is not None, **fit_kw,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    history = _history(result)
    pred = model.to_xarray("model")
    ds = xr.Dataset(
        {
            "model": pred,
            "residual": pred - target["image"],
            "loss_history": ("iteration", history["loss"]),
            "spin_history": ("iteration", history["spin"]),
            "inclination_history": ("iteration", history["inclination"]),
        },
        coords={"iteration": history["iteration"]},
        attrs={
            "unit": unit.name, "seed": unit.seed, "spin_init": unit.spin,
            "inclination_init": unit.inclination, "fit_spin": int(unit.fit_spin),
            "fit_inclination": int(unit.fit_inclination),
            "spin": float(model.spin), "inclination": float(model.inclination),
            "loss": float(history["final_loss"]), "seconds": elapsed,
            "index": json.dumps(unit.index), "fingerprint": cfg.fingerprint,
        },
    )  # fmt: skip
    return ds, model


def _history(result: Any) -> dict[str, Any]:
    """Loss / spin / inclination per step from a :class:`kerrfield.FitResult`."""
    hist = result.history
    loss = np.asarray(hist["loss"].values, dtype=float)
    return {
        "loss": loss,
        "iteration": np.asarray(hist["step"].values, dtype=int),
        "spin": np.asarray(hist["spin"].values, dtype=float),
        "inclination": np.asarray(hist["inclination"].values, dtype=float),
        "final_loss": float(result.final_loss),
    }


# -- persistence ----------------------------------------------------------------------------
def _atomic_netcdf(ds: xr.Dataset, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    ds.to_netcdf(tmp)
    os.replace(tmp, path)


def _atomic_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _load_unit(path: Path, fingerprint: str) -> xr.Dataset | None:
    """A finished unit from disk, or None if absent; error if from another config."""
    if not path.exists():
        return None
    ds = xr.load_dataset(path)
    if ds.attrs.get("fingerprint") != fingerprint:
        raise ConfigError(
            f"{path} was written by a different configuration; use a new output.directory "
            "or pass overwrite=True (--overwrite) to start again"
        )
    return ds


# -- the run --------------------------------------------------------------------------------
def _progress(iterable: Sequence[Any], enabled: bool, desc: str) -> Iterator[Any]:
    if not enabled:
        yield from iterable
        return
    from tqdm.auto import tqdm

    yield from tqdm(iterable, desc=desc, unit="fit", dynamic_ncols=True)


def run_inference(
    config: str | os.PathLike[str] | Mapping[str, Any] | InferenceConfig,
    *,
    output: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    progress: bool | None = None,
    max_units: int | None = None,
) -> dict[str, Any]:
    """Run a configured inference, resuming any finished units already in the output.

    Parameters
    ----------
    config : str, os.PathLike, mapping or InferenceConfig
        A TOML file, a parsed mapping, or a validated :class:`InferenceConfig`.
    output : str or os.PathLike, optional
        Override ``output.directory``.
    overwrite : bool
        Delete earlier unit results in the output directory instead of resuming.
    progress : bool, optional
        Override ``output.progress`` (tqdm bars on stderr).
    max_units : int, optional
        Stop after fitting this many new units (for interrupting runs deliberately; the
        summary then reports ``"complete": false``).

    Returns
    -------
    dict
        The summary also written to ``<output>/summary.json``: mode, best-fit spin and
        inclination, per-unit results, truth (for synthetic targets), timings and the
        names of all files written.

    Examples
    --------
    >>> import kerrfield as kf
    >>> summary = kf.run_inference("examples/joint_fit.toml")  # doctest: +SKIP
    >>> summary["best"]["spin"]  # doctest: +SKIP
    0.91...
    """
    cfg = config if isinstance(config, InferenceConfig) else load_inference_config(config)
    if output is not None:
        cfg.output = Path(output)
    show = cfg.progress if progress is None else bool(progress)
    if max_units is not None and max_units < 0:
        raise ValueError(f"max_units must be >= 0, got {max_units}")
    out = cfg.output
    unit_dir = out / "units"
    unit_dir.mkdir(parents=True, exist_ok=True)
    if overwrite:
        for f in [*unit_dir.glob("*.nc"), *unit_dir.glob("*.ckpt.pt")]:
            f.unlink()

    stamp = out / "config.json"
    if stamp.exists() and not overwrite:
        previous = json.loads(stamp.read_text()).get("fingerprint")
        if previous != cfg.fingerprint:
            raise ConfigError(
                f"{out} holds results of a different configuration (fingerprint {previous}, "
                f"now {cfg.fingerprint}); use a new output.directory or --overwrite"
            )
    _atomic_text(json.dumps({"fingerprint": cfg.fingerprint, "config": cfg.raw}, indent=2,
                            default=str), stamp)  # fmt: skip

    t_start = time.perf_counter()
    target = _load_target(cfg)
    target_path = out / "target.nc"
    if not target_path.exists() or overwrite:
        _atomic_netcdf(target, target_path)

    units = _units(cfg)
    done: dict[str, xr.Dataset] = {}
    for unit in units:
        ds = _load_unit(unit_dir / f"{unit.name}.nc", cfg.fingerprint)
        if ds is not None:
            done[unit.name] = ds
    todo = [u for u in units if u.name not in done]
    skipped = len(done)
    if show and skipped:
        print(f"kerrfield infer: resuming, {skipped} of {len(units)} fits already done",
              file=sys.stderr)  # fmt: skip
    fitted = 0
    for unit in _progress(todo, show, f"{cfg.mode} fits"):
        if max_units is not None and fitted >= max_units:
            break
        ckpt = unit_dir / f"{unit.name}.ckpt.pt"
        ds, model = _fit_unit(cfg, unit, target, checkpoint=ckpt)
        _atomic_netcdf(ds, unit_dir / f"{unit.name}.nc")
        ckpt.unlink(missing_ok=True)
        if cfg.save_models:
            from .image import save_model

            save_model(model, out / "models" / unit.name)
        done[unit.name] = ds
        fitted += 1

    complete = len(done) == len(units)
    summary = _summarise(cfg, units, done, target, complete)
    summary["timing"] = {"seconds": time.perf_counter() - t_start, "units_fitted": fitted,
                         "units_resumed": skipped}  # fmt: skip
    files = ["target.nc", *(f"units/{u.name}.nc" for u in units if u.name in done)]
    if complete:
        results = _collect(cfg, units, done)
        _atomic_netcdf(results, out / "results.nc")
        files.append("results.nc")
        if cfg.plots:
            if fitted or not (out / "images.png").exists():
                files += _plots(cfg, units, done, target, results, summary, out)
            else:  # nothing new: the figures on disk are current
                files += sorted(p.name for p in out.glob("*.png"))
    summary["files"] = files
    _atomic_text(json.dumps(summary, indent=2, default=_jsonable), out / "summary.json")
    return summary


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _truth(target: xr.Dataset) -> dict[str, float]:
    return {k: float(target.attrs[k]) for k in ("spin", "inclination") if k in target.attrs}


def _parabola_min(x: np.ndarray, y: np.ndarray) -> float:
    """Minimum of the parabola through the lowest grid point and its neighbours."""
    i = int(np.nanargmin(y))
    if i == 0 or i == len(x) - 1:
        return float(x[i])
    xs, ys = x[i - 1 : i + 2], y[i - 1 : i + 2]
    c = np.polyfit(xs, ys, 2)
    if c[0] <= 0:
        return float(x[i])
    return float(np.clip(-c[1] / (2 * c[0]), xs[0], xs[-1]))


def _summarise(cfg: InferenceConfig, units: list[_Unit], done: Mapping[str, xr.Dataset],
               target: xr.Dataset, complete: bool) -> dict[str, Any]:  # fmt: skip
    rows = []
    for u in units:
        if u.name in done:
            a = done[u.name].attrs
            rows.append({"unit": u.name, "seed": u.seed, "spin_init": u.spin,
                         "inclination_init": u.inclination, "spin": float(a["spin"]),
                         "inclination": float(a["inclination"]), "loss": float(a["loss"]),
                         "seconds": float(a["seconds"])})  # fmt: skip
    summary: dict[str, Any] = {
        "mode": cfg.mode, "complete": complete, "n_units": len(units), "n_done": len(rows),
        "truth": _truth(target), "fingerprint": cfg.fingerprint, "config": cfg.raw,
        "units": rows,
    }  # fmt: skip
    if not rows:
        return summary
    best = min(rows, key=lambda r: r["loss"])
    summary["best"] = {k: best[k] for k in ("unit", "spin", "inclination", "loss")}
    if cfg.mode == "ensemble":
        s = np.array([r["spin"] for r in rows])
        t = np.array([r["inclination"] for r in rows])
        summary["ensemble"] = {
            "spin_mean": float(s.mean()), "spin_std": float(s.std(ddof=1)) if s.size > 1 else 0.0,
            "inclination_mean": float(t.mean()),
            "inclination_std": float(t.std(ddof=1)) if t.size > 1 else 0.0,
            "n": int(s.size),
        }  # fmt: skip
    if cfg.mode == "scan" and complete:
        for name in ("inclination", "spin"):
            grid = getattr(cfg, name)
            other = "spin" if name == "inclination" else "inclination"
            if isinstance(grid, list):
                # profile: best loss over the other grid axis (if any) at each value
                prof = [min(r["loss"] for r in rows if r[f"{name}_init"] == g) for g in grid]
                summary[f"profile_{name}"] = {
                    "grid": list(grid), "loss": prof,
                    "recovered": _parabola_min(np.array(grid), np.array(prof)),
                    "profiled_" + other: bool(getattr(cfg, f"fit_{other}")),
                }  # fmt: skip
    return summary


def _collect(cfg: InferenceConfig, units: list[_Unit], done: Mapping[str, xr.Dataset]
             ) -> xr.Dataset:  # fmt: skip
    attrs = {"mode": cfg.mode, "fingerprint": cfg.fingerprint,
             "config": json.dumps(cfg.raw, default=str)}  # fmt: skip
    if cfg.mode == "scan":
        spins = cfg.spin if isinstance(cfg.spin, list) else [cfg.spin]
        incs = cfg.inclination if isinstance(cfg.inclination, list) else [cfg.inclination]
        shape = (len(spins), len(incs))
        loss, s_fit, t_fit = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
        for u in units:
            a = done[u.name].attrs
            i, j = u.index["spin"], u.index["inclination"]
            loss[i, j], s_fit[i, j], t_fit[i, j] = a["loss"], a["spin"], a["inclination"]
        dims = ("spin_grid", "inclination_grid")
        return xr.Dataset(
            {"loss": (dims, loss), "spin_fit": (dims, s_fit), "inclination_fit": (dims, t_fit)},
            coords={"spin_grid": spins, "inclination_grid": incs}, attrs=attrs,
        )  # fmt: skip
    seeds = [u.seed for u in units]
    get = lambda key: [float(done[u.name].attrs[key]) for u in units]  # noqa: E731
    ds = xr.Dataset(
        {"spin": ("seed", get("spin")), "inclination": ("seed", get("inclination")),
         "loss": ("seed", get("loss")), "spin_init": ("seed", get("spin_init")),
         "inclination_init": ("seed", get("inclination_init")),
         "seconds": ("seed", get("seconds"))},
        coords={"seed": seeds}, attrs=attrs,
    )  # fmt: skip
    best = min(units, key=lambda u: done[u.name].attrs["loss"])
    ds["model"] = done[best.name]["model"]
    ds["loss_history"] = xr.concat([done[u.name]["loss_history"] for u in units], "seed")
    return ds


# -- figures --------------------------------------------------------------------------------
def _plots(cfg: InferenceConfig, units: list[_Unit], done: Mapping[str, xr.Dataset],
           target: xr.Dataset, results: xr.Dataset, summary: dict[str, Any], out: Path
           ) -> list[str]:  # fmt: skip
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    truth = summary["truth"]
    files: list[str] = []
    best = done[summary["best"]["unit"]]

    # target | best model | residual
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), constrained_layout=True)
    ext = (float(target.alpha[0]), float(target.alpha[-1]),
           float(target.beta[0]), float(target.beta[-1]))  # fmt: skip
    tgt = target["image"].values
    mod = best["model"].values
    scale = tgt.sum() / mod.sum() if mod.sum() != 0 else 1.0
    for ax, img, title in ((axes[0], tgt, "target"), (axes[1], mod * scale, "best fit"),
                           (axes[2], mod * scale - tgt, "residual")):  # fmt: skip
        cmap = "RdBu_r" if title == "residual" else "afmhot"
        lim = np.abs(img).max() if title == "residual" else None
        im = ax.imshow(img, origin="lower", extent=ext, cmap=cmap,
                       vmin=-lim if lim else None, vmax=lim)  # fmt: skip
        ax.set(title=title, xlabel="α [M]", ylabel="β [M]")
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.savefig(out / "images.png", dpi=110)
    plt.close(fig)
    files.append("images.png")

    if cfg.mode in ("joint", "ensemble"):
        fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), constrained_layout=True)
        for u in units:
            d = done[u.name]
            axes[0].semilogy(d.iteration, d.loss_history, lw=1)
            axes[1].plot(d.iteration, d.spin_history, lw=1)
            axes[2].plot(d.iteration, d.inclination_history, lw=1)
        for ax, key, label in ((axes[1], "spin", "spin a"),
                               (axes[2], "inclination", "inclination θo [deg]")):  # fmt: skip
            if key in truth:
                ax.axhline(truth[key], color="k", ls="--", lw=1, label="truth")
                ax.legend()
            ax.set(xlabel="iteration", ylabel=label)
        axes[0].set(xlabel="iteration", ylabel="loss")
        fig.savefig(out / "history.png", dpi=110)
        plt.close(fig)
        files.append("history.png")
    if cfg.mode == "ensemble":
        fig, ax = plt.subplots(figsize=(4.6, 4.0), constrained_layout=True)
        sc = ax.scatter(results.spin, results.inclination, c=np.log10(results.loss), cmap="viridis")
        fig.colorbar(sc, ax=ax, label="log10 loss")
        if truth:
            ax.plot(truth.get("spin", np.nan), truth.get("inclination", np.nan), "r*", ms=14,
                    label="truth")  # fmt: skip
            ax.legend()
        e = summary["ensemble"]
        ax.set(xlabel="spin a", ylabel="inclination θo [deg]",
               title=f"a = {e['spin_mean']:.3f} ± {e['spin_std']:.3f}, "
               f"θo = {e['inclination_mean']:.1f} ± {e['inclination_std']:.1f}°")  # fmt: skip
        fig.savefig(out / "ensemble.png", dpi=110)
        plt.close(fig)
        files.append("ensemble.png")
    if cfg.mode == "scan":
        for name in ("inclination", "spin"):
            key = f"profile_{name}"
            if key not in summary:
                continue
            p = summary[key]
            fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
            ax.plot(p["grid"], p["loss"], "o-", label="profile (best loss)")
            ax.axvline(p["recovered"], color="C1", label=f"recovered {p['recovered']:.3g}")
            if name in truth:
                ax.axvline(truth[name], color="k", ls="--", label=f"truth {truth[name]:.3g}")
            ax.set(xlabel="inclination θo [deg]" if name == "inclination" else "spin a",
                   ylabel="loss", yscale="log")  # fmt: skip
            ax.legend()
            fig.savefig(out / f"profile_{name}.png", dpi=110)
            plt.close(fig)
            files.append(f"profile_{name}.png")
        if isinstance(cfg.spin, list) and isinstance(cfg.inclination, list):
            fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
            np.log10(results["loss"]).plot(ax=ax, x="inclination_grid", y="spin_grid",
                                          cbar_kwargs={"label": "log10 loss"})  # fmt: skip
            fig.savefig(out / "loss_grid.png", dpi=110)
            plt.close(fig)
            files.append("loss_grid.png")
    return files


# -- CLI ------------------------------------------------------------------------------------
def add_cli(subparsers: Any) -> None:
    """Register ``kerrfield infer CONFIG.toml``."""
    p = subparsers.add_parser(
        "infer",
        help="scripted spin/inclination inference from a TOML config (resumable)",
        description="Run a joint fit, a profile scan over inclination/spin, or a seed "
        "ensemble described by a TOML file (see examples/*.toml). Completed fits are "
        "saved one by one; running the same command again resumes.",
    )
    p.add_argument("config", help="TOML configuration file")
    p.add_argument("--output", "-o", help="output directory (overrides output.directory)")
    p.add_argument("--overwrite", action="store_true",
                   help="discard earlier results in the output directory instead of resuming")
    p.add_argument("--check", action="store_true",
                   help="validate the configuration, list the fits and exit")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(func=_cli_infer)


def _cli_infer(args: argparse.Namespace) -> int:
    cfg = load_inference_config(args.config, output=args.output)
    if args.check:
        units = _units(cfg)
        print(f"{args.config}: valid; mode {cfg.mode}, {len(units)} fit(s) -> {cfg.output}")
        for u in units:
            print(f"  {u.name}: spin {u.spin:.4g} ({'free' if u.fit_spin else 'fixed'}), "
                  f"inclination {u.inclination:.4g} ({'free' if u.fit_inclination else 'fixed'})"
                  f", seed {u.seed}")  # fmt: skip
        return 0
    summary = run_inference(cfg, overwrite=args.overwrite, progress=not args.quiet)
    best = summary.get("best", {})
    print(f"kerrfield infer: {summary['n_done']}/{summary['n_units']} fits; best spin "
          f"{best.get('spin', float('nan')):.4f}, inclination "
          f"{best.get('inclination', float('nan')):.3f} deg, loss "
          f"{best.get('loss', float('nan')):.3e}; results in {cfg.output}")  # fmt: skip
    for name in ("inclination", "spin"):
        if f"profile_{name}" in summary:
            rec = summary[f"profile_{name}"]["recovered"]
            print(f"  profile over {name}: minimum at {rec:.4g}")
    if "ensemble" in summary:
        e = summary["ensemble"]
        print(f"  ensemble of {e['n']}: spin {e['spin_mean']:.4f} ± {e['spin_std']:.4f}, "
              f"inclination {e['inclination_mean']:.3f} ± {e['inclination_std']:.3f} deg")
    return 0
