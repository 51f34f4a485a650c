"""Truncated or corrupt input files end in one clear error naming the file and what to do;
``infer`` refits a unit whose result or checkpoint does not load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import kerrfield as kf
from kerrfield.cli import main
from kerrfield.io.readers import CorruptFileError, load_netcdf, load_torch


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _dataset() -> xr.Dataset:
    a = np.linspace(-5.0, 5.0, 8)
    return xr.Dataset({"image": (("beta", "alpha"), np.random.default_rng(0).random((8, 8)))},
                      coords={"alpha": a, "beta": a})


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9])
def test_truncated_netcdf(tmp_path, keep):
    p = tmp_path / "t.nc"
    _dataset().to_netcdf(p)
    _truncate(p, keep)
    with pytest.raises(CorruptFileError, match=r"target .*t\.nc cannot be read.*truncated"):
        load_netcdf(p, "target")


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.nc"):
        load_netcdf(tmp_path / "nope.nc", "target")
    g = tmp_path / "g.nc"
    g.write_text("not a netcdf file\n" * 20)  # not damaged: another kind of file
    with pytest.raises(ValueError, match=r"g\.nc is not a netCDF file \(it starts with b'not '"):
        load_netcdf(g)
    g.write_bytes(b"\x89HDF\r\n\x1a\n" + b"garbage " * 40)  # a signature, then garbage
    with pytest.raises(CorruptFileError, match=r"g\.nc cannot be read"):
        load_netcdf(g)
    pt = tmp_path / "m.pt"
    torch.save({"a": torch.ones(1000)}, pt)
    _truncate(pt)
    with pytest.raises(CorruptFileError, match=r"m\.pt cannot be read"):
        load_torch(pt, weights_only=True)


def test_a_file_that_is_not_uvfits_is_one_clear_error(tmp_path):
    nc = tmp_path / "trace.nc"
    _dataset().to_netcdf(nc)
    with pytest.raises(ValueError, match=r"path: .*trace\.nc is not a FITS file: .*read with "
                       r"kerrfield.load_observation"):
        kf.load_uvfits(nc)


@pytest.mark.parametrize("keep", [20000, 0.5])
def test_truncated_uvfits_names_the_file_and_the_sizes(tmp_path, m87_path, keep):
    cut = tmp_path / "cut.uvfits"
    data = m87_path.read_bytes()
    cut.write_bytes(data[:keep if isinstance(keep, int) else int(len(data) * keep)])
    with pytest.raises(ValueError, match=r"path: .*cut\.uvfits is truncated: its headers "
                       r"promise at least \d+ bytes, the file has \d+"):
        kf.load_uvfits(cut)


def test_fits_and_uvfits_where_the_other_is_read(tmp_path, m87_path, capsys):
    """A FITS image given as a netCDF target, or a uvfits file read as an image, is named for
    what it is, not reported as corrupt or as a numpy cast error."""
    img = tmp_path / "ring.fits"
    kf.write_fits_image(kf.sky_image(kf.synthesize("ring", 0.5, 60.0, npix=12)["image"], 3.8,
                                     0.0, flux=0.5), img)  # fmt: skip
    with pytest.raises(ValueError, match=r"ring\.fits is a FITS file, not netCDF") as e:
        load_netcdf(img, "--target")
    assert not isinstance(e.value, CorruptFileError)
    assert main(["fit", "--target", str(img), "--steps", "1", "-o", str(tmp_path / "o")]) == 2
    assert "kerrfield.read_fits_image" in capsys.readouterr().err
    with pytest.raises(ValueError, match="is a uvfits .random-groups. file of visibilities"):
        kf.read_fits_image(m87_path)


@pytest.mark.parametrize("flag", ["--target", "--geometry"])
def test_cli_fit_with_truncated_netcdf_is_one_line(tmp_path, capsys, flag):
    p = tmp_path / "bad.nc"
    _dataset().to_netcdf(p)
    _truncate(p)
    assert main(["fit", flag, str(p), "--steps", "1", "--no-progress",
                 "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.nc" in err and flag in err
    assert "Traceback" not in err


def test_truncated_fits(tmp_path):
    a = np.linspace(-6.0, 6.0, 16)
    img = xr.DataArray(np.random.default_rng(1).random((16, 16)), dims=("beta", "alpha"),
                       coords={"alpha": a, "beta": a})
    p = kf.to_fits(img, tmp_path / "i.fits", source="M87")
    kf.from_fits(p)  # intact file reads
    for keep in (0.3, 0.8, 0.0):
        _truncate(Path(p), keep)
        with pytest.raises(CorruptFileError, match=r"FITS image .*i\.fits cannot be read"):
            kf.from_fits(p)
    with pytest.raises(FileNotFoundError, match="none.fits"):
        kf.from_fits(tmp_path / "none.fits")


def test_truncated_model_files(tmp_path, toy):
    model = kf.kerr_image_model(kf.EmissionField(seed=0, width=4, depth=1), 0.5, 40.0, npix=6)
    d = kf.save_model(model, tmp_path / "m")
    kf.load_model(d)
    _truncate(d / "model.pt")
    with pytest.raises(CorruptFileError, match=r"model weights .*model\.pt.*Fit the model"):
        kf.load_model(d)
    (d / "model.json").write_text('{"kind": ')
    with pytest.raises(CorruptFileError, match=r"model\.json"):
        kf.load_model(d)
    with pytest.raises(FileNotFoundError, match="no model directory"):
        kf.load_model(tmp_path / "missing")


SCAN = """
seed = 0
[target.synthetic]
emission = "ring"
spin = 0.6
inclination = 30.0
npix = 8
fov = 8.0
[field]
width = 6
depth = 1
[fit]
steps = 3
lr = 0.02
[mode]
kind = "scan"
inclination = [20.0, 30.0]
spin = 0.6
fit_spin = false
[output]
directory = "out"
progress = false
plots = false
"""


def test_infer_refits_unit_whose_file_does_not_load(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.toml").write_text(SCAN)
    s1 = kf.run_inference("c.toml")
    units = tmp_path / "out" / "units"
    good = xr.load_dataset(units / "spin000_inc001.nc")
    _truncate(units / "spin000_inc001.nc")  # truncated result file
    (units / "spin000_inc000.nc").unlink()  # and an unreadable checkpoint of another unit
    (units / "spin000_inc000.ckpt.pt").write_bytes(b"\x80\x02garbage")
    capsys.readouterr()
    s2 = kf.run_inference("c.toml")
    err = capsys.readouterr().err
    assert "spin000_inc001.nc" in err and "fitting this unit again" in err
    assert "spin000_inc000.ckpt.pt" in err
    assert s2["complete"] and s2["timing"]["units_fitted"] == 2
    again = xr.load_dataset(units / "spin000_inc001.nc")
    np.testing.assert_array_equal(again.model.values, good.model.values)
    assert json.dumps(s1["best"]) == json.dumps(s2["best"])


def test_infer_truncated_target_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "target.nc"
    _dataset().to_netcdf(p)
    _truncate(p)
    cfg = SCAN.replace('[target.synthetic]\nemission = "ring"\nspin = 0.6\ninclination = 30.0\n'
                       'npix = 8\nfov = 8.0\n', '[target]\nfile = "target.nc"\n')
    (tmp_path / "c.toml").write_text(cfg)
    assert main(["infer", "c.toml", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "target.nc" in err and "truncated" in err
