"""Hash-grid fields fit the screen by default (the grid clamps its input to [-1, 1])."""

from __future__ import annotations

import warnings

import pytest
import torch

import kerrfield as kf


def test_hashgrid_scale_defaults_to_the_screen(toy):
    field = kf.EmissionField(encoding="hashgrid", seed=0, width=8, depth=1)
    assert field.scale_auto
    model = kf.kerr_image_model(field, 0.5, 40.0, fov=12.0, npix=8)
    assert field.scale == pytest.approx(12.0) and not field.scale_auto
    assert field.config["scale"] == pytest.approx(12.0)
    # crossings across the screen map to distinct grid cells, not to the clamped edge
    xyz, _, mask = model.crossings()
    pts = xyz[0][mask[0]][:, :2]
    with torch.no_grad():
        out = field(pts)
    assert out.unique().numel() > 0.9 * pts.shape[0]


def test_explicit_small_scale_on_hashgrid_warns(toy):
    with pytest.warns(UserWarning, match="hash-grid field with scale=1 M"):
        kf.kerr_image_model(kf.EmissionField(encoding="hashgrid", scale=1.0), 0.5, 40.0,
                            fov=10.0, npix=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kf.kerr_image_model(kf.EmissionField(encoding="hashgrid", scale=8.0), 0.5, 40.0,
                            fov=10.0, npix=6)
        # other encodings keep Krang's raw-coordinate default without a warning
        f = kf.EmissionField()
        kf.kerr_image_model(f, 0.5, 40.0, fov=10.0, npix=6)
        assert f.scale == 1.0


def test_saved_hashgrid_field_keeps_its_scale(tmp_path, toy):
    model = kf.kerr_image_model(kf.EmissionField(encoding="hashgrid", seed=0), 0.5, 40.0,
                                fov=7.0, npix=6)
    loaded = kf.load_model(kf.save_model(model, tmp_path / "m"))
    assert loaded.field.scale == pytest.approx(7.0)
    torch.testing.assert_close(loaded.image(), model.image())
