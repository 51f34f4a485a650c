"""Render the documentation's generated figures into a directory.

Usage::

    python scripts/make_docs_figures.py docs/_build/figures

Writes ``logo.png``, ``hero.png`` (a ray-traced black hole, if the ray tracer is
importable), ``screen_conventions.png`` (the labelled observer screen) and
``m87_convention.png`` (the two orientations of M87* allowed by its jet, on the sky). Sphinx's
``conf.py`` calls this on every build, so the pictures always match the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def critical_curve(a: float, inc_deg: float, n: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """The package's own critical curve, so the figures show what the code computes."""
    import kerrfield as kf

    return kf.critical_curve(a, inc_deg, n)


def screen_conventions(path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 6.0), dpi=130)
    for inc, ls, col in ((17.0, "-", "C0"), (80.0, "--", "C3")):
        al, be = critical_curve(0.94, inc)
        ax.plot(al, be, ls, color=col, lw=2, label=f"critical curve, a = 0.94, θo = {inc:g}°")
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.annotate("", xy=(0, 8.7), xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "lw": 2.2})
    ax.text(0, 9.0, "projected spin axis (+β)", fontsize=10, ha="center", va="bottom")
    ax.annotate("", xy=(8.3, 0), xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "lw": 1.2})
    ax.text(7.6, -0.9, "+α", fontsize=12)
    ax.text(-10.6, 7.6, "approaching side of a\nprograde disk (a > 0):\nα < 0, blueshift g > 1",
            fontsize=9, color="C0", va="top")
    ax.text(10.6, 7.6, "receding side:\nα > 0, g < 1", fontsize=9, color="C3", va="top",
            ha="right")
    ax.text(-10.6, -10.6, "at the observer sign(p^θ) = sign(β)\n"
            "λ = −α sin θo,  η = (α² − a²) cos²θo + β²", fontsize=9)
    # sense of the disk's rotation seen on the sky: the near side moves towards +α
    t = np.linspace(1.15 * np.pi, 1.85 * np.pi, 60)
    xs, ys = 6.5 * np.cos(t), 1.6 * np.sin(t) - 5.6
    ax.plot(xs, ys, color="0.3", lw=1.2)
    ax.annotate("", xy=(xs[-1], ys[-1]), xytext=(xs[-4], ys[-4]),
                arrowprops={"arrowstyle": "-|>", "color": "0.3"})
    ax.text(0, -7.4, "near side of the disk moves towards +α", fontsize=8, color="0.3",
            ha="center", va="top")
    ax.set(xlim=(-11, 11), ylim=(-11, 11), xlabel="α  [M]", ylabel="β  [M]", aspect="equal",
           title="Observer screen (as seen by the observer)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), fontsize=8, ncol=1, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


#: Position angle of M87's large-scale approaching jet, degrees east of north (Walker et al.
#: 2018, ApJ 855, 128; used by EHT Collaboration 2019, Paper V, Sec. 3)
M87_JET_PA = 288.0


def m87_sky(spin: float, inc: float, position_angle: float, npix: int = 96):
    """A Keplerian g³-weighted ring (n = 0, 1) placed on the sky at θ_g = 3.8 µas."""
    import kerrfield as kf

    ds = kf.raytrace(spin, inc, fov=8.0, npix=npix, orders=(0, 1), velocity="keplerian")
    emis = np.exp(-0.5 * ((ds["r_s"] - 5.0) / 1.0) ** 2) * ds["g"] ** 3
    screen = emis.where(ds["status"] == 0, 0.0).sum("n").transpose("beta", "alpha")
    return kf.sky_image(screen, 3.8, position_angle, flux=0.6)


def _pa_arrow(ax, pa: float, length: float, label: str, color: str) -> None:
    east, north = length * np.sin(np.radians(pa)), length * np.cos(np.radians(pa))
    ax.annotate("", xy=(east, north), xytext=(0, 0),
                arrowprops={"arrowstyle": "-|>", "color": color, "lw": 2.0})
    ax.plot([], [], color=color, lw=2.0, label=label)  # legend entry for the arrow


def m87_convention(path: Path) -> None:
    """θo = 163° with the spin axis at PA 108° vs θo = 17° with it at the jet's 288°."""
    import kerrfield as kf

    cases = ((163.0, M87_JET_PA - 180.0, "spin away from us"),
             (17.0, M87_JET_PA, "spin towards us"))
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 5.6), dpi=110)
    for ax, (inc, pa, what) in zip(axes, cases, strict=True):
        sky = m87_sky(0.94, inc, pa)
        bright = kf.ring_features(sky)["brightness_pa_deg"]
        ra, dec = sky["ra"].values, sky["dec"].values
        im = ax.imshow(sky.values * 1e3, origin="lower", cmap="afmhot",
                       extent=(ra[0], ra[-1], dec[0], dec[-1]), vmin=0)
        fig.colorbar(im, ax=ax, shrink=0.75, label="mJy / pixel")
        _pa_arrow(ax, M87_JET_PA, 27.0, f"approaching jet, PA {M87_JET_PA:g}°", "C0")
        _pa_arrow(ax, pa, 18.0, f"projected spin axis (+β), PA {pa:g}°", "lime")
        _pa_arrow(ax, bright, 12.0, f"brightness PA {bright:.0f}° (ring_features)", "cyan")
        ax.text(27, 27, "N ↑  E ←", color="w", fontsize=9, va="top")
        ax.set(xlim=(ra[0], ra[-1]), ylim=(dec[0], dec[-1]), aspect="equal",
               xlabel="relative RA  [µas]", ylabel="relative Dec  [µas]",
               title=f"a = 0.94, θo = {inc:g}°: {what}")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8,
                  frameon=False)
    fig.suptitle("M87* orientations allowed by the jet (Keplerian disk, I ∝ g³, "
                 "θ_g = 3.8 µas): the EHT's bright south picks θo = 163°", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def logo(path: Path) -> None:
    fig = plt.figure(figsize=(1.2, 1.2), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    al, be = critical_curve(0.94, 60.0)
    ax.fill(al, be, color="black")
    ax.plot(al, be, color="#f5a623", lw=4)
    ax.set(xlim=(-7.5, 7.5), ylim=(-7.5, 7.5), aspect="equal")
    ax.axis("off")
    fig.savefig(path, transparent=True)
    plt.close(fig)


def hero(path: Path) -> None:
    """A thin-disk image: sum over sub-images n = 0, 1, 2 of g^3 times a power-law emissivity."""
    import kerrfield as kf

    spin, inc = 0.94, 60.0
    ds = kf.raytrace(spin, inc, fov=9.0, npix=110, orders=(0, 1, 2), velocity="keplerian")
    r = ds["r_s"]
    emis = np.exp(-np.log(r / 4.5) ** 2 / 0.5) * ds["g"] ** 3
    emis = emis.where(ds["status"] == 0, 0.0)
    img = emis.sum("n").transpose("beta", "alpha")
    fig = plt.figure(figsize=(6.0, 6.0), dpi=110)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(img.values, origin="lower", cmap="afmhot", interpolation="bicubic",
              extent=(float(img.alpha[0]), float(img.alpha[-1]),
                      float(img.beta[0]), float(img.beta[-1])))
    ax.axis("off")
    fig.savefig(path, facecolor="black")
    plt.close(fig)


def main(out: str) -> int:
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    screen_conventions(outdir / "screen_conventions.png")
    logo(outdir / "logo.png")
    hero(outdir / "hero.png")
    m87_convention(outdir / "m87_convention.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/_build/figures"))
