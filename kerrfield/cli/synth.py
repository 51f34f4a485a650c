"""``kerrfield synth``: a synthetic lensed target image with its ground truth."""

from __future__ import annotations

import argparse
from typing import Any

from ..io.atomic import write_netcdf
from ..models.synthetic import FAMILIES, synthesize
from ._common import (
    NETCDF_SUFFIXES,
    DefaultsHelpFormatter,
    add_geometry_args,
    parse_params,
    synth_physics,
)


def add_cli(subparsers: Any) -> None:
    """Register ``kerrfield synth``."""
    p = subparsers.add_parser(
        "synth",
        help="synthesise a lensed target image (netCDF) with recorded ground truth",
        description="Synthesise a lensed target image. Units: G = c = M = 1; screen "
        "coordinates, fov and blur FWHM in M; inclination in degrees; noise as a fraction "
        "of the image peak.",
        formatter_class=DefaultsHelpFormatter,
    )
    p.add_argument("--emission", default="mlp", choices=FAMILIES, help="emission family")
    add_geometry_args(p)
    p.add_argument("--noise", type=float, default=0.0, help="noise sigma / image peak")
    p.add_argument("--blur-fwhm", type=float, default=None,
                   help="Gaussian beam FWHM in M (default: no blur)")
    p.add_argument("--seed", type=int, default=0, help="seed of the MLP and the noise")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="emission parameter, e.g. radius=5 (lengths in M, phase in deg)")
    p.add_argument("--output", "-o", default="target.nc", help="output netCDF path")
    p.set_defaults(func=_cli_synth)


def _cli_synth(args: argparse.Namespace) -> int:
    if not str(args.output).lower().endswith(NETCDF_SUFFIXES):
        raise ValueError(f"--output {args.output!r}: synth writes netCDF; name a file ending "
                         f"in one of {', '.join(NETCDF_SUFFIXES)}")  # fmt: skip
    ds = synthesize(
        args.emission, args.spin, args.inclination, fov=args.fov, npix=args.npix,
        noise=args.noise, blur_fwhm=args.blur_fwhm, seed=args.seed,
        emission_params=parse_params(args.param), **synth_physics(args),
    )  # fmt: skip
    write_netcdf(ds, args.output)
    print(f"wrote {args.output}")
    return 0
