"""The ``search`` strategy's units: grid points, joint refinements, profile points.

A global search before local descent. Stage ``grid`` fits the emission field to convergence
(:func:`~kerrfield.fitting.convergence.fit_to_convergence`) on fixed, traced-once geometry at
every point of a coarse spin x inclination grid, from several field seeds, keeping the best.
Stage ``refine`` starts a joint fit (field, spin and inclination; linearised geometry,
exact every ``relinearize_every`` steps) from the fitted field of each of the best few grid
points. Stage ``polish`` fits the field alone (L-BFGS) at each refined geometry,
warm-started, so that refined points are compared at the field's optimum. Stage
``profileN`` fits the field at the points of a local grid around the best polished point,
each warm-started from its field, so the noise-aware chi^2 on that grid is
a profile likelihood (:mod:`kerrfield.fitting.profile`). Every unit is independent given its
inputs, so the runner can execute a stage's units serially or on a dask cluster.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import xarray as xr

from .config import InferenceConfig
from .plan import Unit, label_unit

__all__ = ["fit_search_unit", "plan_refine", "plan_polish", "plan_profile", "unit_chi2"]


def _physics(cfg: InferenceConfig, target: xr.Dataset) -> dict[str, Any]:
    from .convergence import resolve_physics

    # mismatches were printed once by the runner, not by every unit
    return resolve_physics(target, {k: v for k, v in cfg.model.items() if k != "spin_bound"},
                           quiet=True)  # fmt: skip


def _loss_name(cfg: InferenceConfig, target: xr.Dataset) -> str:
    from .convergence import target_sigma

    if "loss" in cfg.fit:
        return str(cfg.fit["loss"])
    return "chi2" if target_sigma(target) is not None else "nmse"


def _fit_kw(cfg: InferenceConfig, target: xr.Dataset) -> dict[str, Any]:
    kw = {k: v for k, v in cfg.fit.items() if k not in ("steps", "device")}
    kw["loss"] = _loss_name(cfg, target)
    for key in ("batch_size", "checkpoint_every"):
        if key in kw:
            kw[key] = int(kw[key])
    return kw


def _field(cfg: InferenceConfig, seed: int, params: np.ndarray | None):
    import torch

    from ..fields.emission import EmissionField

    torch.manual_seed(seed)
    field = EmissionField(**cfg.field, seed=seed)
    if params is not None:
        torch.nn.utils.vector_to_parameters(torch.tensor(params, dtype=torch.float64),
                                            list(field.parameters()))  # fmt: skip
    return field


def fit_search_unit(cfg: InferenceConfig, unit: Unit, target: xr.Dataset,
                    init_params: np.ndarray | None = None) -> xr.Dataset:  # fmt: skip
    """Fit one unit of the search; returns its result Dataset (written by the runner).

    ``init_params`` (the flattened field of ``unit.init_from``) warm-starts refinement and
    profile units. The Dataset holds the model image, residual, loss history and fitted
    field parameters; its attrs the loss, ``chi2`` (total, for the chi2 loss), the
    convergence record and the geometry.
    """
    import torch

    from ..models.builders import fixed_image_model, kerr_image_model
    from ..physics.raytrace import raytrace
    from .convergence import fit_field_lbfgs, fit_to_convergence

    phys = _physics(cfg, target)
    sc = cfg.search
    alpha = np.array(target["alpha"].values, dtype=np.float64)
    beta = np.array(target["beta"].values, dtype=np.float64)
    kw = _fit_kw(cfg, target)
    conv = dict(window=int(sc["window"]), rtol=float(sc["rtol"]), min_steps=int(sc["min_steps"]))
    t0 = time.perf_counter()
    geometry = None
    if unit.stage != "refine":
        geometry = raytrace(unit.spin, unit.inclination, alpha=alpha, beta=beta,
                            orders=phys["orders"], surface=phys["surface"],
                            velocity=phys["velocity"])  # fmt: skip
    tried, best = [], None
    steps = {"grid": int(cfg.fit["steps"]), "polish": int(sc["polish_steps"])}.get(
        unit.stage, int(sc["profile_steps"]))
    for k, seed in enumerate(unit.seeds or (unit.seed,)):
        # polish: the first seed continues the refined field, the others start cold
        warm = init_params if (unit.stage != "polish" or k == 0) else None
        field = _field(cfg, seed, warm)
        if geometry is not None:
            model = fixed_image_model(field, geometry, k=phys["k"], beam_fwhm=phys["beam_fwhm"])
            res, info = fit_field_lbfgs(model, target, loss=kw["loss"], max_iter=steps,
                                        window=int(sc["field_window"]),
                                        rtol=float(sc["field_rtol"]))  # fmt: skip
        else:
            model = kerr_image_model(
                field, unit.spin, unit.inclination, alpha=torch.tensor(alpha),
                beta=torch.tensor(beta), k=phys["k"], orders=phys["orders"],
                surface=phys["surface"], velocity=phys["velocity"],
                beam_fwhm=phys["beam_fwhm"], relinearize_every=int(sc["relinearize_every"]),
                relinearize_tol=(0.01, 0.5),
            )  # fmt: skip
            kw_r = {**kw, "geometry_lr": float(sc["refine_geometry_lr"])}
            res, info = fit_to_convergence(model, target, max_steps=int(sc["refine_steps"]),
                                           seed=seed, **conv, **kw_r)  # fmt: skip
        tried.append((float(res.final_loss), seed))
        if best is None or res.final_loss < best[0].final_loss:
            best = (res, info, model, seed)
    return _unit_dataset(cfg, unit, target, best, tried, kw["loss"], time.perf_counter() - t0)


def _unit_dataset(cfg, unit, target, best, tried, loss_name, elapsed) -> xr.Dataset:
    import torch

    res, info, model, seed = best
    hist = res.history
    pred = model.to_xarray("model")
    npix = int(target["image"].size)
    loss = float(res.final_loss)
    params = torch.nn.utils.parameters_to_vector(model.field.parameters()).detach().cpu()
    ds = xr.Dataset(
        {
            "model": pred,
            "residual": pred - target["image"],
            "loss_history": ("iteration", np.asarray(hist["loss"].values, dtype=float)),
            "spin_history": ("iteration", np.asarray(hist["spin"].values, dtype=float)),
            "inclination_history": ("iteration",
                                    np.asarray(hist["inclination"].values, dtype=float)),
            "field_params": ("parameter", params.numpy().astype(np.float64)),
        },
        coords={"iteration": np.asarray(hist["step"].values, dtype=int)},
        attrs={
            "unit": unit.name, "stage": unit.stage, "seed": int(seed),
            "seeds_tried": json.dumps([s for _, s in tried]),
            "losses_per_seed": json.dumps([v for v, _ in tried]),
            "spin_init": unit.spin, "inclination_init": unit.inclination,
            "fit_spin": int(unit.stage == "refine"), "fit_inclination": int(unit.stage == "refine"),
            "spin": float(model.spin.detach()),
            "inclination": float(model.inclination.detach()),
            "loss": loss, "loss_name": loss_name,
            "chi2": loss * npix if loss_name == "chi2" else float("nan"),
            "converged": int(info["converged"]), "steps": info["steps"],
            "rel_change": info["rel_change"], "seconds": elapsed,
            "index": json.dumps(unit.index), "init_from": unit.init_from,
            "fingerprint": cfg.fingerprint,
        },
    )  # fmt: skip
    return label_unit(ds, loss_name, target)


def unit_chi2(ds: xr.Dataset) -> float:
    """The unit's objective on the chi^2 scale (total chi^2; the loss itself for nmse)."""
    c = float(ds.attrs.get("chi2", float("nan")))
    return c if np.isfinite(c) else float(ds.attrs["loss"])


# -- later stages, planned from the results of earlier ones ---------------------------------
def plan_refine(cfg: InferenceConfig, grid: list[Unit], done: dict[str, xr.Dataset]
                ) -> list[Unit]:  # fmt: skip
    """Joint refinements from the best ``search.refine`` grid points that are not neighbours."""
    ranked = sorted(grid, key=lambda u: unit_chi2(done[u.name]))
    picked: list[Unit] = []
    for u in ranked:
        if len(picked) >= int(cfg.search["refine"]):
            break
        near = any(abs(u.index["spin"] - p.index["spin"]) <= 1
                   and abs(u.index["inclination"] - p.index["inclination"]) <= 1
                   for p in picked)  # fmt: skip
        if not near:
            picked.append(u)
    free = isinstance(cfg.spin, list), isinstance(cfg.inclination, list)
    return [Unit(f"refine_{k:02d}", done[u.name].attrs["seed"], u.spin, u.inclination, free[0],
                 free[1], dict(u.index), stage="refine", seeds=(int(done[u.name].attrs["seed"]),),
                 init_from=u.name) for k, u in enumerate(picked)]  # fmt: skip


def plan_polish(refine: list[Unit], done: dict[str, xr.Dataset], n_cold: int = 2
                ) -> list[Unit]:  # fmt: skip
    """Field-only L-BFGS fits at each refined geometry: warm-started from its field and from
    ``n_cold`` fresh seeds (seed + 1000, ...), the best kept.

    A joint Adam fit moves the geometry well but leaves the field short of its optimum
    (measured on the Krang anchor: a refinement at a = 0.937, θo = 20.3° still at
    χ²/N = 6.0, another at 0.878 / 21.0° at 1.7); the profile likelihood compares
    geometries at the field's optimum, so each refined point is polished on fixed geometry
    (``search.polish_steps`` L-BFGS iterations at most) before the best becomes the centre of
    the profile; cold starts guard against a warm field stuck in a poor basin.
    """
    out = []
    for u in refine:
        a = done[u.name].attrs
        cold = tuple(1000 + int(a["seed"]) + j for j in range(n_cold))
        out.append(Unit(u.name.replace("refine", "polish"), int(a["seed"]), float(a["spin"]),
                        float(a["inclination"]), False, False, dict(u.index), stage="polish",
                        seeds=(int(a["seed"]), *cold), init_from=u.name))  # fmt: skip
    return out


def plan_profile(cfg: InferenceConfig, round_: int, centre: Unit, spans: dict[str, float]
                 ) -> list[Unit]:  # fmt: skip
    """A local grid of ``search.profile_points`` per free axis around ``centre``'s fit.

    ``spans`` are the half-widths (spin, inclination in degrees); fixed axes stay at their
    value. Every point is warm-started from ``centre``'s field with its seed.
    """
    n = int(cfg.search["profile_points"])
    axes = {}
    for name in ("spin", "inclination"):
        c = float(getattr(centre, name))
        grid = getattr(cfg, name)
        if isinstance(grid, list):  # local grids stay inside the searched range, and keep
            lo, hi = min(grid), max(grid)  # their n points when the centre is at or past an edge
            half = min(spans[name], (hi - lo) / 2)
            c = float(np.clip(c, lo + half, hi - half))
            vals = np.clip(c + half * np.linspace(-1.0, 1.0, n), lo, hi)
            axes[name] = [float(v) for v in np.unique(np.round(vals, 12))]
        else:
            axes[name] = [float(getattr(cfg, name))]
    out = []
    for i, s in enumerate(axes["spin"]):
        for j, t in enumerate(axes["inclination"]):
            out.append(Unit(f"profile{round_}_s{i:03d}_i{j:03d}", centre.seed, s, t, False, False,
                            {"spin": i, "inclination": j}, stage=f"profile{round_}",
                            seeds=(centre.seed,), init_from=centre.name))  # fmt: skip
    return out
