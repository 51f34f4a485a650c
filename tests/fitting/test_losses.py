"""Losses and regularisers against direct numpy computations; argument validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import kerrfield as kf

F64 = torch.float64


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    return rng.random((6, 7)) + 0.1, rng.random((6, 7)) + 0.1


def test_normalized_mse_matches_numpy_and_is_scale_free(pair):
    a, b = pair
    expected = np.mean((a / a.sum() - b / b.sum()) ** 2)
    got = kf.normalized_mse(torch.tensor(a), torch.tensor(b))
    assert float(got) == pytest.approx(expected, rel=1e-12)
    assert float(kf.normalized_mse(torch.tensor(5 * a), torch.tensor(b))) == pytest.approx(
        expected, rel=1e-10)
    assert float(kf.normalized_mse(torch.tensor(a), torch.tensor(a))) == 0.0


def test_mse_chi2(pair):
    a, b = pair
    sig = np.linspace(0.1, 1, a.size).reshape(a.shape)
    assert float(kf.mse(torch.tensor(a), torch.tensor(b))) == pytest.approx(
        np.mean((a - b) ** 2))
    assert float(kf.chi2(torch.tensor(a), torch.tensor(b), torch.tensor(sig))) == pytest.approx(
        np.mean(((a - b) / sig) ** 2))


def test_ncc(pair):
    a, b = pair
    assert float(kf.ncc(torch.tensor(a), torch.tensor(b))) == pytest.approx(
        np.corrcoef(a.ravel(), b.ravel())[0, 1], rel=1e-9)
    loss = kf.ncc_loss(torch.tensor(3 * a + 2), torch.tensor(a))
    assert float(loss) == pytest.approx(0, abs=1e-12)
    assert float(kf.ncc(torch.tensor(-a), torch.tensor(a))) == pytest.approx(-1)


def test_total_variation_and_weight_decay(pair):
    a, _ = pair
    tv = np.abs(np.diff(a, axis=1)).mean() + np.abs(np.diff(a, axis=0)).mean()
    assert float(kf.total_variation(torch.tensor(a))) == pytest.approx(tv)
    assert float(kf.total_variation(torch.ones(5, 5))) == 0.0
    f = kf.EmissionField(seed=0)
    wd = sum(float((m.weight.detach()**2).sum()) for m in f.mlp if isinstance(m, torch.nn.Linear))
    assert float(kf.weight_decay(f)) == pytest.approx(wd)
    with pytest.raises(ValueError, match="2-D"):
        kf.total_variation(torch.ones(5))


def test_losses_are_differentiable(pair):
    a, b = pair
    p = torch.tensor(a, requires_grad=True)
    for name in ("nmse", "mse", "ncc"):
        p.grad = None
        kf.get_loss(name)(p, torch.tensor(b)).backward()
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_check_target_errors():
    t = torch.rand(4, 4, dtype=F64)
    kf.check_target(t, loss="nmse", shape=(4, 4))
    with pytest.raises(ValueError, match="zero total flux"):
        kf.check_target(torch.zeros(4, 4), loss="nmse")
    bad = t.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="target contains NaN"):
        kf.check_target(bad, loss="mse")
    with pytest.raises(ValueError, match="does not match the model screen"):
        kf.check_target(t, shape=(5, 4))
    with pytest.raises(ValueError, match="sigma"):
        kf.check_target(t, loss="chi2")
    with pytest.raises(ValueError, match="sigma"):
        kf.check_target(t, loss="chi2", sigma=torch.zeros(4, 4))
    with pytest.raises(ValueError, match="constant"):
        kf.check_target(torch.ones(4, 4), loss="ncc")
    with pytest.raises(TypeError, match="target"):
        kf.check_target(np.ones((4, 4)))


def test_get_loss():
    assert kf.get_loss("chi2") is kf.chi2
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        kf.get_loss("l1")
    with pytest.raises(TypeError, match="loss"):
        kf.get_loss(3)
