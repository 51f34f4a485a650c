"""Emission fields: architectures, encodings, initialisation, config round trip, errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

import kerrfield as kf
from kerrfield.fields.encodings import HashGridEncoding, positional_encoding

F64 = torch.float64


@pytest.mark.parametrize("encoding", ["none", "positional", "fourier", "hashgrid"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sine"])
def test_shapes_and_gradients(encoding, activation):
    f = kf.EmissionField(encoding=encoding, activation=activation, scale=10.0, seed=0,
                         hash_levels=4, hash_log2_size=10)
    x = torch.randn(33, 2, dtype=F64) * 8
    y = f(x)
    assert y.shape == (33,) and torch.isfinite(y).all()
    y.sum().backward()
    grads = [p.grad for p in f.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize("head,lo,hi", [("sigmoid", 0, 1), ("softplus", 0, math.inf),
                                         ("exp", 0, math.inf)])
def test_output_heads_ranges(head, lo, hi):
    f = kf.EmissionField(output=head, seed=3, scale=1.0)
    y = f(torch.randn(500, 2, dtype=F64) * 20)
    assert (y > lo).all() and (y < hi).all()


def test_three_d_and_polar_inputs():
    f3 = kf.EmissionField(in_features=3, seed=0, scale=10.0)
    assert f3(torch.zeros(5, 3, dtype=F64)).shape == (5,)
    fp = kf.EmissionField(coords="polar", seed=0, scale=10.0)
    xy = torch.tensor([[3.0, 4.0], [0.0, -2.0]], dtype=F64)
    expected = torch.tensor([[0.5, math.atan2(4, 3) / math.pi], [0.2, -0.5]], dtype=F64)
    torch.testing.assert_close(fp.transform(xy), expected)
    with pytest.raises(ValueError, match="in_features"):
        kf.EmissionField(in_features=3, coords="polar")
    with pytest.raises(ValueError, match="xyz must have shape"):
        f3(torch.zeros(5, 2, dtype=F64))


def test_scale_normalises_coordinates():
    # a field with scale s at coordinates s*x equals a field with scale 1 at x
    a = kf.EmissionField(scale=10.0, seed=4)
    b = kf.EmissionField(scale=1.0, seed=4)
    x = torch.randn(20, 2, dtype=F64)
    torch.testing.assert_close(a(10 * x), b(x))


def test_krang_architecture_and_default_init():
    f = kf.EmissionField(seed=0)  # 2 -> 20 -> 20 -> 1
    lins = [m for m in f.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lins] == [(2, 20), (20, 20), (20, 1)]
    assert sum(p.numel() for p in f.parameters()) == 2 * 20 + 20 + 20 * 20 + 20 + 20 + 1
    for m in lins:  # PyTorch/Lux default U(-1/sqrt(n), 1/sqrt(n))
        assert m.weight.abs().max() <= 1 / math.sqrt(m.in_features)


def test_siren_initialisation_bounds():
    w0 = 30.0
    f = kf.EmissionField(activation="sine", width=256, depth=3, omega0=w0, seed=0)
    lins = [m for m in f.mlp if isinstance(m, torch.nn.Linear)]
    assert lins[0].weight.abs().max() <= 1 / 2
    assert lins[0].weight.abs().max() > 0.45  # uniform fills its range
    for m in lins[1:]:
        bound = math.sqrt(6 / m.in_features) / w0
        assert m.weight.abs().max() <= bound
        assert m.weight.abs().max() > 0.9 * bound
    # Sitzmann et al.: pre-activations of hidden layers ~ standard normal-ish (std ~ sqrt(2))
    x = torch.rand(4096, 2, dtype=F64) * 2 - 1
    with torch.no_grad():
        z = w0 * lins[1](torch.sin(w0 * lins[0](x)))
    assert 0.8 < float(z.std()) < 2.0


def test_positional_encoding_formula():
    x = torch.tensor([[0.3, -0.7]], dtype=F64)
    enc = positional_encoding(x, 3)
    manual = [0.3, -0.7]
    manual += [math.sin(2**k * math.pi * v) for v in (0.3, -0.7) for k in range(3)]
    manual += [math.cos(2**k * math.pi * v) for v in (0.3, -0.7) for k in range(3)]
    torch.testing.assert_close(enc[0], torch.tensor(manual, dtype=F64))


def test_fourier_features_seeded_and_unit_norm():
    a, b = kf.FourierFeatures(2, 16, sigma=3.0, seed=5), kf.FourierFeatures(2, 16, 3.0, seed=5)
    c = kf.FourierFeatures(2, 16, sigma=3.0, seed=6)
    x = torch.randn(10, 2, dtype=F64)
    torch.testing.assert_close(a(x), b(x))
    assert not torch.allclose(a(x), c(x))
    y = a(x)
    torch.testing.assert_close(y[:, :16] ** 2 + y[:, 16:] ** 2, torch.ones(10, 16, dtype=F64))
    assert 1.5 < float(a.B.std()) < 4.5


def test_hash_grid_interpolates_and_is_continuous():
    enc = HashGridEncoding(2, n_levels=3, n_features=1, log2_table_size=8, base_resolution=4,
                           max_resolution=16)
    with torch.no_grad():
        enc.table.normal_()
    # at a vertex of level 0 (resolution 4) the level-0 feature is exactly that vertex entry
    x = torch.tensor([[-0.5, 0.0]], dtype=F64)  # u = (0.25, 0.5) -> vertex (1, 2) of res 4
    idx = 1 + 2 * (4 + 1)
    assert bool(enc.dense[0])
    torch.testing.assert_close(enc(x)[0, 0], enc.table[0, idx, 0])
    # continuity: a tiny step changes the encoding a little
    with torch.no_grad():
        d = (enc(x + 1e-7) - enc(x)).abs().max()
    assert float(d) < 1e-5


def test_hash_grid_fits_a_sharp_pattern_better_than_plain_mlp():
    torch.manual_seed(0)
    x = torch.rand(2048, 2, dtype=F64) * 20 - 10
    y = (torch.sin(2.0 * x[:, 0]) * torch.cos(1.5 * x[:, 1]) > 0).to(F64)  # checkerboard

    def train(f):
        opt = torch.optim.Adam(f.parameters(), lr=1e-2)
        for _ in range(150):
            opt.zero_grad()
            loss = torch.mean((f(x) - y) ** 2)
            loss.backward()
            opt.step()
        return loss.item()

    hashed = train(kf.EmissionField(encoding="hashgrid", scale=10.0, seed=0, hash_levels=8,
                                    hash_log2_size=12, hash_max_resolution=64))
    plain = train(kf.EmissionField(scale=10.0, seed=0))
    assert hashed < 0.5 * plain


def test_config_round_trip_json():
    f = kf.EmissionField(encoding="fourier", activation="sine", width=16, depth=3, seed=7,
                         scale=10.0, output="softplus")
    cfg = json.loads(json.dumps(f.config))
    g = kf.field_from_config(cfg)
    g.load_state_dict(f.state_dict())
    x = torch.randn(8, 2, dtype=F64)
    torch.testing.assert_close(f(x), g(x))


@pytest.mark.parametrize(
    "kwargs,exc,word",
    [({"activation": "gelu"}, ValueError, "activation"),
     ({"encoding": "wavelet"}, ValueError, "encoding"),
     ({"output": "relu"}, ValueError, "output"),
     ({"activation": 3}, TypeError, "activation"),
     ({"encoding": None}, TypeError, "encoding"),
     ({"scale": 0.0}, ValueError, "scale"),
     ({"width": 0}, ValueError, "width")],
)
def test_bad_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        kf.EmissionField(**kwargs)


def test_emission_map():
    f = kf.AnalyticEmission("ring", radius=5.0, width=0.5)
    em = kf.emission_map(f, 10.0, 41)
    assert em.dims == ("y", "x")
    r = (em.x**2 + em.y**2) ** 0.5
    assert float(em.where(abs(r - 5) < 0.3).mean()) > 0.7
    assert float(em.where(r < 2).max()) < 1e-6
