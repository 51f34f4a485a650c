"""Ring characterisation of an image: diameter, width, brightness position angle (REx-style).

Following REx (Chael 2019; EHT Collaboration 2019, Paper IV, Sec. 9 and Appendix G):

1. the centre (x₀, y₀) minimises the relative spread std/mean of the radial-profile peak
   radii r_pk(θ) over angle (coarse grid, then Nelder-Mead);
2. diameter d = 2⟨r_pk(θ)⟩_θ;
3. width w = ⟨FWHM(θ)⟩_θ of the radial profiles, measured above the floor (by default the
   profile minimum inside the peak, i.e. the central brightness depression);
4. brightness position angle η = arg ∫∫ I(r, θ) e^{iθ} dθ dr over r_pk ± w/2, θ east of
   north, and asymmetry A = |∫∫ I e^{iθ}| / ∫∫ I;
5. fractional central brightness f_C = I(x₀, y₀) / ⟨max_r I(r, θ)⟩_θ; an image without a
   central depression (f_C ≥ :data:`FC_MAX`), or whose light centroid lies outside the
   ring found, has no ring.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.optimize import minimize

from kerrfield._validate import check_sky_placement
from kerrfield.io.sky import image_axes, sky_matrix

__all__ = ["FC_MAX", "ring_features"]

#: largest central brightness ratio f_C of a ring: a 42 µas ring blurred to 20 µas has
#: 0.3-0.45, a 30 µas one 0.8, a 26 µas one (a blob by then) 0.99 (``tests/vlbi/test_ring.py``)
FC_MAX = 0.9


class _Sampler:
    """Bilinear samples of an image at sky offsets (east, north) in µas."""

    def __init__(self, image: xr.DataArray, theta_g: float | None, position_angle: float,
                 blur: float | None = None):
        a, b, screen = image_axes(image)
        if screen and theta_g is None:
            raise ValueError("theta_g (µas per M) is required for a screen image on "
                             "('beta', 'alpha')")
        dims = ("beta", "alpha") if screen else ("dec", "ra")
        self.img = np.nan_to_num(np.asarray(image.transpose(*dims).values, float))
        # as in visibilities(): for a sky image θ_g is a scale factor and PA a rotation
        m = sky_matrix(1.0 if theta_g is None else theta_g, position_angle,
                       screen=screen).numpy()
        self.inv = np.linalg.inv(m)
        self.a0, self.da, self.b0, self.db = a[0], a[1] - a[0], b[0], b[1] - b[0]
        self.pixel = float(np.sqrt(abs(np.linalg.det(m)) * abs(self.da * self.db)))
        if blur:  # circular Gaussian of FWHM `blur` µas (m is a rotation times a scale)
            s = blur / (2 * np.sqrt(2 * np.log(2)))
            scale = float(np.sqrt(abs(np.linalg.det(m))))
            # the blurred image reaches beyond the grid (the sky outside it is dark): pad by
            # one FWHM so that a ring near the edge still falls to half maximum
            pb, pa = (int(np.ceil(blur / (scale * abs(d)))) for d in (self.db, self.da))
            self.img = gaussian_filter(np.pad(self.img, ((pb, pb), (pa, pa))),
                                       (s / (scale * abs(self.db)), s / (scale * abs(self.da))),
                                       mode="constant")  # fmt: skip
            a = np.concatenate([a[0] + self.da * np.arange(-pa, 0), a, a[-1] + self.da *
                                np.arange(1, pa + 1)])  # fmt: skip
            b = np.concatenate([b[0] + self.db * np.arange(-pb, 0), b, b[-1] + self.db *
                                np.arange(1, pb + 1)])  # fmt: skip
            self.a0, self.b0 = a[0], b[0]
        ea, eb = np.meshgrid(a, b)
        east, north = m @ np.stack([ea.ravel(), eb.ravel()])
        w = self.img.ravel()
        if not w.sum() > 0:
            raise ValueError("image: total brightness must be > 0 to find a ring")
        self.centroid = (float(np.sum(w * east) / w.sum()), float(np.sum(w * north) / w.sum()))
        self.extent = float(min(np.ptp(east), np.ptp(north)))

    def __call__(self, east: np.ndarray, north: np.ndarray) -> np.ndarray:
        a = self.inv[0, 0] * east + self.inv[0, 1] * north
        b = self.inv[1, 0] * east + self.inv[1, 1] * north
        return map_coordinates(self.img, [(b - self.b0) / self.db, (a - self.a0) / self.da],
                               order=1, cval=0.0)


def _profiles(sample: _Sampler, center, radii, thetas) -> np.ndarray:
    r, t = np.meshgrid(radii, thetas)
    return sample(center[0] + r * np.sin(t), center[1] + r * np.cos(t))


def _peaks(prof: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Peak radius per angle, refined by a parabola through the three highest samples."""
    k = np.clip(np.argmax(prof, axis=1), 1, len(radii) - 2)
    rows = np.arange(len(prof))
    y0, y1, y2 = prof[rows, k - 1], prof[rows, k], prof[rows, k + 1]
    den = y0 - 2 * y1 + y2
    shift = np.where(den < 0, 0.5 * (y0 - y2) / np.where(den < 0, den, -1), 0.0)
    return radii[k] + np.clip(shift, -1, 1) * (radii[1] - radii[0])


def _fwhm(prof: np.ndarray, radii: np.ndarray, floor: bool) -> np.ndarray:
    out = np.full(len(prof), np.nan)
    for i, p in enumerate(prof):
        k = int(np.argmax(p))
        base = float(p[: k + 1].min()) if floor else 0.0
        half = base + 0.5 * (p[k] - base)
        lo = np.flatnonzero(p[:k] < half)
        hi = np.flatnonzero(p[k:] < half)
        if lo.size == 0 or hi.size == 0:
            continue
        j, m = lo[-1], k + hi[0]
        r_in = np.interp(half, [p[j], p[j + 1]], [radii[j], radii[j + 1]])
        r_out = np.interp(half, [p[m], p[m - 1]], [radii[m], radii[m - 1]])
        out[i] = r_out - r_in
    return out


def ring_features(image: xr.DataArray, *, theta_g: float | None = None,
                  position_angle: float = 0.0, n_theta: int = 180, r_max: float | None = None,
                  floor: bool = True, blur: float | None = None) -> dict[str, float]:
    """Ring diameter, width and brightness position angle of an image.

    Parameters
    ----------
    image : xarray.DataArray
        Sky image on ``("dec", "ra")`` (µas) or screen image on ``("beta", "alpha")`` (M,
        with ``theta_g`` and ``position_angle`` placing it on the sky).
    theta_g : float, optional
        µas per M (screen images, required there); for sky images a scale factor (default
        1), as in :func:`~kerrfield.vlbi.visibilities`.
    position_angle : float
        Spin-axis PA east of north (screen images), degrees; for sky images a rotation by
        this angle east of north, as in :func:`~kerrfield.vlbi.visibilities`.
    n_theta : int
        Number of angles of the radial profiles.
    r_max : float, optional
        Largest radius searched, µas (default: 0.45 of the image extent).
    floor : bool
        Measure the FWHM above the profile minimum inside the peak (REx's floor).
    blur : float, optional
        First convolve the image with a circular Gaussian of this FWHM in µas, e.g. 20 for
        the nominal EHT 2017 resolution at which Papers IV and VI quote ring parameters of
        images; a model image that resolves its n = 1 ring can otherwise have its bright
        side elsewhere than at that resolution.

    Returns
    -------
    dict
        ``ring_diameter_uas``, ``ring_width_uas``, ``brightness_pa_deg`` (east of north,
        in [0, 360); meaningless when ``asymmetry`` is ≈ 0), ``asymmetry``,
        ``central_brightness_ratio`` (f_C: the brightness at
        the centre over the mean crest brightness, Paper IV Sect. 9), ``center_ra_uas``,
        ``center_dec_uas``.

    Raises
    ------
    TypeError
        ``image`` not a DataArray.
    ValueError
        Bad dims/pixel scale, zero image, no ring (no half-maximum crossing, no central
        depression: f_C ≥ :data:`FC_MAX`, or the light centroid outside the ring: a blob),
        ``theta_g``
        not finite and > 0, ``position_angle`` not finite, ``n_theta`` < 8.
    """
    if not isinstance(image, xr.DataArray):
        raise TypeError("image must be an xarray.DataArray on ('beta', 'alpha') (a screen, "
                        f"in M) or ('dec', 'ra') (a sky image, in µas), got "
                        f"{type(image).__name__}")  # fmt: skip
    if not (isinstance(n_theta, int) and n_theta >= 8):
        raise ValueError(f"n_theta must be an int >= 8 (position angles sampled), got {n_theta!r}")
    theta_g, position_angle, _ = check_sky_placement(theta_g, position_angle)
    if blur is not None and not (np.isfinite(blur) and blur >= 0):
        raise ValueError(f"blur must be a finite FWHM >= 0 in µas, got {blur}")
    sample = _Sampler(image, theta_g, position_angle, blur)
    r_max = float(r_max) if r_max is not None else 0.45 * sample.extent
    radii = np.linspace(0.0, r_max, max(int(4 * r_max / sample.pixel), 64))
    thetas = np.linspace(0, 2 * np.pi, n_theta, endpoint=False)

    def spread(c):  # relative spread; a centre on the ring itself (r_pk ≈ 0) is excluded
        pk = _peaks(_profiles(sample, c, radii, thetas), radii)
        mean = float(np.mean(pk))
        return float(np.std(pk)) / mean if mean > 2 * sample.pixel else np.inf

    c0 = np.array(sample.centroid)
    span = 0.1 * sample.extent
    grid = [c0 + np.array([dx, dy]) for dx in np.linspace(-span, span, 7)
            for dy in np.linspace(-span, span, 7)]
    best = min(grid, key=spread)
    with np.errstate(invalid="ignore"):  # inf spreads (centre on the ring) give inf − inf
        res = minimize(spread, best, method="Nelder-Mead",
                       options={"xatol": 1e-3 * sample.pixel, "fatol": 1e-6, "maxiter": 400})
    center = res.x if res.fun <= spread(best) else best
    prof = _profiles(sample, center, radii, thetas)
    peaks = _peaks(prof, radii)
    widths = _fwhm(prof, radii, floor)
    if np.all(np.isnan(widths)):
        raise ValueError("image: no ring found (radial profiles never fall to half maximum "
                         f"within r_max = {r_max:.3g} µas; a larger ring needs a larger r_max)")
    width = float(np.nanmean(widths))
    r_pk = float(np.mean(peaks))
    # A blob, or a small ring blurred into one, has no ring: the search then moves the
    # centre off the blob, where radial peaks lie a few µas out. A ring holds its light
    # centroid inside it and is darker at its centre than along its crest (f_C, Paper IV).
    crest = float(np.mean(prof.max(axis=1)))
    f_c = float(np.mean(prof[:, 0])) / crest if crest > 0 else np.inf
    off = float(np.hypot(*(np.asarray(center) - c0)))
    if not f_c < FC_MAX:
        raise ValueError(f"image: no ring found: no central depression (the centre is "
                         f"{f_c:.2f} of the crest brightness; a ring's centre is below "
                         f"{FC_MAX})")  # fmt: skip
    if not off < r_pk:
        raise ValueError(f"image: no ring found: the light centroid lies outside the ring "
                         f"candidate ({off:.1f} µas from its centre, radius {r_pk:.1f} µas), "
                         "as for a blob")  # fmt: skip
    ann = (radii >= r_pk - width / 2) & (radii <= r_pk + width / 2)
    total = prof[:, ann].sum()
    moment = np.sum(prof[:, ann].sum(axis=1) * np.exp(1j * thetas))
    return {"ring_diameter_uas": 2 * r_pk, "ring_width_uas": width,
            "brightness_pa_deg": float(np.rad2deg(np.angle(moment)) % 360.0),
            "asymmetry": float(np.abs(moment) / total) if total > 0 else float("nan"),
            "central_brightness_ratio": f_c,
            "center_ra_uas": float(center[0]), "center_dec_uas": float(center[1])}
