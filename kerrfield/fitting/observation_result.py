"""The result of :func:`kerrfield.fitting.observation.fit_observation`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..io.sky import FITS_OVERSAMPLE, sky_image
from ..io.skyfits import write_fits_image
from ..vlbi.combine import segment_of
from ..vlbi.losses import (
    DataTerms,
    chi2_amp,
    chi2_cphase,
    chi2_lcamp,
    chi2_vis,
    model_cphase,
    model_lcamp,
)
from ..vlbi.ring import ring_features

__all__ = ["ObservationFit", "chi2_total", "edge_flux", "position_angle_ambiguous", "rival_basin",
           "term_counts"]


@dataclass
class ObservationFit:
    """A fitted sky model with its data terms and history.

    Attributes
    ----------
    sky : SkyModel
        The fitted model (``sky.image_model`` is the caller's LensedImage).
    terms : DataTerms
        The data terms (observation with the systematic error, closure tables).
    history : list of dict
        Per step: loss, ``chi2_<term>``, θ_g, PA.
    chi2 : dict
        Final reduced χ² per term.
    scouts : list of dict
        With several starts: per (θ_g, PA) start, its last scout step (loss, χ², θ_g, PA).
    finalists : list of dict
        With two or more finalists: each one's final loss, θ_g, PA, total χ² and its excess
        over the fit's, ring diameter and brightness PA at 20 µas (:func:`finalist_ends`),
        best (the fit) first.
    """

    sky: Any
    terms: DataTerms
    history: list[dict] = field(default_factory=list)
    chi2: dict[str, float] = field(default_factory=dict)
    scouts: list[dict] = field(default_factory=list)
    finalists: list[dict] = field(default_factory=list)

    @torch.no_grad()
    def model_visibilities(self, u=None, v=None) -> np.ndarray:
        """Model visibilities (Jy) at the observation's (u, v) or at given ones."""
        ut = self.terms.u if u is None else torch.as_tensor(np.asarray(u, float))
        vt = self.terms.v if v is None else torch.as_tensor(np.asarray(v, float))
        return self.sky(ut, vt).cpu().numpy()

    @torch.no_grad()
    def model_closures(self) -> dict[str, np.ndarray]:
        """Model closure phases (degrees) and log closure amplitudes on the data's closures."""
        vis = self.sky(self.terms.u, self.terms.v)
        out = {}
        if hasattr(self.terms, "cp"):
            out["cphase"] = np.rad2deg(model_cphase(vis, *self.terms.cp[:2]).cpu().numpy())
        if hasattr(self.terms, "lc"):
            out["lcamp"] = model_lcamp(vis, *self.terms.lc[:2]).cpu().numpy()
        return out

    @torch.no_grad()
    def chi2_by_observation(self) -> dict[str, dict[str, float | None]]:
        """Reduced χ² of each term within each observation of a joint fit, by file name.

        The pooled ``chi2`` is their count-weighted mean; a file fitted worse than the
        others (a band or a day the model cannot share with them) shows here. One
        observation gives one entry; a file without rows at or above ``uv_min`` has
        ``None`` for the visibility and amplitude terms.
        """
        obs, t = self.terms.obs, self.terms
        seg = segment_of(obs)
        files = str(obs.attrs.get("file", "")).split("; ")
        vis = self.sky(t.u, t.v)
        gained = t.gains(vis) if t.gains is not None else vis
        out: dict[str, dict[str, float]] = {}
        for k in range(int(seg.max()) + 1):
            r = torch.as_tensor((seg == k) & t.used)  # rows below uv_min are in no term
            some = bool(r.any())  # a file without rows above uv_min has no vis/amp term
            got: dict[str, float | None] = {}
            if "vis" in self.chi2:
                got["vis"] = float(chi2_vis(gained[r], t.vis[r].to(vis.dtype), t.sigma[r])
                                   ) if some else None
            if "amp" in self.chi2:
                got["amp"] = float(chi2_amp(gained[r], t.vis[r].abs().to(t.sigma.dtype),
                                            t.sigma[r])) if some else None  # fmt: skip
            for term, model_fn, chi2_fn in (("cphase", model_cphase, chi2_cphase),
                                            ("lcamp", model_lcamp, chi2_lcamp)):
                if term in self.chi2:
                    rows, signs, data, sigma = t.cp if term == "cphase" else t.lc
                    m = torch.as_tensor(segment_of(t.closures[term]) == k)
                    got[term] = float(chi2_fn(model_fn(vis, rows[m], signs[m]), data[m],
                                              sigma[m]))  # fmt: skip
            out[files[k] if k < len(files) and files[k] else f"observation {k}"] = got
        return out

    def sky_image(self, npix: int | None = None, fov: float | None = None,
                  oversample: int | None = None) -> xr.DataArray:
        """The fitted image on a north-up sky grid in µas (Jy/pixel); see
        :func:`~kerrfield.sky_image` (``oversample``: the model's own pixels, for files)."""
        s = self.sky
        return sky_image(s.to_xarray(), float(s.theta_g.detach()),
                         float(s.position_angle.detach()), float(s.flux.detach()), npix=npix,
                         fov=fov, oversample=oversample)

    def summary(self, ring: bool = True, resolution_uas: float = 20.0) -> dict[str, float]:
        """θ_g, PA, flux, spin, inclination, reduced χ² per term and the ring features.

        The ring features (``ring_diameter_uas``, ``ring_width_uas``, ``brightness_pa_deg``)
        are measured the REx way on the fitted sky image convolved with a circular Gaussian
        of ``resolution_uas`` FWHM (default 20 µas, the EHT 2017 resolution at which EHT 2019
        Paper IV, Sect. 9, characterises its images): structure finer than the beam is not
        determined by the data, and the bright side of a model image that resolves its thin
        n = 1 ring moves between fits of equal χ² (M87 April 6: η 92°, 120°, 131° sharp;
        144-145° at 20 µas). The same three on the sharp model image carry the suffix
        ``_model`` (``ring_diameter_model_uas``, ``ring_width_model_uas``,
        ``brightness_pa_model_deg``); ``ring_resolution_uas`` records the beam.
        ``resolution_uas = 0`` measures the sharp image for both. ``ring_at_screen_edge``
        is true when either ring's radius exceeds :data:`EDGE_FRACTION` of the model
        screen's width on the sky: such a "ring" is the screen's boundary (widen ``fov``).
        ``flux_at_screen_edge`` is the fraction of the model's flux in the screen's outer
        band (:func:`edge_flux`): more than a few per cent means the screen cuts emission off.
        ``n_observations`` counts the files of a joint fit; ``uv_min`` (wavelengths) is the
        shortest baseline used by the data terms; ``scan_average`` whether they were formed
        from scan averages.
        """
        if not (np.isfinite(resolution_uas) and resolution_uas >= 0):
            raise ValueError(f"resolution_uas must be a finite FWHM >= 0 in µas, got "
                             f"{resolution_uas}")  # fmt: skip
        s = self.sky
        out = {"theta_g_uas": float(s.theta_g.detach()),
               "position_angle_deg": float(s.position_angle.detach()),
               "flux_jy": float(s.flux.detach()), "spin": float(s.image_model.spin.detach()),
               "inclination_deg": float(s.image_model.inclination.detach()),
               "systematic": float(self.terms.obs.attrs.get("systematic", 0.0)),
               "uv_min": self.terms.uv_min,
               "scan_average": bool(self.terms.obs.attrs.get("scan_averaged", 0))}
        out.update({f"chi2_{k}": float(v) for k, v in self.chi2.items()})
        out.update({f"n_{k}": int(v.sizes["closure"]) for k, v in self.terms.closures.items()})
        if ring:
            out["ring_resolution_uas"] = float(resolution_uas)
            img = self.sky_image()
            out.update({f"{k[:-4]}_model{k[-4:]}": v for k, v in _ring(img, None).items()})
            out.update(self._blurred_ring(img, resolution_uas))
            # a "ring" reaching the model screen's edge is the edge, not the data's ring
            width = _sky_width(img)
            d = np.nanmax([out["ring_diameter_uas"], out["ring_diameter_model_uas"], 0.0])
            out["ring_at_screen_edge"] = bool(d / 2 > EDGE_FRACTION * width)
        out["flux_at_screen_edge"] = edge_flux(s.to_xarray())
        out["n_observations"] = int(self.terms.obs.attrs.get("n_segments", 1))
        return out

    def ring(self, resolution_uas: float = 20.0) -> dict[str, float]:
        """``ring_diameter_uas``, ``ring_width_uas`` and ``brightness_pa_deg`` of the fitted
        sky convolved with a ``resolution_uas`` FWHM Gaussian (0: the sharp image), as in
        :meth:`summary`, without its χ² and sharp-image measurements."""
        return self._blurred_ring(self.sky_image(), resolution_uas)

    def _blurred_ring(self, img: xr.DataArray, resolution_uas: float) -> dict[str, float]:
        """:meth:`ring` of the already rendered sharp sky image ``img``."""
        if resolution_uas <= 0:
            return _ring(img, None)
        # on a field twice as wide, so that the blurred ring stays inside it
        wide = self.sky_image(npix=2 * img.sizes["ra"], fov=2 * _sky_width(img))
        return _ring(wide, resolution_uas)

    def to_fits(self, path: str | os.PathLike, overwrite: bool = False, **kw: Any) -> Path:
        """Write the fitted sky image as an ehtim-style FITS file (see ``write_fits_image``):
        the model's own pixels on a grid :data:`~kerrfield.io.sky.FITS_OVERSAMPLE` times
        finer, so that ehtim's χ² of the file is the fit's."""
        a = self.terms.obs.attrs
        kw = {"source": a.get("source", ""), "ra": a.get("ra", 0.0), "dec": a.get("dec", 0.0),
              "frequency": a.get("frequency"), "mjd": a.get("mjd"), **kw}
        return write_fits_image(self.sky_image(oversample=FITS_OVERSAMPLE), path,
                                overwrite=overwrite, **kw)


def term_counts(terms: DataTerms) -> dict[str, int]:
    """Real numbers per data term: 2 per complex visibility (``vis``) and 1 per amplitude
    (``amp``) on the rows at or above ``uv_min``, 1 per closure."""
    used = int(terms.used.sum())
    return {"vis": 2 * used, "amp": used,
            **{k: int(v.sizes["closure"]) for k, v in terms.closures.items()}}


def chi2_total(chi2: dict[str, float], terms: DataTerms) -> float:
    """Σ χ²_reduced · n over the terms of positive weight (:func:`term_counts`)."""
    n = term_counts(terms)
    return sum(float(c) * n[t] for t, c in chi2.items() if terms.weights.get(t, 0.0) > 0)


#: a finalist whose spin-axis PA is further than this from the fit's sits in another basin
PA_BASIN_DEG = 20.0
#: ... and fits as well when its total χ² exceeds the fit's by less than this
AMBIGUOUS_DCHI2 = 4.0


def finalist_ends(finals: list[tuple[Any, dict]], terms: DataTerms,
                  resolution_uas: float = 20.0) -> list[dict]:
    """Each finalist's final loss, θ_g, PA, total χ² (:func:`chi2_total`), ``delta_chi2``
    from the first, ring diameter and brightness PA (at ``resolution_uas``), in the order
    given (best first). ``finals`` holds (sky, end) pairs, ``end`` the loss, ``chi2_*``
    terms, ``theta_g_uas`` and ``position_angle_deg`` evaluated at the finalist's final
    state (the fit's own χ² is evaluated there too, so the two agree).

    A runner-up in another PA basin at a similar χ² says the data do not pick one basin
    (:func:`position_angle_ambiguous`); its η says whether that basin puts the bright side
    elsewhere.
    """
    out = []
    for sky, end in finals:
        ring = ObservationFit(sky=sky, terms=terms).ring(resolution_uas)
        chi2 = {k[5:]: v for k, v in end.items() if k.startswith("chi2_")}
        out.append({**{k: end[k] for k in ("loss", "theta_g_uas", "position_angle_deg")},
                    "chi2_total": chi2_total(chi2, terms),
                    **{k: ring[k] for k in ("ring_diameter_uas", "brightness_pa_deg")}})
    for end in out:
        end["delta_chi2"] = end["chi2_total"] - out[0]["chi2_total"]
    return out


def position_angle_ambiguous(finalists: list[dict]) -> bool | None:
    """Whether the data leave the spin-axis PA open among the search's finalists.

    True when a finalist more than :data:`PA_BASIN_DEG` from the fit's PA has a total χ²
    less than :data:`AMBIGUOUS_DCHI2` above the fit's (two σ for one parameter, if the σ
    were calibrated; with a systematic error term they are approximate); None with fewer
    than two finalists. False says only that no finalist found such a basin: finalists are
    the best few scouts, not a profile (``profile_observation`` gives that).
    """
    return None if len(finalists) < 2 else rival_basin(finalists) is not None


def rival_basin(finalists: list[dict]) -> dict | None:
    """The finalist that makes :func:`position_angle_ambiguous` true (the lowest
    ``delta_chi2`` among them), or None."""
    pa0 = finalists[0]["position_angle_deg"] if finalists else 0.0
    rivals = [f for f in finalists[1:] if f["delta_chi2"] < AMBIGUOUS_DCHI2
              and abs((f["position_angle_deg"] - pa0 + 180.0) % 360.0 - 180.0) > PA_BASIN_DEG]
    return min(rivals, key=lambda f: f["delta_chi2"], default=None)


#: a ring whose radius exceeds this fraction of the screen's width touches its edge
EDGE_FRACTION = 0.4


#: the outer band of a screen, as a fraction of its half-width, whose share of the flux
#: :func:`edge_flux` reports
EDGE_BAND = 0.1


def edge_flux(screen: xr.DataArray) -> float:
    """Fraction of a screen image's flux (negative pixels as 0) within :data:`EDGE_BAND` of its
    half-width from the border, on ``(beta, alpha)`` in M: emission the screen may cut off.

    For a centred circular Gaussian of σ = half-width/3 it is 0.85 %; an image with 10 % or
    more there extends beyond the screen (widen ``fov``). NaN for an image without flux.
    """
    img = np.clip(np.nan_to_num(np.asarray(screen.values, dtype=float)), 0.0, None)
    total = img.sum()
    if total <= 0:
        return float("nan")
    inner = np.ones_like(img, dtype=bool)
    for axis, name in ((0, "beta"), (1, "alpha")):
        x = np.asarray(screen[name].values, dtype=float)
        mid, half = 0.5 * (x.max() + x.min()), 0.5 * (x.max() - x.min())
        keep = np.abs(x - mid) <= (1.0 - EDGE_BAND) * half
        inner &= keep[:, None] if axis == 0 else keep[None, :]
    return float(img[~inner].sum() / total)


def _sky_width(img: xr.DataArray) -> float:
    """Full width of a sky image on the sky, edge to edge (pixel centres span n − 1)."""
    return float(np.ptp(img.ra.values)) * (1 + 1 / img.sizes["ra"])


def _ring(image: xr.DataArray, blur: float | None) -> dict[str, float]:
    """Ring diameter, width and brightness PA; NaN when the image holds no ring."""
    keys = ("ring_diameter_uas", "ring_width_uas", "brightness_pa_deg")
    try:
        f = ring_features(image, blur=blur)
    except ValueError:  # no ring in the image: report NaN rather than fail
        return dict.fromkeys(keys, float("nan"))
    return {k: f[k] for k in keys}
