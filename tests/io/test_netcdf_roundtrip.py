"""Every Dataset kerrfield makes survives ``to_netcdf`` / ``load_dataset`` unchanged, and
a geometry read back builds the same model (surface and velocity included)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

import kerrfield as kf
from kerrfield.io.atomic import write_netcdf

GV = kf.GeneralVelocity(0.8, 0.5, 0.9)


def _roundtrip(obj, tmp_path, name="x.nc"):
    ds = obj.to_dataset(name=obj.name or "v") if isinstance(obj, xr.DataArray) else obj
    path = tmp_path / name
    write_netcdf(ds, path)
    back = xr.load_dataset(path)
    xr.testing.assert_identical(back, ds)  # values, coords and attrs
    return back


@pytest.mark.parametrize("surface", ["equatorial", kf.Cone(70.0)])
@pytest.mark.parametrize("velocity", ["zamo", "keplerian", GV])
def test_raytrace_and_synthesize_round_trip(tmp_path, surface, velocity):
    geo = kf.raytrace(0.6, 40.0, npix=6, fov=6.0, orders=(0, 1), surface=surface,
                      velocity=velocity)
    _roundtrip(geo, tmp_path, "geo.nc")
    tgt = kf.synthesize("ring", 0.6, 40.0, npix=6, fov=6.0, surface=surface,
                        velocity=velocity, noise=0.01, blur_fwhm=1.0)
    back = _roundtrip(tgt, tmp_path, "tgt.nc")
    for key, value in back.attrs.items():  # plain numbers and strings only
        assert isinstance(value, (str, int, float, np.number, np.ndarray, list)), key
    if isinstance(velocity, kf.GeneralVelocity):
        assert back.attrs["velocity"] == "general:0.8,0.5,0.9"
        assert geo.attrs["velocity"] == "general" and geo.attrs["velocity_xi"] == 0.8
    if isinstance(surface, kf.Cone):
        assert back.attrs["surface"] == "cone:70.0"
        assert geo.attrs["surface"] == "cone" and geo.attrs["surface_theta_deg"] == 70.0
    # a synthetic target's attrs build the same lensing as the objects did
    from kerrfield.physics._spec import spec_from_attrs

    assert spec_from_attrs(back.attrs) == spec_from_attrs(geo.attrs) == (surface, velocity)
    # a geometry read back gives the same fixed model as the in-memory one
    field = kf.EmissionField(seed=0, width=4, depth=1)
    m1 = kf.fixed_image_model(field, geo)
    m2 = kf.fixed_image_model(field, xr.load_dataset(tmp_path / "geo.nc"))
    assert m1.surface == m2.surface == surface and m1.velocity == m2.velocity == velocity
    torch.testing.assert_close(m1.image(), m2.image(), rtol=0, atol=0)


def test_model_outputs_round_trip(tmp_path):
    target = kf.synthesize("disk", 0.5, 30.0, npix=8, fov=6.0)
    model = kf.kerr_image_model(kf.EmissionField(seed=0, width=4, depth=1), 0.4, 35.0,
                                alpha=torch.tensor(target.alpha.values),
                                beta=torch.tensor(target.beta.values),
                                velocity=GV, surface=kf.Cone(80.0))
    with pytest.warns(UserWarning, match="forward-model mismatch") as rec:  # deliberate
        res = kf.fit(model, target, steps=2, progress=False)
    assert {"surface", "velocity"} <= {str(w.message).split()[5] for w in rec}
    _roundtrip(res.history, tmp_path, "history.nc")
    _roundtrip(model.to_xarray(), tmp_path, "image.nc")
    _roundtrip(kf.render(model.field, 0.4, 35.0, npix=6, velocity=GV), tmp_path, "r.nc")
    _roundtrip(kf.downsample(target, 2), tmp_path, "coarse.nc")
    _roundtrip(kf.emission_map(model.field, 6.0, 8), tmp_path, "emission.nc")
    _roundtrip(kf.with_sky_coords(target, source="M87"), tmp_path, "sky.nc")
    # a model with GeneralVelocity / Cone saves and loads
    d = kf.save_model(model, tmp_path / "m")
    loaded = kf.load_model(d)
    assert loaded.velocity == GV and loaded.surface == kf.Cone(80.0)
    torch.testing.assert_close(loaded.image(), model.image())


def test_multiscale_history_round_trips(tmp_path, toy):
    target = kf.synthesize("ring", 0.6, 30.0, npix=8)
    model = kf.kerr_image_model(kf.EmissionField(seed=0, width=4, depth=1), 0.4, 40.0, npix=8)
    res = kf.fit_multiscale(model, target, factors=(2, 1), steps=(2, 2), lr=(1e-2, 1e-2),
                            progress=False)
    _roundtrip(res.history, tmp_path, "h.nc")


def test_atomic_writes_get_the_umask_mode_not_mkstemps_0600(tmp_path):
    """Result files must be readable by collaborators: mode 0666 & ~umask, as open() gives."""
    import os

    from kerrfield.io.atomic import atomic_torch_save, atomic_write_text

    old = os.umask(0o022)
    try:
        paths = [atomic_write_text("{}", tmp_path / "s.json"),
                 atomic_torch_save({"a": 1}, tmp_path / "c.pt"),
                 write_netcdf(xr.Dataset({"v": ("x", [1.0])}), tmp_path / "v.nc")]
        os.umask(0o077)
        private = atomic_write_text("{}", tmp_path / "p.json")
    finally:
        os.umask(old)
    assert [p.stat().st_mode & 0o777 for p in paths] == [0o644] * 3
    assert private.stat().st_mode & 0o777 == 0o600


def test_atomic_write_survives_a_file_system_that_refuses_chmod(tmp_path, monkeypatch):
    """vfat and some network mounts refuse chmod: the result is still written."""
    import os

    from kerrfield.io import atomic

    def refuse(*_args, **_kw):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "chmod", refuse)
    path = atomic.atomic_write_text("{}", tmp_path / "s.json")
    assert path.read_text() == "{}" and not [p for p in os.listdir(tmp_path) if p != "s.json"]


def test_json_summaries_are_strict_json(tmp_path):
    """Non-finite numbers (an unconverged unit's inf relative change) are written as null:
    strict readers (JavaScript, jq) reject Python's Infinity / NaN."""
    import json

    import numpy as np

    from kerrfield.io.atomic import atomic_write_json

    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"non-JSON {c}"))

    p = atomic_write_json({"rel_change": float("inf"), "units": [{"x": np.float64("nan")},
                           {"x": -np.inf, "y": 2.5}]}, tmp_path / "s.json")
    assert strict(p.read_text()) == {"rel_change": None, "units": [{"x": None},
                                     {"x": None, "y": 2.5}]}


def test_atomic_writes_are_flushed_before_and_after_the_rename(tmp_path, monkeypatch):
    """The temporary file's data reach the disk before the rename makes them the result, and
    the folder's new entry after it (a power cut must not leave an empty result file); a file
    system that refuses fsync still gets its file."""
    import os
    import stat

    from kerrfield.io import atomic

    order: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        order.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    def replace(src, dst):
        order.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "fsync", fsync)
    monkeypatch.setattr(atomic.os, "replace", replace)
    atomic.atomic_write_text("{}", tmp_path / "s.json")
    assert order == ["file", "rename", "dir"]

    def refuse(_fd):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(atomic.os, "fsync", refuse)
    assert atomic.atomic_write_text("[]", tmp_path / "t.json").read_text() == "[]"
