"""Joint observations: closures, scans and gains stay within each file of a concatenation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

import kerrfield as kf
from kerrfield.vlbi import select_segment
from kerrfield.vlbi.closures import scans
from kerrfield.vlbi.losses import DataTerms, StationGains


@pytest.fixture(scope="module")
def bands(shared_data_dir):
    """April 6, hi and lo band: the same timestamps and baselines at two frequencies."""
    from kerrfield.vlbi import load_uvfits

    folder = shared_data_dir / "eht-m87-2017" / "uvfits"
    hi, lo = (load_uvfits(folder / f"SR1_M87_2017_096_{b}_hops_netcal_StokesI.uvfits")
              for b in ("hi", "lo"))
    return hi.isel(row=slice(0, 1200)), lo.isel(row=slice(0, 1200))


def test_closures_of_a_joint_observation_are_each_files(bands):
    hi, lo = bands
    assert np.intersect1d(hi.time, lo.time).size > 10  # shared timestamps, distinct data
    joint = kf.concat_observations([hi, lo])
    assert joint.sizes["row"] == 2400 and list(np.unique(joint.segment)) == [0, 1]
    assert joint.attrs["segment_frequency"] == [hi.attrs["frequency"], lo.attrs["frequency"]]
    assert joint.attrs["file"] == f"{hi.attrs['file']}; {lo.attrs['file']}"
    for fn, name in ((kf.closure_phases, "cphase"), (kf.log_closure_amplitudes, "lcamp")):
        for kw in ({}, {"minimal": False}, {"scan_average": True}):
            j, a, b = fn(joint, **kw), fn(hi, **kw), fn(lo, **kw)
            # scan averages come in the order of their "scan|legs" text: compare by legs
            key = np.lexsort(j.row.values.T[::-1])
            want = np.r_[a.row.values, b.row.values + 1200]  # lo's rows come after hi's
            ref = np.lexsort(want.T[::-1])
            np.testing.assert_array_equal(j.row.values[key], want[ref])
            for v in (name, f"sigma_{name}"):
                np.testing.assert_array_equal(j[v].values[key],
                                              np.r_[a[v].values, b[v].values][ref])
            assert set(np.unique(j.scan[: a.sizes["closure"]])).isdisjoint(
                np.unique(j.scan[a.sizes["closure"]:]))
    # without the segments the two bands' rows would be taken as one timestamp's
    merged = xr.concat([hi, lo], dim="row", data_vars="all")
    assert (kf.closure_phases(merged).sizes["closure"]
            < kf.closure_phases(joint).sizes["closure"])


def test_scans_restart_with_each_segment():
    t = np.array([1.0, 1.001, 1.5, 1.0, 1.001, 1.5])
    np.testing.assert_array_equal(scans(t[:3]), [0, 0, 1])
    np.testing.assert_array_equal(scans(t, segment=[0, 0, 0, 1, 1, 1]), [0, 0, 1, 2, 2, 3])
    np.testing.assert_array_equal(scans(t), [0, 0, 1, 0, 0, 1])  # one segment: merged


def test_joint_chi2_is_the_data_weighted_mean(bands):
    """χ² of a joint fit is the count-weighted mean of the files' (each term reduced by N)."""
    hi, lo = bands
    joint = kf.concat_observations([hi, lo])
    weights = {"vis": 1.0, "amp": 1.0, "cphase": 1.0, "lcamp": 1.0}
    rng = np.random.default_rng(3)

    def model(obs):  # a smooth stand-in for a sky model: a Gaussian with a phase ramp
        q = np.hypot(obs.u.values, obs.v.values) / 1e9
        return torch.as_tensor(0.6 * np.exp(-q**2 / 4) * np.exp(1j * obs.u.values / 3e9))

    parts = [DataTerms(o, weights, systematic=0.02) for o in (hi, lo)]
    whole = DataTerms(joint, weights, systematic=0.02)
    _, got = whole(model(joint))
    for term in weights:
        n = [len(p.vis) if term in ("vis", "amp") else p.closures[term].sizes["closure"]
             for p in parts]
        each = [p(model(o))[1][term] for p, o in zip(parts, (hi, lo), strict=True)]
        assert got[term] == pytest.approx(np.dot(n, each) / sum(n), rel=1e-12), term
    # closure quantities ignore station gains drawn per file and scan
    gains = StationGains(joint)
    assert gains.scan.max() + 1 == len(np.unique(scans(hi.time.values))) + len(
        np.unique(scans(lo.time.values)))
    with torch.no_grad():
        gains.log_amp.normal_(0, 0.3, generator=torch.Generator().manual_seed(int(rng.integers(9))))
        gains.phase.uniform_(-np.pi, np.pi)
    _, gained = whole(gains(model(joint)))
    for term in ("cphase", "lcamp"):
        assert gained[term] == pytest.approx(got[term], rel=1e-9)


def test_concat_errors_and_writes(bands, tmp_path):
    hi, lo = bands
    with pytest.raises(ValueError, match="at least one"):
        kf.concat_observations([])
    with pytest.raises(TypeError, match=r"observations\[1\] must be an xarray.Dataset"):
        kf.concat_observations([hi, "lo.uvfits"])
    other = lo.copy()
    other.attrs["source"] = "SgrA"
    with pytest.raises(ValueError, match=r"different sources \['M87', 'SgrA'\]"):
        kf.concat_observations([hi, other])
    joint = kf.concat_observations([hi, lo])
    with pytest.raises(ValueError, match="write each segment"):
        kf.save_uvfits(joint, tmp_path / "joint.uvfits")
    # a joint observation of joint observations renumbers, and survives netCDF
    with pytest.raises(ValueError, match=r"segments 0 \(.*_hi_.*\) and 2 .* hold the same data"):
        kf.concat_observations([joint, hi])  # hi twice would count twice
    triple = kf.concat_observations([joint, lo.isel(row=slice(0, 600))])
    assert list(np.unique(triple.segment)) == [0, 1, 2] and triple.attrs["n_segments"] == 3
    from kerrfield.io.atomic import write_netcdf

    back = kf.load_observation(write_netcdf(triple, tmp_path / "triple.nc"))
    np.testing.assert_array_equal(back.vis.values, triple.vis.values)
    assert back.attrs["n_segments"] == 3
    np.testing.assert_array_equal(kf.closure_phases(back).cphase.values,
                                  kf.closure_phases(triple).cphase.values)
    # one segment is one uvfits file again
    one = select_segment(joint, 1)
    assert one.attrs == lo.attrs  # frequency, MJD, file name, record counts: lo's own
    xr.testing.assert_identical(one, lo)
    back = kf.load_uvfits(kf.save_uvfits(one, tmp_path / "lo.uvfits"))
    np.testing.assert_allclose(back.vis, lo.vis, rtol=1e-6)
    np.testing.assert_allclose(back.u, lo.u, rtol=1e-6)
    for k in (2, 1.7, True):
        with pytest.raises(ValueError, match=f"k: segment {k!r} is not in obs"):
            select_segment(joint, k)


def test_observe_like_a_joint_observation(bands):
    hi, lo = bands
    joint = kf.concat_observations([hi, lo])
    disk = xr.DataArray(np.ones((16, 16)), dims=("dec", "ra"),
                        coords={"dec": np.linspace(-20, 20, 16), "ra": np.linspace(20, -20, 16)})
    syn = kf.observe(disk, like=joint, seed=1, gain_error=0.1)
    assert list(np.unique(syn.segment)) == [0, 1]
    # noiseless, gain errors only: closure phases are the model's in both files alike
    clean = kf.observe(disk, like=joint, noise=False)
    gained = kf.observe(disk, like=joint, noise=False, gain_error=0.2, seed=4)
    np.testing.assert_allclose(kf.closure_phases(gained).cphase, kf.closure_phases(clean).cphase,
                               atol=1e-8)


def test_joint_fit_from_config_and_cli(bands, tmp_path, capsys):
    """kf.fit, the fit-obs TOML and kerrfield fit take several files (a tiny fit each)."""
    from kerrfield import cli
    from kerrfield.fitting.observation_target import observation_image_model

    hi, lo = bands
    paths = [kf.save_uvfits(o, tmp_path / f"{n}.uvfits") for o, n in ((hi, "hi"), (lo, "lo"))]
    field = kf.EmissionField(width=6, depth=1, scale=10.0, seed=0)
    model = observation_image_model(field, 0.94, 163.0, fov=8.0, npix=10, orders=(0,),
                                    match_steps=10)
    res = kf.fit(model, [str(p) for p in paths], steps=2, progress=False,
                 observation={"scout_steps": 1, "position_angle": [0.0]})
    s = res.summary()
    # the defaults: scans averaged per file (never across files), and uv_min (0.1 Gλ)
    # leaves the intra-site baselines out of the closures
    n_cp = [kf.closure_phases(kf.average_scans(o), uv_min=1e8).sizes["closure"]
            for o in (hi, lo)]  # fmt: skip
    assert s["n_cphase"] == sum(n_cp) < sum(kf.closure_phases(kf.average_scans(o)).sizes[
        "closure"] for o in (hi, lo))
    out = tmp_path / "cli"
    argv = ["fit", "--target", *map(str, paths), "--fix-geometry", "--spin0", "0.94",
            "--inclination0", "163", "--fov", "8", "--npix", "10", "--orders", "0",
            "--width", "6", "--depth", "1", "--axisymmetric", "--steps", "2",
            "--position-angle", "0", "--scout-steps", "1", "--no-progress", "-o", str(out)]
    assert cli.main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_cphase"] == s["n_cphase"] and summary["n_observations"] == 2
    # per file: the pooled reduced χ² is their count-weighted mean
    each = summary["chi2_by_observation"]
    assert list(each) == ["hi.uvfits", "lo.uvfits"]
    for term in ("cphase", "lcamp"):
        n = [kf.closure_phases(kf.average_scans(o), uv_min=1e8) if term == "cphase" else
             kf.log_closure_amplitudes(kf.average_scans(o), uv_min=1e8) for o in (hi, lo)]
        n = [c.sizes["closure"] for c in n]
        pooled = (n[0] * each["hi.uvfits"][term] + n[1] * each["lo.uvfits"][term]) / sum(n)
        assert pooled == pytest.approx(summary[f"chi2_{term}"], rel=1e-9)
    assert summary["file"] == "hi.uvfits; lo.uvfits"
    nc = tmp_path / "image.nc"
    from kerrfield.io.atomic import write_netcdf

    write_netcdf(xr.Dataset({"image": (("beta", "alpha"), np.ones((4, 4)))}), nc)
    capsys.readouterr()
    assert cli.main(["fit", "--target", str(nc), str(paths[0]), "-o", str(tmp_path / "x")]) == 2
    assert r"--target[0] is not an observation: it lacks" in capsys.readouterr().err
    # an observation netCDF joins a uvfits file as in kf.fit; an empty list is refused
    lo_nc = write_netcdf(lo, tmp_path / "lo.nc")
    assert cli.main([*argv[:-1], str(tmp_path / "cli2"), "--target", str(paths[0]),
                     str(lo_nc)]) == 0
    assert json.loads((tmp_path / "cli2" / "summary.json").read_text())["n_cphase"] == s[
        "n_cphase"]
    with pytest.raises(ValueError, match="give at least one observation"):
        kf.fit(model, [], steps=1)


def test_config_sections_take_lists(shared_data_dir, tmp_path, monkeypatch):
    """``[target.observation]`` and fit-obs ``[data]``: lists of files, days, bands."""
    from kerrfield.fitting._schema import ConfigError
    from kerrfield.fitting.observation_config import _merge, _observation
    from kerrfield.fitting.observation_sections import observation_target_section

    monkeypatch.setenv("KERRFIELD_DATA_DIR", str(shared_data_dir))
    assert observation_target_section({"day": 6, "band": ["hi", "lo"]}, None) == {
        "day": 6, "band": ["hi", "lo"]}
    assert observation_target_section({"day": 6}, None) == {"day": 6, "band": "hi"}
    with pytest.raises(ConfigError, match="must be one of"):
        observation_target_section({"day": [6, 7]}, None)
    with pytest.raises(ConfigError, match="empty list"):
        observation_target_section({"uvfits": []}, None)
    (tmp_path / "a.uvfits").write_bytes(b"")
    with pytest.raises(ConfigError, match="no such file"):
        observation_target_section({"uvfits": ["a.uvfits", "b.uvfits"]}, tmp_path / "c.toml")
    got = observation_target_section({"uvfits": ["a.uvfits"]}, tmp_path / "c.toml")
    assert got == {"uvfits": [str(tmp_path / "a.uvfits")]}
    with pytest.warns(UserWarning, match=r"observations from 2 days \(MJD 57848, 57849\); a "
                      "joint fit assumes the source did not change"):
        obs = _observation(_merge({"data": {"day": [5, 6], "band": "lo"}}, tmp_path)["data"])
    assert obs.attrs["n_segments"] == 2 and "_095_lo_" in obs.attrs["file"]
    # two days: each keeps its own date (saving April 5 as April 6 would shift every u, v)
    assert obs.attrs["segment_mjd"] == [57848, 57849] and obs.attrs["mjd"] == 57848
    assert select_segment(obs, 1).attrs["mjd"] == 57849
    with pytest.raises(FileNotFoundError, match="no such file"):
        _observation(_merge({"data": {"uvfits": ["a.uvfits", "b.uvfits"]}}, tmp_path)["data"])


def test_mixed_frequencies_warn_and_the_two_bands_do_not(m87_obs):
    """Relabelled as 86 GHz, a second copy of the data spans 86-230 GHz: warned (one image is
    assumed); the two 2017 bands (1 % apart) are not."""
    import warnings

    other = m87_obs.isel(row=slice(0, 500)).assign_attrs(frequency=86e9)
    with pytest.warns(UserWarning, match=r"observations span 86-229.1 GHz"):
        kf.concat_observations([m87_obs, other])
    lo = m87_obs.isel(row=slice(0, 500)).assign_attrs(frequency=227.1e9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kf.concat_observations([m87_obs, lo])
