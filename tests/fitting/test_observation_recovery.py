"""Synthetic recovery of θ_g and the spin axis' position angle from closure quantities.

A Kerr-lensed Krang disk, observed with the EHT 2017 April 6 (hi) coverage and thermal σ,
is fitted from a neutral start (an MLP pre-trained to a different disk, θ_g and PA from a
grid of starts that is not centred on the truth) by the same multi-start procedure as
``benchmarks/bench_m87_fit.py`` (4 θ_g × 8 PA starts, successive halving, two finalists), on
a smaller screen (32²) and with fewer steps. The truth is
rendered on a finer screen than the model's. Issue 11 asks for θ_g within 5 %, the PA within
10° and a normalised cross-correlation ≥ 0.9 of the 20 µas-blurred images.

The fit uses the real-data defaults: visibilities averaged coherently over each scan, and
the intra-site baselines (< 0.1 Gλ) left out. With the 10 s records instead, the same
procedure missed θ_g by 4-6 % and the PA by 2-3° (docs/vlbi.md).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter

import kerrfield as kf
from kerrfield.fitting.observation import Axisymmetric, fit_observation, match_emission
from kerrfield.models.synthetic import AnalyticEmission
from kerrfield.vlbi import observe, sky_image

TRUE_THETA_G, TRUE_PA = 3.5, 130.0  # µas per M, degrees east of north (not the benchmark's)


def _ncc_blurred(a, b, fwhm: float = 20.0) -> float:
    s = fwhm / (2 * np.sqrt(2 * np.log(2))) / abs(float(a.dec[1] - a.dec[0]))
    x, y = gaussian_filter(a.values, s), gaussian_filter(b.values, s)
    x, y = x - x.mean(), y - y.mean()
    return float(np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y)))


@pytest.fixture(scope="module")
def recovery(m87_obs):
    torch.manual_seed(0)
    fine = kf.raytrace(0.94, 163.0, fov=8.0, npix=48, orders=(0, 1), velocity="keplerian")
    disk = AnalyticEmission("disk", R=4.0, p1=3.0, p2=3.5)
    truth = kf.fixed_image_model(disk, fine, k=3.0).to_xarray()
    data = observe(truth, like=m87_obs, theta_g=TRUE_THETA_G, position_angle=TRUE_PA,
                   flux=0.6, seed=3)
    geo = kf.raytrace(0.94, 163.0, fov=8.0, npix=32, orders=(0, 1), velocity="keplerian")
    field = Axisymmetric(kf.EmissionField(in_features=2, width=32, depth=2, scale=10.0,
                                          seed=0))
    match_emission(field, AnalyticEmission("disk", R=5.0, p1=3.0, p2=3.0), steps=150,
                   npts=32)
    res = fit_observation(kf.fixed_image_model(field, geo, k=3.0), data,
                          theta_g=[2.8, 3.4, 4.0, 4.6], position_angle=np.arange(0.0, 360.0, 45.0),
                          steps=300, scout_steps=30, scout_rounds=2, finalists=2, sky_lr=0.01,
                          systematic=0.02, method="nufft")
    return res, truth


def test_theta_g_and_position_angle_recovered(recovery):
    res, _ = recovery
    s = res.summary(ring=False)
    assert abs(s["theta_g_uas"] / TRUE_THETA_G - 1.0) <= 0.05, s["theta_g_uas"]
    d_pa = (s["position_angle_deg"] - TRUE_PA + 180.0) % 360.0 - 180.0
    assert abs(d_pa) <= 10.0, s["position_angle_deg"]
    assert s["chi2_cphase"] < 2.0 and s["chi2_lcamp"] < 2.0, s
    assert len(res.scouts) == 32


def test_blurred_image_recovered(recovery):
    res, truth = recovery
    true_sky = sky_image(truth, TRUE_THETA_G, TRUE_PA, 0.6, npix=64, fov=100.0)
    assert _ncc_blurred(res.sky_image(npix=64, fov=100.0), true_sky) >= 0.9
