"""An observer sitting on the emission cone (issue 12, item 6).

The observer's own position (τ = 0, r = ∞) is not an image: n = 0 is the first crossing of
the cone after it. Near a pole the observer's amplitude Φ_o and the crossing amplitude
asin(u_s/√u₊) agree only to ~√eps, so the observer used to be reported as the n = 0 image
(status 0, r_s ~ 1e12 M, t_s ~ −1e12 for Cone(0.01) seen from θo = 0.01°).
"""

from __future__ import annotations

import numpy as np
import pytest

import kerrfield as kf

ALPHA, BETA = [3.0, -4.0, 6.0, 0.5], [2.0, 5.0, -1.0, -7.0]


@pytest.mark.parametrize("incl", [1e-4, 0.01, 0.5, 60.0, 120.0, 179.5])
def test_the_observer_is_not_its_own_image(incl):
    ds = kf.raytrace(0.5, incl, alpha=ALPHA, beta=BETA, orders=(0, 1, 2), surface=kf.Cone(incl))
    ok = ds.status.values == 0
    r_s, t_s = ds.r_s.values[ok], ds.t_s.values[ok]
    # a genuine crossing near the axis lies at r ~ b/θo (≈ 5.7e6 M at 1e-4°), never at ~1e12
    assert (r_s < 1e3 / np.radians(min(incl, 180.0 - incl))).all(), r_s.max()
    assert np.isfinite(t_s).all() and (t_s > -1e12).all()


@pytest.mark.julia
def test_julia_agrees_for_an_observer_on_the_cone(julia_worker):
    for incl in (0.01, 60.0):
        kw = {"alpha": ALPHA, "beta": BETA, "orders": (0, 1), "surface": kf.Cone(incl)}
        th = kf.raytrace(0.5, incl, **kw)
        jl = kf.raytrace(0.5, incl, backend="julia", **kw)
        assert (th.status.values == jl.status.values).all()
        np.testing.assert_allclose(jl.r_s.values, th.r_s.values, rtol=1e-10)
