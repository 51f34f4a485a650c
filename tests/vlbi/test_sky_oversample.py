"""sky_image(oversample=...): the FITS files kerrfield writes carry the model's own pixels."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import kerrfield as kf
from kerrfield.io.sky import sky_image


def _screen(n: int = 24, fov: float = 8.0, seed: int = 0) -> xr.DataArray:
    """A lopsided ring that reaches the screen's edge and corners (a disk out to ±fov)."""
    a = np.linspace(-fov, fov, n)
    aa, bb = np.meshgrid(a, a)
    r = np.hypot(aa, bb)
    img = np.exp(-0.5 * ((r - 5.0) / 0.8) ** 2) * (1.5 + np.cos(np.arctan2(aa, bb) - 1.0))
    img += 0.05 * np.random.default_rng(seed).random((n, n))  # emission out to the corners
    return xr.DataArray(img, dims=("beta", "alpha"), coords={"beta": a, "alpha": a})


def _uv(n: int = 300, q_max: float = 9e9, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q, phi = q_max * np.sqrt(rng.random(n)), 2 * np.pi * rng.random(n)
    return q * np.cos(phi), q * np.sin(phi)


@pytest.mark.parametrize("pa", [0.0, 90.0, 270.0])
def test_oversampled_sky_image_is_the_screen_at_right_angles(pa):
    """At multiples of 90° the fine grid tiles the screen pixels: the same visibilities
    (box pixels) to rounding, for every oversampling, edge and corner pixels included."""
    scr, (u, v) = _screen(), _uv()
    exact = kf.visibilities(scr, u, v, theta_g=3.8, position_angle=pa, flux=0.6)
    for k in (1, 3, 8):
        sky = sky_image(scr, 3.8, pa, 0.6, oversample=k)
        assert sky.sizes["ra"] == sky.sizes["dec"] == 24 * k
        assert float(sky.sum()) == pytest.approx(0.6, rel=1e-12)
        np.testing.assert_allclose(kf.visibilities(sky, u, v), exact, rtol=0, atol=1e-12)


def test_oversampled_sky_image_converges_at_any_angle():
    """Rotated, the pixel edges become staircases: the visibility error shrinks with the
    oversampling (faster than 1/k: each output pixel averages 4 x 4 point samples) and at
    8 is below 3e-4 of the flux; bilinear at the
    screen's resolution is far off, and loses the corners' flux before any rescaling."""
    scr, (u, v) = _screen(), _uv()
    exact = kf.visibilities(scr, u, v, theta_g=3.8, position_angle=37.0, flux=0.6)
    err = {k: np.abs(kf.visibilities(sky_image(scr, 3.8, 37.0, 0.6, oversample=k), u, v)
                     - exact).max() for k in (1, 2, 4, 8)}  # fmt: skip
    assert err[8] < 3e-4 * 0.6, err  # measured 8.3e-5 Jy
    assert err[8] < err[4] / 2 and err[4] < err[2] / 2 and err[2] < err[1] / 2, err
    sky = sky_image(scr, 3.8, 37.0, 0.6, oversample=8)
    assert sky.sizes["ra"] == 8 * int(np.ceil(24 * (np.cos(np.deg2rad(37)) + np.sin(
        np.deg2rad(37)))))  # the rotated screen's bounding box
    bilinear = kf.visibilities(sky_image(scr, 3.8, 37.0, 0.6), u, v)
    assert np.abs(bilinear - exact).max() > 5 * err[8]
    kept = sky_image(scr, 3.8, 37.0) .sum() / sky_image(scr, 3.8, 37.0, oversample=8).sum()
    assert float(kept) < 0.995  # the same-size north-up grid cuts the rotated corners


def test_sky_image_keeps_the_outer_half_pixel():
    """A point within half a pixel outside the outer pixel centres lies in the edge pixel:
    an image lit on its edge column keeps its flux on a 2x grid (nearest), and bilinear
    resampling ramps the rim instead of dropping it (it kept half of it)."""
    scr = _screen() * 0.0
    scr[:, 0] = 1.0
    near = sky_image(scr, 3.8, 0.0, oversample=2)
    assert float(near.sum()) == pytest.approx(float(scr.sum()), rel=1e-12)
    assert float(sky_image(scr, 3.8, 0.0, npix=48).sum()) > 0.85 * float(scr.sum())


@pytest.mark.parametrize("kw", [{"oversample": 0}, {"oversample": 2.0}, {"oversample": True},
                                {"oversample": 4, "npix": 64}, {"oversample": 4, "fov": 80.0}])
def test_sky_image_refuses_bad_oversample(kw):
    with pytest.raises(ValueError, match="oversample must be an int >= 1 and replaces npix"):
        sky_image(_screen(), 3.8, 30.0, **kw)
