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


@pytest.mark.parametrize("spelt", ["SgrA*", "Sgr A*", "Sgr A", "sgra", "SGR-A*"])
def test_source_spellings_resolve_to_the_same_source(spelt):
    assert units.source_name(spelt) == "SgrA"
    assert units.gravitational_angle(source=spelt) == units.gravitational_angle(source="SgrA")
    assert units.source_name("M87*") == "M87"


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
    np.testing.assert_array_equal(back.alpha, img.alpha)
    np.testing.assert_array_equal(back.beta, img.beta)
    np.testing.assert_allclose(back.values, img.values / img.values.sum() * 0.6, rtol=1e-5)


def _blob(alpha0: float, beta0: float) -> xr.DataArray:
    axis = np.linspace(-10.0, 10.0, 41)
    aa, bb = np.meshgrid(axis, axis)
    data = np.exp(-((aa - alpha0) ** 2 + (bb - beta0) ** 2) / 0.5)
    return xr.DataArray(data, dims=("beta", "alpha"), coords={"beta": axis, "alpha": axis})


def _brightest_world(path) -> tuple[float, float]:
    """(east, north) offset in µas of the brightest pixel, through the file's own WCS."""
    h = fits.getheader(path)
    data = fits.getdata(path)
    j, i = np.unravel_index(np.argmax(data), data.shape)
    ra, dec = WCS(h).pixel_to_world_values(i, j)
    ra0, dec0 = WCS(h).pixel_to_world_values(h["CRPIX1"] - 1, h["CRPIX2"] - 1)
    east = (ra - ra0) * np.cos(np.deg2rad(dec0)) * 3.6e9
    return float(east), float((dec - dec0) * 3.6e9)


@pytest.mark.parametrize("pa", [0.0, 90.0, 288.0])
def test_fits_orientation_is_in_the_pixels(tmp_path, pa):
    """A blob on the projected spin axis (+β, 6 M) appears at PA east of north, in the pixels."""
    theta = units.gravitational_angle(source="M87").to_value(u.uas)
    path = kfits.to_fits(_blob(0.0, 6.0), tmp_path / "b.fits", source="M87", position_angle=pa)
    h = fits.getheader(path)
    assert all(k not in h for k in ("PC1_2", "PC2_1", "CROTA2"))  # no rotation cards
    east, north = _brightest_world(path)
    want = 6.0 * theta * np.array([np.sin(np.deg2rad(pa)), np.cos(np.deg2rad(pa))])
    pix = abs(h["CDELT2"]) * 3.6e9
    assert np.hypot(east - want[0], north - want[1]) <= 1.5 * pix, (east, north, want)
    # +α points west at PA 0
    if pa == 0.0:
        east, north = _brightest_world(
            kfits.to_fits(_blob(6.0, 0.0), tmp_path / "w.fits", source="M87"))
        assert east == pytest.approx(-6.0 * theta, abs=pix) and abs(north) <= pix


def test_fits_headers_for_eht_tools(tmp_path):
    path = kfits.to_fits(_image(), tmp_path / "h.fits", source="M87", mjd=57849.0,
                         frequency=230e9)  # fmt: skip
    h = fits.getheader(path)
    assert h["OBJECT"] == "M87" and h["MJD"] == 57849.0 and h["DATE-OBS"].startswith("2017-04")
    assert h["CDELT1"] < 0 < h["CDELT2"] and h["CTYPE1"] == "RA---SIN"
    off = kfits.to_fits(_image(), tmp_path / "off.fits", 6.5e9, 16.8, celestial=False)
    h = fits.getheader(off)
    assert h["CTYPE1"] == "OFFSETX" and h["BUNIT"] == "arbitrary"


def test_from_fits_returns_exactly_the_written_screen(tmp_path):
    img = _image()
    back = kfits.from_fits(kfits.to_fits(img, tmp_path / "x.fits", source="M87"))
    aligned, _ = xr.align(img, back, join="exact")  # raises if coordinates differ at all
    assert aligned.shape == img.shape
    rotated = kfits.to_fits(img, tmp_path / "r.fits", source="M87", position_angle=288.0)
    with pytest.raises(ValueError, match="rotated"):
        kfits.from_fits(rotated)


def test_units_follow_bunit(tmp_path):
    """A model image written without total_flux is in arbitrary units and reads back so;
    with total_flux it is Jy/pixel (the label every plot's colour bar shows)."""
    img = _image()
    arb = kfits.from_fits(kfits.to_fits(img, tmp_path / "a.fits", source="M87",
                                        bunit="arbitrary (specific intensity)"))  # fmt: skip
    assert arb.attrs["units"] == "arbitrary (specific intensity)" == arb.attrs["BUNIT"]
    jy = kfits.from_fits(kfits.to_fits(img, tmp_path / "j.fits", source="M87", total_flux=0.6))
    assert jy.attrs["units"] == "Jy/pixel" and jy.sum() == pytest.approx(0.6)


def test_ehtim_reads_the_position_angle(tmp_path, eh):
    """ehtim ignores rotation cards; the pixels themselves must differ between PA 0 and 288."""
    blob = _blob(0.0, 6.0)
    p0 = kfits.to_fits(blob, tmp_path / "p0.fits", source="M87", total_flux=0.5)
    p288 = kfits.to_fits(blob, tmp_path / "p288.fits", source="M87", total_flux=0.5,
                         position_angle=288.0)  # fmt: skip
    im0, im288 = eh.image.load_fits(str(p0)), eh.image.load_fits(str(p288))
    assert not np.allclose(im0.imvec, im288.imvec)
    assert im0.total_flux() == pytest.approx(0.5, rel=1e-6)
    assert im288.total_flux() == pytest.approx(0.5, rel=1e-3)


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
