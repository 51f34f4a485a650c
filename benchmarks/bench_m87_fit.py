"""Fit a Kerr-lensed axisymmetric emission field to the EHT 2017 M87 closure quantities.

Usage::

    python benchmarks/bench_m87_fit.py --real                 # April 6, hi band (Paper IV)
    python benchmarks/bench_m87_fit.py --synthetic            # recovery on the same coverage
    python benchmarks/bench_m87_fit.py --synthetic --truth-theta-g 3.3 --truth-pa 60
    python benchmarks/bench_m87_fit.py --profile-pa 0,30,60   # best χ² at fixed spin-axis PA
    python benchmarks/bench_m87_fit.py --real --fix-pa 108    # jet-direction prior (explicit)
    python benchmarks/bench_m87_fit.py --real --json out.json
    python benchmarks/bench_m87_fit.py --real --day 11 --band lo  # another file of the release
    python benchmarks/bench_m87_fit.py --real --day 6 --band hi,lo  # both bands, jointly
    python benchmarks/bench_m87_fit.py --real --then-amplitudes 1   # closures, then |V| too
    python benchmarks/bench_m87_fit.py --real --pretrain ring:radius=4,width=1.5  # field start
    python benchmarks/bench_m87_fit.py --real --free-field    # f(x, y): examples/m87_2017.toml
    python benchmarks/bench_m87_fit.py --real --velocity general:0.7,0.5,0.7  # other emitters

Model: spin 0.94, inclination 163° (M87 convention; ``--inclination 17`` for the other
one), Keplerian emitters (``--velocity``), I ∝ g³ f(r) with f an axisymmetric 2→32→32→1 MLP
(``--free-field``: f(x, y), not axisymmetric) pre-trained to a neutral Krang-like disk
(R = 5 M), orders n = 0, 1 on a 40² screen of ±8 M (the screen
doubles as a compactness prior: emission beyond ~30 µas is not modelled; ``--fov 12`` lets
the field spread further); fitted: the field, θ_g and the spin axis' position angle (every
pair of 4 θ_g starts (2.8-4.6 µas) and 8 PA starts (every 45°) is scouted for
``--scout-steps``, the best quarter for as many again, and the best two are fitted for
``--steps``; the lower final loss wins),
total flux fixed at 0.6 Jy. Data terms: closure phases and log closure amplitudes (minimal
sets of the scan averages; ``--no-scan-average``: of the 10 s records), fractional
systematic error in quadrature, baselines under 0.1 Gλ out. The data are read from
``KERRFIELD_DATA_DIR`` or ``../shared/data`` (or downloaded with pooch).

``--synthetic`` observes a Krang disk (by default R = 4.5 M, p1 = 3, p2 = 4) at θ_g = 3.8 µas
and PA = 200° with the April 6 coverage and thermal σ, then fits it with the same settings;
the truth's ring features are measured as the fit's (at 20 µas, and sharp: ``*_model``).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

import kerrfield as kf
from kerrfield.cli._common import _gain_width, parse_velocity
from kerrfield.fitting.observation import UV_MIN, Axisymmetric, fit_observation, match_emission
from kerrfield.fitting.observation_profile import profile_observation
from kerrfield.io.atomic import atomic_write_text
from kerrfield.models.synthetic import AnalyticEmission
from kerrfield.vlbi import concat_observations, load_uvfits, observe, ring_features, sky_image
from kerrfield.vlbi.dataset import fetch_eht_m87_2017

ROOT = Path(__file__).resolve().parents[1]
#: θ_g starts [µas per M]: an even grid over ±25 % of the 3.8 ± 0.4 µas of EHT Paper VI;
#: the synthetic truths are fitted from the same grid (it is not centred on them)
THETA_G_STARTS = (2.8, 3.4, 4.0, 4.6)
PA_STARTS = tuple(float(p) for p in range(0, 360, 45))


def _data_path(day: int = 6, band: str = "hi") -> Path:
    for base in (os.environ.get("KERRFIELD_DATA_DIR"), ROOT.parent / "shared" / "data",
                 ROOT.parent.parent / "shared" / "data"):
        if base and (Path(base) / "eht-m87-2017").is_dir():
            os.environ.setdefault("KERRFIELD_DATA_DIR", str(base))
            break
    return fetch_eht_m87_2017(day, band)


#: the field's starting profile (``--pretrain``): a neutral Krang-like disk by default
PRETRAIN = "disk:R=5,p1=3,p2=3"

#: µas: the EHT 2017 resolution at which the summaries' ring features are measured
RESOLUTION_UAS = 20.0


def _pretrain(text: str) -> AnalyticEmission:
    """``FAMILY:k=v,...`` (e.g. ``ring:radius=4,width=1.5``) as the field's starting profile."""
    family, _, params = text.partition(":")
    kw = dict(p.split("=") for p in params.split(",") if p)
    return AnalyticEmission(family, **{k: float(v) for k, v in kw.items()})


def _model(geo, k: float, seed: int, free: bool = False, pretrain: str = PRETRAIN):
    field = kf.EmissionField(in_features=2, width=32, depth=2, scale=10.0, seed=seed)
    field = field if free else Axisymmetric(field)
    match_emission(field, _pretrain(pretrain))
    return kf.fixed_image_model(field, geo, k=k)


def _blurred_ncc(a, b, fwhm: float = 20.0) -> float:
    from scipy.ndimage import gaussian_filter

    step = abs(float(a.dec[1] - a.dec[0]))
    s = fwhm / (2 * np.sqrt(2 * np.log(2))) / step
    x, y = gaussian_filter(a.values, s), gaussian_filter(b.values, s)
    x, y = x - x.mean(), y - y.mean()
    return float(np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y)))


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _days(text: str) -> list[int]:
    days = [int(x) for x in text.split(",")]
    if not set(days) <= {5, 6, 10, 11}:
        raise argparse.ArgumentTypeError(f"days are 5, 6, 10, 11 (April 2017), got {text}")
    return days


def _bands(text: str) -> list[str]:
    bands = [x.strip() for x in text.split(",")]
    if not set(bands) <= {"lo", "hi"}:
        raise argparse.ArgumentTypeError(f"bands are lo, hi, got {text}")
    return bands


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--real", action="store_true")
    ap.add_argument("--profile-pa", type=_floats, default=None,
                    help="comma-separated spin-axis PAs [deg]: best fit at each fixed PA")
    ap.add_argument("--fix-pa", type=float, default=None,
                    help="hold the spin-axis PA fixed here (e.g. a jet-direction prior)")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--sky-lr", type=float, default=0.01,
                    help="Adam learning rate of log θ_g and the PA [rad]")
    ap.add_argument("--scout-steps", type=int, default=40)
    ap.add_argument("--scout-rounds", type=int, default=2,
                    help="successive halving: the best quarter of the starts continues")
    ap.add_argument("--finalists", type=int, default=2,
                    help="best scouts fitted for all steps; the lowest final loss wins")
    ap.add_argument("--theta-g-starts", type=_floats, default=list(THETA_G_STARTS))
    ap.add_argument("--pa-starts", type=_floats, default=list(PA_STARTS))
    ap.add_argument("--spin", type=float, default=0.94)
    ap.add_argument("--inclination", type=float, default=163.0)
    ap.add_argument("--npix", type=int, default=40)
    ap.add_argument("--systematic", type=float, default=0.02)
    ap.add_argument("--k", type=float, default=3.0)
    ap.add_argument("--velocity", type=parse_velocity, default="keplerian",
                    help="emitter velocity: zamo, keplerian or general:XI,BETA_R,BETA_PHI")
    ap.add_argument("--amplitudes", action="store_true",
                    help="also fit |V| with per-station, per-scan gains (10 %% prior)")
    ap.add_argument("--then-amplitudes", type=float, default=None, metavar="W",
                    help="after the fit, a second stage from its field, θ_g and PA with |V| "
                    "(weight W) and station gains added")
    ap.add_argument("--uv-min", type=float, default=UV_MIN,
                    help="baselines shorter than this [wavelengths] enter no data term (1e8: "
                    "the intra-site pairs, as the EHT pipelines; 0: all)")
    ap.add_argument("--gain-sigma", type=_gain_width, nargs="+", metavar="[STATION=]W",
                    default=[("default", 0.1)],
                    help="prior width of the log gain amplitudes, one value and/or per "
                    "station (e.g. 0.1 LM=1.0), as `kerrfield fit --gain-sigma`")
    ap.add_argument("--scan-average", action=argparse.BooleanOptionalAction, default=True,
                    help="average the visibilities coherently over each scan first (the "
                    "library's default; --no-scan-average: the 10 s records)")
    ap.add_argument("--fov", type=float, default=8.0, help="screen half-width [M]")
    ap.add_argument("--pretrain", default=PRETRAIN,
                    help="the field's starting profile, FAMILY:k=v,... (ring/disk/hotspot)")
    ap.add_argument("--mem", type=float, default=0.0, help="MEM weight")
    ap.add_argument("--prior-fwhm", type=float, default=None, help="MEM prior FWHM [M]")
    ap.add_argument("--free-field", action="store_true",
                    help="f(x, y) instead of the axisymmetric f(r)")
    ap.add_argument("--truth-theta-g", type=float, default=3.8)
    ap.add_argument("--truth-pa", type=float, default=200.0)
    ap.add_argument("--truth-radius", type=float, default=4.5)
    ap.add_argument("--truth-p2", type=float, default=4.0)
    ap.add_argument("--noise-seed", type=int, default=1)
    ap.add_argument("--extended-flux", type=float, default=0.0,
                    help="synthetic data: Jy of large-scale (1 mas) emission outside the "
                    "image, seen by the intra-site baselines only (M87 2017: about 0.5)")
    ap.add_argument("--seed", type=int, default=0, help="field initialisation seed")
    ap.add_argument("--day", type=_days, default=[6],
                    help="observing day(s), April 2017 (5, 6, 10, 11); a comma list is fitted "
                    "jointly")
    ap.add_argument("--band", type=_bands, default=["hi"],
                    help="band(s), lo and/or hi; a comma list is fitted jointly")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fits", type=Path, default=None, help="write the fitted image here")
    ap.add_argument("--json", type=Path, default=None)
    return ap


def _fit_kwargs(args) -> dict:
    weights = {"cphase": 1.0, "lcamp": 1.0, **({"amp": 1.0} if args.amplitudes else {})}
    kw = dict(theta_g=args.theta_g_starts, position_angle=args.pa_starts, steps=args.steps,
              scout_steps=args.scout_steps,
              scout_rounds=args.scout_rounds,
              finalists=args.finalists, sky_lr=args.sky_lr, systematic=args.systematic,
              method="nufft", weights=weights, gains=args.amplitudes,
              scan_average=args.scan_average, mem=args.mem, prior_fwhm=args.prior_fwhm,
              uv_min=args.uv_min, gain_sigma=dict(args.gain_sigma))
    if args.fix_pa is not None:
        kw.update(position_angle=args.fix_pa, learn=("theta_g",))
    return kw


def _scouts(res) -> list[dict]:
    keys = ("theta_g_start", "position_angle_start", "scout_steps", "loss", "theta_g_uas",
            "position_angle_deg")
    return [{k: s[k] for k in keys} for s in res.scouts]


def _synthetic(args, obs, geo) -> dict:
    tg, pa = args.truth_theta_g, args.truth_pa
    disk = AnalyticEmission("disk", R=args.truth_radius, p1=3.0, p2=args.truth_p2)
    truth = kf.fixed_image_model(disk, geo, k=args.k).to_xarray()
    data = observe(truth, like=obs, theta_g=tg, position_angle=pa, flux=0.6,
                   seed=args.noise_seed, extended_flux=args.extended_flux)
    t0 = time.perf_counter()
    model = _model(geo, args.k, args.seed, args.free_field, args.pretrain)
    res = fit_observation(model, data, **_fit_kwargs(args))
    out = {**res.summary(), "seconds": time.perf_counter() - t0, "scouts": _scouts(res),
           "finalists": res.finalists}
    true_sky = sky_image(truth, tg, pa, 0.6, npix=96, fov=120.0)
    # the truth's ring as the fit's is reported: at the 20 µas resolution, and sharp
    sharp = {f"{k}_model": v for k, v in ring_features(true_sky).items()}
    out["truth"] = {"theta_g_uas": tg, "position_angle_deg": pa,
                    **ring_features(true_sky, blur=RESOLUTION_UAS), **sharp}
    out["brightness_pa_error_deg"] = (out["brightness_pa_deg"]
                                      - out["truth"]["brightness_pa_deg"] + 180.0) % 360.0 - 180.0
    out["theta_g_error_pct"] = 100.0 * (out["theta_g_uas"] / tg - 1.0)
    out["position_angle_error_deg"] = (out["position_angle_deg"] - pa + 180.0) % 360.0 - 180.0
    out["ncc_20uas"] = _blurred_ncc(res.sky_image(npix=96, fov=120.0), true_sky)
    return out


def _real(args, obs, geo) -> dict:
    t0 = time.perf_counter()
    model = _model(geo, args.k, args.seed, args.free_field, args.pretrain)
    res = fit_observation(model, obs, **_fit_kwargs(args))
    out = {**res.summary(), "seconds": time.perf_counter() - t0, "scouts": _scouts(res),
           "finalists": res.finalists}
    if args.then_amplitudes is not None:  # closures first, then the amplitudes (and gains)
        kw = {**_fit_kwargs(args), "weights": {"cphase": 1.0, "lcamp": 1.0,
                                               "amp": args.then_amplitudes}}
        kw.update(gains=True, theta_g=out["theta_g_uas"], position_angle=out["position_angle_deg"],
                  steps=400, scout_steps=0, sky_lr=0.005, lr=3e-3)
        res = fit_observation(model, obs, **kw)
        out = {**res.summary(), "first_stage": {k: v for k, v in out.items() if k != "scouts"},
               "seconds": time.perf_counter() - t0}
    if args.fits is not None:
        res.to_fits(args.fits, overwrite=True)
    return out


def _profile(args, obs, geo) -> list[dict]:
    t0 = time.perf_counter()
    kw = {k: v for k, v in _fit_kwargs(args).items() if k not in ("position_angle", "learn")}
    rows = profile_observation(_model(geo, args.k, args.seed, args.free_field, args.pretrain), obs,
                               "position_angle", args.profile_pa, **kw)
    for r in rows:
        print(f"PA {r['value']:6.1f}: loss {r['loss']:.3f}  chi2 cp {r['chi2_cphase']:.3f} "
              f"lca {r['chi2_lcamp']:.3f}  theta_g {r['theta_g_uas']:.2f}  ring d "
              f"{r['ring_diameter_uas']:.1f}  brightness PA {r['brightness_pa_deg']:.0f}",
              flush=True)
    print(f"profile: {time.perf_counter() - t0:.0f} s")
    return rows


def main() -> None:
    args = _parser().parse_args()
    torch.set_num_threads(args.threads)
    obs = concat_observations([load_uvfits(_data_path(d, b)) for d in args.day
                               for b in args.band])
    geo = kf.raytrace(args.spin, args.inclination, fov=args.fov, npix=args.npix, orders=(0, 1),
                      velocity=args.velocity)
    out = {}
    if args.profile_pa:
        out["profile_pa"] = _profile(args, obs, geo)
    if args.synthetic:
        out["synthetic"] = _synthetic(args, obs, geo)
        print("synthetic", json.dumps(out["synthetic"], indent=1, default=float))
    if args.real or not (args.synthetic or args.profile_pa):
        out["real"] = _real(args, obs, geo)
        print("real", json.dumps(out["real"], indent=1, default=float))
    if args.json is not None:
        atomic_write_text(json.dumps(out, indent=1, default=float), args.json)


if __name__ == "__main__":
    main()
