"""θ_g, position angle and flux that place an image on the sky are checked at every entry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

import kerrfield as kf
from kerrfield._validate import check_sky_placement
from kerrfield.io.sky import sky_image
from kerrfield.io.skyfits import write_fits_image
from kerrfield.vlbi.observe import observe
from kerrfield.vlbi.ring import ring_features
from kerrfield.vlbi.visibilities import visibilities

AX = np.linspace(-10.0, 10.0, 32)

BAD_THETA_G = [math.nan, math.inf, 0.0, -3.8]
BAD_FLUX = [-1.0, math.nan, math.inf]
BAD_PA = [math.nan, math.inf, -math.inf]


def _screen() -> xr.DataArray:
    a, b = np.meshgrid(AX, AX)
    ring = np.exp(-((np.hypot(a, b) - 5.0) ** 2)) * (1.0 + 0.3 * b / 5.0)
    return xr.DataArray(ring, dims=("beta", "alpha"), coords={"beta": AX, "alpha": AX})


def _like() -> xr.Dataset:
    """A tiny observation (3 baselines, 2 times) built without any file."""
    n = 6
    return xr.Dataset(
        {"time": ("row", np.repeat([0.0, 0.1], 3)), "mjd": ("row", np.full(n, 57849.0)),
         "t1": ("row", np.array(["A", "A", "B"] * 2)), "t2": ("row", np.array(["B", "C", "C"] * 2)),
         "u": ("row", np.linspace(-3e9, 3e9, n)), "v": ("row", np.linspace(2e9, -1e9, n)),
         "vis": ("row", np.zeros(n, complex)), "sigma": ("row", np.full(n, 0.01)),
         "tint": ("row", np.full(n, 10.0)), "subarray": ("row", np.ones(n, int))},
        attrs={"source": "TEST", "ra": 187.7, "dec": 12.39, "frequency": 230e9,
               "bandwidth": 2e9, "mjd": 57849, "telescope": "VLBI", "instrument": "test"})


@pytest.mark.parametrize("theta_g", BAD_THETA_G)
def test_helper_theta_g(theta_g):
    with pytest.raises(ValueError, match=r"theta_g must be a finite number in \(0, inf\)"):
        check_sky_placement(theta_g)


def test_helper_passes_none_and_types():
    assert check_sky_placement() == (None, 0.0, None)
    assert check_sky_placement(np.float32(3.8), -30, 0) == (pytest.approx(3.8), -30.0, 0.0)
    with pytest.raises(TypeError, match="theta_g must be a real number"):
        check_sky_placement("3.8")
    with pytest.raises(TypeError, match="flux must be a real number"):
        check_sky_placement(3.8, 0.0, [1.0])


@pytest.mark.parametrize("theta_g", BAD_THETA_G)
def test_observe_theta_g(theta_g):
    with pytest.raises(ValueError, match=r"theta_g must be a finite number in \(0, inf\)"):
        observe(_screen(), _like(), theta_g=theta_g)
    with pytest.raises(ValueError, match=r"theta_g must be a finite number in \(0, inf\)"):
        kf.observe(_screen(), _like(), theta_g=theta_g)


@pytest.mark.parametrize("flux", BAD_FLUX)
def test_observe_flux(flux):
    with pytest.raises(ValueError, match=r"flux must be a finite number in \[0, inf\) Jy"):
        observe(_screen(), _like(), theta_g=3.8, flux=flux)


@pytest.mark.parametrize("pa", BAD_PA)
def test_observe_position_angle(pa):
    with pytest.raises(ValueError, match="position_angle must be a finite number of degrees"):
        observe(_screen(), _like(), theta_g=3.8, position_angle=pa)


def test_observe_good_values_still_work():
    out = observe(_screen(), _like(), theta_g=3.8, position_angle=-30.0, flux=0.6, noise=False)
    assert np.all(np.isfinite(out.vis.values))
    zero = observe(_screen(), _like(), theta_g=3.8, flux=0.0, noise=False)
    assert np.all(zero.vis.values == 0)


@pytest.mark.parametrize("theta_g", BAD_THETA_G)
def test_visibilities_theta_g(theta_g):
    with pytest.raises(ValueError, match=r"theta_g must be a finite number in \(0, inf\)"):
        visibilities(_screen(), [1e9], [1e9], theta_g=theta_g)


def test_visibilities_sky_image_scale_factor():
    sky = sky_image(_screen(), 3.8)
    with pytest.raises(ValueError, match=r"theta_g must be a finite number in \(0, inf\)"):
        visibilities(sky, [1e9], [1e9], theta_g=-1.0)  # would mirror the sky image


@pytest.mark.parametrize(("kw", "match"), [({"flux": -1.0}, "flux must"),
                                           ({"position_angle": math.nan}, "position_angle must")])
def test_visibilities_flux_and_pa(kw, match):
    with pytest.raises(ValueError, match=match):
        visibilities(_screen(), [1e9], [1e9], theta_g=3.8, **kw)


@pytest.mark.parametrize("theta_g", BAD_THETA_G)
def test_ring_features_theta_g(theta_g):
    with pytest.raises(ValueError, match=r"theta_g must be a finite number in \(0, inf\)"):
        ring_features(_screen(), theta_g=theta_g)
    with pytest.raises(ValueError, match=r"theta_g must be a finite number in \(0, inf\)"):
        kf.ring_features(_screen(), theta_g=theta_g)


def test_ring_features_position_angle():
    with pytest.raises(ValueError, match="position_angle must be a finite number of degrees"):
        ring_features(_screen(), theta_g=3.8, position_angle=math.nan)


@pytest.mark.parametrize("theta_g", [*BAD_THETA_G, None])
def test_sky_image_theta_g(theta_g):
    with pytest.raises(ValueError, match="theta_g"):
        sky_image(_screen(), theta_g)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kw", "match"), [({"flux": -0.5}, "flux must"),
                                           ({"position_angle": math.inf}, "position_angle must")])
def test_sky_image_flux_and_pa(kw, match):
    with pytest.raises(ValueError, match=match):
        sky_image(_screen(), 3.8, **kw)


@pytest.mark.parametrize(("kw", "match"), [({"theta_g": -3.8}, "theta_g must"),
                                           ({"theta_g": 3.8, "flux": -1.0}, "flux must"),
                                           ({"theta_g": 3.8, "position_angle": math.nan},
                                            "position_angle must")])
def test_write_fits_image(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        write_fits_image(_screen(), tmp_path / "x.fits", **kw)
    assert not (tmp_path / "x.fits").exists()


@pytest.mark.parametrize("pa", [0.0, 108.0])  # unrotated (no resampling) and resampled
def test_sky_image_coordinates_carry_units(tmp_path, pa):
    screen = kf.synthesize("ring", 0.5, 60.0, npix=12)["image"]
    sky = sky_image(screen, 3.8, pa, flux=0.5)
    back = kf.read_fits_image(write_fits_image(sky, tmp_path / "s.fits"))
    for img in (sky, back):
        assert img["ra"].attrs["units"] == "µas" and img["dec"].attrs["units"] == "µas"
        assert "east" in img["ra"].attrs["long_name"]
    if pa == 0.0:
        assert sky["alpha"].attrs["units"] == "M"
    from astropy.io import fits

    h = fits.getheader(tmp_path / "s.fits")
    assert h["THETAG"] == pytest.approx(3.8) and "[uas]" in h.comments["THETAG"]
    assert h["BHPA"] == pytest.approx(pa) and "E of N" in h.comments["BHPA"]


def test_all_nan_image_and_bad_seed_are_refused():
    sky = sky_image(kf.synthesize("ring", 0.5, 60.0, npix=12)["image"], 3.8, 0.0, flux=0.5)
    u = v = np.array([1e9, 2e9])
    with pytest.raises(ValueError, match="image: no pixel is finite"):
        kf.visibilities(sky * np.nan, u, v)
    for seed in ("a", -1, 1.5):
        with pytest.raises(TypeError, match="seed must be an int >= 0 or None"):
            kf.observe(sky, like=_like(), seed=seed)
    assert np.all(np.isfinite(kf.observe(sky, like=_like(), seed=np.int64(3)).vis))


def test_visibilities_at_an_observations_baselines():
    sky = sky_image(kf.synthesize("ring", 0.5, 60.0, npix=12)["image"], 3.8, 0.0, flux=0.5)
    like = _like()
    np.testing.assert_array_equal(kf.visibilities(sky, like),
                                  kf.visibilities(sky, like.u.values, like.v.values))
    with pytest.raises(TypeError, match="v: the v baselines"):
        kf.visibilities(sky, like.u.values)
    with pytest.raises(TypeError, match="u: give an observation Dataset"):
        kf.visibilities(sky, like, like.v.values)
