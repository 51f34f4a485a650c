"""The units of work of a scripted inference: grid points and ensemble members.

:func:`plan_units` expands a validated configuration into the list of fits it runs; the runner,
the summaries and ``kerrfield infer --check`` all use the same list.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .config import InferenceConfig

__all__ = ["Unit", "plan_units"]


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


def plan_units(cfg: InferenceConfig) -> list[Unit]:
    """The fits a configuration expands into, in run order."""
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
