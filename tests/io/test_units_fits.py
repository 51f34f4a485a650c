"""Physical units: θ_g, screen <-> μas, FITS export with a WCS and its round trip."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.wcs import WCS

from kerrfield.io import fits as kfits
from kerrfield.io import units


def _image(n_alpha: int = 24, n_beta: int = 20, fov: float = 12.0) -> xr.DataArray:
    alpha = np.linspace(-fov, fov, n_alpha)
    beta = np.linspace(-0.8 * fov, 0.8 * fov, n_beta)
    aa, bb = np.meshgrid(alpha, beta)
    data = np.exp(-((np.hypot(aa, bb) - 5.2) ** 2)) * (1.0 + 0.3 * aa / fov) + 0.01 * bb
    return xr.DataArray(
        data, dims=("beta", "alpha"), coords={"beta": beta, "alpha": alpha},
        attrs={"spin": 0.94, "inclination": 17.0},
    )


def test_theta_g_m87_and_sgra():
    # EHT: theta_g = 3.8 uas for M87*, 4.8 uas for Sgr A*
    assert units.gravitational_angle(6.5e9, 16.8).to_value(u.uas) == pytest.approx(3.82, abs=0.01)
    assert units.gravitational_angle(source="SgrA").to_value(u.uas) == pytest.approx(4.84, abs=0.01)
    # quantities in other units agree with plain numbers (Msun, Mpc)
    q = units.gravitational_angle(6.5e9 * u.M_sun, 16.8e3 * u.kpc)
    assert q.to_value(u.uas) == pytest.approx(units.gravitational_angle(6.5e9, 16.8).value)
    # scaling: linear in M, inverse in D
    assert units.gravitational_angle(2.0, 1.0).value == pytest.approx(
        2 * units.gravitational_angle(1.0, 1.0).value
    )
    assert units.gravitational_time(4.0e6).to_value(u.s) == pytest.approx(19.7, abs=0.05)


def test_screen_muas_round_trip_and_types():
    x = np.array([-3.0, 0.0, 5.196])
    m = units.screen_to_muas(x, source="M87")
    assert m[2] == pytest.approx(5.196 * 3.8178, rel=1e-3)
    np.testing.assert_allclose(units.muas_to_screen(m, source="M87"), x)
    assert isinstance(units.screen_to_muas(1.0, source="M87"), float)
    assert units.muas_to_screen(3.8178 * u.uas, source="M87") == pytest.approx(1.0, rel=1e-3)
    da = xr.DataArray(x, dims="alpha", attrs={"long_name": "α"})
    out = units.screen_to_muas(da, source="M87")
    assert out.attrs["units"] == "µas" and out.attrs["long_name"] == "α"
    img = units.with_sky_coords(_image(), 6.5e9, 16.8)
    assert img.alpha_uas.attrs["units"] == "µas"
    assert float(img.alpha_uas[-1]) == pytest.approx(12.0 * img.attrs["theta_g_uas"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mass": -1.0, "distance": 1.0}, "mass must be finite and > 0"),
        ({"mass": 1.0, "distance": 0.0}, "distance must be finite and > 0"),
        ({"mass": 1.0 * u.m, "distance": 1.0}, "mass must be a mass"),
        ({"mass": 1.0, "distance": 3 * u.s}, "distance must be a length"),
        ({"source": "Cyg"}, "source must be one of"),
        ({"mass": 1.0}, "give mass and distance"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        units.gravitational_angle(**kwargs)


def test_fits_round_trip(tmp_path):
    img = _image()
    path = kfits.to_fits(img, tmp_path / "bh.fits", source="M87", total_flux=0.6, frequency=230e9)
    with fits.open(path) as hdul:
        h = hdul[0].header
        data = hdul[0].data
    assert h["CTYPE1"] == "RA---SIN" and h["CTYPE2"] == "DEC--SIN"
    assert h["BUNIT"] == "JY/PIXEL" and h["CUNIT1"] == "deg"
    assert h["SPIN"] == pytest.approx(0.94) and h["INCL"] == pytest.approx(17.0)
    assert data.shape == (20, 24)
    assert float(data.sum()) == pytest.approx(0.6, rel=1e-5)
    dalpha = float(img.alpha[1] - img.alpha[0])
    assert abs(h["CDELT1"]) * 3.6e9 == pytest.approx(dalpha * 3.8178, rel=1e-3)  # deg -> uas

    back = kfits.from_fits(path)
    np.testing.assert_allclose(back.alpha, img.alpha, atol=1e-9)
    np.testing.assert_allclose(back.beta, img.beta, atol=1e-9)
    np.testing.assert_allclose(back.values, img.values / img.values.sum() * 0.6, rtol=1e-5)


def test_fits_wcs_orientation(tmp_path):
    """+alpha points west and +beta north at PA=0; PA=90 turns +beta to the east."""
    img = _image()
    theta_deg = units.gravitational_angle(source="M87").to_value(u.deg)

    def world(path, a, b):
        w = WCS(fits.getheader(path))
        ia = np.interp(a, img.alpha, np.arange(img.alpha.size))
        ib = np.interp(b, img.beta, np.arange(img.beta.size))
        return w.pixel_to_world_values(ia, ib)

    p0 = kfits.to_fits(img, tmp_path / "pa0.fits", source="M87")
    ra0, dec0 = world(p0, 0.0, 0.0)
    assert ra0 == pytest.approx(187.70593, abs=1e-9) and dec0 == pytest.approx(12.39112, abs=1e-9)
    ra, dec = world(p0, 4.0, 0.0)
    cosd = np.cos(np.deg2rad(dec0))
    assert (ra - ra0) * cosd == pytest.approx(-4.0 * theta_deg, rel=1e-6)  # west
    ra, dec = world(p0, 0.0, 4.0)
    assert dec - dec0 == pytest.approx(4.0 * theta_deg, rel=1e-6)  # north

    p90 = kfits.to_fits(img, tmp_path / "pa90.fits", source="M87", position_angle=90.0)
    ra, dec = world(p90, 0.0, 4.0)
    assert (ra - ra0) * cosd == pytest.approx(4.0 * theta_deg, rel=1e-6)  # east
    ra, dec = world(p90, 4.0, 0.0)
    assert dec - dec0 == pytest.approx(4.0 * theta_deg, rel=1e-6)  # north

    off = kfits.to_fits(img, tmp_path / "off.fits", 6.5e9, 16.8, celestial=False)
    h = fits.getheader(off)
    assert h["CTYPE1"] == "OFFSETX" and h["BUNIT"] == "arbitrary"


def test_fits_errors(tmp_path):
    img = _image()
    with pytest.raises(ValueError, match="dimensions"):
        kfits.to_fits(img.expand_dims(n=[0]), tmp_path / "a.fits", source="M87")
    with pytest.raises(ValueError, match="dec must lie in"):
        kfits.to_fits(img, tmp_path / "a.fits", source="M87", dec=95.0)
    bad = img.assign_coords(alpha=np.r_[img.alpha.values[:-1], 40.0])
    with pytest.raises(ValueError, match="uniformly spaced"):
        kfits.to_fits(bad, tmp_path / "a.fits", source="M87")
    kfits.to_fits(img, tmp_path / "a.fits", source="M87")
    with pytest.raises(FileExistsError, match="overwrite"):
        kfits.to_fits(img, tmp_path / "a.fits", source="M87")
    with pytest.raises(ValueError, match="total_flux"):
        kfits.to_fits(img, tmp_path / "b.fits", source="M87", total_flux=-1.0)
