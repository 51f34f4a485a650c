"""uvfits reading and writing on the real EHT 2017 M87 files."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from astropy.io import fits

import kerrfield as kf
from kerrfield.vlbi import load_uvfits, save_uvfits


def test_real_file_contents(m87_obs):
    obs = m87_obs
    assert obs.sizes["row"] == 9081
    assert list(obs.station.values) == ["AA", "AP", "AZ", "JC", "LM", "PV", "SM", "SR"]
    assert obs.attrs["source"] == "M87" and obs.attrs["mjd"] == 57849
    assert obs.attrs["frequency"] == pytest.approx(229.0707e9, rel=1e-6)
    assert obs.attrs["ra"] == pytest.approx(187.70593, abs=1e-4)
    assert obs.attrs["ra_units"] == "deg" and obs.attrs["frequency_units"] == "Hz"
    # baseline lengths of the EHT: up to ~8.3 Gλ at 1.3 mm
    uvdist = np.hypot(obs.u, obs.v)
    assert 7e9 < float(uvdist.max()) < 9e9
    assert np.all(obs.sigma > 0) and 0 <= obs.time.min() and obs.time.max() < 24
    # station order respected on every row
    idx = {s: i for i, s in enumerate(obs.station.values)}
    assert all(idx[a] < idx[b] for a, b in zip(obs.t1.values, obs.t2.values, strict=True))


def test_round_trip_exact(m87_obs, tmp_path):
    out = save_uvfits(m87_obs, tmp_path / "rt.uvfits")
    back = load_uvfits(out)
    for name in ("time", "u", "v", "vis", "sigma", "tint"):
        np.testing.assert_array_equal(back[name].values, m87_obs[name].values, err_msg=name)
    assert (back.t1 == m87_obs.t1).all() and (back.t2 == m87_obs.t2).all()
    np.testing.assert_allclose(back.station_xyz, m87_obs.station_xyz)
    assert [p.name for p in tmp_path.iterdir()] == ["rt.uvfits"]  # no temporary left
    with pytest.raises(FileExistsError, match="rt.uvfits exists; pass overwrite=True"):
        save_uvfits(m87_obs.isel(row=slice(0, 10)), out)
    assert load_uvfits(save_uvfits(m87_obs.isel(row=slice(0, 10)), out, overwrite=True)
                       ).sizes["row"] == 10  # fmt: skip


def test_unknown_sefd_is_nan_and_known_sefd_round_trips(m87_obs, tmp_path):
    """The release's AN tables carry SEFD = 0 ("not known" in AIPS/ehtim): read as NaN, not
    as a 0 Jy station; written back as 0; a known SEFD survives the round trip."""
    assert np.isnan(m87_obs.sefd.values).all()
    with fits.open(save_uvfits(m87_obs, tmp_path / "a.uvfits"), memmap=False) as hdul:
        assert (hdul["AIPS AN"].data["SEFD"] == 0).all()
    obs = m87_obs.copy()
    obs["sefd"] = ("station", np.where(obs.station == "AA", 74.0, np.nan))
    back = load_uvfits(save_uvfits(obs, tmp_path / "b.uvfits"))
    assert float(back.sefd.sel(station="AA")) == 74.0
    assert np.isnan(back.sefd.drop_sel(station="AA").values).all()


def _edit(src, dst, fn):
    with fits.open(src, memmap=False) as hdul:
        fn(hdul)
        hdul.writeto(dst)
    return dst


def test_flags_nan_conjugates_and_autocorrelations(m87_path, m87_obs, tmp_path):
    def edit(hdul):
        d = hdul[0].data
        d.data[0:5, ..., 0:2, 2] = 0.0  # flagged: zero weight on RR and LL
        d.data[5:8, ..., 0:2, 0] = np.nan  # NaN visibilities
        b = d.par("BASELINE").copy()
        a1, a2 = (b // 256).astype(int), (b % 256).astype(int)
        odd = np.arange(len(b)) % 2 == 1
        d["BASELINE"][:] = np.where(odd, 256 * a2 + a1, b)
        d["BASELINE"][10] = 257.0  # AA-AA autocorrelation
        for name in ("UU---SIN", "VV---SIN"):
            d[name][odd] *= -1
        d.data[odd, ..., 0:2, 1] *= -1  # conjugate the swapped rows

    obs = load_uvfits(_edit(m87_path, tmp_path / "e.uvfits", edit))
    assert obs.attrs["n_flagged"] == 5 and obs.attrs["n_nan"] == 3
    assert obs.attrs["n_autocorrelations"] == 1
    assert obs.attrs["n_conjugated"] == (9081 // 2) - 4  # rows 5, 7 dropped; 1, 3 flagged
    ref = m87_obs.isel(row=np.setdiff1d(np.arange(9081), [*range(8), 10]))
    for name in ("u", "v", "vis", "sigma"):
        np.testing.assert_allclose(obs[name].values, ref[name].values, rtol=1e-6, atol=1e-3)
    assert (obs.t1 == ref.t1).all()


def test_subarrays(m87_path, tmp_path):
    def edit(hdul):
        d = hdul[0].data
        d["BASELINE"][4000:] += 0.01
        an2 = hdul["AIPS AN"].copy()
        an2.header["EXTVER"] = 2
        an2.data["ANNAME"] = [f"X{n.strip()}" for n in an2.data["ANNAME"]]
        hdul.insert(2, an2)

    obs = load_uvfits(_edit(m87_path, tmp_path / "s.uvfits", edit))
    assert set(np.unique(obs.subarray)) == {1, 2} and obs.sizes["station"] == 16
    assert str(obs.t1.values[4000]).startswith("X") and not str(obs.t1.values[0]).startswith("X")
    back = load_uvfits(save_uvfits(obs, tmp_path / "s2.uvfits"))
    assert (back.t1 == obs.t1).all() and (back.subarray == obs.subarray).all()


@pytest.mark.parametrize("case, match", [
    ("no_an", "AIPS AN"), ("no_uu", "UU---SIN"), ("all_flagged", "flagged"),
    ("cross_hands_only", r"no positive weight in RR/LL, the polarisations that give Stokes I;"
                         r" cross hands are not used"),
    ("not_groups", "random-groups")])
def test_bad_files(m87_path, tmp_path, case, match):
    def edit(hdul):
        if case == "no_an":
            del hdul["AIPS AN"]
        elif case == "all_flagged":
            hdul[0].data.data[..., 2] = 0.0
        elif case == "cross_hands_only":  # RR, LL flagged; RL, LR (Stokes 3-4) weighted
            hdul[0].data.data[..., 0:2, 2] = 0.0
            hdul[0].data.data[..., 2:4, 2] = 1e4
        elif case == "no_uu":
            hdul[0].header["PTYPE1"] = "FOO"
    if case == "not_groups":
        path = tmp_path / "img.fits"
        fits.PrimaryHDU(np.zeros((4, 4))).writeto(path)
    else:
        path = _edit(m87_path, tmp_path / "bad.uvfits", edit)
    with pytest.raises(ValueError, match=match):
        load_uvfits(path)
    with pytest.raises(FileNotFoundError, match="path"):
        load_uvfits(tmp_path / "missing.uvfits")


def test_save_refuses_bad_sigma(m87_obs, tmp_path):
    bad = m87_obs.copy()
    bad["sigma"] = bad.sigma.where(bad.row != 3, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        save_uvfits(bad, tmp_path / "x.uvfits")
    assert not list(tmp_path.iterdir())


def test_agrees_with_ehtim(m87_path, m87_obs, tmp_path, eh):
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
        o = eh.obsdata.load_uvfits(str(m87_path))
        o2 = eh.obsdata.load_uvfits(str(save_uvfits(m87_obs, tmp_path / "k.uvfits")))
    for ob in (o, o2):
        np.testing.assert_allclose(ob.data["u"], m87_obs.u, rtol=1e-12)
        np.testing.assert_allclose(ob.data["time"], m87_obs.time, rtol=0, atol=1e-9)
        np.testing.assert_allclose(ob.data["vis"], m87_obs.vis, rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(ob.data["sigma"], m87_obs.sigma, rtol=2e-6)
        assert (ob.data["t1"] == m87_obs.t1.values).all()


def test_ehtim_round_trip(m87_obs, eh):
    from kerrfield.vlbi.ehtim_io import from_ehtim, to_ehtim

    o = to_ehtim(m87_obs)
    assert len(o.data) == m87_obs.sizes["row"] and o.source == "M87"
    back = from_ehtim(o)
    for name in ("time", "u", "v", "vis", "sigma"):
        np.testing.assert_allclose(back[name].values, m87_obs[name].values, rtol=1e-12)
    assert (back.t1 == m87_obs.t1).all() and back.attrs["ra"] == pytest.approx(
        m87_obs.attrs["ra"])
    with pytest.raises(TypeError, match="Obsdata"):
        from_ehtim(m87_obs)
    joint = kf.concat_observations([m87_obs, m87_obs.isel(row=slice(0, 100))])
    with pytest.raises(ValueError, match=r"joins several observations .*select_segment"):
        to_ehtim(joint)
