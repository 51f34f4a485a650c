"""An independent reference for the M87 brightness position angle: an m-ring fitted with
ehtim alone (its uvfits reader, scan averaging, closure tables and χ²), no kerrfield code.

The m-ring (EHT 2019 Paper IV, Sect. 9; Johnson et al. 2020) is a thin ring of diameter d
with brightness 1 + Σ_m a_m cos(m(φ − η_m)), φ east of north, blurred radially to a Gaussian
cross-section of FWHM w; η = η_1 is its brightness position angle. It is fitted
(Nelder-Mead, several η starts) to ehtim's scan-averaged closure phases and log closure
amplitudes with a fractional systematic error, the baselines shorter than 0.1 Gλ flagged
first (the intra-site baselines out, as kerrfield's default ``uv_min``), then profiled in
η (d, w and the mode amplitudes re-fitted at each fixed η). ``--image`` evaluates
kerrfield fits (their ``image.fits``) with the same ehtim χ², and kerrfield's
``ring_features`` measures the best m-ring at 20 µas, so the two η estimators are compared
on one image.

Usage::

    python benchmarks/m87_mring_ehtim.py                          # April 6 hi, m = 1
    python benchmarks/m87_mring_ehtim.py --day 11 --band lo --m 2
    python benchmarks/m87_mring_ehtim.py --image out/image.fits --json mring.json

About 5 min per file and m = 1 on one core (ehtim's direct FT on a 64² image).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import time
import warnings

import numpy as np
from scipy.optimize import minimize

import kerrfield as kf


def _quiet(fn, *a, **kw):
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def load(path: str, systematic: float):
    import ehtim as eh

    obs = _quiet(eh.obsdata.load_uvfits, path)
    _quiet(obs.add_scans)
    obs = _quiet(obs.avg_coherent, 0.0, scan_avg=True)
    # before the closures: ehtim's chisq applies cp_uv_min to closure phases only, not to
    # log closure amplitudes, so the intra-site baselines are flagged here (as the EHT
    # pipeline's flag_uvdist(uv_zblcut) does)
    obs = _quiet(obs.flag_uvdist, uv_min=1e8)
    return _quiet(obs.add_fractional_noise, systematic)


class MRing:
    """m-ring images on a 64² grid of ``fov`` µas, flux 0.6 Jy (closures ignore it)."""

    def __init__(self, obs, m: int, fov: float = 160.0, npix: int = 64):
        import ehtim as eh

        self.m, self.rad = m, eh.RADPERUAS
        self.base = eh.image.make_empty(npix, fov * self.rad, obs.ra, obs.dec, rf=obs.rf,
                                        source=obs.source)  # fmt: skip
        x = (npix / 2 - 0.5 - np.arange(npix)) * fov / npix  # ehtim: column 0 east, row 0 north
        xx, yy = np.meshgrid(x, x)
        self.r, self.phi = np.hypot(xx, yy), np.arctan2(xx, yy)  # φ east of north

    def params(self, p: np.ndarray) -> dict[str, float]:
        out = {"d": float(p[0]), "w": float(abs(p[1]))}
        for k in range(self.m):
            out[f"a{k + 1}"] = float(np.clip(abs(p[2 + 2 * k]), 0.0, 0.99))
            out[f"eta{k + 1}"] = float(np.rad2deg(p[3 + 2 * k]) % 360.0)
        return out

    def image(self, p: np.ndarray):
        q = self.params(p)
        ring = np.exp(-0.5 * ((self.r - q["d"] / 2) / (max(q["w"], 1.0) / 2.3548)) ** 2)
        ring = ring * (1 + sum(q[f"a{k}"] * np.cos(k * (self.phi - np.deg2rad(q[f"eta{k}"])))
                               for k in range(1, self.m + 1)))  # fmt: skip
        im = self.base.copy()
        im.imvec = (0.6 * ring / ring.sum()).ravel()
        return im


def chi2(obs, im) -> tuple[float, float]:
    kw = dict(ttype="direct")
    return (float(_quiet(obs.chisq, im, dtype="cphase", **kw)),
            float(_quiet(obs.chisq, im, dtype="logcamp", snrcut=0, **kw)))


def fit(obs, ring: MRing, starts: list[float], maxiter: int) -> tuple[np.ndarray, list]:
    best, ends = None, []
    for eta0 in starts:
        p0 = [42.0, 12.0] + [0.4, np.deg2rad(eta0)] + [0.1, 0.0] * (ring.m - 1)
        r = minimize(lambda p: sum(chi2(obs, ring.image(p))), p0, method="Nelder-Mead",
                     options=dict(maxiter=maxiter, xatol=1e-3, fatol=1e-4))  # fmt: skip
        ends.append({"eta_start": eta0, **ring.params(r.x), "chi2_sum": float(r.fun)})
        print(f"  start η {eta0:5.1f}: " + ", ".join(f"{k} {v:.3g}" for k, v in ends[-1].items()
                                                     if k != "eta_start"), flush=True)
        if best is None or r.fun < best.fun:
            best = r
    return best.x, ends


def profile(obs, ring: MRing, x: np.ndarray, etas: np.ndarray, maxiter: int) -> list[dict]:
    rows = []
    for eta in etas:
        def at(q, eta=eta):
            p = x.copy()
            p[[0, 1, 2, *range(4, p.size)]] = q
            p[3] = np.deg2rad(eta)
            return p
        free = x[[0, 1, 2, *range(4, x.size)]]
        r = minimize(lambda q: sum(chi2(obs, ring.image(at(q)))), free, method="Nelder-Mead",
                     options=dict(maxiter=maxiter))  # fmt: skip
        cp, lc = chi2(obs, ring.image(at(r.x)))
        rows.append({"eta": float(eta), "chi2_cphase": cp, "chi2_lcamp": lc})
        print(f"  η {eta:5.1f}: χ²(cp) {cp:.3f}  χ²(lca) {lc:.3f}", flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--day", type=int, default=6, choices=[5, 6, 10, 11])
    p.add_argument("--band", default="hi", choices=["hi", "lo"])
    p.add_argument("--m", type=int, default=1, choices=[1, 2], help="m-ring order")
    p.add_argument("--systematic", type=float, default=0.02)
    p.add_argument("--starts", type=float, nargs="+", default=[0.0, 90.0, 180.0, 270.0],
                   help="η starts, deg")
    p.add_argument("--profile-step", type=float, default=30.0, help="η profile step, deg")
    p.add_argument("--maxiter", type=int, default=400)
    p.add_argument("--image", nargs="*", default=[], help="FITS images to evaluate")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    t0 = time.perf_counter()
    path = str(kf.fetch_eht_m87_2017(args.day, args.band))
    obs = load(path, args.systematic)
    ring = MRing(obs, args.m)
    print(f"{path}: {len(obs.data)} scan-averaged visibilities; m = {args.m}")
    x, ends = fit(obs, ring, args.starts, args.maxiter)
    best = {**ring.params(x), **dict(zip(("chi2_cphase", "chi2_lcamp"),
                                         chi2(obs, ring.image(x)), strict=True))}  # fmt: skip
    im = ring.image(x)
    sky = kf.read_fits_image(_fits(im))
    rf = kf.ring_features(sky, blur=20.0)
    best["kerrfield_brightness_pa_deg_20uas"] = float(rf["brightness_pa_deg"])
    best["kerrfield_ring_diameter_uas_20uas"] = float(rf["ring_diameter_uas"])
    print("best m-ring: " + ", ".join(f"{k} {v:.4g}" for k, v in best.items()))
    rows = profile(obs, ring, x, np.arange(0.0, 360.0, args.profile_step), args.maxiter // 2)
    images = {}
    for f in args.image:
        import ehtim as eh

        img = _quiet(eh.image.load_fits, f)
        cp, lc = chi2(obs, img)
        images[f] = {"chi2_cphase": cp, "chi2_lcamp": lc}
        print(f"{f}: ehtim χ²(cp) {cp:.3f}  χ²(lca) {lc:.3f}")
    out = {"file": path, "m": args.m, "systematic": args.systematic, "uv_min": 1e8,
           "scan_average": True, "best": best, "starts": ends, "profile": rows,
           "images": images, "seconds": time.perf_counter() - t0}  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=1)


def _fits(im) -> str:
    import tempfile

    path = tempfile.NamedTemporaryFile(suffix=".fits", delete=False).name
    _quiet(im.save_fits, path)
    return path


if __name__ == "__main__":
    main()
