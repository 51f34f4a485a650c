"""``kerrfield fit-obs``: fit a lensed model to a uvfits observation from a TOML config."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._common import UNITS, DefaultsHelpFormatter


def add_cli(subparsers: Any) -> None:
    """Register ``kerrfield fit-obs``."""
    p = subparsers.add_parser(
        "fit-obs", help="fit a lensed emission model to interferometric data (uvfits)",
        description="Fit field, θ_g and position angle to closure phases / log closure "
        f"amplitudes / visibilities of a uvfits file, as a TOML config describes "
        f"(see examples/m87_2017.toml). {UNITS}",
        formatter_class=DefaultsHelpFormatter,
    )  # fmt: skip
    p.add_argument("config", help="TOML configuration: a relative [data] uvfits is relative to "
                   "this file, a relative [output] directory to the working directory")
    p.add_argument("--steps", type=int, default=None, help="override fit.steps")
    p.add_argument("--output", "-o", default=None,
                   help="override [output] directory (summary.json, image.fits)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier fit's files in the output directory")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cli_fit_obs)


def _cli_fit_obs(args: argparse.Namespace) -> int:
    from ..fitting.observation_config import run_observation_config

    if not Path(args.config).is_file():
        raise FileNotFoundError(f"config file {args.config!r} does not exist")
    _, summary = run_observation_config(args.config, steps=args.steps, output=args.output,
                                        progress=False if args.no_progress else None,
                                        overwrite=args.overwrite)  # fmt: skip
    print(json.dumps(summary, indent=1, default=float))
    return 0
