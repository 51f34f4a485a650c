"""``kerrfield fit``: fit an emission field (and spin, inclination) to a target image."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

import torch

from ..fields.emission import EmissionField
from ..fitting.convergence import check_inference_inputs, resolve_physics, target_sigma
from ..fitting.loop import fit, resolve_device
from ..fitting.observation_target import (
    is_observation,
    load_observation,
    observation_image_model,
    write_observation_outputs,
)
from ..fitting.workflow import claim_output, run_fit_workflow
from ..io.atomic import write_netcdf
from ..io.readers import load_netcdf
from ..models.builders import fixed_image_model, kerr_image_model
from ..models.forward import physics_reported
from ..models.synthetic import FAMILIES, synthesize
from ._common import (
    UNITS,
    DefaultsHelpFormatter,
    add_field_args,
    add_fit_args,
    add_geometry_args,
    add_observation_args,
    observation_options,
    physics_args,
    synth_physics,
)


def add_cli(subparsers: Any) -> None:
    """Register ``kerrfield fit``."""
    p = subparsers.add_parser(
        "fit", help="fit an emission field (and spin/inclination) to a target image",
        description="Fit a neural emission field, jointly with spin and inclination unless "
        "a fixed geometry is given, to a target image (a netCDF 'image' on (beta, alpha), "
        "or a synthetic target). Writes model.pt + model.json, history.nc, PNGs and "
        "summary.json into --output. A --target that is an observation (a .uvfits file, or "
        "a netCDF with 'vis', 'u', 'v', 'sigma', 't1', 't2') is fitted with theta_g and PA "
        "to its chi^2 terms instead; then summary.json and the best-fit image.fits are "
        f"written. {UNITS}",
        formatter_class=DefaultsHelpFormatter,
    )  # fmt: skip
    p.add_argument("--target", default=None, nargs="+", metavar="PATH",
                   help="target netCDF (variable 'image') or an observation (.uvfits or "
                   "observation netCDF); several .uvfits files (bands, days of one source) "
                   "are fitted jointly; synthesised from the options below when omitted")
    t = p.add_argument_group("synthetic target (when --target is omitted)")
    t.add_argument("--emission", default="mlp", choices=FAMILIES, help="emission family")
    t.add_argument("--noise", type=float, default=0.0, help="noise sigma / image peak")
    t.add_argument("--blur-fwhm", type=float, default=None, help="beam FWHM in M")
    t.add_argument("--target-seed", type=int, default=0, help="seed of the target MLP/noise")
    add_geometry_args(t, fit=True)
    m = p.add_argument_group("model geometry")
    m.add_argument("--spin0", type=float, default=0.5, help="initial spin")
    m.add_argument("--inclination0", type=float, default=60.0, help="initial inclination, deg")
    m.add_argument("--geometry", default=None,
                   help="precomputed ray-traced netCDF: fit the field on this fixed geometry")
    m.add_argument("--fix-geometry", action="store_true",
                   help="keep spin0/inclination0 fixed (fit the field only)")
    m.add_argument("--relinearize-every", type=int, default=100,
                   help="re-trace the geometry exactly every K steps and use its first-order "
                   "expansion in between (1 = exact autograd tracing every step)")
    m.add_argument("--relinearize-tol", type=float, nargs=2, default=[0.01, 0.5],
                   metavar=("SPIN", "DEG"),
                   help="also re-trace once spin / inclination moved this far")
    m.add_argument("--coarse-steps", type=int, default=0,
                   help="coarse-to-fine: first fit the 2x2-block-averaged target for this "
                   "many steps (screen size must be even), then --steps at full size")
    add_field_args(p)
    add_fit_args(p)
    add_observation_args(p)
    p.add_argument("--output", "-o", default="fit-output", help="output directory")
    p.set_defaults(func=_cli_fit, interrupt_hint=_interrupt_hint, option_defaults={
        k: p.get_default(k) for k in (*_SYNTHETIC_ONLY, *_OBSERVATION_ONLY,
                                      *_JOINT_ONLY, *_IMAGE_ONLY)})  # fmt: skip


def _interrupt_hint(args: argparse.Namespace) -> str:
    ckpt = Path(args.output) / "checkpoint.pt"
    if ckpt.exists():
        return f"the last checkpoint is {ckpt}; rerun with --resume to continue"
    return f"no checkpoint yet (one every {args.checkpoint_every} steps)"


def _field_from_args(args: argparse.Namespace) -> EmissionField:
    return EmissionField(
        width=args.width, depth=args.depth, activation=args.activation,
        encoding=args.encoding, output=args.head, scale=args.scale, omega0=args.omega0,
        n_frequencies=args.n_frequencies, fourier_sigma=args.fourier_sigma,
        seed=args.field_seed,
    )  # fmt: skip


def _fit_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return dict(
        steps=args.steps, lr=args.lr, geometry_lr=args.geometry_lr,
        schedule=None if args.schedule == "none" else args.schedule, lr_final=args.lr_final,
        loss=args.loss, batch_size=args.batch_size, tv_weight=args.tv_weight, seed=args.seed,
        device=resolve_device(args.device), amp=args.amp,
        progress=False if args.no_progress else None,  # None: bars on a terminal only
        checkpoint_every=args.checkpoint_every, resume=args.resume,
    )  # fmt: skip


#: options that describe a synthesised target only (--fov/--npix also size an observation
#: fit's screen, so they are checked for image targets only)
_SYNTHETIC_ONLY = ("spin", "inclination", "emission", "noise", "blur_fwhm", "target_seed",
                   "fov", "npix")


#: options of a joint (spin, inclination) fit, ignored with a fixed --geometry
_JOINT_ONLY = ("spin0", "inclination0", "fix_geometry", "relinearize_every",
               "relinearize_tol", "coarse_steps")

#: options of a fit to an image only
_IMAGE_ONLY = ("loss", "batch_size")

#: options of a fit to an observation only
_OBSERVATION_ONLY = ("weights", "systematic", "theta_g", "position_angle", "flux", "learn",
                     "scout_steps", "scout_rounds", "finalists", "mem", "gains", "method",
                     "gain_sigma", "uv_min", "scan_average",
                     "axisymmetric")


def _given(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The options among ``names`` set to other than their defaults, as --flags."""
    return ["--" + k.replace("_", "-") for k in names
            if getattr(args, k) != args.option_defaults[k]]  # fmt: skip


def _check_image_options(args: argparse.Namespace) -> None:
    """Refuse options that an image fit would ignore."""
    if given := _given(args, _OBSERVATION_ONLY):
        raise ValueError(f"{', '.join(given)}: options of a fit to an observation (a .uvfits "
                         "--target); this target is an image")  # fmt: skip
    if args.geometry and (given := _given(args, _JOINT_ONLY)):
        raise ValueError(f"{', '.join(given)}: options of a joint fit; with --geometry the spin "
                         "and inclination are fixed at the geometry file's")  # fmt: skip


def _check_target_options(args: argparse.Namespace, observation: bool) -> None:
    """Refuse synthetic-target options given with a --target (they would be ignored)."""
    names = tuple(k for k in _SYNTHETIC_ONLY if not (observation and k in ("fov", "npix")))
    if given := _given(args, names):
        why = ("the model's screen is --fov/--npix and its physics --k/--velocity/--orders"
               if observation else "the screen and physics come from the target")
        raise ValueError(f"{', '.join(given)}: describe a synthetic target and do not apply "
                         f"with --target ({why}); the model starts at --spin0 / "
                         "--inclination0")  # fmt: skip


def _check_image_target(target: Any, path: str) -> None:
    """An image target has an 'image' on the screen coordinates (alpha, beta)."""
    missing = [n for n in ("image", "alpha", "beta") if n not in target.variables]
    if missing:
        have = ", ".join(sorted(map(str, target.variables))) or "none"
        raise ValueError(f"--target: {path} is neither an image (no {', '.join(map(repr, missing))}"
                         f"; it has {have}) nor an observation; give a file such as "
                         "`kerrfield synth` writes, or a .uvfits / observation .nc")


def _check_start(args: argparse.Namespace) -> None:
    """The joint model's starting geometry, named as on the command line."""
    if not -0.999 < args.spin0 < 0.999:  # kerr_image_model's default spin_bound
        raise ValueError(f"--spin0 {args.spin0:g} must lie in (-0.999, 0.999) (a fitted spin "
                         "is kept off the extremal |a| = 1, where the gradients diverge)")
    if not 0.0 < args.inclination0 < 180.0:
        raise ValueError(f"--inclination0 {args.inclination0:g} must lie in (0, 180) degrees")


def _cli_fit(args: argparse.Namespace) -> int:
    out = Path(args.output)
    _check_start(args)
    if args.target:
        if len(args.target) > 1:  # a joint fit: observations only (uvfits or netCDF)
            target = load_observation(args.target, "--target")
        elif not is_observation(target := args.target[0]):
            target = load_netcdf(target, "--target")
        observation = is_observation(target)
        if not observation:
            _check_image_target(target, args.target[0])
        _check_target_options(args, observation)
        if observation and (given := _given(args, _IMAGE_ONLY)):
            raise ValueError(f"{', '.join(given)}: options of an image fit; an observation "
                             "fit's data terms are chosen with --weights (e.g. --weights "
                             "cphase=1 lcamp=1)")
        if observation and _given(args, ("coarse_steps",)):
            raise ValueError("--coarse-steps: a coarse-to-fine stage of image fits; an "
                             "observation fit scouts its start instead (--scout-steps)")
        if observation and args.resume:
            raise ValueError("--resume: an observation fit writes no checkpoint to resume; "
                             "run it again with --overwrite")  # fmt: skip
        if observation and args.geometry:
            raise ValueError("--geometry: a fixed geometry for an image target; an observation "
                             "fit traces its own screen (--fov/--npix)")
        if not observation:
            _check_image_options(args)
        # an observation fit deletes an earlier fit's files once it has succeeded
        stale = claim_output(out, resume=args.resume, overwrite=args.overwrite,
                             delete=not observation)  # fmt: skip
        if observation:
            return _cli_fit_observation(args, target, out, stale)
    else:
        _check_image_options(args)
        claim_output(out, resume=args.resume, overwrite=args.overwrite)
        target = synthesize(
            args.emission, args.spin, args.inclination, fov=args.fov, npix=args.npix,
            noise=args.noise, blur_fwhm=args.blur_fwhm, seed=args.target_seed,
            **synth_physics(args),
        )  # fmt: skip
        write_netcdf(target, out / "target.nc")
    # the physics that made the target unless asked otherwise (mismatches are printed)
    phys = resolve_physics(target, physics_args(args) if args.target else {})
    if args.loss == "chi2" and target_sigma(target) is None:  # named as on the command line
        raise ValueError("--loss chi2 needs the target's per-pixel noise: it has no 'sigma' "
                         "variable with all values > 0 (kerrfield synth --noise > 0 writes "
                         "one), or use --loss nmse")  # fmt: skip
    check_inference_inputs(target, loss=args.loss, spins=[args.spin0],
                           inclinations=[args.inclination0], beam_fwhm=phys["beam_fwhm"])
    field = _field_from_args(args)
    if args.geometry:
        geometry = load_netcdf(args.geometry, "--geometry")
        check_inference_inputs(target, screen=(geometry["alpha"].values,
                                               geometry["beta"].values))  # fmt: skip
        model = fixed_image_model(field, geometry, k=phys["k"], orders=phys["orders"],
                                  beam_fwhm=phys["beam_fwhm"])  # fmt: skip
    else:
        model = kerr_image_model(
            field, args.spin0, args.inclination0,
            alpha=torch.tensor(target["alpha"].values), beta=torch.tensor(target["beta"].values),
            k=phys["k"], orders=phys["orders"], surface=phys["surface"],
            velocity=phys["velocity"], beam_fwhm=phys["beam_fwhm"],
            learn_geometry=not args.fix_geometry, relinearize_every=args.relinearize_every,
            relinearize_tol=tuple(args.relinearize_tol),
        )  # fmt: skip
    kw = _fit_kwargs(args)
    if args.coarse_steps and not args.geometry:
        kw["multiscale"] = dict(factors=(2, 1), steps=(args.coarse_steps, args.steps),
                                lr=(args.lr, 0.3 * args.lr),
                                geometry_lr=(kw["geometry_lr"] or args.lr,
                                             0.3 * (kw["geometry_lr"] or args.lr)))  # fmt: skip
    # resolve_physics printed the mismatches asked for; a --geometry file's own physics are
    # not covered by it, so the fit says those
    with contextlib.nullcontext() if args.geometry else physics_reported():
        summary = run_fit_workflow(target, model, out, kw)
    keys = ("spin", "true_spin", "inclination_deg", "true_inclination_deg", "initial_loss",
            "final_loss", "psnr_db", "wall_time_s")  # the truth beside the fit, when known
    print(json.dumps({k: summary[k] for k in keys if summary.get(k) is not None}, indent=1))
    print(f"wrote {out}/")
    return 0


def _cli_fit_observation(args: argparse.Namespace, obs: Any, out: Path, stale: list[Path]
                         ) -> int:  # fmt: skip
    """``kerrfield fit --target OBS``: fit_observation through :func:`kerrfield.fit`."""
    if args.scale is None:
        args.scale = 10.0  # the disk plane out to ~10 M, not the image fields' 1 M
    phys = {"k": 3.0, "velocity": "keplerian", "orders": [0, 1], **physics_args(args)}
    geo = {} if args.fix_geometry else {
        "relinearize_every": args.relinearize_every,
        "relinearize_tol": tuple(args.relinearize_tol)}  # fmt: skip
    model = observation_image_model(
        _field_from_args(args), args.spin0, args.inclination0, fov=args.fov, npix=args.npix,
        **phys, axisymmetric=args.axisymmetric, learn_geometry=not args.fix_geometry, **geo)
    kw = _fit_kwargs(args)
    kw["device"] = None if args.device == "auto" else kw["device"]  # observation fits: CPU
    options = observation_options(args)  # refused options before anything is printed
    if not args.fix_geometry:  # the default; say it, since closure data rarely decide them
        print(f"fitting spin and inclination too, from --spin0 {args.spin0:g} and "
              f"--inclination0 {args.inclination0:g} deg (--fix-geometry holds them there)")
    res = fit(model, obs, observation=options, **kw)
    for p in stale:
        p.unlink(missing_ok=True)
    summary = write_observation_outputs(res, out)
    print(json.dumps({k: summary[k] for k in ("spin", "inclination_deg", "theta_g_uas",
                                              "position_angle_deg",
                      "ring_diameter_uas", "brightness_pa_deg", "ring_resolution_uas",
                      "brightness_pa_model_deg", "chi2_total", "n_data")},
                     indent=1))  # fmt: skip
    print(f"wrote {out}/summary.json, {out}/image.fits and {out}/fit.png")
    return 0
