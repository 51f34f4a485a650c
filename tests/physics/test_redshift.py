"""The redshift g against closed forms (ZAMO; Keplerian, including the plunge inside the
ISCO) and the limits of the general velocity model."""

from __future__ import annotations

import numpy as np

import kerrfield as kf


def _zamo_closed_form(a, r, lam):
    sig, delta = r * r, r * r - 2 * r + a * a
    big_a = (r * r + a * a) ** 2 - a * a * delta
    return np.sqrt(sig * delta / big_a) / (1 - 2 * a * r / big_a * lam)


def _kepler_closed_form(a, r, lam, eta, nu_r):
    """BPT 1972 eq. 2.15 outside the ISCO; Cunningham plunge (u^r = −√(2/3r_i)(r_i/r − 1)^{3/2})."""
    ri = kf.isco(a)
    out = np.empty_like(r)
    o = r >= ri
    ro = r[o]
    ut = (ro**1.5 + a) / (ro**0.75 * np.sqrt(ro**1.5 - 3 * ro**0.5 + 2 * a))
    out[o] = 1.0 / (ut * (1 - lam[o] / (ro**1.5 + a)))
    ri_, rr, la = ri, r[~o], lam[~o]
    delta = rr * rr - 2 * rr + a * a
    ell = (ri_**2 + a * a - 2 * a * np.sqrt(ri_)) / (ri_**1.5 - 2 * np.sqrt(ri_) + a)
    gam = np.sqrt(1 - 2 / (3 * ri_))
    h = (2 * rr - a * ell) / delta
    ut = gam * (1 + 2 / rr * (1 + h))
    uphi = gam * (ell + a * h) / rr**2
    ur = -np.sqrt(2 / (3 * ri_)) * (ri_ / rr - 1) ** 1.5
    big_r = (rr * rr + a * a - a * la) ** 2 - delta * (eta[~o] + (la - a) ** 2)
    pr = nu_r[~o] * np.sqrt(big_r) / delta
    out[~o] = 1.0 / (ut - la * uphi - pr * ur)
    return out


def test_redshift_against_closed_forms_including_plunge():
    a = 0.7
    for velocity in ("zamo", "keplerian"):
        ds = kf.raytrace(a, 25.0, npix=40, fov=8.0, orders=(0, 1), velocity=velocity)
        ok = (ds.status == 0).values
        r = ds.r_s.values[ok]
        lam = np.broadcast_to(ds.lam.values, ds.r_s.shape)[ok]
        eta = np.broadcast_to(ds.eta.values, ds.r_s.shape)[ok]
        if velocity == "zamo":
            ref = _zamo_closed_form(a, r, lam)
        else:
            ref = _kepler_closed_form(a, r, lam, eta, ds.nu_r.values[ok])
            assert (r < kf.isco(a)).sum() > 20  # plunging emitters are exercised
        np.testing.assert_allclose(ds.g.values[ok], ref, rtol=1e-10)


def test_general_velocity_limits():
    base = dict(npix=16, fov=8.0, orders=(0, 1))
    kep = kf.raytrace(0.5, 30.0, velocity="keplerian", **base)
    gen = kf.raytrace(0.5, 30.0, velocity=kf.GeneralVelocity(1.0, 1.0, 1.0), **base)
    np.testing.assert_allclose(gen.g.values, kep.g.values, rtol=1e-12)
    sub = kf.raytrace(0.5, 30.0, velocity=kf.GeneralVelocity(0.7, 0.3, 0.6), **base)
    assert np.isfinite(sub.g.where(sub.status == 0)).sum() == (sub.status == 0).sum()
    assert sub.attrs["velocity"] == "general" and sub.attrs["velocity_xi"] == 0.7
