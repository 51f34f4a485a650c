"""Visibilities against closed-form transforms, the phase sign, NUFFT and ehtim."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch
import xarray as xr
from scipy.special import i0e, j0, j1, roots_legendre

from kerrfield.io.sky import MUAS_TO_RAD
from kerrfield.io.skyfits import write_fits_image
from kerrfield.vlbi.ehtim_io import to_ehtim
from kerrfield.vlbi.nufft import nufft
from kerrfield.vlbi.visibilities import dft, visibilities

N, FOV = 128, 200.0  # pixels, µas: 1.5625 µas pixels
X = (np.arange(N) - N / 2) * (FOV / N)
SIGMA, RADIUS = 5.0, 20.0  # µas; σ/pixel = 3.2, well sampled


def _sky(values):
    return xr.DataArray(values, dims=("dec", "ra"), coords={"dec": X, "ra": X})


def _r():
    ra, dec = np.meshgrid(X, X)
    return np.hypot(ra, dec)


def _gaussian():
    r = _r()
    return np.exp(-(r**2) / (2 * SIGMA**2)) / (2 * np.pi * SIGMA**2)


def _ring():
    """Thin ring of radius R convolved with a circular Gaussian σ (unit flux)."""
    r = _r()
    return np.exp(-((r - RADIUS) ** 2) / (2 * SIGMA**2)) * i0e(r * RADIUS / SIGMA**2) / (
        2 * np.pi * SIGMA**2)


def _disk():
    """Uniform disk of radius R convolved with a circular Gaussian σ (unit flux)."""
    x, w = roots_legendre(200)
    rp = 0.5 * RADIUS * (x + 1)
    r = _r()[..., None]
    kern = rp / SIGMA**2 * np.exp(-((r - rp) ** 2) / (2 * SIGMA**2)) * i0e(r * rp / SIGMA**2)
    return (kern * (0.5 * RADIUS * w)).sum(-1) / (np.pi * RADIUS**2)


def _uv(n=600, qmax=12e9, seed=0):
    rng = np.random.default_rng(seed)
    q, ph = rng.uniform(0, qmax, n), rng.uniform(0, 2 * np.pi, n)
    return q * np.cos(ph), q * np.sin(ph), q * MUAS_TO_RAD


GAUSS_FT = np.exp(-2 * np.pi**2 * SIGMA**2 * _uv()[2] ** 2)
TRUTH = {
    "gaussian": (_gaussian, GAUSS_FT),
    "ring": (_ring, j0(2 * np.pi * RADIUS * _uv()[2]) * GAUSS_FT),
    "disk": (_disk, 2 * j1(2 * np.pi * RADIUS * _uv()[2]) / (2 * np.pi * RADIUS * _uv()[2])
             * GAUSS_FT),
}


@pytest.mark.parametrize("name", sorted(TRUTH))
@pytest.mark.parametrize("method", ["dft", "nufft"])
def test_closed_form_transforms(name, method):
    make, truth = TRUTH[name]
    u, v, _ = _uv()
    img = make() * (FOV / N) ** 2  # Jy per pixel, point samples of the intensity
    vis = visibilities(_sky(img), u, v, pixel="delta", method=method)
    assert np.max(np.abs(vis - truth)) <= 1e-6  # relative to the total flux (1 Jy)


def test_point_east_phase_sign():
    img = np.zeros((N, N))
    i = N // 2 + 10  # ra = +15.625 µas: east of the centre
    img[N // 2, i] = 2.0
    u = np.array([1e9, 3e9, 0.0])
    v = np.array([0.0, 0.0, 2e9])
    vis = visibilities(_sky(img), u, v, pixel="delta")
    np.testing.assert_allclose(np.angle(vis[:2]), np.angle(np.exp(
        2j * np.pi * u[:2] * X[i] * MUAS_TO_RAD)), atol=1e-12)
    assert np.angle(vis[0]) > 0 and abs(vis[2] - 2.0) < 1e-12  # kernel exp(+2πi u x)


def test_screen_image_theta_g_and_pa():
    """A point on the spin axis (+β) at PA = 90° lands east, θ_g·β µas from the centre."""
    a = np.linspace(-10, 10, 21)
    img = xr.DataArray(np.zeros((21, 21)), dims=("beta", "alpha"),
                       coords={"beta": a, "alpha": a})
    img.loc[{"beta": 5.0, "alpha": 0.0}] = 1.0
    u, v, _ = _uv(50)
    vis = visibilities(img, u, v, theta_g=4.0, position_angle=90.0, pixel="delta")
    np.testing.assert_allclose(vis, np.exp(2j * np.pi * u * 20.0 * MUAS_TO_RAD), atol=1e-12)
    with pytest.raises(ValueError, match="theta_g"):
        visibilities(img, u, v)


def test_pixel_response_and_flux():
    img = np.zeros((N, N))
    img[N // 2, N // 2] = 3.0
    u, v, _ = _uv(20)
    d = FOV / N * MUAS_TO_RAD
    box = visibilities(_sky(img), u, v, flux=1.5)
    np.testing.assert_allclose(box, 1.5 * np.sinc(u * d) * np.sinc(v * d), atol=1e-12)
    tri = visibilities(_sky(img), u, v, pixel="triangle")
    np.testing.assert_allclose(tri, 3 * (np.sinc(u * d) * np.sinc(v * d)) ** 2, atol=1e-12)


def test_nufft_gradients_match_dft():
    rng = np.random.default_rng(1)
    img = torch.tensor(rng.random((32, 24)), requires_grad=True)
    a, b = torch.linspace(-40, 40, 24, dtype=torch.float64), torch.linspace(-50, 50, 32,
                                                                           dtype=torch.float64)
    u, v, _ = (torch.tensor(x) for x in _uv(300, 9e9, seed=2))
    tg = torch.tensor(3.8, dtype=torch.float64, requires_grad=True)
    pa = torch.tensor(200.0, dtype=torch.float64, requires_grad=True)
    from kerrfield.io.sky import sky_matrix

    weights = torch.tensor(rng.normal(size=300) + 1j * rng.normal(size=300))
    grads = []
    for f in (dft, nufft):
        out = f(img, a / 3.8, b / 3.8, u, v, matrix=sky_matrix(tg, pa))
        loss = (out * weights).real.sum() + (out.abs() ** 2).sum()
        grads.append(torch.autograd.grad(loss, (img, tg, pa)))
    for gd, gn in zip(*grads, strict=True):
        torch.testing.assert_close(gn, gd, rtol=1e-8, atol=1e-8)


def test_bad_input():
    u = np.array([1e9])
    with pytest.raises(ValueError, match="dims"):
        visibilities(xr.DataArray(np.ones((2, 2)), dims=("y", "z")), u, u)
    with pytest.raises(ValueError, match="pixel scale"):
        visibilities(xr.DataArray(np.ones((2, 2)), dims=("dec", "ra")), u, u)
    with pytest.raises(ValueError, match="method"):
        visibilities(_sky(_gaussian()), u, u, method="fft")
    with pytest.raises(ValueError, match="pixel"):
        visibilities(_sky(_gaussian()), u, u, pixel="gauss")
    with pytest.raises(ValueError, match="u"):
        visibilities(_sky(_gaussian()), [np.nan], u)


def _ring_fits(m87_obs, tmp_path):
    rng = np.random.default_rng(3)
    img = _sky(_ring() * (FOV / N) ** 2 * (1 + 0.3 * rng.random((N, N))))
    X0 = (np.arange(N) - (N - 1) / 2) * (FOV / N)  # ehtim's centred grid
    img = img.assign_coords(ra=X0[::-1], dec=X0)
    path = write_fits_image(img, tmp_path / "ring.fits", source="M87",
                            ra=m87_obs.attrs["ra"], dec=m87_obs.attrs["dec"],
                            frequency=m87_obs.attrs["frequency"], mjd=m87_obs.attrs["mjd"])
    return img, path, m87_obs.isel(row=slice(0, 400))


def test_fits_path(m87_obs, tmp_path):
    img, path, sub = _ring_fits(m87_obs, tmp_path)
    ours = visibilities(path, sub.u, sub.v, pixel="triangle")
    np.testing.assert_allclose(ours, visibilities(img, sub.u, sub.v, pixel="triangle"),
                               atol=1e-13)


def test_agrees_with_ehtim_direct_ft(m87_obs, tmp_path, eh):
    """ehtim's direct FT (triangle pulse) of the same FITS file at the same (u, v)."""
    img, path, sub = _ring_fits(m87_obs, tmp_path)
    ours = visibilities(path, sub.u, sub.v, pixel="triangle")
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
        im = eh.image.load_fits(str(path))
        obs = to_ehtim(sub)
        theirs = im.observe_same_nonoise(obs, ttype="direct").data["vis"]
    assert np.max(np.abs(theirs - ours)) <= 1e-6 * float(img.sum())


def test_unresolving_baselines_warn():
    """u, v in metres or Gλ (or offsets in radians) make every V the total flux: said."""
    import warnings

    import xarray as xr

    from kerrfield.vlbi import visibilities

    x = np.linspace(-40.0, 40.0, 16)
    img = xr.DataArray(np.ones((16, 16)), dims=("dec", "ra"), coords={"dec": x, "ra": x[::-1]})
    u_wavelengths = np.array([2e9, 6e9])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        visibilities(img, u_wavelengths, np.zeros(2))  # resolved: no warning
        visibilities(img, np.zeros(1), np.zeros(1))  # the zero spacing alone: no warning
    for u in (u_wavelengths / 1e9, u_wavelengths * 1.3e-3):  # Gλ, metres at 1.3 mm
        with pytest.warns(UserWarning, match=r"does not resolve the image \(80 µas across\)"):
            vis = visibilities(img, u, np.zeros(2))
        np.testing.assert_allclose(vis.real, img.sum().item(), rtol=1e-2)
