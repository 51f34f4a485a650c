"""The ``fit.png`` of an observation fit: data against model, and the image they imply.

Four panels: visibility amplitudes against baseline length with the model's; normalised
residuals of the closure phases and of the log closure amplitudes against time (the
reduced χ² in each title; a good fit scatters about 0 with unit spread and no trend); the
fitted sky image blurred to the array's resolution (20 µas for the EHT at 230 GHz, as
Papers IV and VI measure rings) with its ring and bright side marked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure
from scipy.ndimage import gaussian_filter

from ..plotting import CMAP, NotebookFigure
from ..vlbi.combine import segment_of
from ..vlbi.ring import ring_features
from .observation_result import EDGE_FRACTION, rival_basin

__all__ = ["plot_observation_fit"]

_FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))


def plot_observation_fit(res: Any, *, resolution_uas: float = 20.0) -> Figure:
    """Data against model for a fit to an observation, and the fitted image.

    Parameters
    ----------
    res : ObservationFit
        From :func:`kerrfield.fit` on an observation or
        :func:`~kerrfield.fitting.observation.fit_observation`.
    resolution_uas : float
        FWHM (µas) of the Gaussian the image panel is blurred with (0: the sharp model).

    Returns
    -------
    matplotlib.figure.Figure
        Displays itself in a notebook; ``savefig`` for a file (``kerrfield fit`` writes it
        as ``fit.png``).

    Raises
    ------
    ValueError
        If ``resolution_uas`` is negative or not finite.
    """
    if not (np.isfinite(resolution_uas) and resolution_uas >= 0):
        raise ValueError(f"resolution_uas must be a finite FWHM >= 0 in µas, got "
                         f"{resolution_uas!r}")  # fmt: skip
    fig = NotebookFigure(layout="constrained", figsize=(11.0, 8.0))
    (a_amp, a_cp), (a_lca, a_img) = fig.subplots(2, 2)
    _amplitudes(a_amp, res)
    model = res.model_closures()
    for ax, name, label in ((a_cp, "cphase", "closure phase"),
                            (a_lca, "lcamp", "log closure amplitude")):
        if name in res.terms.closures:
            _residuals(ax, res, name, model[name], label)
        else:
            ax.set_axis_off()
            ax.set_title(f"{label}s: not fitted", fontsize=9)
    _image(a_img, res, resolution_uas)
    s, a = res.sky, res.terms.obs.attrs
    spin, inc = float(s.image_model.spin.detach()), float(s.image_model.inclination.detach())
    days = a.get("segment_mjd", [a.get("mjd", "?")])
    n_obs = int(a.get("n_segments", 1))
    what = f"{n_obs} observations, MJD " if n_obs > 1 else "MJD "
    what += ", ".join(str(d) for d in dict.fromkeys(np.atleast_1d(days).tolist()))
    title = (f"{a.get('source', 'source')}, {what}: fit at spin {spin:.3g}, inclination "
             f"{inc:.1f}°; θ_g = {float(s.theta_g.detach()):.2f} µas, spin-axis PA = "
             f"{float(s.position_angle.detach()) % 360:.0f}° east of north")
    other = rival_basin(res.finalists)
    if other is not None:  # say so where the PA is printed
        title += (f"\nPA not determined: a finalist at {other['position_angle_deg'] % 360:.0f}° "
                  f"fits as well (Δχ² = {other['delta_chi2']:.1f}, η = "
                  f"{other['brightness_pa_deg']:.0f}°)")
    fig.suptitle(title, fontsize=10)
    return fig


def _amplitudes(ax: Any, res: Any) -> None:
    obs = res.terms.obs
    q = np.hypot(obs.u.values, obs.v.values) / 1e9
    used = res.terms.used
    amp, model = np.abs(obs.vis.values), np.abs(res.model_visibilities())
    # thousands of points: their σ bars would hide the data (the residual panels show σ)
    ax.plot(q[used], amp[used], ".", ms=2, alpha=0.3, color="k", label="data")
    ax.plot(q[used], model[used], ".", ms=2, color="C3", label="model")
    if not used.all():  # e.g. the intra-site baselines, which see the extended jet too
        cut = res.terms.uv_min / 1e9
        ax.plot(q[~used], amp[~used], "x", ms=4, color="C0",
                label=f"{int((~used).sum())} rows < {cut:g} Gλ, median "
                      f"{np.median(amp[~used]):.2f} Jy: not fitted")
        ax.axvline(cut, color="C0", lw=0.8, ls=":")
    ax.set(xlabel="baseline length [Gλ]", ylabel="|V| [Jy]", yscale="log")
    low = np.percentile(np.abs(obs.vis.values), 1)
    ax.set_ylim(max(low / 3, 1e-4), None)
    fitted = "fitted" if "amp" in res.terms.weights or "vis" in res.terms.weights else (
        "not fitted: the closures fix only the shape")
    ax.set_title(f"visibility amplitudes ({fitted})", fontsize=9)
    ax.legend(fontsize=7, markerscale=3)


def _residuals(ax: Any, res: Any, name: str, model: np.ndarray, label: str) -> None:
    cl = res.terms.closures[name]
    data, sigma = cl[name].values, cl[f"sigma_{name}"].values
    diff = data - model
    if name == "cphase":  # on the circle, in degrees
        diff = (diff + 180.0) % 360.0 - 180.0
    z = diff / sigma
    seg = segment_of(cl)
    files = str(res.terms.obs.attrs.get("file", "")).split("; ")
    for k in np.unique(seg):
        m = seg == k
        tag = files[k] if len(np.unique(seg)) > 1 and k < len(files) else None
        ax.plot(cl.time.values[m], z[m], ".", ms=2, alpha=0.5, color=f"C{k}", label=tag)
    for level in (-3.0, 0.0, 3.0):
        ax.axhline(level, color="0.5", lw=0.8, ls="-" if level == 0 else ":")
    chi2 = res.chi2.get(name, float("nan"))
    ax.set(xlabel="time [h UTC]", ylabel=f"(data − model) / σ, {label}")
    ax.set_title(f"{label}s: {len(z)}, reduced χ² = {chi2:.2f}", fontsize=9)
    if len(np.unique(seg)) > 1:
        ax.legend(fontsize=6, markerscale=3)


def _image(ax: Any, res: Any, resolution_uas: float) -> None:
    sharp = res.sky_image()
    # as ObservationFit.summary measures it: blurred on a field twice as wide (the blur
    # spreads beyond the screen), sharp on the screen itself
    n, width = sharp.sizes["ra"], float(np.ptp(sharp.ra.values)) * (1 + 1 / sharp.sizes["ra"])
    wide = res.sky_image(npix=2 * n, fov=2 * width) if resolution_uas > 0 else sharp
    step = abs(float(wide.dec[1] - wide.dec[0]))
    img = wide.copy(data=gaussian_filter(wide.values, resolution_uas * _FWHM_TO_SIGMA / step)
                    ) if resolution_uas > 0 else wide  # fmt: skip
    img = img.transpose("dec", "ra").sortby("dec").sortby("ra", ascending=False)
    ra, dec = img.ra.values, img.dec.values
    im = ax.imshow(1e3 * img.values / step**2, origin="lower", cmap=CMAP,
                   extent=(ra[0], ra[-1], dec[0], dec[-1]))  # fmt: skip
    ax.figure.colorbar(im, ax=ax, label="intensity [mJy µas⁻²]")
    what = f"blurred to {resolution_uas:g} µas" if resolution_uas > 0 else "sharp model"
    try:
        f = ring_features(wide, blur=resolution_uas or None)  # the summary's numbers
    except ValueError:  # no ring to mark
        ax.set_title(f"fitted image, {what}: no ring found", fontsize=9)
    else:
        t = np.linspace(0.0, 2.0 * np.pi, 200)
        r, cx, cy = f["ring_diameter_uas"] / 2, f["center_ra_uas"], f["center_dec_uas"]
        ax.plot(cx + r * np.sin(t), cy + r * np.cos(t), "c--", lw=0.8)
        eta = np.deg2rad(f["brightness_pa_deg"])  # east of north: east is +ra
        ax.annotate("", xy=(cx + r * np.sin(eta), cy + r * np.cos(eta)), xytext=(cx, cy),
                    arrowprops=dict(arrowstyle="->", color="c", lw=1.2))
        edge = ("\nat the model screen's edge: not a ring of the data (widen fov)"
                if f["ring_diameter_uas"] / 2 > EDGE_FRACTION * width else "")
        ax.set_title(f"fitted image, {what}: d = {f['ring_diameter_uas']:.1f} µas, "
                     f"η = {f['brightness_pa_deg']:.0f}° (arrow){edge}", fontsize=9)
    ax.set(xlabel="RA offset (east) [µas]", ylabel="Dec offset [µas]")
