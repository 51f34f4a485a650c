"""Inputs on which a loss or a unit conversion is undefined raise ValueError naming the
argument (they used to return NaN or a meaningless number); valid inputs still work."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import torch
import xarray as xr

import kerrfield as kf

F64 = torch.float64


@pytest.mark.parametrize("target", [torch.zeros(8, 8, dtype=F64), torch.tensor([1.0, -1.0, 0.0])])
def test_normalized_mse_refuses_a_zero_flux_target(target):
    pred = torch.rand(target.shape, dtype=F64) + 0.1
    with pytest.raises(ValueError, match=r"^target has zero total flux .*normalized_mse"):
        kf.normalized_mse(pred, target)
    with pytest.raises(ValueError, match="target has zero total flux"):
        kf.get_loss("nmse")(pred, target)


def test_normalized_mse_valid_input_unchanged_and_differentiable():
    t = torch.rand(8, 8, dtype=F64) + 0.1
    p = (2 * t).clone().requires_grad_(True)
    loss = kf.normalized_mse(p, t)
    assert float(loss.detach()) < 1e-30
    q = torch.rand(8, 8, dtype=F64, requires_grad=True)
    kf.normalized_mse(q, t).backward()
    assert torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("pred", "target", "message"),
    [
        (torch.arange(6.0), torch.full((6,), 0.1), r"^target is constant"),
        (torch.full((6,), 0.1), torch.arange(6.0), r"^pred is constant"),
        (torch.zeros(6), torch.ones(6), r"^pred and target are constant"),
        (torch.arange(6.0), torch.tensor([3.0]), r"^target is constant"),  # one pixel
    ],
)
def test_ncc_refuses_constant_input_naming_it(pred, target, message):
    with pytest.raises(ValueError, match=message + r" \(zero variance\)"):
        kf.ncc(pred, target)
    with pytest.raises(ValueError, match=message):
        kf.ncc_loss(pred, target)


def test_ncc_refuses_empty_input():
    with pytest.raises(ValueError, match=r"^pred is empty"):
        kf.ncc(torch.zeros(0), torch.arange(3.0))


def test_ncc_valid_input_unchanged():
    rng = np.random.default_rng(1)
    a, b = rng.random((5, 6)), rng.random((5, 6))
    expected = np.corrcoef(a.ravel(), b.ravel())[0, 1]
    p = torch.tensor(a, requires_grad=True)
    value = kf.ncc(p, torch.tensor(b))
    assert float(value.detach()) == pytest.approx(expected, rel=1e-9)
    value.backward()
    assert torch.isfinite(p.grad).all()
    # nearly constant but not constant: still defined
    near = torch.ones(6, dtype=F64)
    near[0] += 1e-9
    assert abs(float(kf.ncc(near, torch.arange(6.0, dtype=F64)))) <= 1.0


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), np.array([0.0, np.nan, 1.0])])
def test_screen_to_muas_refuses_non_finite_x(bad):
    with pytest.raises(ValueError, match=r"^x must be finite \(screen coordinates in M\)"):
        kf.screen_to_muas(bad, source="M87")
    with pytest.raises(ValueError, match=r"^x must be finite \(angles in µas\)"):
        kf.muas_to_screen(bad, source="M87")


def test_unit_conversions_name_the_count_and_accept_finite_values():
    with pytest.raises(ValueError, match=r"x must be finite .*1 of 3 values are NaN or inf"):
        kf.screen_to_muas(xr.DataArray([1.0, np.inf, 2.0], dims="alpha"), source="M87")
    with pytest.raises(ValueError, match=r"x must be finite .*got nan"):
        kf.muas_to_screen(np.nan * u.uas, source="M87")
    x = np.array([-5.0, 0.0, 5.196])
    m = kf.screen_to_muas(x, source="M87")
    np.testing.assert_allclose(kf.muas_to_screen(m, source="M87"), x)
    assert isinstance(kf.screen_to_muas(1.0, source="M87"), float)


@pytest.mark.parametrize("loss", ["nmse", "ncc"])
def test_fits_are_not_stopped_by_the_per_call_checks(loss):
    """A fit checks its whole target once; a one-pixel batch (constant, possibly zero) or a
    constant prediction must not raise mid-fit: the loops use the unchecked losses."""
    target = kf.synthesize("ring", 0.5, 40.0, npix=8)
    model = kf.kerr_image_model(kf.EmissionField(seed=0, width=8, depth=1), 0.5, 40.0, npix=8,
                                learn_geometry=False)  # fmt: skip
    res = kf.fit(model, target, loss=loss, batch_size=1, steps=3, progress=False)
    assert len(res.history["loss"]) >= 1


def test_a_collapsed_fit_is_said():
    """A dead field (every pixel 0: here a linear head with zero weights and bias) leaves a
    finite loss that says nothing; the fit warns instead of passing it off as a result."""
    target = kf.synthesize("ring", 0.5, 40.0, npix=8)
    field = kf.EmissionField(seed=0, width=4, depth=1, output="linear")
    with torch.no_grad():
        for p in field.parameters():
            p.zero_()
    model = kf.kerr_image_model(field, 0.5, 40.0, npix=8, learn_geometry=False)
    with pytest.warns(UserWarning, match=r"the fitted image is constant \(0 in every pixel\)"):
        kf.fit(model, target, loss="mse", steps=0, progress=False)
    import warnings

    with warnings.catch_warnings():  # a live field: nothing to say
        warnings.simplefilter("error")
        kf.fit(kf.kerr_image_model(kf.EmissionField(seed=0, width=4, depth=1), 0.5, 40.0,
                                   npix=8, learn_geometry=False),
               target, steps=2, progress=False)  # fmt: skip
