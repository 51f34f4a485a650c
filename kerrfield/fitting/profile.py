"""Profile likelihoods from a chi^2 grid: Δχ² curves, confidence intervals and flags.

With Gaussian noise of known σ, ``Δχ²(θ) = χ²(θ) - χ²_min`` of the profile (the field and any
other parameter re-fitted at each θ) gives confidence regions ``Δχ² <= level``: 1 and 3.84
for 68 % and 95 % in one parameter, 2.30 and 6.18 jointly in two (Wilks). An interval is
read off a grid by linear interpolation of ``sqrt(Δχ²)`` (exact for a quadratic profile on
each side of the minimum); one that reaches the end of the grid is flagged ``open``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["LEVELS_1D", "LEVELS_2D", "profile_curve", "interval", "profile_intervals",
           "quadratic_fit", "quadratic_intervals", "widened"]

#: Δχ² levels of 1-D confidence intervals (coverage -> level)
LEVELS_1D = {"68": 1.0, "95": 3.84}
#: Δχ² levels of joint 2-D confidence regions
LEVELS_2D = {"68": 2.30, "95": 6.18}


def profile_curve(chi2: np.ndarray, axis: int) -> np.ndarray:
    """Minimum of a ``(spin, inclination)`` chi^2 grid over the *other* axis.

    Examples
    --------
    >>> profile_curve(np.array([[3.0, 1.0], [2.0, 5.0]]), axis=0)
    array([1., 2.])
    """
    return np.nanmin(chi2, axis=1 - axis)


def _crossing(x0: float, x1: float, r0: float, r1: float, r: float) -> float:
    return x0 + (x1 - x0) * (r - r0) / (r1 - r0) if r1 != r0 else x1


def interval(x: np.ndarray, dchi2: np.ndarray, level: float) -> dict[str, Any]:
    """Interval ``Δχ² <= level`` around the grid minimum of a 1-D profile.

    Parameters
    ----------
    x : array
        Increasing grid.
    dchi2 : array
        Δχ² at ``x`` (>= 0; NaN points ignored).
    level : float
        Δχ² level, e.g. 1.0.

    Returns
    -------
    dict
        ``lo``, ``hi`` and ``open_lo``/``open_hi`` (the interval reaches that end of the
        grid: the data do not bound it there). When no grid point lies within ``level`` (the
        minimum is elsewhere) also ``empty: True``, with ``lo = hi`` the lowest point.

    Examples
    --------
    >>> x = np.linspace(-2, 2, 9)
    >>> iv = interval(x, x**2, 1.0)
    >>> round(iv["lo"], 6), round(iv["hi"], 6), iv["open_lo"], iv["open_hi"]
    (-1.0, 1.0, False, False)
    """
    ok = np.isfinite(dchi2)
    x, d = np.asarray(x, float)[ok], np.clip(np.asarray(dchi2, float)[ok], 0.0, None)
    r, rl = np.sqrt(d), np.sqrt(level)
    i = int(np.argmin(d))
    lo = hi = float(x[i])
    if r[i] > rl:  # no grid point inside: the minimum lies elsewhere, nothing resolved here
        return {"lo": lo, "hi": hi, "open_lo": True, "open_hi": True, "empty": True}
    open_lo = open_hi = False
    j = i
    while j > 0 and r[j - 1] <= rl:
        j -= 1
    if j == 0 and r[0] <= rl:
        lo, open_lo = float(x[0]), True
    else:
        lo = _crossing(x[j], x[j - 1], r[j], r[j - 1], rl) if j > 0 else float(x[j])
    j = i
    while j < len(x) - 1 and r[j + 1] <= rl:
        j += 1
    if j == len(x) - 1 and r[-1] <= rl:
        hi, open_hi = float(x[-1]), True
    else:
        hi = _crossing(x[j], x[j + 1], r[j], r[j + 1], rl) if j < len(x) - 1 else float(x[j])
    return {"lo": float(lo), "hi": float(hi), "open_lo": open_lo, "open_hi": open_hi}


def _parabola_vertex(x: np.ndarray, y: np.ndarray) -> float:
    i = int(np.nanargmin(y))
    if i == 0 or i == len(x) - 1:
        return float(x[i])
    c = np.polyfit(x[i - 1 : i + 2], y[i - 1 : i + 2], 2)
    if c[0] <= 0:
        return float(x[i])
    return float(np.clip(-c[1] / (2 * c[0]), x[i - 1], x[i + 1]))


def profile_intervals(axes: dict[str, np.ndarray], chi2: np.ndarray, chi2_min: float
                      ) -> dict[str, Any]:  # fmt: skip
    """Profiles, intervals and the joint region of a ``(spin, inclination)`` chi^2 grid.

    Parameters
    ----------
    axes : dict
        ``{"spin": grid, "inclination": grid}`` (length 1 for a fixed axis).
    chi2 : array ``(n_spin, n_inclination)``
        Total chi^2 at each point (NaN for missing).
    chi2_min : float
        The smallest chi^2 found anywhere (grid or joint refinement).

    Returns
    -------
    dict
        Per free axis: ``grid``, ``delta_chi2`` (the profile), ``estimate`` (parabolic
        vertex of the profile, kept inside the 68 % interval), ``"68"``/``"95"`` intervals
        with their ``open`` flags; and ``joint``: the fraction of the grid inside the 2-D
        68 %/95 % regions and whether they reach the grid edge.

    Raises
    ------
    ValueError
        When ``axes`` lacks "spin" or "inclination", ``chi2`` is not of shape
        ``(n_spin, n_inclination)``, or ``chi2_min`` is not finite or exceeds the grid's
        smallest χ² (Δχ² would be negative).

    Notes
    -----
    Δχ² levels: 1 and 3.84 for one parameter, 2.30 and 6.18 for the joint two-parameter region
    (Wilks' theorem; Press et al., *Numerical Recipes*, 3rd ed., §15.6, table 15.6.1).
    """
    for name in ("spin", "inclination"):
        if name not in axes:
            raise ValueError(f"axes must have a {name!r} grid (length 1 for a fixed axis); "
                             f"got keys {sorted(axes)}")  # fmt: skip
    chi2 = np.asarray(chi2, dtype=float)
    shape = (np.asarray(axes["spin"]).size, np.asarray(axes["inclination"]).size)
    if chi2.shape != shape:
        raise ValueError(f"chi2 must have shape (n_spin, n_inclination) = {shape}, "
                         f"got {chi2.shape}")  # fmt: skip
    grid_min = float(np.nanmin(chi2)) if np.isfinite(chi2).any() else np.inf
    if not np.isfinite(chi2_min) or chi2_min > grid_min * (1 + 1e-12) + 1e-12:
        raise ValueError(f"chi2_min must be finite and at most the grid's smallest chi2 "
                         f"({grid_min:g}), got {chi2_min:g}")  # fmt: skip
    out: dict[str, Any] = {}
    delta = chi2 - chi2_min
    for k, name in enumerate(("spin", "inclination")):
        x = np.asarray(axes[name], dtype=float)
        if x.size < 2:
            continue
        prof = profile_curve(delta, k)
        entry = {"grid": x.tolist(), "delta_chi2": prof.tolist(),
                 "estimate": _parabola_vertex(x, prof)}  # fmt: skip
        for cov, level in LEVELS_1D.items():
            entry[cov] = interval(x, prof, level)
        # the intervals interpolate √Δχ² linearly from the lowest grid point; on a lopsided
        # profile a three-point parabola can put its vertex outside them: keep it inside
        if not (entry["68"]["open_lo"] and entry["68"]["open_hi"]):
            entry["estimate"] = float(np.clip(entry["estimate"], entry["68"]["lo"],
                                              entry["68"]["hi"]))  # fmt: skip
        out[name] = entry
    if all(np.asarray(axes[n]).size >= 2 for n in ("spin", "inclination")):
        edge = np.zeros_like(delta, dtype=bool)
        edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
        out["joint"] = {cov: {"fraction_of_grid": float(np.mean(delta <= lv)),
                              "reaches_edge": bool(np.any((delta <= lv) & edge))}
                        for cov, lv in LEVELS_2D.items()}  # fmt: skip
    return out


def quadratic_fit(axes: dict[str, np.ndarray], chi2: np.ndarray, cap: float = 25.0
                  ) -> dict[str, Any] | None:  # fmt: skip
    """Least-squares quadratic ``χ² ≈ c + (θ - θ̂)ᵀ A (θ - θ̂)`` over the free axes of a grid.

    Field fits at neighbouring grid points end at slightly different depths of their own
    optimisation (optimiser scatter of a few χ² units even at convergence); a quadratic fitted
    to all points within ``cap`` (at least the lowest ``2 p`` points) of the grid minimum
    averages that scatter out. Returns None when too few points or ``A`` is not positive
    definite.

    Returns
    -------
    dict
        ``names`` (free axes), ``vertex`` (θ̂), ``chi2_min`` (c), ``cov1`` (``A⁻¹``: the
        1-D profile of axis ``i`` is ``(θ_i - θ̂_i)² / cov1[i][i]``) and ``scatter`` (rms
        residual of the fit: the optimiser scatter, in χ² units).

    Examples
    --------
    >>> x = np.linspace(-1, 1, 5)
    >>> q = quadratic_fit({"spin": x, "inclination": np.array([40.0])}, (4 * x**2)[:, None])
    >>> round(q["vertex"][0], 6), round(q["cov1"][0][0], 6)
    (0.0, 0.25)
    """
    names = [n for n in ("spin", "inclination") if np.asarray(axes[n]).size > 1]
    if not names:
        return None
    grids = np.meshgrid(*(np.asarray(axes[n], float) for n in ("spin", "inclination")),
                        indexing="ij")  # fmt: skip
    pts = {n: g.ravel() for n, g in zip(("spin", "inclination"), grids, strict=True)}
    y = np.asarray(chi2, float).ravel()
    ok = np.isfinite(y)
    p = len(names)
    n_terms = 1 + p + p * (p + 1) // 2
    order = np.argsort(np.where(ok, y, np.inf))
    keep = ok & (y <= np.nanmin(y) + cap)
    if keep.sum() < 2 * n_terms:
        keep = np.zeros_like(ok)
        keep[order[: min(2 * n_terms, int(ok.sum()))]] = True
    if keep.sum() < n_terms:
        return None
    scale = {n: max(float(np.ptp(axes[n])), 1e-12) for n in names}
    centre = {n: float(pts[n][order[0]]) for n in names}
    u = [(pts[n][keep] - centre[n]) / scale[n] for n in names]
    cols = [np.ones(keep.sum()), *u]
    pairs = [(i, j) for i in range(p) for j in range(i, p)]
    cols += [u[i] * u[j] for i, j in pairs]
    coef, *_ = np.linalg.lstsq(np.stack(cols, 1), y[keep], rcond=None)
    hess = np.zeros((p, p))
    for (i, j), c in zip(pairs, coef[1 + p :], strict=True):
        hess[i, j] += c if i == j else c / 2
        hess[j, i] = hess[i, j]
    if np.any(np.linalg.eigvalsh(hess) <= 0):
        return None
    d = -0.5 * np.linalg.solve(hess, coef[1 : 1 + p])
    s = np.array([scale[n] for n in names])
    cov1 = np.linalg.inv(hess) * np.outer(s, s)
    resid = y[keep] - np.stack(cols, 1) @ coef
    return {"names": names, "vertex": (np.array([centre[n] for n in names]) + d * s).tolist(),
            "chi2_min": float(coef[0] + coef[1 : 1 + p] @ d + d @ hess @ d),
            "cov1": cov1.tolist(), "scatter": float(np.sqrt(np.mean(resid**2))),
            "n_points": int(keep.sum())}  # fmt: skip


def widened(q: dict[str, Any], birge: float = 1.0, scale: float = 1.0) -> dict[str, Any]:
    """A :func:`quadratic_fit` whose intervals are widened by ``sqrt(birge) · scale``.

    ``birge`` is χ²_min/N where the field does not reach the noise floor (the Birge ratio,
    as a variance factor); ``scale`` is ``search.interval_scale``, the factor by which the
    hidden-truth calibration runs found the Δχ² = 1 intervals too narrow (a systematic of
    the fitted field family that χ²/N does not show; docs/identifiability.md). The bowl
    through the fitted points stays on record as ``cov1_fit``.

    Examples
    --------
    >>> q = widened({"names": ["spin"], "vertex": [0.5], "cov1": [[0.01]]}, 1.0, 1.2)
    >>> round(q["cov1"][0][0], 6), q["cov1_fit"][0][0]
    (0.0144, 0.01)
    """
    if not (birge >= 1.0 and scale > 0.0):
        raise ValueError(f"birge must be >= 1 and scale > 0 (got {birge}, {scale})")
    bare = q.get("cov1_fit", q["cov1"])  # widening a widened fit starts from its bowl
    return {**q, "cov1_fit": bare, "birge": birge, "interval_scale": scale,
            "cov1": (np.asarray(bare) * birge * scale**2).tolist()}


def quadratic_intervals(q: dict[str, Any], axes: dict[str, np.ndarray]) -> dict[str, Any]:
    """1-D intervals ``θ̂_i ± sqrt(level · cov1_ii)`` of a :func:`quadratic_fit`, flagged
    ``open`` where they extend beyond the grid."""
    out = {}
    for i, name in enumerate(q["names"]):
        x = np.asarray(axes[name], float)
        entry: dict[str, Any] = {"estimate": q["vertex"][i],
                                 "sigma": float(np.sqrt(q["cov1"][i][i]))}  # fmt: skip
        if "cov1_fit" in q:  # the bowl through the fitted points, before any widening
            entry["sigma_fit"] = float(np.sqrt(q["cov1_fit"][i][i]))
        for cov, level in LEVELS_1D.items():
            half = float(np.sqrt(level * q["cov1"][i][i]))
            lo, hi = q["vertex"][i] - half, q["vertex"][i] + half
            entry[cov] = {"lo": lo, "hi": hi, "open_lo": bool(lo < x.min()),
                          "open_hi": bool(hi > x.max())}  # fmt: skip
        out[name] = entry
    return out
