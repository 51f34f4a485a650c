"""Argument blocks shared by several subcommands, and their parsers."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..physics._spec import Cone
from ..physics._spec import parse_surface as _parse_surface
from ..physics._spec import parse_velocity as _parse_velocity
from ..physics.redshift import GeneralVelocity
from ..vlbi.closures import UV_MIN, check_uv_min
from ..vlbi.losses import gains_need_amplitudes

UNITS = ("Units: G = c = M = 1; screen coordinates alpha/beta, fov, field scale and beam "
         "FWHM in M; inclination in degrees; spin dimensionless (a/M).")  # fmt: skip

#: file extensions written as netCDF (the format follows the extension)
NETCDF_SUFFIXES = (".nc", ".nc4", ".netcdf", ".h5")


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """``--help`` with ``(default: X)`` appended once.

    Unlike :class:`argparse.ArgumentDefaultsHelpFormatter`, nothing is appended when the
    help text already says what the default is (it contains "default") or when the default
    is ``None``, ``False`` or an empty list (the text describes what happens without the
    option).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        empty = default is None or default is False or (isinstance(default, list) and not default)
        if "default" in text.lower() or empty:
            return text
        return super()._get_help_string(action)


def parse_surface(text: str) -> str | Cone:
    """``equatorial`` or ``cone:DEGREES``."""
    try:
        return _parse_surface(text)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_velocity(text: str) -> str | GeneralVelocity:
    """``zamo``, ``keplerian`` or ``general:XI,BETA_R,BETA_PHI``."""
    try:
        return _parse_velocity(text)
    except (TypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_params(items: Sequence[str]) -> dict[str, float]:
    """Parse ``NAME=VALUE`` strings into a float dict."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--param expects NAME=VALUE, got {item!r}")
        out[name.strip()] = float(value)
    return out


def add_geometry_args(p: argparse.ArgumentParser | argparse._ArgumentGroup,
                      spin: float = 0.94, inc: float = 20.0, *, fit: bool = False) -> None:
    """Shared screen/geometry options (used by ``synth`` and ``fit``; ``fit`` reads the
    forward model of a --target from the target unless given)."""
    p.add_argument("--spin", type=float, default=spin, help="dimensionless spin a/M")
    p.add_argument("--inclination", type=float, default=inc, help="observer inclination, deg")
    also = "; with an observation --target, the model's screen" if fit else ""
    p.add_argument("--fov", type=float, default=10.0, help=f"screen half-width in M{also}")
    p.add_argument("--npix", type=int, default=30, help=f"pixels per side{also}")

    def default(synth: str) -> str:
        return f"default: the target's; a synthetic target's {synth}" if fit else \
            f"default {synth}"

    p.add_argument("--orders", type=int, nargs="+", default=None,
                   help=f"image orders n ({default('0 1')})")
    p.add_argument("--k", type=float, default=None,
                   help=f"redshift power: I = sum g^k f ({default('1')})")
    p.add_argument("--surface", type=parse_surface, default=None,
                   help=f"'equatorial' or 'cone:DEG' ({default('equatorial')})")
    p.add_argument("--velocity", type=parse_velocity, default=None,
                   help=f"zamo | keplerian | general:XI,BETA_R,BETA_PHI ({default('zamo')})")


def physics_args(args: argparse.Namespace) -> dict:
    """The forward-model options given on the command line (None = not given)."""
    out = {k: getattr(args, k) for k in ("orders", "k", "surface", "velocity")}
    return {k: v for k, v in out.items() if v is not None}


def synth_physics(args: argparse.Namespace) -> dict:
    """Forward-model options for synthesising a target: given ones over the defaults."""
    return {"orders": [0, 1], "k": 1.0, "surface": "equatorial", "velocity": "zamo",
            **physics_args(args)}


def add_field_args(p: argparse.ArgumentParser) -> None:
    """Options of the fitted :class:`~kerrfield.EmissionField`."""
    g = p.add_argument_group("emission field (defaults: Krang's 2→20→20→1 tanh/sigmoid MLP)")
    g.add_argument("--width", type=int, default=20, help="hidden width")
    g.add_argument("--depth", type=int, default=2, help="hidden layers")
    g.add_argument("--activation", default="tanh", help="tanh | relu | sine (SIREN)")
    g.add_argument("--encoding", default="none", help="none | positional | fourier | hashgrid")
    g.add_argument("--head", default="sigmoid", help="output head: sigmoid | softplus | exp")
    g.add_argument("--scale", type=float, default=None,
                   help="coordinate scale of the field, M (default: 1, or the screen "
                   "half-width for --encoding hashgrid)")
    g.add_argument("--omega0", type=float, default=30.0, help="SIREN frequency factor")
    g.add_argument("--n-frequencies", type=int, default=6, help="positional-encoding octaves")
    g.add_argument("--fourier-sigma", type=float, default=1.0, help="Fourier-feature bandwidth")
    g.add_argument("--field-seed", type=int, default=1, help="seed of the fitted field's init")


def add_fit_args(p: argparse.ArgumentParser, steps: int = 3000) -> None:
    """Options of :func:`kerrfield.fit` (Adam, schedule, checkpoints)."""
    g = p.add_argument_group("optimisation (Adam)")
    g.add_argument("--steps", type=int, default=steps, help="Adam steps")
    g.add_argument("--lr", type=float, default=1e-2, help="peak learning rate (field)")
    g.add_argument("--geometry-lr", type=float, default=None, help="lr of spin/inclination")
    g.add_argument("--schedule", default="cosine", help="cosine | exponential | none")
    g.add_argument("--lr-final", type=float, default=0.01, help="final lr / peak lr")
    g.add_argument("--loss", default="nmse", help="nmse | mse | chi2 | ncc")
    g.add_argument("--batch-size", type=int, default=None, help="random pixels per step")
    g.add_argument("--tv-weight", type=float, default=0.0, help="total-variation weight")
    g.add_argument("--seed", type=int, default=0, help="seed of the minibatch sampling")
    g.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    g.add_argument("--amp", action="store_true", help="CUDA mixed precision for the field")
    g.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints")
    g.add_argument("--resume", action="store_true", help="resume from OUTPUT/checkpoint.pt")
    g.add_argument("--overwrite", action="store_true",
                   help="start again, deleting the checkpoint of an earlier fit in OUTPUT")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")


def parse_weights(text: str) -> tuple[str, float]:
    """``TERM=WEIGHT`` (terms ``vis``, ``amp``, ``cphase``, ``lcamp``)."""
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TERM=WEIGHT (e.g. cphase=1), got "
                                         f"{text!r}") from None


def add_observation_args(p: argparse.ArgumentParser) -> None:
    """Options of a fit to an observation (``--target`` a uvfits or observation netCDF)."""
    g = p.add_argument_group(
        "observation target (--target FILE.uvfits or an observation netCDF): the field, "
        "theta_g, PA (and flux) are fitted to the chi^2 terms; the model screen is --fov/"
        "--npix, with --k 3, --velocity keplerian and --orders 0 1 unless given and field "
        "--scale 10 M unless given; geometry --spin0/--inclination0 (fitted unless "
        "--fix-geometry). Image-only options (--loss, --batch-size, --resume, ...) must "
        "stay at their defaults")  # fmt: skip
    g.add_argument("--weights", type=parse_weights, nargs="+", metavar="TERM=W",
                   default=[("cphase", 1.0), ("lcamp", 1.0)],
                   help="data-term weights: vis, amp, cphase, lcamp")  # fmt: skip
    g.add_argument("--systematic", type=float, default=0.02,
                   help="fractional systematic error added to |V| in quadrature")
    g.add_argument("--theta-g", type=float, nargs="+", default=[2.8, 3.4, 4.0, 4.6],
                   help="starts of theta_g, uas per M (every theta_g x PA pair is scouted)")
    g.add_argument("--position-angle", type=float, nargs="+",
                   default=[0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0],
                   help="starts of the spin axis' PA, deg east of north")
    g.add_argument("--flux", type=float, default=0.6, help="(start of the) total flux, Jy")
    g.add_argument("--learn", nargs="+", default=["theta_g", "position_angle"],
                   choices=["theta_g", "position_angle", "flux"], help="sky parameters fitted")
    g.add_argument("--scout-steps", type=int, default=40, help="steps per (theta_g, PA) start")
    g.add_argument("--scout-rounds", type=int, default=2,
                   help="successive halving: the best quarter of the scouts continues per round")
    g.add_argument("--finalists", type=int, default=2,
                   help="best scouts fitted for all steps (the lowest loss wins)")
    g.add_argument("--mem", type=float, default=0.0, help="relative-entropy (MEM) weight")
    g.add_argument("--gains", action="store_true", help="fit station gains (for vis/amp terms)")
    g.add_argument("--gain-sigma", type=_gain_width, nargs="+", metavar="[STATION=]W",
                   default=[("default", 0.1)],
                   help="with --gains: prior width of the log gain amplitudes, one value "
                   "and/or per station (e.g. 0.1 LM=1.0)")
    g.add_argument("--uv-min", type=_uv_min, default=UV_MIN, metavar="LAMBDA",
                   help="baselines shorter than this (wavelengths) enter no term; the default "
                   "0.1 G-lambda leaves out the intra-site baselines, as the EHT pipelines "
                   "(0: all)")
    g.add_argument("--scan-average", action=argparse.BooleanOptionalAction, default=True,
                   help="average the visibilities coherently over each scan before forming "
                   "the terms, as the EHT pipelines (closures of low-S/N 10 s records are "
                   "not Gaussian); --no-scan-average fits the records as stored")
    g.add_argument("--method", default="nufft", choices=["dft", "nufft"],
                   help="visibility forward model")
    g.add_argument("--axisymmetric", action="store_true",
                   help="axisymmetric field f(r) (azimuthal structure from the lensing only)")


def observation_options(args: argparse.Namespace) -> dict:
    """The ``observation=`` options of :func:`kerrfield.fit` from the parsed arguments."""
    names = [n for n, _ in args.gain_sigma]
    if len(set(names)) < len(names):
        raise ValueError(f"--gain-sigma: a station given twice ({', '.join(names)})")
    if args.gains:
        gains_need_amplitudes(dict(args.weights), "--gains")
    if not args.gains and dict(args.gain_sigma) != {"default": 0.1}:
        raise ValueError("--gain-sigma sets the prior of station gains; it needs --gains "
                         "(and a vis or amp weight)")
    return {"weights": dict(args.weights), "systematic": args.systematic,
            "theta_g": list(args.theta_g), "position_angle": list(args.position_angle),
            "flux": args.flux, "learn": list(args.learn), "scout_steps": args.scout_steps,
            "scout_rounds": args.scout_rounds, "finalists": args.finalists,
            "mem": args.mem, "gains": args.gains, "method": args.method,
            "gain_sigma": dict(args.gain_sigma), "uv_min": args.uv_min,
            "scan_average": args.scan_average}


def _uv_min(text: str) -> float:
    """``--uv-min``: a finite baseline length >= 0 in wavelengths."""
    try:
        return check_uv_min(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a finite baseline length >= 0 in "
                                         f"wavelengths (e.g. 1e8 = 0.1 G-lambda), got "
                                         f"{text!r}") from None


def _gain_width(text: str) -> tuple[str, float]:
    """``0.1`` (every station) or ``LM=1.0`` (one station) for ``--gain-sigma``."""
    name, sep, value = text.rpartition("=")
    if sep and not name.strip():
        raise argparse.ArgumentTypeError(f"expected STATION=WIDTH with a station name, got "
                                         f"{text!r}")
    try:
        return (name.strip() if sep else "default"), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a width or STATION=WIDTH (e.g. LM=1.0), "
                                         f"got {text!r}") from None
