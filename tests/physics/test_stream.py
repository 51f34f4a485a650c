"""Streaming a ray trace to netCDF block by block gives raytrace's Dataset in bounded memory."""

from __future__ import annotations

import numpy as np
import xarray as xr

import kerrfield as kf
from kerrfield.cli import main


def test_stream_equals_raytrace(tmp_path):
    vel = kf.GeneralVelocity(0.8, 0.5, 0.9)
    ref = kf.raytrace(0.7, 40.0, npix=11, fov=7.0, orders=(0, 1), velocity=vel)
    p = kf.raytrace_to_netcdf(tmp_path / "s.nc", 0.7, 40.0, npix=11, fov=7.0, orders=(0, 1),
                              velocity=vel, rows_per_block=4)
    got = xr.load_dataset(p)
    assert set(got.data_vars) == set(ref.data_vars) and got.attrs == ref.attrs
    for name in ref.variables:
        assert got[name].dims == ref[name].dims, name
        np.testing.assert_equal(got[name].attrs, ref[name].attrs)  # flag_values is an array
        np.testing.assert_allclose(got[name].values, ref[name].values, rtol=1e-12, atol=1e-12,
                                   equal_nan=True, err_msg=name)
    # a geometry streamed to disk builds the same fixed model
    field = kf.EmissionField(seed=0, width=4, depth=1)
    a = kf.fixed_image_model(field, ref).image()
    b = kf.fixed_image_model(field, got).image()
    np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=1e-10)
    assert not list(tmp_path.glob(".*tmp"))


def test_cli_streams_large_screens(tmp_path, monkeypatch, capsys):
    import kerrfield.cli.raytrace as cli_raytrace
    import kerrfield.physics._stream as stream

    calls = []
    real = stream.raytrace_to_netcdf

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, rows_per_block=16, **kwargs)

    monkeypatch.setattr(stream, "raytrace_to_netcdf", spy)
    monkeypatch.setattr(cli_raytrace, "STREAM_RAYS", 64 * 64)
    # 0.3 MB: raytrace() of the whole screen would be refused, a 16-row block fits
    monkeypatch.setenv("KERRFIELD_MEMORY_LIMIT_GB", str(3e5 / 2**30))
    out, copy = tmp_path / "big.nc", tmp_path / "copy.nc"
    assert main(["raytrace", "--npix", "64", "--orders", "0", "-o", str(out),
                 "-o", str(copy)]) == 0
    assert calls and xr.load_dataset(out).sizes["alpha"] == 64 and copy.exists()
    import pytest

    with pytest.raises(MemoryError):
        kf.raytrace(0.5, 30.0, npix=64, orders=(0,))
