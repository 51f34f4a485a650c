"""χ² data terms for interferometric fits (torch, differentiable).

Reduced χ² per term, divided by the number of data as in ehtim and EHT Collaboration 2019,
Paper IV, Eqs. 15-19 (Chael et al. 2018, ApJ 857, 23, Eqs. 9-12):

* complex visibilities   χ² = Σ |V − V̂|² / σ² / (2N)
* amplitudes             χ² = Σ (|V| − |V̂|)² / σ² / N
* closure phases         χ² = 2 Σ (1 − cos(ψ − ψ̂)) / σ_ψ² / N       (σ_ψ in radians)
* log closure amplitudes χ² = Σ (ln A − ln Â)² / σ² / N
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from numbers import Real

import numpy as np
import torch
import xarray as xr

from kerrfield.vlbi.average import average_scans
from kerrfield.vlbi.closures import (
    add_systematic,
    check_uv_min,
    closure_phases,
    log_closure_amplitudes,
    scans,
)
from kerrfield.vlbi.combine import segment_of

__all__ = ["TERMS", "DataTerms", "StationGains", "chi2_amp", "chi2_cphase", "chi2_lcamp",
           "chi2_vis", "gains_need_amplitudes", "model_cphase", "model_lcamp"]

TERMS = ("vis", "amp", "cphase", "lcamp")


def chi2_vis(model: torch.Tensor, vis: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Reduced χ² of complex visibilities (all shapes (N,), Jy)."""
    return torch.sum((model - vis).abs() ** 2 / sigma**2) / (2 * vis.numel())


def chi2_amp(model: torch.Tensor, amp: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Reduced χ² of visibility amplitudes; ``model`` complex or amplitudes."""
    m = model.abs() if model.is_complex() else model
    return torch.sum((m - amp) ** 2 / sigma**2) / amp.numel()


def chi2_cphase(model: torch.Tensor, psi: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Reduced χ² of closure phases, 2Σ(1 − cos Δψ)/σ²/N; angles and σ in radians."""
    return 2.0 * torch.sum((1.0 - torch.cos(psi - model)) / sigma**2) / psi.numel()


def chi2_lcamp(model: torch.Tensor, lca: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Reduced χ² of log closure amplitudes."""
    return torch.sum((lca - model) ** 2 / sigma**2) / lca.numel()


def model_cphase(vis: torch.Tensor, rows: torch.Tensor, signs: torch.Tensor) -> torch.Tensor:
    """Closure phases (radians) of model visibilities: Σ sign·arg V[row] (rows, signs (M, 3))."""
    return torch.sum(signs * torch.angle(vis[rows]), dim=1)


def model_lcamp(vis: torch.Tensor, rows: torch.Tensor, signs: torch.Tensor,
                floor: float = 1e-30) -> torch.Tensor:
    """Log closure amplitudes of model visibilities: Σ sign·ln|V[row]| (rows, signs (M, 4))."""
    return torch.sum(signs * torch.log(vis[rows].abs() + floor), dim=1)


class StationGains(torch.nn.Module):
    """Per-station, per-scan complex gains g = exp(ln|g| + iφ) as nuisance parameters.

    The model visibility on baseline (i, j) becomes g_i conj(g_j) V̂_ij. Closure quantities
    are unchanged by them; they absorb calibration errors in the vis/amp terms.

    Parameters
    ----------
    obs : xarray.Dataset
        The observation (rows → stations and scans).
    phases : bool
        Fit gain phases too (else amplitudes only).
    scan_gap : float
        Seconds separating scans.
    """

    def __init__(self, obs: xr.Dataset, phases: bool = True, scan_gap: float = 60.0):
        super().__init__()
        names = list(dict.fromkeys([*obs.t1.values, *obs.t2.values]))
        index = {s: k for k, s in enumerate(names)}
        scan = scans(obs.time.values, scan_gap, segment_of(obs))
        self.stations = names
        self.register_buffer("i1", torch.as_tensor([index[s] for s in obs.t1.values]))
        self.register_buffer("i2", torch.as_tensor([index[s] for s in obs.t2.values]))
        self.register_buffer("scan", torch.as_tensor(scan))
        shape = (len(names), int(scan.max()) + 1)
        self.log_amp = torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64))
        self.phase = torch.nn.Parameter(torch.zeros(shape, dtype=torch.float64),
                                        requires_grad=phases)

    def forward(self, vis: torch.Tensor) -> torch.Tensor:  # noqa: D102
        la = self.log_amp[self.i1, self.scan] + self.log_amp[self.i2, self.scan]
        ph = self.phase[self.i1, self.scan] - self.phase[self.i2, self.scan]
        return vis * torch.polar(torch.exp(la.to(vis.real.dtype)), ph.to(vis.real.dtype))


def gains_need_amplitudes(weights: Mapping[str, float] | None, name: str = "gains") -> None:
    """ValueError naming ``name`` unless a term that sees station gains ('vis' or 'amp') has
    a positive weight: closure phases and log closure amplitudes cancel the gains, so fitting
    them would only spend steps on parameters no term constrains."""
    w = dict(weights if weights is not None else {"cphase": 1.0, "lcamp": 1.0})
    if not any(float(w.get(k, 0.0)) > 0 for k in ("vis", "amp")):
        raise ValueError(f"{name}: station gains cancel in closure phases and log closure "
                         f"amplitudes; give a positive 'vis' or 'amp' weight (weights "
                         f"{w}) or leave the gains out")


def gain_sigma_widths(gain_sigma: float | Mapping[str, float], stations: list) -> torch.Tensor:
    """Per-station prior width of the log gain amplitudes, in ``stations`` order.

    ``gain_sigma`` is one width for every station or a mapping station -> width (a
    ``"default"`` key for the rest, else 0.1). ValueError for an unknown station or a width
    that is not a finite number > 0."""
    per_station = isinstance(gain_sigma, Mapping)
    given = ({str(k): v for k, v in gain_sigma.items()} if per_station
             else {"default": gain_sigma})
    names = [str(s) for s in stations]
    unknown = set(given) - set(names) - {"default"}
    if unknown:
        raise ValueError(f"gain_sigma: unknown station(s) {sorted(unknown)}; the observation "
                         f"has {names}")
    for k, v in given.items():
        if not (isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v) and v > 0):
            what = f"gain_sigma[{k!r}]" if per_station else "gain_sigma"
            raise ValueError(f"{what} must be a finite number > 0"
                             f"{'' if per_station else ' (or a mapping station -> width)'}, "
                             f"got {v!r}")
    return torch.tensor([float(given.get(s, given.get("default", 0.1))) for s in names],
                        dtype=torch.float64)


class DataTerms:
    """The weighted sum of reduced χ² terms of an observation, for any model visibilities.

    Parameters
    ----------
    obs : xarray.Dataset
        Observation (rows at which the model visibilities are evaluated: ``u``, ``v``).
    weights : mapping
        Term name ('vis', 'amp', 'cphase', 'lcamp') → weight; zero-weight terms are
        still reported. Default: closure phases and log closure amplitudes, weight 1.
    systematic : float
        Fractional systematic error added to |V| in quadrature before any term is formed
        (to the scan averages with ``scan_average``).
    minimal : bool
        Passed to the closure functions (minimal independent sets).
    scan_average : bool
        Average the visibilities coherently over each scan first
        (:func:`~kerrfield.vlbi.average_scans`, as ehtim's ``avg_coherent(0,
        scan_avg=True)`` and the EHT pipelines): every term, the closures and the gains
        then use the scan averages, and the systematic error is added to them. Closures of
        low-S/N 10 s records are not Gaussian (see :mod:`kerrfield.vlbi.average`).
    gains : bool
        Multiply the model by :class:`StationGains` (``self.gains``; fit its parameters);
        needs a positive 'vis' or 'amp' weight (the closures do not see gains).
    uv_min : float
        Baselines shorter than this (wavelengths) enter no term: not the closures (as
        ehtim's ``cp_uv_min``) and not the visibilities or amplitudes. The EHT 2017
        pipelines use 0.1 Gλ (``1e8``), which leaves out the intra-site baselines, whose
        ≈ 1.1 Jy include M87's extended jet (Paper IV, Sec. 4). 0 uses every baseline.
    dtype, device
        Of the tensors.

    Raises
    ------
    ValueError
        For an unknown term or a negative weight, ``gains`` without a 'vis' or 'amp'
        weight, or a ``uv_min`` that leaves no baseline.
    """

    def __init__(self, obs: xr.Dataset, weights: Mapping[str, float] | None = None, *,
                 systematic: float = 0.0, minimal: bool = True, scan_average: bool = False,
                 gains: bool = False, uv_min: float = 0.0,
                 dtype: torch.dtype = torch.float64,
                 device: str | torch.device | None = None):
        weights = dict(weights if weights is not None else {"cphase": 1.0, "lcamp": 1.0})
        for k, w in weights.items():
            if k not in TERMS:
                raise ValueError(f"weights: unknown term {k!r}; choose from {TERMS}")
            if not (np.isfinite(w) and w >= 0):
                raise ValueError(f"weights[{k!r}] must be finite and >= 0, got {w}")
        self.weights = weights
        if gains:
            gains_need_amplitudes(weights)
        obs = average_scans(obs) if scan_average else obs
        obs = add_systematic(obs, systematic) if systematic else obs
        self.obs = obs

        def t(x):
            return torch.as_tensor(np.asarray(x), device=device)

        self.uv_min = check_uv_min(uv_min)
        self.u, self.v = t(obs.u.values).to(dtype), t(obs.v.values).to(dtype)
        self.vis, self.sigma = t(obs.vis.values), t(obs.sigma.values).to(dtype)
        q = np.hypot(obs.u.values, obs.v.values)
        #: per row: at or above uv_min, i.e. in the vis/amp terms (the model is still
        #: evaluated at every row)
        self.used = q >= self.uv_min
        if not self.used.any():
            raise ValueError(f"uv_min = {uv_min:.3g} λ leaves no baseline (the longest is "
                             f"{q.max():.3g} λ)")
        self.rows = None if self.used.all() else t(np.flatnonzero(self.used))
        self.closures: dict[str, xr.Dataset] = {}
        cl = dict(minimal=minimal, uv_min=uv_min)
        if "cphase" in weights:
            cp = closure_phases(obs, **cl)
            self.closures["cphase"] = cp
            self.cp = (t(cp.row.values), t(cp.sign.values).to(dtype),
                       t(np.deg2rad(cp.cphase.values)).to(dtype),
                       t(np.deg2rad(cp.sigma_cphase.values)).to(dtype))
        if "lcamp" in weights:
            lc = log_closure_amplitudes(obs, **cl)
            self.closures["lcamp"] = lc
            self.lc = (t(lc.row.values), t(lc.sign.values).to(dtype),
                       t(lc.lcamp.values).to(dtype), t(lc.sigma_lcamp.values).to(dtype))
        self.gains = StationGains(obs).to(device) if gains else None

    def terms(self, model: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reduced χ² of every weighted term for model visibilities ``model`` (shape (N,))."""
        if self.gains is not None:
            model_g = self.gains(model)
        else:
            model_g = model
        out = {}
        vis, sigma = self.vis, self.sigma
        if self.rows is not None and ("vis" in self.weights or "amp" in self.weights):
            model_g, vis, sigma = model_g[self.rows], vis[self.rows], sigma[self.rows]
        if "vis" in self.weights:
            out["vis"] = chi2_vis(model_g, vis.to(model.dtype), sigma)
        if "amp" in self.weights:
            out["amp"] = chi2_amp(model_g, vis.abs().to(sigma.dtype), sigma)
        if "cphase" in self.weights:
            rows, signs, psi, sig = self.cp
            out["cphase"] = chi2_cphase(model_cphase(model, rows, signs), psi, sig)
        if "lcamp" in self.weights:
            rows, signs, lca, sig = self.lc
            out["lcamp"] = chi2_lcamp(model_lcamp(model, rows, signs), lca, sig)
        return out

    def __call__(self, model: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted sum of the terms and the reduced χ² of each (as floats)."""
        terms = self.terms(model)
        total = sum(self.weights[k] * v for k, v in terms.items())
        return total, {k: float(v.detach()) for k, v in terms.items()}
