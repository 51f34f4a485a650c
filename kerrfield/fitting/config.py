"""Scripted, resumable inference of spin and inclination from a TOML configuration.

``kerrfield infer CONFIG.toml`` (or :func:`run_inference`) runs one of four modes on a
target image:

``search`` (default)
    Global search, then profile likelihood: a coarse spin x inclination grid with the field
    fitted to convergence on fixed geometry at every point (several field seeds, best
    kept), joint refinement of the best few points, then a local grid around the refined
    minimum whose noise-aware chi^2 profile gives confidence intervals (``[search]``
    options; see :mod:`kerrfield.fitting.search`).
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

    [target]                          # exactly one of file / synthetic / observation
    file = "target.nc"                # netCDF with an image on (beta, alpha)
    variable = "image"
    # synthetic = { emission = "ring", spin = 0.94, inclination = 30.0, npix = 24 }
    # observation = { uvfits = "m87.uvfits" }   # or { day = 6, band = "hi" }: see below

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
    spin = 0.5                        # initial value, profiled; fit_spin = false fixes it
    fit_spin = false

    [output]
    directory = "out/scan"            # relative to the working directory

An **observation** target (``[target.observation]``: a ``uvfits`` file relative to the
config, or ``day``/``band`` of the EHT 2017 M87 release) takes ``mode.kind = "scan"`` (the
default) or ``"search"``. A scan runs over ``mode.spin`` x ``mode.inclination``: each unit fits
the field, θ_g and PA at fixed geometry with :func:`kerrfield.fit`. A search runs the same grid
and then refines its ``search.refine`` best points (default 2) with spin and inclination
fitted too for ``search.refine_steps`` steps (default 2 × ``fit.steps``); the estimate is the
lowest χ² of both stages, the intervals stay the grid's (``[search]`` takes only these two
keys and ``refine_geometry_lr`` there; :mod:`kerrfield.fitting.observation_search`). A
finished scan folder can be continued as a search: its grid units are reused
(:attr:`InferenceConfig.grid_fingerprint`). Then ``[model]`` takes
``fov``, ``npix``, ``orders``, ``k``, ``velocity``, ``surface``, ``axisymmetric`` and
``match_steps`` (:data:`~kerrfield.fitting.observation_sections.OBSERVATION_MODEL`),
``[fit]`` takes ``steps``, ``lr``, ``tv_weight`` and the table ``[fit.observation]`` (the
``observation=`` options of :func:`kerrfield.fit`: ``weights``, ``systematic``,
``theta_g``, ``position_angle``, ...), and ``[field]`` defaults to ``scale = 10``. See
``examples/m87_2017_scan.toml``, ``examples/m87_2017_search.toml`` and
:mod:`kerrfield.fitting.observation_report`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._schema import MODES, ConfigError, _number, _unknown
from .config_sections import (
    field_section,
    fit_section,
    mode_section,
    model_section,
    output_section,
    search_section,
    target_section,
)

__all__ = ["ConfigError", "InferenceConfig", "load_inference_config", "MODES"]


if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


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
        Whether a scalar ``spin`` / ``inclination`` is fitted (default true, except in
        ``search``, where a scalar is held fixed).
    seeds : list of int
        One fit per seed (``ensemble``); otherwise the single base seed.
    init_jitter : dict
        Per-member uniform jitter of the starting ``spin`` and ``inclination``
        (``ensemble``).
    warm_start : bool
        ``joint``/``ensemble``: fit the field (L-BFGS) on the starting geometry first.
    search : dict
        ``[search]`` options of the ``search`` strategy.
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
    search: dict[str, Any] = dataclasses.field(default_factory=dict)
    warm_start: bool = False
    save_models: bool = False
    plots: bool = True
    progress: bool = True
    source: Path | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def target_sha256(self) -> list[str]:
        """sha256 of each target file (``target.file``, ``target.observation.uvfits``);
        empty for synthetic targets and the EHT release (checked against its own hashes)."""
        files = ([self.target["file"]] if "file" in self.target else
                 self.target.get("observation", {}).get("uvfits", []))  # fmt: skip
        if isinstance(files, (str, os.PathLike)):  # one uvfits file, not a list
            files = [files]
        return [_file_sha256(str(f)) for f in files]

    @property
    def fingerprint(self) -> str:
        """Hash of everything that changes the results (not the output options)."""
        return _hash(self._effective())

    def _effective(self) -> dict[str, Any]:
        """``raw`` less ``output``, plus the sha256 of each target file (``target.file``,
        ``target.observation.uvfits``: new data at the same path is a new run), with the
        defaults whose change must not let an earlier
        folder be resumed: for an observation target the effective ``fit.observation.uv_min``
        and ``scan_average`` (defaults changed on 2026-12-01 from every baseline to 0.1 Gλ
        and from the 10 s records to scan averages). ``search.interval_scale`` only changes
        how finished units are read, so a folder may be re-read with another value."""
        raw = {k: v for k, v in self.raw.items() if k != "output"}
        # the data, not only their path: a file rewritten in place must not resume the
        # folder fitted to its old contents
        hashes = self.target_sha256
        if hashes:
            raw["target_sha256"] = hashes
        if "interval_scale" in raw.get("search", {}):
            raw["search"] = {k: v for k, v in raw["search"].items() if k != "interval_scale"}
        if "observation" in self.target:
            from ..vlbi.closures import UV_MIN

            fit = dict(raw.get("fit", {}))
            fit["observation"] = {"uv_min": UV_MIN, "scan_average": True,
                                  **fit.get("observation", {})}
            raw["fit"] = fit
        return raw

    @property
    def grid_fingerprint(self) -> str:
        """Hash of everything that changes a grid unit's fit.

        For an observation target, :attr:`fingerprint` less ``mode.kind`` and the
        ``[search]`` keys that only the refinements use
        (:data:`~kerrfield.fitting.observation_sections.REFINEMENT_KEYS`): the grid units of
        an observation scan and search are the same fits, so a scan's folder can be
        continued as a search. For an image target, :attr:`fingerprint` (the search's grid
        units are not a scan's).
        """
        if "observation" not in self.target:
            return self.fingerprint
        from .observation_sections import REFINEMENT_KEYS

        keep = {k: v for k, v in self._effective().items() if k not in ("mode", "search")}
        keep["mode"] = {k: v for k, v in self.raw.get("mode", {}).items() if k != "kind"}
        search = {k: v for k, v in self.raw.get("search", {}).items()
                  if k not in REFINEMENT_KEYS}  # fmt: skip
        if search:  # none today; a future grid-relevant key stays in the hash
            keep["search"] = search
        return _hash(keep)


def _file_sha256(path: str) -> str:
    """sha256 of a file's contents, cached per (path, size, mtime): a fingerprint is read
    several times per run and target files can be large."""
    st = os.stat(path)
    return _sha256_cached(os.path.abspath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _hash(keep: Mapping[str, Any]) -> str:
    blob = json.dumps(keep, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


_TOP = ("seed", "target", "model", "field", "fit", "mode", "search", "output")


def _refuse_unused_in_search(cfg: InferenceConfig) -> InferenceConfig:
    """Options a ``search`` would accept and then ignore are refused, naming why: its units
    fit on the CPU (L-BFGS on traced geometry, then short refinements), are saved whole in
    ``units/<unit>.nc`` (field parameters included) and are refitted, not resumed, when
    interrupted."""
    if cfg.mode != "search":
        return cfg
    unused = {
        "fit.device": (cfg.fit.get("device", "cpu") not in ("cpu", "auto"),
                       "search units run on the CPU"),
        "fit.checkpoint_every": ("checkpoint_every" in cfg.fit,
                                 "search units are not checkpointed (an interrupted unit is "
                                 "fitted again; finished units are kept)"),
        "output.save_models": (cfg.save_models, "search units keep their fitted field "
                               "parameters in units/<unit>.nc (field_params)"),
    }  # fmt: skip
    for key, (given, why) in unused.items():
        if given:
            raise ConfigError(f"config key {key!r} is not used by mode.kind = 'search' ({why}); "
                              "remove it, or use a scan, joint or ensemble run")  # fmt: skip
    return cfg


def _validate(raw: Mapping[str, Any], source: Path | None) -> InferenceConfig:
    raw = dict(raw)
    _unknown("", raw, _TOP)
    seed = _number("seed", raw.get("seed", 0), lo=0, integer=True)
    target = target_section(raw, source)
    if "observation" in target:  # a scan of an interferometric observation
        from .observation_sections import observation_sections

        return InferenceConfig(target=target, **observation_sections(raw, seed), source=source,
                               raw=raw)  # fmt: skip
    return _refuse_unused_in_search(InferenceConfig(
        target=target, model=model_section(raw),
        field=field_section(raw), fit=fit_section(raw), **mode_section(raw, seed),
        search=search_section(raw), **output_section(raw), source=source, raw=raw,
    ))  # fmt: skip


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
        if source.is_dir():
            raise ConfigError(f"config file {str(source)!r} is a folder; give the TOML file "
                              "(an output folder's settings are in its config.json)")
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
