"""``kerrfield raytrace``: a ray-traced netCDF Dataset (and optionally a PNG)."""

from __future__ import annotations

import argparse

from ..io.atomic import write_netcdf
from ..physics.raytrace import BACKENDS, raytrace
from ._common import NETCDF_SUFFIXES, parse_surface, parse_velocity

#: ray-orders from which `kerrfield raytrace` (netCDF output only) streams block by block
STREAM_RAYS = 1 << 22


def add_cli(sub: argparse._SubParsersAction) -> None:
    """Register ``kerrfield raytrace``."""
    p = sub.add_parser(
        "raytrace",
        help="ray trace a Kerr black hole to a netCDF emission-coordinate dataset",
        description="Map each screen pixel (alpha, beta) to where its light crossed the emission "
        "surface, for each sub-image order n. Units: G = c = M = 1 (screen in M), "
        "angles in degrees.",
    )
    p.add_argument(
        "--spin", type=float, default=0.94, help="Kerr spin a, -1 < a < 1 (default 0.94)"
    )
    p.add_argument(
        "--inclination",
        type=float,
        default=17.0,
        help="observer inclination in degrees, 0 < i < 180 (default 17)",
    )
    p.add_argument("--fov", type=float, default=10.0, help="screen half-width in M (default 10)")
    p.add_argument("--npix", type=int, default=128, help="pixels per side (default 128)")
    p.add_argument(
        "--orders",
        type=int,
        nargs="+",
        default=[0, 1, 2],
        help="sub-image orders n (default 0 1 2)",
    )
    p.add_argument(
        "--surface",
        type=parse_surface,
        default="equatorial",
        help="'equatorial' or 'cone:DEG' (cone opening angle in degrees; default equatorial)",
    )
    p.add_argument(
        "--velocity",
        type=parse_velocity,
        default="zamo",
        help="zamo | keplerian | general:XI,BETA_R,BETA_PHI (default zamo)",
    )
    p.add_argument(
        "--backend", choices=BACKENDS, default="torch", help="implementation (default torch)"
    )
    p.add_argument(
        "--device", default=None, help="torch device: auto | cpu | cuda | cuda:N (default cpu)"
    )
    p.add_argument(
        "--compiled",
        action="store_true",
        help="fuse the elliptic-integral sweeps with torch.compile (faster for large screens; "
        "the first run compiles for about a minute, later runs reuse the cache)",
    )
    p.add_argument(
        "--output", "-o", action="append", default=None,
        help="output path: .nc (netCDF) or .png (r_s and g per order); repeat for several "
        "(default raytrace.nc)",
    )  # fmt: skip
    p.add_argument(
        "--png", default=None, help="also save a PNG of r_s and g per order to this path"
    )
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (by default one is drawn for traces of a million "
                   "or more pixel-orders, on a terminal only)")
    p.set_defaults(func=_cli_raytrace)


def _cli_raytrace(args: argparse.Namespace) -> int:
    outputs = list(args.output or ["raytrace.nc"]) + ([args.png] if args.png else [])
    if args.png and not str(args.png).lower().endswith(".png"):
        raise ValueError(f"--png must name a .png file, got {args.png!r}")
    for out in outputs:
        if not str(out).lower().endswith((".png", *NETCDF_SUFFIXES)):
            raise ValueError(f"--output {out!r}: the format follows the extension, "
                             f"one of .png or {', '.join(NETCDF_SUFFIXES)} (netCDF)")  # fmt: skip
    if (not any(str(o).lower().endswith(".png") for o in outputs)
            and args.npix**2 * len(args.orders) >= STREAM_RAYS):  # fmt: skip
        # large screens go to disk block by block: bounded memory at any npix
        import shutil

        from ..physics._stream import raytrace_to_netcdf

        raytrace_to_netcdf(
            outputs[0], args.spin, args.inclination, fov=args.fov, npix=args.npix,
            orders=tuple(args.orders), surface=args.surface, velocity=args.velocity,
            backend=args.backend, device=args.device, compiled=args.compiled,
        )  # fmt: skip
        for out in outputs[1:]:
            shutil.copyfile(outputs[0], out)
        for out in outputs:
            print(f"wrote {out}")
        return 0
    ds = raytrace(
        args.spin,
        args.inclination,
        fov=args.fov,
        npix=args.npix,
        orders=tuple(args.orders),
        surface=args.surface,
        velocity=args.velocity,
        backend=args.backend,
        device=args.device,
        progress=False if args.no_progress else None,
        compiled=args.compiled,
    )
    for out in outputs:
        if str(out).lower().endswith(".png"):
            from ..plotting import plot_geometry

            plot_geometry(ds, ("r_s", "g")).savefig(out, dpi=120)
        else:
            write_netcdf(ds, out, engine="h5netcdf")
        print(f"wrote {out}")
    return 0
