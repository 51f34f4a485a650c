"""Summary and figures of a ``search`` run: estimate, Δχ² intervals, flags, per-unit convergence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from .profile import LEVELS_1D, LEVELS_2D, interval
from .search import unit_chi2
from .search_plots import search_plots
from .search_run import chi2_grid, coarse_profile

__all__ = ["coarse_intervals", "search_summary", "search_results", "search_plots",
           "format_estimate", "format_interval", "search_header"]


# measured on three hidden-truth hot spots (docs/identifiability.md): basins ~0.15 in spin
# and ~5° wide, the 4 x 8 grid's cells 0.6 x 21°; a 12 x 24 grid found all three
_MISFIT = ("misfit: the model does not reach the noise floor (a compact source's narrow "
           "basin can fall between coarse grid points: try a finer mode grid, e.g. 3 x num; "
           "or a wider field)")


def _unconstrained(res: dict[str, Any], name: str) -> bool:
    """The coarse grid does not single out one region along this axis.

    True when the coarse profile (χ² relative to the coarse grid's own minimum: its fits
    are cold-started, so comparing them with the warm-started local fits would hide
    competitors) allows an edge of the searched range at 95 %, or when a second, separate
    coarse region is within Δχ² = 3.84 of the best one (several basins: the data do not
    determine the parameter, or the grid is too coarse to tell which basin is right).
    """
    x, prof = coarse_profile(res, name)
    if x.size < 2:
        return False
    prof = prof - np.nanmin(prof)
    iv = interval(x, prof, LEVELS_1D["95"])
    # an edge inside the 95 % region counts unless the local profile resolved the minimum
    # within one coarse step of that edge (then the edge point is the same basin)
    est = res["intervals"].get(name, {}).get("estimate", np.nan)
    step = float(np.min(np.diff(x)))
    if (iv["open_lo"] and not abs(est - x[0]) <= step) or \
            (iv["open_hi"] and not abs(est - x[-1]) <= step):  # fmt: skip
        return True
    inside = prof <= LEVELS_1D["95"]
    runs = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(int), [0]])) == 1)
    return bool(len(runs) > 1)


def _multimodal(res: dict[str, Any]) -> bool:
    """Two joint refinements ended apart (outside each other's 95 % interval) with
    χ² within 6.18 of each other: more than one basin fits the data."""
    done, ivs = res["run"].done, res["intervals"]
    fits = sorted((unit_chi2(done[u.name]), done[u.name].attrs) for u in res["refine"]
                  if u.name in done)  # fmt: skip
    if len(fits) < 2:
        return False
    (c0, a0), rest = fits[0], fits[1:]
    for c1, a1 in rest:
        if c1 - c0 > LEVELS_2D["95"]:
            continue
        for name in ("spin", "inclination"):
            iv = ivs.get(name, {}).get("95")
            if iv and abs(float(a1[name]) - float(a0[name])) > (iv["hi"] - iv["lo"]):
                return True
    return False


def coarse_intervals(x: np.ndarray, profile: np.ndarray, local: dict[str, Any],
                     birge: float = 1.0, misfit: bool = False) -> dict[str, Any]:
    """The intervals quoted for a flagged parameter, read off the coarse grid.

    Where the local profile cannot be trusted (another basin, a grid edge, a misfit), the
    interval spans every coarse grid value whose profile χ² (relative to the coarse minimum,
    divided by the Birge factor) is within the level, widened on each side by the grid's
    resolution, clipped to the searched range, and joined with the local interval. The grid
    only says that the level's crossing lies between the last value inside and the first
    outside: the 68 % interval takes the midpoint (half a coarse step: the grid cell of each
    value inside), the 95 % interval the far end (a full step, which also covers a
    neighbouring value winning through the scatter of the cold-started fits). After a misfit
    (the model does not reach the noise floor, so Δχ² differences are not calibrated even
    after the Birge factor) both take the full step. Wide on purpose: the data (or the
    model) do not decide the parameter better than the coarse grid shows.

    Parameters
    ----------
    x : array, shape (n,)
        Increasing coarse grid of the parameter.
    profile : array, shape (n,)
        Coarse profile χ² (minimum over the other parameter); NaN for missing points.
    local : dict
        The local profile's intervals, ``{"68": {"lo", "hi"}, "95": {...}}``.
    birge : float
        χ²_min/N when > 1 (the Δχ² are divided by it).
    misfit : bool
        The best fit failed the goodness-of-fit test: a full coarse step at both levels.

    Returns
    -------
    dict
        ``{"68": {"lo", "hi", "open_lo", "open_hi"}, "95": {...}}``.
    """
    x, prof = np.asarray(x, dtype=float), np.asarray(profile, dtype=float)
    if x.size < 2 or not np.isfinite(prof).any():
        return {c: dict(local[c]) for c in LEVELS_1D}
    prof = (prof - np.nanmin(prof)) / max(birge, 1.0)
    step = float(np.max(np.diff(x)))
    out = {}
    for c, level in LEVELS_1D.items():
        inside = x[prof <= level]
        pad = step * (0.5 if c == "68" and not misfit else 1.0)
        lo = max(float(x[0]), min(float(inside.min()) - pad, local[c]["lo"]))
        hi = min(float(x[-1]), max(float(inside.max()) + pad, local[c]["hi"]))
        out[c] = {"lo": lo, "hi": hi, "open_lo": bool(lo <= x[0]), "open_hi": bool(hi >= x[-1])}
    return out


def _extrapolated(res: dict[str, Any], name: str) -> bool:
    """The 95 % interval extends more than one local grid step beyond the final local grid
    (a quadratic read that far outside its points is a guess), on a side where the local
    grid does not already stop at the searched range (see :func:`_clip_to_range`)."""
    iv = res["intervals"].get(name, {}).get("95")
    if not iv or "axes" not in res:
        return bool(iv and (iv.get("open_lo") or iv.get("open_hi")))
    x = np.asarray(res["axes"][name], dtype=float)
    if x.size < 2:
        return True
    step = float(np.min(np.diff(x)))
    lo, hi = _searched_range(res, name)
    below = iv["lo"] < x.min() - step and x.min() > lo
    above = iv["hi"] > x.max() + step and x.max() < hi
    return bool(below or above)


def _searched_range(res: dict[str, Any], name: str) -> tuple[float, float]:
    x, _ = coarse_profile(res, name)
    return float(x.min()), float(x.max())


def _clip_to_range(res: dict[str, Any], name: str) -> bool:
    """Clip the local intervals to the searched range (in place); True when one reaches it.

    A 95 % interval that reaches the edge of the searched range (the prior) is reported
    open there: the data put the parameter near the edge, and the interval is bounded by
    the range, not by the data (``at_range_edge`` in the summary; the estimate stands).
    """
    lo, hi = _searched_range(res, name)
    edge = False
    for c in LEVELS_1D:
        iv = res["intervals"][name][c]
        if iv["lo"] <= lo:
            iv.update(lo=lo, open_lo=True)
            edge = True
        if iv["hi"] >= hi:
            iv.update(hi=hi, open_hi=True)
            edge = True
    return edge


def _quote(res: dict[str, Any], name: str, flagged: bool, birge: float,
           truth: float | None, misfit: bool = False) -> None:  # fmt: skip
    """Set the quoted intervals of one parameter (in place) and whether they hold the truth.

    A flagged parameter's quoted intervals come from the coarse grid; the local profile's
    stay on record under ``"local"`` either way.
    """
    iv = res["intervals"][name]
    if "local" not in iv:  # the summary may be made twice from one result
        iv["local"] = {c: iv[c] for c in LEVELS_1D}
    iv["source"] = "coarse grid" if flagged else "local profile"
    if flagged:
        iv.update(coarse_intervals(*coarse_profile(res, name), iv["local"], birge, misfit))
    else:
        iv.update(iv["local"])
    if truth is not None:
        iv["truth_inside"] = {c: bool(iv[c]["lo"] <= truth <= iv[c]["hi"]) for c in LEVELS_1D}
        iv["truth_inside_local"] = {  # an empty interval (no point within the level) holds
            c: bool(not iv["local"][c].get("empty")  # nothing, even at its one grid point
                    and iv["local"][c]["lo"] <= truth <= iv["local"][c]["hi"])
            for c in LEVELS_1D}  # fmt: skip


def _rejected_text(res: dict[str, Any]) -> str:
    """The flag reason for an untrusted local quadratic: what failed, with its numbers."""
    rec = res.get("quadratic_rejected") or {}
    return str(rec.get("text", "no trusted quadratic minimum on the local grid"))


def search_summary(res: dict[str, Any], truth: dict[str, float]) -> dict[str, Any]:
    """The ``search`` block of ``summary.json`` (call when ``res["complete"]``)."""
    done = res["run"].done
    best = min(done, key=lambda n: unit_chi2(done[n]))
    a = done[best].attrs
    npix = int(done[best]["model"].size)
    statistical = a["loss_name"] == "chi2"
    out: dict[str, Any] = {
        # chi2_min / reduced_chi2: the profile's minimum (the local quadratic's vertex where
        # it is trusted, else the best unit's χ²); null for a loss that is not χ², whose
        # minimum is loss_min
        "estimate": {"unit": best, "spin": float(a["spin"]), "inclination":
                     float(a["inclination"]), "loss": a["loss_name"],
                     "loss_min": res["chi2_min"],
                     "chi2_min": res["chi2_min"] if statistical else None,
                     "reduced_chi2": res["chi2_min"] / npix if statistical else None},
        "levels": {"1d": LEVELS_1D, "2d": LEVELS_2D}, "rounds": res["rounds"],
        "intervals": res["intervals"], "unconstrained": {},
        "statistical": statistical,
        "resolved": bool(res.get("resolved", False)),
    }  # fmt: skip
    for name in ("spin", "inclination"):  # the profile's vertex is the point estimate
        entry = res["intervals"].get(name, {})
        # ... where the profile reaches the minimum (or the quadratic describes it): a local
        # grid shifted away from the best unit (to stay inside the searched range) has its
        # vertex at a point Δχ² ≫ 1 above it, and the best unit's geometry is the estimate
        delta = np.asarray(entry.get("delta_chi2", [np.inf]), float)
        near = bool(np.any(delta[np.isfinite(delta)] <= LEVELS_1D["68"]))
        if "estimate" in entry and (res.get("resolved") or near):
            out["estimate"][name] = float(entry["estimate"])
    out["multimodal"] = _multimodal(res)
    out["quadratic_rejected"] = res.get("quadratic_rejected")
    out["searched_range"] = {n: list(_searched_range(res, n)) for n in ("spin", "inclination")
                             if n in res["intervals"]}  # fmt: skip
    # goodness of fit: with Gaussian noise χ²/N has standard deviation √(2/N); a minimum
    # more than 5 of those above 1 means the model does not describe the data, and the
    # Δχ² intervals (even Birge-widened) are not to be trusted
    out["misfit"] = bool(out["statistical"]
                         and out["estimate"]["reduced_chi2"] > 1.0 + 5.0 * np.sqrt(2.0 / npix))
    # another basin of one parameter on the coarse grid makes the other's local profile
    # conditional on the basin chosen (hidden-truth hot spot: θo 119.7° fitted at 15.7° with
    # χ²/N 0.95, its spin 0.14 instead of 0.30 with a tight interval): flag both
    coarse = [n for n in ("spin", "inclination")
              if n in res["intervals"] and _unconstrained(res, n)]  # fmt: skip
    birge = max(1.0, out["estimate"]["reduced_chi2"]) if out["statistical"] else 1.0
    # the widening applied: the quadratic's own, else the one the coarse quotes below use
    out["birge_factor"] = float((res.get("quadratic") or {}).get("birge", birge))
    # what search.interval_scale applies to the local quadratic's intervals (not to quotes
    # from the coarse grid, which are wide by construction)
    out["interval_scale"] = float(res.get("interval_scale", 1.0))
    for name in ("spin", "inclination"):
        if name in res["intervals"]:
            iv = res["intervals"][name]
            if "local" in iv:  # a summary made again judges the local intervals again
                iv.update({c: dict(iv["local"][c]) for c in LEVELS_1D})
            # the local grid could not close the 95 % interval either: not determined
            out.setdefault("extrapolated", {})[name] = _extrapolated(res, name)
            _clip_to_range(res, name)
            why = [text for cond, text in (
                (out["misfit"], _MISFIT),
                (bool(coarse), f"coarse grid: a range edge or a second basin of "
                               f"{' and '.join(coarse)} inside the 95 % region"),
                (out["multimodal"], "two refinements ended in different basins of equal χ²"),
                (out["extrapolated"][name], "the local grid does not close the 95 % interval"),
                (not res.get("resolved", True), _rejected_text(res)),
            ) if cond]  # fmt: skip
            out["unconstrained"][name] = bool(why)
            out.setdefault("flag_reasons", {})[name] = why
            _quote(res, name, bool(why), birge, truth.get(name), out["misfit"])
            # the searched range, not the local grid (a quadratic read a little past its
            # points is open there, but that is "extrapolated", not the prior's edge)
            iv, (lo, hi) = res["intervals"][name]["95"], _searched_range(res, name)
            out.setdefault("at_range_edge", {})[name] = bool(iv["lo"] <= lo or iv["hi"] >= hi)
    conv = [bool(done[u.name].attrs["converged"]) for u in res["run"].units if u.name in done]
    out["convergence"] = {"fraction_converged": float(np.mean(conv)) if conv else 0.0,
                          "n_units": len(conv)}  # fmt: skip
    return out


def search_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per unit with its fitted geometry, chi^2 and convergence record."""
    rows = []
    for u in res["run"].units:
        ds = res["run"].done.get(u.name)
        if ds is None:
            continue
        a = ds.attrs
        rows.append({"unit": u.name, "stage": u.stage, "seed": int(a["seed"]),
                     "spin_init": u.spin, "inclination_init": u.inclination,
                     "spin": float(a["spin"]), "inclination": float(a["inclination"]),
                     "loss": float(a["loss"]), "chi2": unit_chi2(ds),
                     "converged": bool(a["converged"]), "steps": int(a["steps"]),
                     "rel_change": float(a["rel_change"]), "seconds": float(a["seconds"])})
    return rows


def search_results(res: dict[str, Any]) -> xr.Dataset:
    """``results.nc``: the coarse and the last local grid's chi^2 (or loss), with units."""
    loss = next(iter(res["run"].done.values())).attrs.get("loss_name", "chi2")
    out = xr.Dataset(attrs={"mode": "search", "chi2_min": res["chi2_min"], "loss": loss})
    for key, units in (("coarse", res["grid"]), ("local", res["local"])):
        axes, chi2 = chi2_grid(units, res["run"].done)
        dims = (f"spin_{key}", f"inclination_{key}")
        what = "total χ²" if loss == "chi2" else f"{loss} loss"
        out[f"chi2_{key}"] = (dims, chi2, {"long_name": f"{what} of each {key} grid unit",
                                           "units": "1"})  # fmt: skip
        out = out.assign_coords({
            dims[0]: (dims[0], axes["spin"], {"long_name": "spin a", "units": "1"}),
            dims[1]: (dims[1], axes["inclination"], {"long_name": "inclination θo",
                                                     "units": "deg"}),
        })  # fmt: skip
    return out


def format_interval(iv: dict[str, Any], searched: list[float] | None = None) -> str:
    """One interval for the terminal, its open ends spelled out.

    Parameters
    ----------
    iv : dict
        ``{"lo", "hi", "open_lo", "open_hi"}``.
    searched : list of float, optional
        ``[lo, hi]`` of the searched range (``searched_range`` in the summary).

    Returns
    -------
    str
        ``"[0.475, 0.63]"``; an end at the searched range's edge is a bound of the range,
        not of the data: ``"[0.475, ≥ 0.9 (range edge)]"``; both: ``"the whole searched
        range [20, 70]"``; an open end elsewhere (read past the local grid): ``"(open)"``.

    Examples
    --------
    >>> format_interval({"lo": 0.475, "hi": 0.9, "open_lo": False, "open_hi": True}, [0.2, 0.9])
    '[0.475, ≥ 0.9 (range edge)]'
    >>> format_interval({"lo": 20.0, "hi": 70.0, "open_lo": True, "open_hi": True}, [20, 70])
    'the whole searched range [20, 70]'
    """
    lo, hi = float(iv["lo"]), float(iv["hi"])
    if searched is not None:
        tol = 1e-9 * max(abs(searched[1] - searched[0]), 1.0)
        at_lo = bool(iv.get("open_lo")) and abs(lo - searched[0]) <= tol
        at_hi = bool(iv.get("open_hi")) and abs(hi - searched[1]) <= tol
    else:
        at_lo = at_hi = False
    if at_lo and at_hi:
        return f"the whole searched range [{lo:.4g}, {hi:.4g}]"
    left = (f"≤ {lo:.4g} (range edge)" if at_lo else
            f"{lo:.4g} (open)" if iv.get("open_lo") else f"{lo:.4g}")  # fmt: skip
    right = (f"≥ {hi:.4g} (range edge)" if at_hi else
             f"{hi:.4g} (open)" if iv.get("open_hi") else f"{hi:.4g}")  # fmt: skip
    return f"[{left}, {right}]"


def search_header(search: dict[str, Any]) -> str:
    """The terminal's header line for a search: names the loss the fits actually used."""
    loss = str(search.get("estimate", {}).get("loss", "chi2"))
    if loss == "chi2":
        return "search (profile likelihood, noise-aware chi2):"
    return f"search (profile of the {loss} loss: not chi2, so not a likelihood):"


def format_estimate(search: dict[str, Any], truth: dict[str, float]) -> list[str]:
    """Lines for the terminal: estimate, 68 %/95 % intervals, flags, truth beside."""
    est, lines = search["estimate"], []
    for name, unit in (("spin", ""), ("inclination", " deg")):
        t = f"   (truth {truth[name]:.4g}{unit})" if name in truth else ""
        iv = search["intervals"].get(name)
        if iv is None:
            lines.append(f"  {name}: {est[name]:.4g}{unit} (held fixed){t}")
            continue
        why = "; ".join(search.get("flag_reasons", {}).get(name, [])) or "see the summary"
        flag = (f"  UNCONSTRAINED ({why}; intervals from the coarse grid)"
                if search["unconstrained"].get(name) else "")  # fmt: skip
        rng = search.get("searched_range", {}).get(name)
        lines.append(f"  {name}: {est[name]:.4g}{unit}  68% {format_interval(iv['68'], rng)}"
                     f"  95% {format_interval(iv['95'], rng)}{flag}{t}")  # fmt: skip
    conv = search.get("convergence", {})
    if conv.get("n_units") and conv.get("fraction_converged", 1.0) < 1.0:
        n = conv["n_units"]
        k = n - round(conv["fraction_converged"] * n)
        lines.append(f"  {k} of {n} fits stopped at their step limit before the convergence "
                     "criterion (per unit in summary.json 'units'; raise fit.steps or "
                     "search.refine_steps if the estimate moves)")  # fmt: skip
    scaled = [n for n, u in search["unconstrained"].items() if not u]
    if scaled and search.get("interval_scale", 1.0) != 1.0:
        lines.append(f"  {' and '.join(scaled)}: Δχ² intervals widened × "
                     f"{search['interval_scale']:g} (search.interval_scale: the field-family "
                     "systematic measured on hidden-truth targets; 1 gives the bare Δχ² ones)")
    edge = [n for n, v in search.get("at_range_edge", {}).items() if v]
    if edge:
        lines.append(f"  {' and '.join(edge)}: an interval reaches the edge of the searched "
                     "range (bounded there by the range, not by the data)")  # fmt: skip
    if search.get("misfit"):
        lines.append(f"  misfit: chi2/N = {est['reduced_chi2']:.3g} at the profile's minimum "
                     "(> 1 + 5 sqrt(2/N)): the field cannot describe the data, so the intervals do "
                     "not mean what they say (try a wider field)")  # fmt: skip
    if not search["statistical"]:
        lines.append("  (loss is not chi2: the intervals use Δloss, not Δχ², and are not "
                     "statistical; give the target a noise sigma)")  # fmt: skip
    return lines
