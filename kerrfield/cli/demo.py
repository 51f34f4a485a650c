"""``kerrfield demo``: the reference scenario (Krang.jl's neural-emission example)."""

from __future__ import annotations

import argparse
from typing import Any

from ..fitting.workflow import DEMO, run_demo
from ._common import UNITS, DefaultsHelpFormatter


def add_cli(subparsers: Any) -> None:
    """Register ``kerrfield demo``."""
    d = subparsers.add_parser(
        "demo", help="reference scenario: ray trace, synthesise, jointly fit (~1 min on CPU)",
        description="Krang.jl's neural-emission example: target = random 2→20→20→1 MLP, "
        f"spin {DEMO['spin']}, inclination {DEMO['inclination']:g} deg, orders n = 0, 1, "
        "ZAMO redshift (k = 1), 30×30 pixels over ±10 M; fit a fresh MLP with spin and "
        f"inclination from {DEMO['spin0']} and {DEMO['inclination0']:g} deg with Adam on the "
        f"normalised MSE ({DEMO['steps']} steps). {UNITS}",
        formatter_class=DefaultsHelpFormatter,
    )  # fmt: skip
    d.add_argument("--output", "-o", default="demo-output",
                   help="output directory; an earlier demo there is replaced")
    d.add_argument("--npix", type=int, default=30, help="pixels per side")
    d.add_argument("--steps", type=int, default=None,
                   help=f"Adam steps (default: the reference's {DEMO['steps']})")
    d.add_argument("--device", default="auto", help="auto | cpu | cuda")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.set_defaults(func=_cli_demo)


def _cli_demo(args: argparse.Namespace) -> int:
    s = run_demo(args.output, npix=args.npix, steps=args.steps, device=args.device,
                 progress=False if args.no_progress else None)  # fmt: skip
    print(
        f"demo: spin {s['spin']:.4f} (true {DEMO['spin']}), inclination "
        f"{s['inclination_deg']:.3f} deg (true {DEMO['inclination']:g}), loss "
        f"{s['initial_loss']:.3e} -> {s['final_loss']:.3e}, fit {s['wall_time_s']:.1f} s, "
        f"total {s['total_time_s']:.1f} s; outputs in {args.output}/"
    )
    return 0
