"""Ring features of analytic rings with known diameter, width and brightness PA."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import kerrfield as kf
from kerrfield.vlbi.ring import FC_MAX, ring_features

X = (np.arange(100) - 49.5) * 1.2  # µas


def _ring(d=42.0, fwhm=10.0, pa=200.0, amp=0.5, center=(3.0, -2.0), screen=False):
    ra, dec = np.meshgrid(X[::-1], X)
    e, n = ra - center[0], dec - center[1]
    r, th = np.hypot(e, n), np.arctan2(e, n)
    s = fwhm / (2 * np.sqrt(2 * np.log(2)))
    img = np.exp(-((r - d / 2) ** 2) / (2 * s**2)) * (1 + amp * np.cos(th - np.deg2rad(pa)))
    return xr.DataArray(img, dims=("dec", "ra"), coords={"dec": X, "ra": X[::-1]})


@pytest.mark.parametrize("d, fwhm, pa", [(42.0, 10.0, 200.0), (30.0, 6.0, 75.0),
                                         (50.0, 14.0, 330.0)])
def test_analytic_rings(d, fwhm, pa):
    f = ring_features(_ring(d, fwhm, pa))
    assert f["ring_diameter_uas"] == pytest.approx(d, abs=0.5)
    assert f["ring_width_uas"] == pytest.approx(fwhm, abs=1.0)
    assert abs((f["brightness_pa_deg"] - pa + 180) % 360 - 180) < 2.0
    assert f["center_ra_uas"] == pytest.approx(3.0, abs=0.3)
    assert f["center_dec_uas"] == pytest.approx(-2.0, abs=0.3)
    # A/2 for a cos modulation of amplitude A = 0.5 (measured 0.2497 on these pixels)
    assert f["asymmetry"] == pytest.approx(0.25, abs=0.005)


def test_screen_image_with_theta_g_and_pa():
    """The same ring on the screen (units of M): PA of the spin axis rotates the brightness."""
    a = np.linspace(-12, 12, 97)
    al, be = np.meshgrid(a, a)
    r, th = np.hypot(al, be), np.arctan2(-al, be)  # angle from +β towards −α (= east at PA 0)
    img = np.exp(-((r - 5.25) ** 2) / (2 * 0.6**2)) * (1 + 0.5 * np.cos(th - np.pi))
    screen = xr.DataArray(img, dims=("beta", "alpha"), coords={"beta": a, "alpha": a})
    f = ring_features(screen, theta_g=4.0, position_angle=30.0)
    assert f["ring_diameter_uas"] == pytest.approx(42.0, abs=0.5)
    # brightest opposite the spin axis (+β at PA 30°): PA 210°
    assert abs((f["brightness_pa_deg"] - 210 + 180) % 360 - 180) < 2.0
    with pytest.raises(ValueError, match="theta_g"):
        ring_features(screen)


def test_no_ring():
    with pytest.raises(ValueError, match="brightness"):
        ring_features(_ring() * 0)
    # a blob (centred or not) and a small ring blurred into one have no central depression;
    # before f_C was checked the first was reported as a 5 µas "ring" 7.6 µas off its centre
    ra, dec = np.meshgrid(X[::-1], X)
    for e0, s in ((0.0, 8.0), (5.0, 10.0)):
        blob = _ring() * 0 + np.exp(-((ra - e0) ** 2 + dec**2) / (2 * s**2))
        for blur in (None, 20.0):
            with pytest.raises(ValueError, match="no ring found"):
                ring_features(blob, blur=blur)
    with pytest.raises(ValueError, match="no ring found"):
        ring_features(_ring(26.0, 7.0, 200.0, amp=0.0), blur=20.0)
    assert ring_features(_ring(26.0, 7.0, 200.0, amp=0.0))["ring_diameter_uas"] == pytest.approx(
        26.0, abs=0.5)


def test_central_brightness_ratio():
    """f_C (Paper IV): ≈ 0 for a sharp ring, 0.3-0.45 for a 42 µas ring seen at 20 µas; a
    30 µas ring and strong crescents at 20 µas are still rings."""
    assert ring_features(_ring(42.0, 6.0))["central_brightness_ratio"] < 0.01
    assert 0.25 < ring_features(_ring(42.0, 6.0), blur=20.0)["central_brightness_ratio"] < 0.45
    assert ring_features(_ring(30.0, 6.0), blur=20.0)["central_brightness_ratio"] < FC_MAX
    for amp in (0.8, 0.95):
        f = ring_features(_ring(42.0, 6.0, 200.0, amp=amp), blur=20.0)
        assert abs((f["brightness_pa_deg"] - 200 + 180) % 360 - 180) < 2.0


def test_blur_to_the_eht_resolution():
    """A 20 µas blur broadens the ring as a Gaussian convolution and keeps its PA; the peak
    radius of a blurred ring shrinks (the ring's inside fills in), by a few µas here."""
    f = ring_features(_ring(42.0, 6.0, 200.0), blur=20.0, floor=False)
    assert f["ring_width_uas"] == pytest.approx(np.hypot(6.0, 20.0), rel=0.15)
    assert 36.0 < f["ring_diameter_uas"] < 42.0
    assert abs((f["brightness_pa_deg"] - 200 + 180) % 360 - 180) < 2.0
    assert ring_features(_ring(42.0, 6.0, 200.0), blur=0.0) == ring_features(_ring(42.0, 6.0,
                                                                                   200.0))
    with pytest.raises(ValueError, match="blur"):
        ring_features(_ring(), blur=-1.0)


def test_blurred_ring_near_the_grid_edge_is_found_on_screen_and_sky():
    """A 20 µas blur spreads a ring past a tight grid: the sky image on the screen's own
    extent gives the screen image's features (it failed before: 'no ring found')."""
    img = kf.synthesize("ring", 0.94, 163.0, npix=24, fov=8.0)["image"]
    screen = kf.ring_features(img, theta_g=3.8, position_angle=108.0, blur=20.0)
    sky = kf.ring_features(kf.sky_image(img, 3.8, 108.0, flux=0.6), blur=20.0)
    wide = kf.ring_features(kf.sky_image(img, 3.8, 108.0, flux=0.6, npix=64, fov=120.0),
                            blur=20.0)  # fmt: skip
    for other in (sky, wide):
        assert other["ring_diameter_uas"] == pytest.approx(screen["ring_diameter_uas"], abs=0.5)
        assert abs((other["brightness_pa_deg"] - screen["brightness_pa_deg"] + 180) % 360
                   - 180) < 3.0  # fmt: skip


def test_ring_features_argument_errors():
    img = kf.synthesize("ring", 0.5, 60.0, npix=16)["image"]
    with pytest.raises(TypeError, match="image must be an xarray.DataArray.*got ndarray"):
        ring_features(img.values, theta_g=3.8)
    with pytest.raises(ValueError, match="n_theta must be an int >= 8"):
        ring_features(img, theta_g=3.8, n_theta=0)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        kf.load_uvfits(5)


def test_sky_image_scale_and_rotation_as_in_visibilities():
    """θ_g and PA place a sky image as visibilities() does: a scale and a rotation east of
    north (before, ring_features ignored both for sky images)."""
    plain = ring_features(_ring(30.0, 6.0, 200.0, center=(0.0, 0.0)))
    moved = ring_features(_ring(30.0, 6.0, 200.0, center=(0.0, 0.0)), theta_g=1.3,
                          position_angle=40.0)
    assert moved["ring_diameter_uas"] == pytest.approx(1.3 * plain["ring_diameter_uas"],
                                                       rel=0.02)
    assert abs((moved["brightness_pa_deg"] - plain["brightness_pa_deg"] - 40.0 + 180) % 360
               - 180) < 2.0
