"""Ray tracer against an independent numerical integration, closed forms and symmetries."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import xarray as xr
from support.reference import trace_numeric

import kerrfield as kf
from kerrfield.io.atomic import write_netcdf

# (spin, inclination, surface opening angle); includes a = 0, a ≥ 0.99, θo < 5°, a < 0, cones
GEOMETRIES = [
    (0.0, 40.0, 90.0),
    (0.99, 3.0, 90.0),
    (-0.7, 75.0, 90.0),
    (0.9, 45.0, 60.0),
    (0.3, 20.0, 120.0),
]


def _rays(seed: int, n: int = 22) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # mostly near the photon ring so that n = 1, 2 images and both sides of the critical
    # curve are well represented; plus points on β = 0. (Rays with α = 0 pass exactly over a
    # pole, where the reference ODE cannot follow the jump of φ by π: tested separately.)
    rad = np.concatenate([rng.uniform(2.0, 9.0, n - 4), [0.5, 3.0, 5.5, 7.0]])
    ang = np.concatenate(
        [rng.uniform(0, 2 * np.pi, n - 4), [0.0, np.pi / 2 + 0.2, np.pi, 3 * np.pi / 2 - 0.2]]
    )
    return rad * np.cos(ang), rad * np.sin(ang)


@pytest.mark.parametrize("spin,incl,ths", GEOMETRIES)
def test_against_numerical_geodesic_integration(spin, incl, ths):
    al, be = _rays(int(100 * abs(spin) + incl))
    surface = "equatorial" if ths == 90.0 else kf.Cone(ths)
    out = kf.trace_rays(
        spin, incl, torch.tensor(al), torch.tensor(be), orders=(0, 1, 2), surface=surface
    )
    counts = {0: 0, 1: 0}
    t_ana, t_num = [], []
    for i in range(al.size):
        ref = trace_numeric(spin, incl, al[i], be[i], ths, nmax=2)
        for n in range(3):
            st, r_ref, phi_ref, t_ref = ref[n]
            assert int(out["status"][n, i]) == st, (al[i], be[i], n)
            if st == 0:
                r = float(out["r_s"][n, i])
                tol = 1e-8 if n <= 1 else 1e-7
                assert r == pytest.approx(r_ref, rel=tol), (al[i], be[i], n)
                # near-polar rays (θo = 3°) are stiff for the reference ODE: φ agrees to ~1e-7
                assert float(out["phi_s"][n, i]) == pytest.approx(phi_ref, abs=1e-6)
                t_ana.append(float(out["t_s"][n, i]))
                t_num.append(t_ref)
                counts[min(n, 1)] += 1
    assert counts[0] >= 10 and counts[1] >= 3, counts
    # time delays: the reference integrates the regularised t directly (its own accuracy ~1e-9)
    assert np.max(np.abs(np.array(t_ana) - np.array(t_num))) < 1e-6
    statuses = set(out["status"].flatten().tolist())
    assert {0, 1} <= statuses  # rays inside and outside the critical curve


# vortical rays (η < 0) on cones of the observer's hemisphere: (spin, inclination, cone,
# extra pixels). The extras were picked from a scan of the η < 0 region as rays that cross the
# cone twice (a turning point of θ just beyond θs) before falling in: n = 1 images exist.
VORTICAL_GEOMETRIES = [
    (0.94, 30.0, 20.0, [(-0.5264, 0.4559), (0.5828, 0.5373), (-0.6204, 0.5861)]),
    (0.94, 30.0, 40.0, []),
    (-0.7, 150.0, 160.0, []),
    (-0.7, 150.0, 140.0, []),
    (0.99, 20.0, 10.0, [(-0.2772, 0.3721), (0.396, 0.7814), (0.1782, 0.9117)]),
]


def _vortical_rays(spin: float, incl: float, seed: int, n: int = 16):
    """Screen points with η < 0: |α| < |a|, β² < (a² − α²)cos²θo."""
    rng = np.random.default_rng(seed)
    co = abs(math.cos(math.radians(incl)))
    al = rng.uniform(-0.95, 0.95, n) * abs(spin)
    be = rng.uniform(-0.95, 0.95, n) * np.sqrt(spin * spin - al * al) * co
    return al, be


@pytest.mark.parametrize("spin,incl,ths,extra", VORTICAL_GEOMETRIES)
def test_vortical_rays_on_cones_against_numerical_integration(spin, incl, ths, extra):
    al, be = _vortical_rays(spin, incl, int(10 * ths + 100 * abs(spin)))
    if extra:
        al = np.concatenate([al, [p[0] for p in extra]])
        be = np.concatenate([be, [p[1] for p in extra]])
    out = kf.trace_rays(
        spin, incl, torch.tensor(al), torch.tensor(be), orders=(0, 1, 2), surface=kf.Cone(ths)
    )
    assert bool((out["eta"] < 0).all())
    counts = {s: 0 for s in range(4)}
    n1 = 0
    for i in range(al.size):
        ref = trace_numeric(spin, incl, al[i], be[i], ths, nmax=2)
        for n in range(3):
            st, r_ref, phi_ref, t_ref = ref[n]
            assert int(out["status"][n, i]) == st, (al[i], be[i], n)
            counts[st] += 1
            if st == 0:
                n1 += n >= 1
                assert float(out["r_s"][n, i]) == pytest.approx(r_ref, rel=1e-8), (al[i], be[i])
                assert float(out["phi_s"][n, i]) == pytest.approx(phi_ref, abs=1e-7)
                # as in the test above; vortical rays near the case 3/4 boundary (r₁ ≈ r₂,
                # both inside the horizon) lose up to ~3e-7 in the radial part of t_s
                assert float(out["t_s"][n, i]) == pytest.approx(t_ref, abs=1e-6)
    # both crossing and non-crossing vortical rays, and all n = 1 images picked above
    assert counts[0] >= 2 and counts[1] >= 3, counts
    assert n1 >= len(extra), n1


def test_vortical_rays_miss_the_equator_and_the_other_hemisphere():
    al, be = _vortical_rays(0.9, 40.0, 7, n=30)
    for surface in ("equatorial", kf.Cone(130.0)):
        out = kf.trace_rays(0.9, 40.0, torch.tensor(al), torch.tensor(be), surface=surface)
        assert bool((out["status"] == 3).all()), surface
    out = kf.trace_rays(0.9, 40.0, torch.tensor(al), torch.tensor(be), surface=kf.Cone(50.0))
    assert int((out["status"][0] == 0).sum()) >= 3


def test_vortical_ray_over_the_pole_is_continuous():
    """α = 0 (λ = 0): a vortical ray passes over the pole; it agrees with α = ±1e-9."""
    be = torch.linspace(-0.6, 0.6, 9, dtype=torch.float64)  # |β| < |a| cos θo: η < 0
    zero = torch.zeros_like(be)
    on = kf.trace_rays(0.94, 30.0, zero, be, orders=(0, 1), surface=kf.Cone(20.0))
    assert bool((on["eta"] < 0).all()) and int((on["status"] == 0).sum()) >= 3
    for d in (1e-9, -1e-9, 1e-6):
        off = kf.trace_rays(0.94, 30.0, zero + d, be, orders=(0, 1), surface=kf.Cone(20.0))
        assert torch.equal(on["status"], off["status"])
        for v in ("r_s", "x", "y", "g", "t_s"):
            diff = torch.nan_to_num((on[v] - off[v]).abs(), nan=0.0)
            assert float(diff.max()) < 1e-5 * (1.0 + 1e3 * abs(d)), (v, d)


def test_schwarzschild_critical_curve_and_shadow():
    al, be = kf.critical_curve(0.0, 37.0, 64)
    assert np.allclose(np.hypot(al, be), math.sqrt(27.0), rtol=1e-12)
    # rays just inside √27 fall in, just outside escape after one crossing (n = 1 missing)
    b = math.sqrt(27.0)
    out = kf.trace_rays(
        0.0,
        37.0,
        torch.tensor([b - 1e-3, b + 1e-3]),
        torch.zeros(2, dtype=torch.float64),
        orders=(0,),
    )
    assert out["status"][0].tolist() == [0, 0]
    out = kf.trace_rays(
        0.0,
        37.0,
        torch.tensor([b - 1e-3, b + 1e-3]),
        torch.zeros(2, dtype=torch.float64),
        orders=(6,),
    )
    assert out["status"][0].tolist() == [1, 2]
    # Kerr critical curve: points on it are marginal between falling in and escaping
    al, be = kf.critical_curve(0.9, 60.0, 32)
    idx = slice(3, 13)
    inner = kf.trace_rays(
        0.9, 60.0, torch.tensor(al[idx] * 0.999), torch.tensor(be[idx] * 0.999), orders=(6,)
    )
    outer = kf.trace_rays(
        0.9, 60.0, torch.tensor(al[idx] * 1.001), torch.tensor(be[idx] * 1.001), orders=(6,)
    )
    assert set(inner["status"].flatten().tolist()) == {1}
    assert set(outer["status"].flatten().tolist()) == {2}


def test_spin_to_zero_is_continuous():
    a0 = kf.raytrace(0.0, 50.0, npix=21, orders=(0, 1))
    a1 = kf.raytrace(1e-9, 50.0, npix=21, orders=(0, 1))
    assert (a0.status == a1.status).all()
    for v in ("r_s", "phi_s", "t_s", "g"):
        # near the photon ring ∂/∂a reaches ~1e3, so a change of a by 1e-9 moves values ~1e-6
        assert np.nanmax(np.abs(a0[v] - a1[v])) < 1e-5, v


def test_mirror_symmetries():
    ds = kf.raytrace(0.8, 35.0, npix=24, orders=(0, 1))
    neg = kf.raytrace(-0.8, 35.0, npix=24, orders=(0, 1))
    flipped = neg.isel(alpha=slice(None, None, -1))
    assert (ds.status.values == flipped.status.values).all()
    for v in ("r_s", "g"):  # ZAMO g is mirror symmetric too
        np.testing.assert_allclose(ds[v].values, flipped[v].values, rtol=1e-10, atol=1e-12)
    # t_s (closed-form regularisation in every root case): measured 1e-13 relative, 4.5e-11 M
    np.testing.assert_allclose(ds.t_s.values, flipped.t_s.values, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ds.phi_s.values, -flipped.phi_s.values, rtol=1e-10, atol=1e-12)
    below = kf.raytrace(0.8, 145.0, npix=24, orders=(0, 1)).isel(beta=slice(None, None, -1))
    assert (ds.status.values == below.status.values).all()
    np.testing.assert_allclose(ds.r_s.values, below.r_s.values, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ds.g.values, below.g.values, rtol=1e-10, atol=1e-12)


def test_axes_through_zero_give_values_not_artefacts():
    ds = kf.raytrace(0.6, 30.0, npix=33, fov=9.0, orders=(0, 1))
    row = ds.sel(beta=0.0)
    col = ds.sel(alpha=0.0)
    assert int((row.status.sel(n=0) == 0).sum()) > 20 and int((col.status.sel(n=0) == 0).sum()) > 20
    # β = 0 (observer at a polar turning point) and α = 0 (rays over a pole) agree with rays
    # displaced by 1e-9 M, in position (x, y), radius and redshift
    line = torch.linspace(-9, 9, 33, dtype=torch.float64)
    zero = torch.zeros_like(line)
    for al, be, d_al, d_be in ((line, zero, 0.0, 1e-9), (zero, line, 1e-9, 0.0)):
        on = kf.trace_rays(0.6, 30.0, al, be, orders=(0, 1))
        off = kf.trace_rays(0.6, 30.0, al + d_al, be + d_be, orders=(0, 1))
        assert torch.equal(on["status"], off["status"])
        assert int((on["status"] == 0).sum()) > 20
        for v in ("r_s", "x", "y", "g"):
            # direct image only: n = 1 pixels at a lensing-band edge have ∂r/∂β ~ 1e4
            diff = (on[v][0] - off[v][0]).abs()
            assert float(torch.nan_to_num(diff, nan=0.0).max()) < 1e-6, v


def test_gradients_through_the_ray_tracer():
    ang = torch.linspace(0.1, 2 * math.pi, 16, dtype=torch.float64)[:-1]
    cand_a, cand_b = 5.6 * torch.cos(ang), 5.6 * torch.sin(ang)
    base = kf.trace_rays(0.6, 40.0, cand_a, cand_b, orders=(0, 1))
    keep = (base["status"] == 0).all(dim=0)
    assert int(keep.sum()) >= 4  # pixels with a first photon-ring image (n = 1)
    al, be = cand_a[keep][:4], cand_b[keep][:4]

    def f(spin, incl, a_, b_):
        out = kf.trace_rays(spin, incl, a_, b_, orders=(0, 1), velocity="keplerian")
        return torch.cat([out[k].flatten() for k in ("r_s", "phi_ks", "x", "y", "g")])

    args = (
        torch.tensor(0.6, dtype=torch.float64, requires_grad=True),
        torch.tensor(40.0, dtype=torch.float64, requires_grad=True),
        al.clone().requires_grad_(),
        be.clone().requires_grad_(),
    )
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-6, rtol=1e-4)


def test_gradients_through_vortical_rays():
    # η < 0 pixels with n = 0 and n = 1 images on the cone θs = 20° (see VORTICAL_GEOMETRIES)
    al = torch.tensor([-0.5264, 0.5828, -0.6204], dtype=torch.float64)
    be = torch.tensor([0.4559, 0.5373, 0.5861], dtype=torch.float64)

    def f(spin, incl, a_, b_):
        out = kf.trace_rays(
            spin, incl, a_, b_, orders=(0, 1), surface=kf.Cone(20.0), velocity="keplerian"
        )
        assert bool((out["status"] == 0).all()) and bool((out["eta"] < 0).all())
        # (t_s carries ~1e-9 of regularisation noise: too rough for finite differences)
        return torch.cat([out[k].flatten() for k in ("r_s", "phi_ks", "x", "g")])

    args = (
        torch.tensor(0.94, dtype=torch.float64, requires_grad=True),
        torch.tensor(30.0, dtype=torch.float64, requires_grad=True),
        al.clone().requires_grad_(),
        be.clone().requires_grad_(),
    )
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True)


def test_full_image_gradients_are_finite():
    n = 25  # odd: the screen centre has η < 0 (status 3)
    axis = torch.linspace(-10, 10, n, dtype=torch.float64)
    bb, aa = torch.meshgrid(axis, axis, indexing="ij")
    spin = torch.tensor(0.5, dtype=torch.float64, requires_grad=True)
    incl = torch.tensor(60.0, dtype=torch.float64, requires_grad=True)
    out = kf.trace_rays(spin, incl, aa.flatten(), bb.flatten(), orders=(0, 1), velocity="keplerian")
    assert {1, 2, 3} <= set(out["status"].flatten().tolist())
    ok = out["status"] == 0
    img = torch.where(ok, out["g"] * torch.exp(-out["r_s"] / 5), torch.zeros_like(out["g"])).sum()
    img.backward()
    assert torch.isfinite(spin.grad) and torch.isfinite(incl.grad)
    assert spin.grad != 0 and incl.grad != 0
    # a cone image whose centre is vortical (η < 0) and partly reaches the cone (status 0)
    axis = torch.linspace(-3, 3, n, dtype=torch.float64)
    bb, aa = torch.meshgrid(axis, axis, indexing="ij")
    spin = torch.tensor(0.94, dtype=torch.float64, requires_grad=True)
    incl = torch.tensor(30.0, dtype=torch.float64, requires_grad=True)
    out = kf.trace_rays(
        spin,
        incl,
        aa.flatten(),
        bb.flatten(),
        orders=(0, 1),
        surface=kf.Cone(20.0),
        velocity="keplerian",
    )
    ok = out["status"] == 0
    assert int((ok & (out["eta"] < 0)).sum()) >= 5 and {1, 3} <= set(
        out["status"].flatten().tolist()
    )
    val = out["g"] * torch.exp(-out["r_s"] / 5) + 1e-3 * out["t_s"] + 1e-2 * out["phi_ks"]
    torch.where(ok, val, torch.zeros_like(val)).sum().backward()
    assert torch.isfinite(spin.grad) and torch.isfinite(incl.grad)


def test_dataset_layout_units_and_netcdf_roundtrip(tmp_path):
    ds = kf.raytrace(
        0.3, 60.0, npix=9, orders=(0, 1, 2), velocity=kf.GeneralVelocity(0.8, 0.5, 0.9)
    )
    assert ds.r_s.dims == ("n", "beta", "alpha") and ds.lam.dims == ("beta", "alpha")
    for name in list(ds.data_vars) + ["alpha", "beta", "n"]:
        assert "long_name" in ds[name].attrs, name
        # CF: units on quantities ("1" if dimensionless), none on the order index; status
        # is a flag variable
        assert ("units" in ds[name].attrs) == (name not in ("n", "status")), name
    assert ds.status.attrs["flag_meanings"].split()[3] == "misses_surface"
    assert ds.status.dtype == np.int8
    assert np.isnan(ds.r_s.where(ds.status != 0)).all()
    assert ds.attrs["units"] == "G = c = M = 1" and ds.attrs["backend"] == "torch"
    path = tmp_path / "trace.nc"
    write_netcdf(ds, path)
    back = xr.open_dataset(path)
    xr.testing.assert_identical(ds, back.load())
    back.close()
    # explicit axes of any length
    ex = kf.raytrace(0.3, 60.0, alpha=np.linspace(-5, 5, 7), beta=np.array([0.0, 2.0]))
    assert ex.r_s.shape == (2, 2, 7)


@pytest.mark.parametrize(
    "kwargs,exc,word",
    [
        (dict(spin=1.0), ValueError, "spin"),
        (dict(spin=float("nan")), ValueError, "spin"),
        (dict(inclination=0.0), ValueError, "inclination"),
        (dict(inclination=180.0), ValueError, "inclination"),
        (dict(npix=0), ValueError, "npix"),
        (dict(npix=2.5), TypeError, "npix"),
        (dict(velocity="rigid"), ValueError, "velocity"),
        (dict(surface="sphere"), ValueError, "surface"),
        (dict(backend="cuda"), ValueError, "backend"),
        (dict(orders=(-1,)), ValueError, "orders"),
        (dict(alpha=[0.0, float("nan")], beta=[0.0]), ValueError, "alpha"),
        (dict(alpha=[0.0], beta=[float("inf")]), ValueError, "beta"),
        (dict(fov=-1.0), ValueError, "fov"),
    ],
)
def test_bad_input_raises_with_the_argument_name(kwargs, exc, word):
    args = dict(spin=0.5, inclination=30.0, npix=4)
    args.update(kwargs)
    with pytest.raises(exc, match=word):
        kf.raytrace(**args)


def test_bad_tensor_input():
    al = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="finite"):
        kf.trace_rays(0.5, 30.0, al, torch.tensor([0.0, float("nan"), 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="alpha and beta"):
        kf.trace_rays(0.5, 30.0, al, torch.zeros(4, dtype=torch.float64))
    with pytest.raises(ValueError, match="Cone"):
        kf.Cone(0.0)
    with pytest.raises(ValueError, match="xi"):
        kf.GeneralVelocity(1.5, 1.0, 1.0)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="device|on"):
            kf.trace_rays(0.5, 30.0, al, al.cuda())


def test_compiled_sweeps_match_the_eager_path():
    # torch.compile-fused Carlson sweeps (raytrace(compiled=True)) against the eager path, on a
    # screen with all three radial root cases, principal values and several orders; a failed
    # compilation would fall back with a RuntimeWarning, which is an error here
    # and no sweep falls back to eager because dynamo's recompile limit (8) was reached
    from torch._dynamo.utils import counters

    kw = dict(npix=24, fov=8.0, orders=(0, 1, 2), velocity="keplerian")
    eager = kf.raytrace(0.94, 63.0, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fused = kf.raytrace(0.94, 63.0, compiled=True, **kw)
        # another screen and order count: other ranks of lanes, other root cases
        kf.raytrace(-0.7, 120.0, compiled=True, npix=8, fov=12.0, orders=(0, 1))
    frames = counters["frames"]
    assert frames["total"] == frames["ok"], dict(frames)  # a frame over the limit is not ok
    np.testing.assert_array_equal(fused["status"].values, eager["status"].values)
    assert int((eager["status"] == 0).sum()) > 500
    for name in ("r_s", "phi_s", "t_s", "g", "x", "y"):
        a, b = fused[name].values, eager[name].values
        ok = np.isfinite(b)
        np.testing.assert_array_equal(np.isfinite(a), ok)
        assert np.max(np.abs(a[ok] - b[ok]) / np.maximum(1.0, np.abs(b[ok]))) < 1e-10, name
