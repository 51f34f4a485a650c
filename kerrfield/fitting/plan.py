"""The units of work of a scripted inference: grid points and ensemble members.

:func:`plan_units` expands a validated configuration into the list of fits it runs; the runner,
the summaries and ``kerrfield infer --check`` all use the same list.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
import warnings
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._version import __version__
from ..io.atomic import atomic_write_text
from ..io.readers import CorruptFileError, load_netcdf
from .config import ConfigError, InferenceConfig

__all__ = ["Unit", "plan_units", "plan_grid", "load_unit", "prepare_output", "config_changes",
           "output_status"]


@dataclasses.dataclass(frozen=True)
class Unit:
    """One fit of a scripted inference: a grid point or an ensemble member."""

    name: str
    seed: int
    spin: float
    inclination: float
    fit_spin: bool
    fit_inclination: bool
    index: dict[str, int]
    stage: str = ""  # search strategy: "grid", "refine" or "profileN"
    seeds: tuple[int, ...] = ()  # search: field seeds tried at this point (best kept)
    init_from: str = ""  # search: unit whose fitted field starts this one


def plan_units(cfg: InferenceConfig) -> list[Unit]:
    """The fits a configuration expands into, in run order (for an observation ``search``, its
    grid: the refinements depend on the grid's results, see ``observation_search``)."""
    if cfg.mode == "search" and "observation" not in cfg.target:
        return plan_grid(cfg)
    if cfg.mode == "joint":
        return [Unit("joint", cfg.seeds[0], float(cfg.spin), float(cfg.inclination),  # type: ignore[arg-type]
                      cfg.fit_spin, cfg.fit_inclination, {})]  # fmt: skip
    if cfg.mode == "ensemble":
        out = []
        for i, seed in enumerate(cfg.seeds):
            rng = np.random.default_rng(seed)
            s = float(cfg.spin) + cfg.init_jitter["spin"] * rng.uniform(-1, 1)  # type: ignore[arg-type]
            t = float(cfg.inclination) + cfg.init_jitter["inclination"] * rng.uniform(-1, 1)  # type: ignore[arg-type]
            s = float(np.clip(s, -0.98, 0.98))
            t = float(np.clip(t, 1.0, 179.0))
            out.append(Unit(f"seed{seed:04d}", seed, s, t, cfg.fit_spin, cfg.fit_inclination,
                             {"member": i}))  # fmt: skip
        return out
    spins = cfg.spin if isinstance(cfg.spin, list) else [cfg.spin]
    incs = cfg.inclination if isinstance(cfg.inclination, list) else [cfg.inclination]
    out = []
    for i, s in enumerate(spins):
        for j, t in enumerate(incs):
            out.append(Unit(f"spin{i:03d}_inc{j:03d}", cfg.seeds[0], float(s), float(t),
                             cfg.fit_spin, cfg.fit_inclination, {"spin": i, "inclination": j}))
    return out


def _axis_values(value: float | list[float]) -> list[float]:
    return [float(v) for v in value] if isinstance(value, list) else [float(value)]


def plan_grid(cfg: InferenceConfig) -> list[Unit]:
    """The coarse spin x inclination grid of the ``search`` strategy (its first stage).

    Each point fits the field on fixed geometry from ``search.field_seeds`` seeds and keeps
    the best; a scalar ``mode.spin`` / ``mode.inclination`` is a fixed axis.
    """
    n_seeds = int(cfg.search.get("field_seeds", 2))
    seeds = tuple(cfg.seeds[0] + k for k in range(n_seeds))
    out = []
    for i, s in enumerate(_axis_values(cfg.spin)):
        for j, t in enumerate(_axis_values(cfg.inclination)):
            out.append(Unit(f"grid_s{i:03d}_i{j:03d}", seeds[0], s, t, False, False,
                            {"spin": i, "inclination": j}, stage="grid", seeds=seeds))
    return out


def load_unit(path: Path, fingerprint: str | Collection[str], *,
              refit_other: bool = False) -> xr.Dataset | None:  # fmt: skip
    """A finished unit from disk, or None if absent.

    A unit whose fingerprint is not ``fingerprint`` (or not one of them) is an error, or,
    with ``refit_other``, None (fitted again: for the refinements of an observation search,
    whose folder :func:`prepare_output` has already accepted on the grid fingerprint).
    """
    accepted = {fingerprint} if isinstance(fingerprint, str) else set(fingerprint)
    if not path.exists():
        return None
    try:
        ds = load_netcdf(path, "unit result")
    except CorruptFileError as exc:  # e.g. truncated by a full disk: fit the unit again
        print(f"kerrfield infer: {exc.args[0].split(';')[0]}; fitting this unit again",
              file=sys.stderr)  # fmt: skip
        return None
    if ds.attrs.get("fingerprint") not in accepted:
        if refit_other:
            return None
        raise ConfigError(
            f"{path} was written by a different configuration; use a new output.directory "
            "or pass overwrite=True (--overwrite) to start again"
        )
    return ds


def load_done(units: list[Unit], unit_dir: Path,
              fingerprint: str | Collection[str]) -> dict[str, xr.Dataset]:  # fmt: skip
    """The finished units among ``units`` (by name), read from ``unit_dir``."""
    done: dict[str, xr.Dataset] = {}
    for unit in units:
        ds = load_unit(unit_dir / f"{unit.name}.nc", fingerprint)
        if ds is not None:
            done[unit.name] = ds
    return done


def prepare_output(cfg: InferenceConfig, out: Path, unit_dir: Path, overwrite: bool) -> None:
    """Create the folders, clear them on ``overwrite`` (units, checkpoints, figures,
    ``results.nc``, ``summary.json``, ``target.nc``, ``models/``), refuse another config's
    results.

    A folder is accepted when its stamp matches :attr:`InferenceConfig.fingerprint` or, for
    an observation scan or search, :attr:`InferenceConfig.grid_fingerprint` (a scan
    continued as a search, or a search with other refinement settings).
    """
    unit_dir.mkdir(parents=True, exist_ok=True)
    if overwrite:  # every output of the earlier run, so none is mistaken for this run's
        for f in [*unit_dir.glob("*.nc"), *unit_dir.glob("*.ckpt.pt"), *out.glob("*.png"),
                  *(out / n for n in ("results.nc", "summary.json", "target.nc"))]:
            f.unlink(missing_ok=True)
        shutil.rmtree(out / "models", ignore_errors=True)
    stamp = out / "config.json"
    version = None
    if stamp.exists() and not overwrite:
        old = json.loads(stamp.read_text())
        if not _stamp_accepts(old, cfg):
            raise ConfigError(
                f"{out} holds results of a different configuration (fingerprint "
                f"{old.get('fingerprint')}, now {cfg.fingerprint}){_changed(old, cfg)}; use a new "
                "output.directory or --overwrite"
            )
        version = _started_by(old)
        if version != __version__:  # same settings, other code: say so, keep the stamp's
            warnings.warn(f"{out} was started by kerrfield {version}, this is {__version__}: "
                          "its finished units are reused as they are (--overwrite recomputes "
                          "them)", RuntimeWarning, stacklevel=3)  # fmt: skip
    atomic_write_text(json.dumps({"fingerprint": cfg.fingerprint,
                                  "grid_fingerprint": cfg.grid_fingerprint, "config": cfg.raw,
                                  "target_sha256": cfg.target_sha256,
                                  "kerrfield_version": version or __version__},
                                 indent=2, default=str), stamp)  # fmt: skip


def _started_by(old: Mapping[str, Any]) -> str:
    """The kerrfield version a stamp records (stamps before 0.1.0 record none)."""
    return str(old.get("kerrfield_version", "before 0.1.0"))


def _stamp_accepts(old: Mapping[str, Any], cfg: InferenceConfig) -> bool:
    return (old.get("fingerprint") == cfg.fingerprint
            or old.get("grid_fingerprint") == cfg.grid_fingerprint)  # fmt: skip


def _changed(old: Mapping[str, Any], cfg: InferenceConfig) -> str:
    """``"; changed: key: old → new, ..."`` against a stamp's stored config, or ``""``."""
    changed = config_changes(old.get("config", {}), cfg.raw)
    if old.get("target_sha256", cfg.target_sha256) != cfg.target_sha256:
        changed.append("the target file's contents (sha256)")
    return f"; changed: {', '.join(changed)}" if changed else ""


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, Mapping):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The keys in which two raw configurations differ, ``output`` aside.

    Parameters
    ----------
    old, new : mapping
        Parsed configurations (``old`` as stored in an output folder's ``config.json``).

    Returns
    -------
    list of str
        ``"dotted.key: old → new"`` per differing key, sorted; ``(unset)`` for a key only
        one of them has.

    Examples
    --------
    >>> config_changes({"fit": {"steps": 20}}, {"fit": {"steps": 25, "lr": 0.01}})
    ['fit.lr: (unset) → 0.01', 'fit.steps: 20 → 25']
    """
    # as config.json stores it: through JSON, paths and other objects as strings
    a, b = (_flatten({k: v for k, v in json.loads(json.dumps(dict(c), default=str)).items()
                      if k != "output"}) for c in (old, new))  # fmt: skip
    unset = "(unset)"
    return [f"{k}: {json.dumps(a[k]) if k in a else unset} → "
            f"{json.dumps(b[k]) if k in b else unset}"
            for k in sorted(set(a) | set(b)) if a.get(k, unset) != b.get(k, unset)]


def output_status(cfg: InferenceConfig, units: list[Unit],
                  overwrite: bool = False) -> str | None:
    """What a run would find in ``cfg.output``, for ``kerrfield infer --check`` (reads the
    stamp and the units' attributes; fits nothing, writes nothing).

    Returns
    -------
    str or None
        A line: how many of ``units`` are already done and will be reused, or that the
        folder holds another configuration's results (and what changed); None without an
        earlier run's ``config.json``.
    """
    stamp = cfg.output / "config.json"
    if not stamp.is_file():
        return None
    if overwrite:
        return f"output folder: {cfg.output} holds an earlier run; --overwrite discards it"
    try:
        old = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return f"output folder: {stamp} is unreadable; the run will refuse it"
    if not _stamp_accepts(old, cfg):
        return ("output folder: holds results of a different configuration (the run will "
                f"refuse it; --overwrite discards them){_changed(old, cfg)}")  # fmt: skip
    accepted = {cfg.fingerprint, cfg.grid_fingerprint}
    n = sum(load_unit(cfg.output / "units" / f"{u.name}.nc", accepted, refit_other=True)
            is not None for u in units)  # fmt: skip
    kind = "grid units" if cfg.mode in ("scan", "search") else "units"
    version = _started_by(old)
    other = f", by kerrfield {version} (this is {__version__})" if version != __version__ else ""
    return (f"output folder: {n} of {len(units)} {kind} already done{other}"
            + (" (will be reused; --overwrite discards them)" if n else ""))


def label_unit(ds: xr.Dataset, loss_name: str, target: xr.Dataset) -> xr.Dataset:
    """Explicit metadata for a unit's Dataset: ``pred - target`` would carry the operands'
    attributes (``long_name`` "target", the model's spin), and a loss history is read
    wrongly without the loss it records."""
    ds["residual"].attrs = {"long_name": "model - target",
                            "units": target["image"].attrs.get("units", "")}  # fmt: skip
    ds["loss_history"].attrs = {"long_name": f"data loss per step ({loss_name})",
                                "loss": loss_name}  # fmt: skip
    ds.attrs["loss_name"] = loss_name
    return ds
