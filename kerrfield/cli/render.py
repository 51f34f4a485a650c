"""``kerrfield render``: image a fitted model at any resolution, spin or inclination."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from ..fitting.loop import resolve_device
from ..io.atomic import write_netcdf
from ..io.readers import load_netcdf
from ..models.builders import psnr, render
from ..models.persistence import load_model
from ._common import UNITS, DefaultsHelpFormatter


def add_cli(subparsers: Any) -> None:
    """Register ``kerrfield render``."""
    r = subparsers.add_parser(
        "render", help="render a fitted model at any resolution, spin or inclination",
        description=f"Render a model written by 'kerrfield fit'. {UNITS}",
        formatter_class=DefaultsHelpFormatter,
    )  # fmt: skip
    r.add_argument("model", help="directory containing model.pt and model.json")
    r.add_argument("--spin", type=float, default=None, help="spin (default: fitted)")
    r.add_argument("--inclination", type=float, default=None, help="deg (default: fitted)")
    r.add_argument("--fov", type=float, default=None,
                   help="screen half-width in M (default: the model's)")
    r.add_argument("--npix", type=int, default=256, help="pixels per side")
    r.add_argument("--reference", default=None, help="netCDF image to report PSNR against")
    r.add_argument("--device", default="auto", help="auto | cpu | cuda")
    r.add_argument("--output", "-o", action="append", default=None,
                   help=".png or .nc path; repeat for several (default: render.png)")
    r.set_defaults(func=_cli_render)


def _cli_render(args: argparse.Namespace) -> int:
    outputs = [Path(o) for o in (args.output or ["render.png"])]
    model = load_model(args.model)
    fov = args.fov if args.fov is not None else float(model.alpha.abs().max())
    ref = None
    if args.reference:  # checked before the (possibly long) trace
        ref = load_netcdf(args.reference, "--reference")
        if "image" not in ref:
            raise ValueError(f"--reference {args.reference}: no 'image' variable "
                             f"(variables: {list(ref.data_vars)})")  # fmt: skip
        shape = tuple(ref["image"].shape)
        if shape != (args.npix, args.npix):
            raise ValueError(f"--reference {args.reference} is {shape[0]}x{shape[1]} pixels "
                             f"but --npix is {args.npix}; pass --npix {shape[-1]}")  # fmt: skip
        if "alpha" in ref.coords:
            ref_fov = float(np.abs(ref["alpha"].values).max())
            if not np.isclose(ref_fov, fov, rtol=1e-6):
                raise ValueError(f"--reference {args.reference} spans ±{ref_fov:g} M but the "
                                 f"render ±{fov:g} M; pass --fov {ref_fov:g}")  # fmt: skip
    img = render(
        model.field, model.spin.item() if args.spin is None else args.spin,
        model.inclination.item() if args.inclination is None else args.inclination,
        fov=fov, npix=args.npix, k=model.k, orders=model.orders, surface=model.surface,
        velocity=model.velocity, device=resolve_device(args.device),
    )  # fmt: skip
    if ref is not None:
        print(f"PSNR = {psnr(img, ref['image'], normalize=True):.2f} dB")
    for out in outputs:
        if out.suffix == ".nc":
            write_netcdf(img.to_dataset(name="image"), out)
        else:
            from ..plotting import plot_image

            plot_image(img, fov).savefig(out, dpi=120)
        print(f"wrote {out}")
    return 0
