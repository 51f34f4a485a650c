"""What brightness position angle η the M87 fit's geometry alone gives, for simple
axisymmetric emission: the reference for reading the fitted η in docs/vlbi.md.

The default M87 fit (``bench_m87_fit.py --real``) uses an axisymmetric field f(r) at spin
0.94, θo = 163°, Keplerian emitters, I ∝ g³ f(r), orders 0 and 1, ±8 M screen, and finds the
spin axis at PA ≈ 99° and θ_g ≈ 4.2 µas. With f(r) axisymmetric, the azimuthal brightness
comes from the Doppler factor and the lensing only, so its PA depends on the geometry, the
sky PA and the radial profile. This prints η (the REx first angular moment, east of north)
of the sharp image and at the EHT's 20 µas resolution for Gaussian rings and a Krang-like
power-law disk, placed at the fitted PA and at the jet's (108°).

Usage: ``python benchmarks/m87_eta_geometry.py [--theta-g 4.19] [--pa 99 108]`` (a few
seconds on one core).
"""

from __future__ import annotations

import argparse
import warnings

import kerrfield as kf

EMISSIONS = (("ring", {"radius": 4.0, "width": 1.5}), ("ring", {"radius": 5.0, "width": 1.0}),
             ("ring", {"radius": 7.0, "width": 2.0}), ("disk", {"R": 5.0, "p1": 3.0, "p2": 3.0}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--theta-g", type=float, default=4.19, help="µas per M")
    p.add_argument("--pa", type=float, nargs="+", default=[99.0, 108.0],
                   help="spin-axis position angles, deg east of north")
    args = p.parse_args()
    print("a = 0.94, θo = 163°, Keplerian, I ∝ g³ f(r), n = 0, 1, ±8 M, 80² pixels, "
          f"θ_g = {args.theta_g} µas; η in deg east of north (sharp | at 20 µas)")
    for family, params in EMISSIONS:
        img = kf.render(kf.make_emission(family, **params), 0.94, 163.0, fov=8.0, npix=80,
                        k=3.0, orders=(0, 1), velocity="keplerian")  # fmt: skip
        cells = []
        for pa in args.pa:
            with warnings.catch_warnings():  # a diffuse image: the REx centre search warns
                warnings.simplefilter("ignore", RuntimeWarning)
                sharp = kf.ring_features(img, theta_g=args.theta_g, position_angle=pa)
                blur = kf.ring_features(img, theta_g=args.theta_g, position_angle=pa,
                                        blur=20.0)  # fmt: skip
            cells.append(f"PA {pa:5.1f}: {sharp['brightness_pa_deg']:5.1f} | "
                         f"{blur['brightness_pa_deg']:5.1f} (d {blur['ring_diameter_uas']:.1f} "
                         "µas at 20 µas)")  # fmt: skip
        text = ", ".join(f"{k} {v:g}" for k, v in params.items())
        print(f"{family:4s} ({text}):  " + "   ".join(cells), flush=True)


if __name__ == "__main__":
    main()
