"""Summaries and figures of a scripted inference run: estimates, profiles, ensemble spread.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..models.forward import target_truth
from .config import InferenceConfig
from .plan import Unit


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


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


def _summarise(cfg: InferenceConfig, units: list[Unit], done: Mapping[str, xr.Dataset],
               target: xr.Dataset, complete: bool) -> dict[str, Any]:  # fmt: skip
    rows = []
    for u in units:
        if u.name in done:
            a = done[u.name].attrs
            rows.append({"unit": u.name, "seed": u.seed, "spin_init": u.spin,
                         "inclination_init": u.inclination, "spin": float(a["spin"]),
                         "inclination": float(a["inclination"]), "loss": float(a["loss"]),
                         "seconds": float(a["seconds"]),
                         "relative_residual": float(a.get("relative_residual", np.nan)),
                         })  # fmt: skip
    summary: dict[str, Any] = {
        "mode": cfg.mode, "complete": complete, "n_units": len(units), "n_done": len(rows),
        "truth": target_truth(target), "fingerprint": cfg.fingerprint, "config": cfg.raw,
        "units": rows,
    }  # fmt: skip
    if not rows:
        return summary
    best = min(rows, key=lambda r: r["loss"])
    summary["best"] = {k: best[k] for k in ("unit", "spin", "inclination", "loss",
                                             "relative_residual")}  # fmt: skip
    summary["best"]["loss_name"] = _loss_label(str(cfg.fit.get("loss", "nmse")))
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
                i = int(np.nanargmin(prof))
                summary[f"profile_{name}"] = {
                    "grid": list(grid), "loss": prof,
                    "recovered": _parabola_min(np.array(grid), np.array(prof)),
                    "profiled_" + other: bool(getattr(cfg, f"fit_{other}")),
                    # a minimum on the first or last grid value is a bound, not an estimate
                    "at_grid_edge": len(grid) > 1 and i in (0, len(grid) - 1),
                }  # fmt: skip
    return summary


def _collect(cfg: InferenceConfig, units: list[Unit], done: Mapping[str, xr.Dataset]
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
def _plots(cfg: InferenceConfig, units: list[Unit], done: Mapping[str, xr.Dataset],
           target: xr.Dataset, results: xr.Dataset, summary: dict[str, Any], out: Path
           ) -> list[str]:  # fmt: skip
    """Write the run's figures into ``out``; returns their file names."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs = {"images.png": _plot_images(plt, target, done[summary["best"]["unit"]])}
    if cfg.mode in ("joint", "ensemble"):
        figs["history.png"] = _plot_histories(plt, units, done, summary["truth"])
    if cfg.mode == "ensemble":
        figs["ensemble.png"] = _plot_ensemble(plt, results, summary)
    if cfg.mode == "scan":
        for name in ("inclination", "spin"):
            if f"profile_{name}" in summary:
                figs[f"profile_{name}.png"] = _plot_profile(plt, name, summary)
        if isinstance(cfg.spin, list) and isinstance(cfg.inclination, list):
            fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
            np.log10(results["loss"]).plot(ax=ax, x="inclination_grid", y="spin_grid",
                                          cbar_kwargs={"label": "log10 loss"})  # fmt: skip
            truth = summary["truth"]
            if "spin" in truth and "inclination" in truth:
                ax.plot(truth["inclination"], truth["spin"], "w*", ms=14, mec="k",
                        label="truth")  # fmt: skip
                ax.legend(fontsize=8)
            ax.set(xlabel="inclination θo [deg]", ylabel="spin a", title="")
            figs["loss_grid.png"] = fig
    for name, fig in figs.items():
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
    return list(figs)


def _plot_images(plt: Any, target: xr.Dataset, best: xr.Dataset) -> Any:
    """Target | best model | residual."""
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
        fig.colorbar(im, ax=ax, shrink=0.8, label="intensity [arb. units]")
    return fig


def _plot_histories(plt: Any, units: list[Unit], done: Mapping[str, xr.Dataset],
                    truth: dict[str, float]) -> Any:  # fmt: skip
    """Loss, spin and inclination against iteration for every unit, truth dashed."""
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
    name = str(done[units[0].name].attrs.get("loss_name", "")) if units else ""
    axes[0].set(xlabel="iteration", ylabel=f"loss ({_loss_label(name)})" if name else "loss")
    return fig


def _plot_ensemble(plt: Any, results: xr.Dataset, summary: dict[str, Any]) -> Any:
    """Ensemble members in the (spin, inclination) plane coloured by loss, truth starred."""
    truth = summary["truth"]
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
    return fig


def _plot_profile(plt: Any, name: str, summary: dict[str, Any]) -> Any:
    """Best loss along the scanned parameter, with the recovered value and the truth."""
    p, truth = summary[f"profile_{name}"], summary["truth"]
    fig, ax = plt.subplots(figsize=(5, 3.6), constrained_layout=True)
    ax.plot(p["grid"], p["loss"], "o-", label="profile (best loss)")
    ax.axvline(p["recovered"], color="C1", label=f"recovered {p['recovered']:.3g}")
    if name in truth:
        ax.axvline(truth[name], color="k", ls="--", label=f"truth {truth[name]:.3g}")
    ax.set(xlabel="inclination θo [deg]" if name == "inclination" else "spin a",
           ylabel="loss", yscale="log")  # fmt: skip
    ax.legend()
    return fig


def _loss_label(name: str) -> str:
    """What ``best.loss`` is, for the terminal (the image losses are means over pixels)."""
    return {"chi2": "chi2/N", "nmse": "normalised MSE"}.get(name, name)
