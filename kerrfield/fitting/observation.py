"""Fitting a lensed image model to an interferometric observation.

The image of a :class:`~kerrfield.models.lensed.LensedImage` (screen in units of M) is
placed on the sky by θ_g (µas per M), the position angle of the projected spin axis (east
of north) and the total flux, all three optionally trainable; θ_g and PA only scale and
rotate (u, v) (:func:`kerrfield.vlbi.visibilities.dft`). The loss is a weighted sum of the
reduced χ² terms of :class:`kerrfield.vlbi.losses.DataTerms` plus image-domain
regularisers: total variation, relative entropy (MEM) against a prior image, and a flux
prior (EHT Collaboration 2019, Paper IV, Sec. 6; Chael et al. 2018, ApJ 857, 23).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
import xarray as xr
from torch import nn

from .._progress import show_progress
from .._validate import check_npoints
from ..fields.axisymmetric import Axisymmetric, match_emission
from ..io.sky import sky_matrix
from ..models.lensed import LensedImage
from ..vlbi.closures import UV_MIN
from ..vlbi.combine import concat_observations
from ..vlbi.losses import DataTerms, gain_sigma_widths
from ..vlbi.nufft import nufft
from ..vlbi.visibilities import dft
from ._rng import keeps_caller_rng
from .losses import total_variation
from .observation_result import ObservationFit, finalist_ends

__all__ = ["UV_MIN", "Axisymmetric", "SkyModel", "fit_observation", "match_emission",
           "relative_entropy"]


class SkyModel(nn.Module):
    """A lensed image model placed on the sky, with its visibilities.

    Parameters
    ----------
    image_model : LensedImage
        Screen-image model (units of M).
    theta_g : float
        Initial µas per M (M87*: 3.8).
    position_angle : float
        Initial PA of the projected spin axis, degrees east of north.
    flux : float
        Total flux in Jy (M87 2017: ≈ 0.6, Paper IV).
    learn : sequence of str
        Which of ``'theta_g'``, ``'position_angle'``, ``'flux'`` are trained.
    pixel, method
        Pixel response and ``'dft'``/``'nufft'`` (see :func:`kerrfield.vlbi.visibilities`).
    """

    def __init__(self, image_model: LensedImage, theta_g: float = 3.8,
                 position_angle: float = 0.0, flux: float = 0.6,
                 learn: Sequence[str] = ("theta_g", "position_angle"), pixel: str = "box",
                 method: str = "dft"):
        super().__init__()
        for name, val in (("theta_g", theta_g), ("flux", flux)):
            if not (isinstance(val, (int, float)) and math.isfinite(val) and val > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {val!r}")
        unknown = set(learn) - {"theta_g", "position_angle", "flux"}
        if unknown:
            raise ValueError(f"learn: unknown parameter(s) {sorted(unknown)}")
        if method not in ("dft", "nufft"):
            raise ValueError(f"method must be 'dft' or 'nufft', got {method!r}")
        self.image_model, self.pixel, self.method = image_model, pixel, method
        f64 = dict(dtype=torch.float64)
        self.log_theta_g = nn.Parameter(torch.tensor(math.log(theta_g), **f64),
                                        requires_grad="theta_g" in learn)
        # PA in radians as the trained number (Adam steps are then in radians)
        self.pa_rad = nn.Parameter(torch.tensor(math.radians(position_angle), **f64),
                                   requires_grad="position_angle" in learn)
        self.log_flux = nn.Parameter(torch.tensor(math.log(flux), **f64),
                                     requires_grad="flux" in learn)

    @property
    def theta_g(self) -> torch.Tensor:
        return self.log_theta_g.exp()

    @property
    def position_angle(self) -> torch.Tensor:
        """Degrees east of north, wrapped to [0, 360)."""
        return torch.rad2deg(self.pa_rad) % 360.0

    @property
    def flux(self) -> torch.Tensor:
        return self.log_flux.exp()

    def sky_parameters(self) -> list[nn.Parameter]:
        return [p for p in (self.log_theta_g, self.pa_rad, self.log_flux) if p.requires_grad]

    def image(self) -> torch.Tensor:
        """Screen image scaled to the total flux (Jy per pixel), shape (n_beta, n_alpha)."""
        img = self.image_model.image()
        return img * (self.flux / img.sum().clamp_min(1e-300))

    def forward(self, u: torch.Tensor, v: torch.Tensor,
                image: torch.Tensor | None = None) -> torch.Tensor:
        """Model visibilities (Jy) at (u, v) in wavelengths."""
        img = self.image() if image is None else image
        m = sky_matrix(self.theta_g, torch.rad2deg(self.pa_rad))
        fn = dft if self.method == "dft" else nufft
        return fn(img, self.image_model.alpha, self.image_model.beta, u, v, matrix=m,
                  pixel=self.pixel)

    @torch.no_grad()
    def to_xarray(self) -> xr.DataArray:
        """Screen image (Jy/pixel) with θ_g, PA and flux in the attrs."""
        da = self.image_model.to_xarray()
        da = da * (float(self.flux.detach()) / float(da.sum()))
        da.attrs.update(theta_g_uas=float(self.theta_g.detach()),
                        position_angle_deg=float(self.position_angle.detach()),
                        flux_jy=float(self.flux.detach()), units="Jy/pixel")
        return da


def relative_entropy(image: torch.Tensor, prior: torch.Tensor | None = None) -> torch.Tensor:
    """MEM regulariser Σ p ln(p/q) ≥ 0 of the normalised image p against prior q (flat if None)."""
    p = image.clamp_min(0) / image.clamp_min(0).sum().clamp_min(1e-300)
    q = (torch.full_like(p, 1.0 / p.numel()) if prior is None
         else prior.to(p) / prior.to(p).sum())
    return torch.sum(p * (torch.log(p + 1e-300) - torch.log(q + 1e-300)))


def _gaussian_prior(model: LensedImage, fwhm_m: float) -> torch.Tensor:
    bb, aa = torch.meshgrid(model.beta, model.alpha, indexing="ij")
    s = fwhm_m / (2 * math.sqrt(2 * math.log(2)))
    return torch.exp(-(aa**2 + bb**2) / (2 * s * s))


class _Objective:
    """Data terms + regularisers of a SkyModel, evaluated in one call."""

    def __init__(self, sky: SkyModel, terms: DataTerms, reg: Mapping[str, float],
                 prior: torch.Tensor | None, flux_prior: float | None):
        self.sky, self.terms, self.reg = sky, terms, dict(reg)
        self.prior, self.flux_prior = prior, flux_prior

    def __call__(self) -> tuple[torch.Tensor, dict[str, float]]:
        img = self.sky.image()
        vis = self.sky(self.terms.u, self.terms.v, image=img)
        total, chi2 = self.terms(vis)
        norm = img / img.sum().clamp_min(1e-300)
        if self.reg.get("tv", 0.0):
            total = total + self.reg["tv"] * total_variation(norm) * norm.numel() ** 0.5
        if self.reg.get("mem", 0.0):
            total = total + self.reg["mem"] * relative_entropy(img, self.prior)
        if self.reg.get("flux", 0.0) and self.flux_prior:
            total = total + self.reg["flux"] * (self.sky.flux / self.flux_prior - 1.0) ** 2
        gains = getattr(self.sky, "gains", None)
        if gains is not None and self.reg.get("gain_sigma") is not None:
            sigma = self.reg["gain_sigma"].to(gains.log_amp)[:, None]
            total = total + torch.mean(gains.log_amp**2 / sigma**2)
        return total, chi2


def _optimizer(sky: SkyModel, lr: float, sky_lr: float, geometry_lr: float):
    geo = list(sky.image_model.geometry_parameters()) if hasattr(
        sky.image_model, "geometry_parameters") else []
    geo_ids = {id(p) for p in geo}
    field = [p for p in sky.image_model.parameters() if p.requires_grad and id(p) not in geo_ids]
    groups = [{"params": field, "lr": lr}]
    if getattr(sky, "gains", None) is not None:
        groups.append({"params": [p for p in sky.gains.parameters() if p.requires_grad],
                       "lr": sky_lr})
    if sky.sky_parameters():
        groups.append({"params": sky.sky_parameters(), "lr": sky_lr})
    geo = [p for p in geo if p.requires_grad]
    if geo:
        groups.append({"params": geo, "lr": geometry_lr})
    return torch.optim.Adam(groups)


def _row(objective: _Objective, total: torch.Tensor, chi2: Mapping[str, float]) -> dict:
    return {"loss": float(total.detach()), **{f"chi2_{k}": v for k, v in chi2.items()},
            "theta_g_uas": float(objective.sky.theta_g.detach()),
            "position_angle_deg": float(objective.sky.position_angle.detach())}


@torch.no_grad()
def _end_row(objective: _Objective) -> dict:
    """The row at the current state (a history row's loss is the one before its step)."""
    return _row(objective, *objective())


def _run(objective: _Objective, steps: int, lr: float, sky_lr: float, geometry_lr: float,
         history: list[dict], progress: bool, label: str = "fit_observation") -> None:
    opt = _optimizer(objective.sky, lr, sky_lr, geometry_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(s / max(steps, 1), 1))))
    bar = range(steps)
    if progress:
        from .._progress import progress_bar

        bar = progress_bar(bar, desc=label, leave=False)
    for _ in bar:
        opt.zero_grad()
        total, chi2 = objective()
        if not torch.isfinite(total):
            raise FloatingPointError("fit_observation: the loss became non-finite")
        total.backward()
        opt.step()
        sched.step()
        history.append(_row(objective, total, chi2))
        if progress:
            bar.set_postfix({k: f"{v:.2f}" for k, v in chi2.items()})


def _scout(objectives: list[_Objective], starts: list[tuple[float, float]], steps: int,
           rounds: int, run) -> tuple[tuple, list[dict]]:
    """Successive halving over the starts (one start: nothing to scout).

    Every start is fitted for ``steps``; then, ``rounds − 1`` times, the best quarter (at
    least two) continues for ``steps`` more. Returns the surviving (objective, history,
    state) best first and, per start, its last scout step, the start and its steps.
    """
    if len(objectives) == 1:
        obj = objectives[0]
        return [(obj, [], copy.deepcopy(obj.sky.state_dict()))], []
    gains = getattr(objectives[0].sky, "gains", None)
    gains0 = copy.deepcopy(gains.state_dict()) if gains is not None else None
    pool = []
    for k, (obj, (tg, pa)) in enumerate(zip(objectives, starts, strict=True)):
        if gains0 is not None:  # station gains are shared: every start from the same ones
            gains.load_state_dict(gains0)
        trial: list[dict] = []
        run(obj, steps, trial, f"scout {k + 1}/{len(starts)} (θ_g {tg:.3g} µas, PA {pa:g}°)")
        pool.append([obj, trial, copy.deepcopy(obj.sky.state_dict())])
    everyone = list(pool)
    for r in range(max(rounds, 1) - 1):
        pool = sorted(pool, key=lambda c: c[1][-1]["loss"])[:max(2, len(pool) // 4)]
        for k, cand in enumerate(pool):
            cand[0].sky.load_state_dict(cand[2])
            run(cand[0], steps, cand[1], f"round {r + 2}: scout {k + 1}/{len(pool)}")
            cand[2] = copy.deepcopy(cand[0].sky.state_dict())
    rows = [{"theta_g_start": tg, "position_angle_start": pa, "scout_steps": len(c[1]),
             **c[1][-1]} for (tg, pa), c in zip(starts, everyone, strict=True)]
    return [tuple(c) for c in sorted(pool, key=lambda c: c[1][-1]["loss"])], rows


@keeps_caller_rng
def fit_observation(model: LensedImage, obs: xr.Dataset | Sequence[xr.Dataset], *,
                    weights: Mapping[str, float] | None = None, systematic: float = 0.02,
                    theta_g: float | Sequence[float] = 3.8,
                    position_angle: float | Sequence[float] = 0.0,
                    flux: float = 0.6, learn: Sequence[str] = ("theta_g", "position_angle"),
                    tv: float = 0.0, mem: float = 0.0, flux_weight: float = 0.0,
                    prior_fwhm: float | None = None, steps: int = 500, scout_steps: int = 60,
                    scout_rounds: int = 1, finalists: int = 1,
                    lr: float = 1e-2, sky_lr: float = 0.02, geometry_lr: float = 0.02,
                    minimal: bool = True, scan_average: bool = True, gains: bool = False,
                    gain_sigma: float | Mapping[str, float] = 0.1, uv_min: float = UV_MIN,
                    pixel: str = "box", method: str = "dft",
                    seed: int | None = 0, progress: bool | None = False) -> ObservationFit:
    """Fit a lensed image model (field, θ_g, PA, flux; spin and inclination if the model
    learns its geometry) to an observation's closure quantities and/or visibilities.

    Parameters
    ----------
    model : LensedImage
        From :func:`~kerrfield.models.builders.fixed_image_model` or
        :func:`~kerrfield.models.builders.kerr_image_model`; modified in place.
    obs : xarray.Dataset or sequence of xarray.Dataset
        From :func:`kerrfield.vlbi.load_uvfits` or :func:`kerrfield.vlbi.observe`; several
        (bands, days) are fitted jointly (:func:`kerrfield.vlbi.concat_observations`).
    weights : mapping, optional
        Data-term weights (``'vis'``, ``'amp'``, ``'cphase'``, ``'lcamp'``); default closure
        phases and log closure amplitudes, 1 each.
    systematic : float
        Fractional systematic error added to |V| in quadrature (EHT 2017: 1-2 %).
    theta_g : float or sequence of float
        Initial µas per M; with several, every (θ_g, PA) pair of starts is scouted.
    flux : float
        Initial total flux, Jy.
    position_angle : float or sequence of float
        Initial PA in degrees. With several starts (of θ_g and/or PA), each pair is fitted
        for ``scout_steps`` from the same field and the one with the lowest loss continues
        (the scouts are listed in ``ObservationFit.scouts``).
    scout_rounds : int
        Successive halving of the starts: after the first ``scout_steps``, the best quarter
        (at least two) continues for ``scout_steps`` more, ``scout_rounds − 1`` times; 1
        (default) keeps the best after the first round.
    finalists : int
        How many of the best scouts are fitted for the full ``steps``; the lowest final
        loss wins (a basin that converges slowly can be second after the scouts).
    learn : sequence of str
        Sky parameters to fit (``'theta_g'``, ``'position_angle'``, ``'flux'``).
    tv, mem, flux_weight : float
        Weights of total variation, relative entropy against the prior, and the flux prior.
    prior_fwhm : float, optional
        FWHM (M) of the Gaussian MEM prior (default flat).
    steps, lr, sky_lr, geometry_lr
        Adam steps and learning rates of the field, the sky parameters (log θ_g, PA in
        radians, log flux) and spin/inclination; cosine decay to 5 %.
    minimal, gains
        Passed to :class:`~kerrfield.vlbi.losses.DataTerms`.
    scan_average : bool
        Average the visibilities coherently over each scan before forming any term
        (:func:`~kerrfield.vlbi.average_scans`; default since 2026-12-01, as the EHT
        pipelines and ehtim's ``avg_coherent(0, scan_avg=True)``): closures of low-S/N 10 s
        records are biased and not Gaussian (April 6 hi: median |V|/σ 3.3 on the long
        baselines). False fits the records as stored.
    gain_sigma : float or mapping
        With ``gains``: Gaussian prior width of the log gain amplitudes (0.1 ≈ 10 %); a
        mapping gives it per station name, with ``"default"`` (else 0.1) for the others
        (EHT 2017: the LMT's a-priori amplitudes are far less certain than the others',
        Paper III, Table 5; Paper IV self-calibrates it with a loose tolerance).
    uv_min : float
        Baselines shorter than this (wavelengths) enter no data term. The default 0.1 Gλ
        leaves out intra-site baselines (ALMA-APEX, SMA-JCMT) as the EHT 2017 pipelines do
        (ehtim's ``cp_uv_min``): they see ≈ 1.1 Jy of M87 against ≈ 0.6 Jy in the compact
        ring (Paper IV, Sec. 4), and most minimal log closure amplitudes contain one of them,
        so a compact model would be bent to explain the extended jet's flux. 0 uses all.
    pixel, method
        Visibility forward model.
    seed : int, optional
        Seed of torch's global generator during the fit (the caller's random state is
        restored afterwards).
    progress : bool or None
        Show a progress bar per start (None: when stderr is a terminal).

    Returns
    -------
    ObservationFit
        The fitted :class:`SkyModel`, the history, the reduced χ² per term and a summary.

    Raises
    ------
    ValueError
        Bad weights, parameters or observation (see :class:`DataTerms`).
    """
    progress = show_progress(progress)
    if seed is not None:
        torch.manual_seed(seed)
    for name, val in (("tv", tv), ("mem", mem), ("flux_weight", flux_weight)):
        if not (math.isfinite(val) and val >= 0):
            raise ValueError(f"{name} must be finite and >= 0, got {val}")
    steps, scout_steps = (check_npoints(v, n, minimum=0) for v, n in
                          ((steps, "steps"), (scout_steps, "scout_steps")))  # fmt: skip
    scout_rounds, finalists = (check_npoints(v, n) for v, n in
                               ((scout_rounds, "scout_rounds"), (finalists, "finalists")))
    if isinstance(obs, (list, tuple)):
        obs = concat_observations(obs)
    terms = DataTerms(obs, weights, systematic=systematic, minimal=minimal,
                      scan_average=scan_average, gains=gains, uv_min=uv_min)
    prior = _gaussian_prior(model, prior_fwhm) if prior_fwhm else None
    # checked with or without gains: a misspelt station is a mistake either way
    widths = gain_sigma_widths(gain_sigma, list(dict.fromkeys([*obs.t1.values, *obs.t2.values])))
    reg = {"tv": tv, "mem": mem, "flux": flux_weight, "gain_sigma": widths if gains else None}
    starts = [(float(t), float(p)) for t in np.atleast_1d(theta_g)
              for p in np.atleast_1d(position_angle)]
    objectives = []
    for tg, pa in starts:
        sky = SkyModel(copy.deepcopy(model) if len(starts) > 1 else model, tg, pa, flux,
                       learn, pixel, method)
        if terms.gains is not None:
            sky.gains = terms.gains
        objectives.append(_Objective(sky, terms, reg, prior, flux))

    def run(o: _Objective, n: int, hist: list[dict], label: str = "fit_observation") -> None:
        _run(o, n, lr, sky_lr, geometry_lr, hist, progress, label)

    pool, scouts = _scout(objectives, starts, scout_steps, scout_rounds, run)
    finals = []
    kept = pool[:max(finalists, 1)]
    for k, (obj, history, state) in enumerate(kept):
        obj.sky.load_state_dict(state)
        run(obj, steps, history, f"final {k + 1}/{len(kept)}" if len(starts) > 1 else
            "fit_observation")
        finals.append((obj, history, copy.deepcopy(obj.sky.state_dict()), _end_row(obj)))
    finals.sort(key=lambda c: c[3]["loss"])
    obj, history, state, _ = finals[0]
    ends = finalist_ends([(f[0].sky, f[3]) for f in finals], terms) if len(finals) > 1 else []
    obj.sky.load_state_dict(state)
    model.load_state_dict(obj.sky.image_model.state_dict())
    obj.sky.image_model = model
    with torch.no_grad():
        _, chi2 = obj()
    return ObservationFit(sky=obj.sky, terms=terms, history=history, chi2=chi2, scouts=scouts,
                          finalists=ends)
