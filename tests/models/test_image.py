"""Lensed image models: the image equals sum_n g^k f computed independently; masking,
gradients to spin/inclination, rendering, PSNR, save/load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

import kerrfield as kf

F64 = torch.float64


def _numpy_image(field, ds, k):
    out = np.zeros(ds.x.shape[1:])
    for n in range(ds.sizes["n"]):
        ok = ds.status.values[n] == 0
        x = np.where(ok, ds.x.values[n], 0.0)
        y = np.where(ok, ds.y.values[n], 0.0)
        with torch.no_grad():
            f = field(torch.tensor(np.stack([x.ravel(), y.ravel()], -1))).numpy()
        g = np.where(ok, ds.g.values[n], 1.0)
        out += np.where(ok, g**k * f.reshape(x.shape), 0.0)
    return out


@pytest.mark.parametrize("k", [1.0, 3.0])
def test_fixed_image_equals_independent_sum(toy, k):
    ds = toy.raytrace(0.7, 35.0, npix=12)
    assert (ds.status.values[1] != 0).any() and np.isnan(ds.x.values[1]).any()
    field = kf.EmissionField(seed=2, scale=10.0)
    model = kf.fixed_image_model(field, ds, k=k)
    img = model.image().detach().numpy()
    np.testing.assert_allclose(img, _numpy_image(field, ds, k), rtol=1e-12)
    # order subset
    m0 = kf.fixed_image_model(field, ds, k=k, orders=[0])
    np.testing.assert_allclose(m0.image().detach().numpy(),
                               _numpy_image(field, ds.sel(n=[0]), k), rtol=1e-12)


def test_masked_pixels_contribute_zero(toy):
    ds = toy.raytrace(0.5, 30.0, npix=8)
    ds["status"][:, 0, 0] = 1
    ds["x"][:, 0, 0] = np.nan
    model = kf.fixed_image_model(kf.EmissionField(seed=0), ds)
    img = model.image()
    assert float(img[0, 0].detach()) == 0.0 and torch.isfinite(img).all()
    img.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.field.parameters())


def test_kerr_model_matches_fixed_model_on_same_geometry(tracer):
    field = kf.EmissionField(seed=3, scale=10.0)
    ds = tracer.raytrace(0.6, 40.0, fov=10.0, npix=10, orders=(0, 1))
    fixed = kf.fixed_image_model(field, ds)
    kerr = kf.kerr_image_model(field, 0.6, 40.0, fov=10.0, npix=10)
    torch.testing.assert_close(kerr.image(), fixed.image(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("spin,inc", [(0.5, 60.0), (0.94, 20.0)])
def test_reparametrisation_and_gradients_reach_geometry(tracer, spin, inc):
    # (0.94, 20) has rays with eta <= 0 on a 12² screen, whose NaNs must not leak
    model = kf.kerr_image_model(kf.EmissionField(seed=1, scale=10.0), spin, inc, npix=12)
    assert model.spin.item() == pytest.approx(spin)
    assert model.inclination.item() == pytest.approx(inc)
    target = torch.rand(12, 12, dtype=F64)
    loss = kf.normalized_mse(model.image(), target)
    loss.backward()
    for p in (model.u, model.v):
        assert p.grad is not None and torch.isfinite(p.grad) and p.grad != 0
    # extreme parameters stay in range
    with torch.no_grad():
        model.u.fill_(50.0)
        model.v.fill_(-50.0)
    assert abs(float(model.spin)) < 1 and 0 < float(model.inclination) < 1e-6  # clamped


def test_minibatch_traces_only_requested_pixels(toy, monkeypatch):
    seen = []
    real = toy.trace_rays

    def spy(spin, inc, alpha, beta, **kw):
        seen.append(alpha.numel())
        return real(spin, inc, alpha, beta, **kw)

    monkeypatch.setattr(toy, "trace_rays", spy)
    model = kf.kerr_image_model(kf.EmissionField(seed=1), 0.5, 60.0, npix=10)
    idx = torch.tensor([0, 5, 99])
    full = model()
    part = model(idx)
    assert seen == [100, 3]
    torch.testing.assert_close(part, full[idx])


def test_geometry_validation(toy):
    ds = toy.raytrace(0.5, 30.0, npix=8)
    with pytest.raises(ValueError, match="missing variables"):
        kf.fixed_image_model(kf.EmissionField(), ds.drop_vars("g"))
    with pytest.raises(ValueError, match="orders"):
        kf.fixed_image_model(kf.EmissionField(), ds, orders=[2])
    with pytest.raises(TypeError, match="geometry"):
        kf.fixed_image_model(kf.EmissionField(), ds.x)
    irregular = ds.assign_coords(alpha=np.r_[ds.alpha.values[:-1], 50.0])
    with pytest.raises(ValueError, match="alpha must be a regular"):
        kf.fixed_image_model(kf.EmissionField(), irregular)
    with pytest.raises(ValueError, match="spin"):
        kf.kerr_image_model(kf.EmissionField(), 1.5, 30.0)
    with pytest.raises(ValueError, match="inclination"):
        kf.kerr_image_model(kf.EmissionField(), 0.5, 190.0)


def test_render_any_resolution(tracer):
    field = kf.EmissionField(seed=5, scale=10.0)
    img = kf.render(field, 0.3, 50.0, fov=12.0, npix=20, chunk=64)
    assert img.dims == ("beta", "alpha") and img.shape == (20, 20)
    assert img.alpha.values[0] == -12.0 and img.attrs["spin"] == pytest.approx(0.3)
    model = kf.kerr_image_model(field, 0.3, 50.0, fov=12.0, npix=20)
    np.testing.assert_allclose(img.values, model.image().detach().numpy(), rtol=1e-12)


def test_psnr():
    ref = np.zeros((10, 10))
    ref[3:6, 3:6] = 2.0
    noisy = ref + 0.02
    assert kf.psnr(noisy, ref) == pytest.approx(10 * np.log10(4 / 0.02**2))
    assert kf.psnr(ref, ref) == np.inf
    assert kf.psnr(3 * ref, ref, normalize=True) == np.inf
    a = xr.DataArray(ref, dims=("beta", "alpha"), coords={"alpha": np.arange(10.0),
                                                          "beta": np.arange(10.0)})
    b = a.assign_coords(alpha=np.arange(10.0) + 1)
    with pytest.raises(ValueError, match="different screens"):
        kf.psnr(a, b)
    with pytest.raises(ValueError, match="shape"):
        kf.psnr(np.ones((3, 3)), ref)


def test_save_load_round_trip(tmp_path, toy):
    field = kf.EmissionField(seed=5, scale=10.0, encoding="fourier", fourier_features=8)
    kerr = kf.kerr_image_model(field, 0.42, 33.0, npix=9, k=2.0)
    kf.save_model(kerr, tmp_path / "kerr")
    again = kf.load_model(tmp_path / "kerr")
    assert float(again.spin) == pytest.approx(0.42)
    torch.testing.assert_close(again.image(), kerr.image())
    fixed = kf.fixed_image_model(field, toy.raytrace(0.4, 30.0, npix=9), k=2.0)
    kf.save_model(fixed, tmp_path / "fixed")
    torch.testing.assert_close(kf.load_model(tmp_path / "fixed").image(), fixed.image())
    assert not list(tmp_path.glob("**/.*tmp*"))  # atomic writes leave no temporaries
    # a field cast after construction (as amp does) reloads in its own dtype
    cast = kf.fixed_image_model(kf.EmissionField(seed=5).float(),
                                toy.raytrace(0.4, 30.0, npix=9))  # fmt: skip
    kf.save_model(cast, tmp_path / "cast")
    assert next(kf.load_model(tmp_path / "cast").field.parameters()).dtype == torch.float32
    # what load_model could not rebuild is refused when saving, not when loading
    analytic = kf.fixed_image_model(kf.make_emission("ring"), toy.raytrace(0.4, 30.0, npix=9))
    with pytest.raises(ValueError, match="field is AnalyticEmission, which load_model"):
        kf.save_model(analytic, tmp_path / "analytic")
    assert not (tmp_path / "analytic").exists()
    with pytest.raises(TypeError, match="model must be a kerrfield LensedImage.*EmissionField"):
        kf.save_model(field, tmp_path / "bare")


def test_linearised_geometry_matches_exact_at_relinearisation(toy):
    field = kf.EmissionField(seed=0, scale=10.0)
    target = torch.rand(12, 12, dtype=F64)
    grads = {}
    for k in (1, 10):
        model = kf.kerr_image_model(field, 0.5, 60.0, npix=12, relinearize_every=k)
        loss = kf.normalized_mse(model.image(), target)
        loss.backward()
        grads[k] = (loss.item(), model.u.grad.item(), model.v.grad.item())
        # a small step later the linearised model stays close to the exact one
        with torch.no_grad():
            model.u.add_(1e-3)
        img_lin = model.image()
        with torch.no_grad():
            img_exact = model.image()  # no grad: always traced exactly
        torch.testing.assert_close(img_lin.detach(), img_exact, rtol=1e-5, atol=1e-8)
    assert grads[10][0] == pytest.approx(grads[1][0], rel=1e-12)
    assert grads[10][1] == pytest.approx(grads[1][1], rel=1e-3)
    assert grads[10][2] == pytest.approx(grads[1][2], rel=1e-3)
    with pytest.raises(ValueError, match="relinearize_every"):
        kf.kerr_image_model(field, 0.5, 60.0, relinearize_every=0)


def test_relinearize_tolerance_triggers_refresh(toy, monkeypatch):
    model = kf.kerr_image_model(kf.EmissionField(seed=0), 0.5, 60.0, npix=6,
                                relinearize_every=1000, relinearize_tol=(0.01, 0.5))
    calls = []
    orig = model._relinearize
    monkeypatch.setattr(model, "_relinearize", lambda: (calls.append(1), orig())[1])
    model.image()
    model.image()
    assert len(calls) == 1
    with torch.no_grad():
        model.v.add_(0.05)  # ~ 2 deg in inclination: beyond the 0.5 deg tolerance
    model.image()
    assert len(calls) == 2
    with torch.no_grad():
        model.u.add_(1e-4)  # tiny move: keeps the linearisation
    model.image()
    assert len(calls) == 2


def test_a_saturated_inclination_stays_inside_the_physical_range():
    """180° sigmoid(v) rounds to exactly 180° (0°) for a huge v; the model keeps θo strictly
    inside, so one wild geometry step does not end a fit with a range error."""
    m = kf.kerr_image_model(kf.EmissionField(seed=0, width=4, depth=1), 0.5, 40.0, npix=4)
    for v, lo, hi in ((50.0, 179.9999, 180.0), (-800.0, 0.0, 1e-6)):
        with torch.no_grad():
            m.v.fill_(v)
        assert lo < float(m.inclination) < hi
        assert torch.isfinite(m()).all()
