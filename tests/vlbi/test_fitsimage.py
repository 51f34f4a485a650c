"""FITS sky images: exact coordinates back, PA in the pixels, ehtim reads the same sky."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits

from kerrfield.io.skyfits import read_fits_image, write_fits_image

A = np.linspace(-10, 10, 41)  # M


def _spot_on_spin_axis():
    """Screen image: one compact spot at β = +6 M (the projected spin axis)."""
    al, be = np.meshgrid(A, A)
    img = np.exp(-((al**2 + (be - 6) ** 2) / 0.8))
    return xr.DataArray(img, dims=("beta", "alpha"), coords={"beta": A, "alpha": A})


def _brightest(sky):
    j, i = np.unravel_index(np.argmax(sky.values), sky.shape)
    east, north = float(sky.ra[i]), float(sky.dec[j])
    return east, north, np.rad2deg(np.arctan2(east, north)) % 360


def test_exact_coordinates_and_header(tmp_path):
    rng = np.random.default_rng(0)
    ra = np.linspace(60.0, -60.0, 61) * (1 / 3)  # decreasing: east to the left
    dec = np.linspace(-20.0, 20.0, 61)
    sky = xr.DataArray(rng.random((61, 61)), dims=("dec", "ra"), coords={"dec": dec, "ra": ra})
    p = write_fits_image(sky, tmp_path / "s.fits", source="M87", ra=187.7, dec=12.39,
                         frequency=230e9, mjd=57849.5)
    back = read_fits_image(p)
    np.testing.assert_array_equal(back.ra.values, ra)
    np.testing.assert_array_equal(back.dec.values, dec)
    np.testing.assert_array_equal(back.values, sky.values)
    assert (back + sky).sizes == sky.sizes  # xarray aligns: no empty array
    h = fits.getheader(p)
    assert h["OBJECT"] == "M87" and h["MJD"] == 57849.5 and h["DATE-OBS"].startswith("2017-04-06")
    assert h["CDELT1"] < 0 and h["CTYPE1"] == "RA---SIN" and "PC1_2" not in h
    with pytest.raises(FileExistsError):
        write_fits_image(sky, p)


@pytest.mark.parametrize("pa", [0.0, 288.0, 163.0])
def test_position_angle_in_the_pixels(tmp_path, pa):
    p = write_fits_image(_spot_on_spin_axis(), tmp_path / "pa.fits", theta_g=3.8,
                         position_angle=pa, flux=0.6)
    sky = read_fits_image(p)
    east, north, angle = _brightest(sky)
    assert abs((angle - pa + 180) % 360 - 180) < 4.0
    assert np.hypot(east, north) == pytest.approx(6 * 3.8, abs=2.0)
    assert float(sky.sum()) == pytest.approx(0.6)


def test_ehtim_reads_the_same_sky(tmp_path, eh):
    out = {}
    for pa in (0.0, 288.0):
        p = write_fits_image(_spot_on_spin_axis(), tmp_path / f"{pa}.fits", theta_g=3.8,
                             position_angle=pa, flux=0.6, source="M87", ra=187.7, dec=12.39)
        with contextlib.redirect_stdout(io.StringIO()):
            im = eh.image.load_fits(str(p))
        arr = im.imvec.reshape(im.ydim, im.xdim)  # row 0 = north, column 0 = east
        ps = im.psize / eh.RADPERUAS
        j, i = np.unravel_index(np.argmax(arr), arr.shape)
        east = ((im.xdim - 1) / 2 - i) * ps
        north = ((im.ydim - 1) / 2 - j) * ps
        out[pa] = np.rad2deg(np.arctan2(east, north)) % 360
        np.testing.assert_allclose(np.flipud(arr), read_fits_image(p).values, rtol=1e-12)
    assert abs(out[0.0]) < 4 or abs(out[0.0] - 360) < 4
    assert abs(out[288.0] - 288.0) < 4


def test_bad_fits(tmp_path):
    p = tmp_path / "noscale.fits"
    fits.PrimaryHDU(np.ones((4, 4))).writeto(p)
    with pytest.raises(ValueError, match="pixel scale"):
        read_fits_image(p)
    with pytest.raises(FileNotFoundError):
        read_fits_image(tmp_path / "none.fits")


def test_screen_at_pa0_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(1)
    a = np.linspace(-10, 10, 41)
    b = np.linspace(-8, 8, 33)
    img = xr.DataArray(rng.random((33, 41)), dims=("beta", "alpha"),
                       coords={"beta": b, "alpha": a})
    p = write_fits_image(img, tmp_path / "s.fits", theta_g=3.8, header={"spin": 0.94})
    back = read_fits_image(p)
    np.testing.assert_array_equal(back.alpha.values, a)
    np.testing.assert_array_equal(back.beta.values, b)
    screen = back.swap_dims(ra="alpha", dec="beta").drop_vars(["ra", "dec"])
    xr.testing.assert_equal(screen.transpose("beta", "alpha").drop_attrs(), img)
    assert fits.getheader(p)["SPIN"] == 0.94
