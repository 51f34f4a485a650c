"""Synthetic targets: analytic formulas, recorded truth, seeded noise, beam, netCDF."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import xarray as xr

import kerrfield as kf

F64 = torch.float64


def test_analytic_formulas():
    pts = torch.tensor([[3.0, 4.0], [0.0, 7.0], [-1.0, 0.0]], dtype=F64)
    r = np.array([5.0, 7.0, 1.0])
    ring = kf.AnalyticEmission("ring", radius=6.0, width=0.8)(pts).numpy()
    np.testing.assert_allclose(ring, np.exp(-((r - 6.0) ** 2) / (2 * 0.64)))
    disk = kf.AnalyticEmission("disk", R=4.0, p1=2.0, p2=5.0)(pts).numpy()
    s = r / 4.0
    np.testing.assert_allclose(disk, s**2 / (1 + s**7))
    spot = kf.AnalyticEmission("hotspot", radius=5.0, phase=90.0, sigma=2.0)(pts).numpy()
    d2 = (pts[:, 0].numpy() - 0.0) ** 2 + (pts[:, 1].numpy() - 5.0) ** 2
    np.testing.assert_allclose(spot, np.exp(-d2 / 8.0), atol=1e-15)


@pytest.mark.parametrize("family", ["mlp", "ring", "disk", "hotspot"])
def test_synthesize_records_truth_and_round_trips(tmp_path, tracer, family):
    ds = kf.synthesize(family, 0.6, 35.0, npix=12, fov=9.0, seed=4)
    assert ds.image.dims == ("beta", "alpha") and ds.image.shape == (12, 12)
    assert ds.alpha.attrs["units"] == "M" and ds.alpha.values[-1] == 9.0
    assert ds.attrs["spin"] == pytest.approx(0.6)
    assert ds.attrs["inclination"] == pytest.approx(35.0)
    assert ds.attrs["emission_family"] == family and ds.attrs["seed"] == 4
    assert float(ds.image.sum()) > 0 and np.isfinite(ds.image).all()
    path = tmp_path / "t.nc"
    ds.to_netcdf(path)
    back = xr.load_dataset(path)
    # the recorded truth rebuilds the emission that made the clean image
    truth = kf.truth_emission(back)
    img = kf.render(truth, back.attrs["spin"], back.attrs["inclination"], fov=9.0, npix=12)
    np.testing.assert_allclose(img.values, back.clean.values, rtol=1e-10, atol=1e-14)


def test_noise_is_seeded_and_has_requested_sigma(tracer):
    a = kf.synthesize("ring", 0.5, 30.0, npix=40, noise=0.05, seed=1)
    b = kf.synthesize("ring", 0.5, 30.0, npix=40, noise=0.05, seed=1)
    c = kf.synthesize("ring", 0.5, 30.0, npix=40, noise=0.05, seed=2)
    np.testing.assert_array_equal(a.image.values, b.image.values)
    assert not np.allclose(a.image.values, c.image.values)
    sigma = 0.05 * float(a.clean.max())
    assert a.attrs["noise_sigma"] == pytest.approx(sigma)
    resid = (a.image - a.clean).values
    assert np.std(resid) == pytest.approx(sigma, rel=0.1)
    assert np.allclose(a.sigma.values, sigma)
    # noise_seed: another noise draw of the same MLP emission (the clean image unchanged)
    m1 = kf.synthesize("mlp", 0.5, 30.0, npix=16, noise=0.05, seed=0)
    m2 = kf.synthesize("mlp", 0.5, 30.0, npix=16, noise=0.05, seed=0, noise_seed=7)
    np.testing.assert_array_equal(m1.clean.values, m2.clean.values)
    assert not np.allclose(m1.image.values, m2.image.values)
    assert (m1.attrs["noise_seed"], m2.attrs["noise_seed"]) == (0, 7)


def test_blur_conserves_flux_and_lowers_peak(tracer):
    sharp = kf.synthesize("hotspot", 0.5, 30.0, npix=48, emission_params={"sigma": 0.7})
    blurred = kf.synthesize("hotspot", 0.5, 30.0, npix=48, blur_fwhm=3.0,
                            emission_params={"sigma": 0.7})
    assert blurred.attrs["blur_fwhm"] == 3.0
    assert float(blurred.image.max()) < 0.7 * float(sharp.image.max())
    assert float(blurred.image.sum()) == pytest.approx(float(sharp.image.sum()), rel=0.02)
    # second moment grows by the beam variance (sigma_b = FWHM / 2.355) in each axis
    def var(img):
        w = img.values / img.values.sum()
        a = img.alpha.values[None, :]
        m = (w * a).sum()
        return (w * (a - m) ** 2).sum()
    sb = 3.0 / (2 * math.sqrt(2 * math.log(2)))
    assert var(blurred.image) - var(sharp.image) == pytest.approx(sb**2, rel=0.1)


def test_mlp_target_is_krang_mlp_with_recorded_seed(tracer):
    ds = kf.synthesize("mlp", 0.94, 20.0, npix=8, seed=9)
    cfg = json.loads(ds.attrs["emission_params"])["field_config"]
    assert cfg["seed"] == 9 and (cfg["width"], cfg["depth"]) == (20, 2)
    assert (cfg["activation"], cfg["output"]) == ("tanh", "sigmoid")
    other = kf.synthesize("mlp", 0.94, 20.0, npix=8, seed=10)
    assert not np.allclose(ds.image.values, other.image.values)


def test_bad_arguments(tracer):
    with pytest.raises(ValueError, match="unknown emission family 'blob'"):
        kf.synthesize("blob", npix=8)
    with pytest.raises(TypeError, match="radiu"):
        kf.synthesize("ring", npix=8, emission_params={"radiu": 3})
    with pytest.raises(ValueError, match="noise"):
        kf.synthesize("ring", npix=8, noise=-1.0)
    with pytest.raises(TypeError, match="emission"):
        kf.synthesize(3.0, npix=8)


def test_gaussian_beam_refuses_a_degenerate_pixel_spacing():
    img = torch.zeros(5, 5, dtype=torch.float64)
    for args, name in (((2.0, 0.0, 1.0), "dbeta"), ((2.0, 1.0, float("nan")), "dalpha")):
        with pytest.raises(ValueError, match=f"{name} must be a finite, non-zero pixel "):
            kf.gaussian_beam(img, *args)
    with pytest.raises(ValueError, match="beam FWHM must be >= 0"):
        kf.gaussian_beam(img, -1.0, 1.0, 1.0)
