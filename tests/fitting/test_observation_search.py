"""``kerrfield infer`` ``kind = "search"`` on an observation: grid, refinements, report."""

from __future__ import annotations

import copy
import json
import sys

import numpy as np
import pytest
import xarray as xr

from kerrfield.fitting.config import ConfigError, load_inference_config
from kerrfield.fitting.observation_search import plan_refine, search_summary
from kerrfield.fitting.plan import Unit
from kerrfield.vlbi import save_uvfits

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def small_uvfits(m87_obs, tmp_path_factory):
    path = tmp_path_factory.mktemp("obs") / "m87_part.uvfits"
    save_uvfits(m87_obs.isel(row=slice(0, 1500)), path)  # 1500 rows of April 6
    return path


_TOML = """seed = 0
[target.observation]
uvfits = "{uvfits}"
[model]
npix = 8
orders = [0]
match_steps = 10
[field]
width = 4
depth = 1
[fit]
steps = 2
field_seeds = 2
[fit.observation]
position_angle = [0.0, 180.0]
scout_steps = 1
[mode]
kind = "search"
spin = [0.5, 0.94]
inclination = 163.0
[search]
refine = 2
refine_steps = 3
[output]
directory = "{out}"
progress = false
"""


def test_observation_search_refines_and_resumes(small_uvfits, tmp_path, capsys):
    from kerrfield import cli
    from kerrfield.fitting.runner import run_inference

    out = tmp_path / "search"
    path = tmp_path / "search.toml"
    path.write_text(_TOML.format(uvfits=small_uvfits, out=out))
    part = run_inference(path, max_units=2)  # the grid only: refinements not yet run
    assert part["mode"] == "search" and not part["complete"]
    assert part["n_units"] == 4 and part["n_done"] == 2 and "estimate" not in part
    assert sorted(p.name for p in (out / "units").glob("*.nc")) == [
        "spin000_inc000.nc", "spin001_inc000.nc"]  # the scan's unit names
    s = run_inference(path)
    assert s["complete"] and s["timing"] == {**s["timing"], "units_fitted": 2,
                                             "units_resumed": 2}  # fmt: skip
    grid_best = min(s["units"], key=lambda r: r["chi2_total"])
    starts = {(r["init_from"], r["start_spin"]) for r in s["refined"]}
    assert starts == {("spin000_inc000", 0.5), ("spin001_inc000", 0.94)}
    for r in s["refined"]:
        a = xr.load_dataset(out / "units" / f"{r['unit']}.nc").attrs
        assert a["stage"] == "refine" and a["start_inclination"] == 163.0
        assert a["chi2_total"] == r["chi2_total"] and np.isfinite(a["theta_g_uas"])
        start = next(u for u in s["units"] if u["unit"] == r["init_from"])
        assert a["chi2_start"] == pytest.approx(start["chi2_total"], rel=1e-9)  # same start
        assert -0.999 < a["spin"] < 0.999 and 0.0 < a["inclination"] < 180.0  # physical
        assert a["spin"] != pytest.approx(a["start_spin"], abs=1e-9)  # spin was fitted
        assert a["inclination"] != pytest.approx(163.0, abs=1e-9)  # and inclination
    e = s["estimate"]
    lowest = min([grid_best, *s["refined"]], key=lambda r: r["chi2_total"])
    assert e["unit"] == lowest["unit"] == s["best"]["unit"] and e["chi2_total"] == s["chi2_total"]
    assert e["stage"] == s["best"]["stage"] == ("refine" if e["unit"].startswith("refine")
                                                else "grid")  # fmt: skip
    assert e["grid_best"]["unit"] == grid_best["unit"]
    assert s["profile"]["spin"]["grid"] == [0.5, 0.94] and "95" in s["profile"]["spin"]
    # inclination is held at 163 on the grid: no interval, so flagged whatever the refinements
    assert s["unconstrained"]["inclination"] and set(s["unconstrained"]) == {"spin",
                                                                           "inclination"}
    assert any(c.startswith("estimate from") for c in s["constraints"])
    assert {"units/refine_00.nc", "units/refine_01.nc", "image.fits"} <= set(s["files"])
    assert json.loads((out / "summary.json").read_text())["estimate"] == e
    # a rerun (through the CLI) fits nothing and prints the estimate and the flags
    stamp = (out / "units" / "refine_00.nc").stat().st_mtime_ns
    capsys.readouterr()
    assert cli.main(["infer", str(path), "-q"]) == 0
    text = capsys.readouterr().out
    assert f"estimate ({e['stage']} stage, {e['unit']})" in text and "unconstrained: " in text
    again = json.loads((out / "summary.json").read_text())
    assert again["timing"]["units_fitted"] == 0 and again["timing"]["units_resumed"] == 4
    assert (out / "units" / "refine_00.nc").stat().st_mtime_ns == stamp
    assert cli.main(["infer", str(path), "--check"]) == 0
    assert "then 2 refinement(s)" in (text := capsys.readouterr().out)
    assert "geometry learning rate 0.02" in text


def test_observation_search_config_errors(small_uvfits, tmp_path):
    from kerrfield.fitting.runner import run_inference

    good = _TOML.format(uvfits=small_uvfits, out=tmp_path / "never")
    path = tmp_path / "c.toml"
    path.write_text(good)
    cfg = load_inference_config(path)
    assert cfg.mode == "search" and cfg.search == {"refine": 2, "refine_steps": 3,
                                                   "refine_geometry_lr": 0.02}  # fmt: skip
    path.write_text(good.replace("refine = 2\nrefine_steps = 3\n", ""))
    assert load_inference_config(path).search == {"refine": 1 + 1, "refine_steps": 4,
                                                  "refine_geometry_lr": 0.02}  # fmt: skip
    bad = {
        "refine = 2": ("refine = 0", r"'search.refine' must lie in \[1, 64\]"),
        "refine_steps = 3": ("refine_steps = 2.5", "'search.refine_steps' must be an integer"),
        "refine = 2\n": ('refine = 2\nprofile_points = 5\n',
                         "'search.profile_points' does not apply.*refine, refine_steps, "
                         "refine_geometry_lr"),
        "refine_steps = 3\n": ("refine_steps = 3\nrefine_geometry_lr = 0\n",
                               r"'search.refine_geometry_lr' must be > 0"),
        'kind = "search"': ('kind = "joint"', "must be 'scan' or 'search', got 'joint'"),
        'kind = "search"\n': ('kind = "scan"\n', r"\[search\] applies .* only with"),
        "inclination = 163.0": ("inclination = 163.0\nfit_inclination = true",
                                "'mode.fit_inclination' does not apply to an observation "
                                "search"),
    }
    for old, (new, match) in bad.items():
        assert old in good
        path.write_text(good.replace(old, new, 1))
        with pytest.raises(ConfigError, match=match):
            run_inference(path)
    assert not (tmp_path / "never").exists()  # refused before any fitting


def _ds(chi2: float, seed: int = 0) -> xr.Dataset:
    return xr.Dataset(attrs={"chi2_total": chi2, "seed": seed})


def test_plan_refine_lowest_distinct_finite():
    class Cfg:
        search = {"refine": 2}

    grid = [Unit(f"u{i}", 0, s, 163.0, False, False, {"spin": i}) for i, s in
            enumerate((-0.5, 0.0, 0.5))]  # fmt: skip
    done = {"u0": _ds(np.nan), "u1": _ds(10.0, 7), "u2": _ds(5.0, 3)}
    ref = plan_refine(Cfg(), grid, done)  # type: ignore[arg-type]
    assert [(u.name, u.init_from, u.seed, u.spin) for u in ref] == [
        ("refine_00", "u2", 3, 0.5), ("refine_01", "u1", 7, 0.0)]
    assert all(u.fit_spin and u.fit_inclination and u.stage == "refine" for u in ref)


def _profile(flat: bool) -> dict:
    e = {"grid": [0.0, 0.5, 0.9], "flat": flat, "consistent": [0.5],
         "delta_chi2": [20.0, 0.0, 30.0],
         "95": {"lo": 0.3, "hi": 0.7, "open_lo": False, "open_hi": False}}
    return {"spin": e, "inflation": 1.0, "scatter": 1.0}


def _refined(spins: list[float], chi2: list[float]) -> list[dict]:
    return [{"unit": f"refine_{i:02d}", "init_from": "g", "start_spin": 0.5,
             "start_inclination": 163.0, "spin": s, "inclination": 160.0, "chi2_total": c,
             "at_bound": False, "failed": ""}
            for i, (s, c) in enumerate(zip(spins, chi2, strict=True))]


def test_search_summary_flags():
    grid_best = {"unit": "g", "spin": 0.5, "inclination": 163.0, "chi2_total": 100.0}
    for flat, spins, chi2, spin_free in (
            (False, [0.55, 0.45], [90.0, 93.0], False),  # both inside the grid's 95 % range
            (False, [0.55, 0.95], [90.0, 93.0], True),  # an acceptable fit outside it
            (False, [0.55, 0.95], [90.0, 200.0], False),  # the outlier is a much worse fit
            (True, [0.55, 0.5], [90.0, 93.0], True)):  # flat on the grid
        best = {"unit": "refine_00", "spin": spins[0], "inclination": 160.0, "loss": 90.0,
                "stage": "refine"}  # fmt: skip
        s = {"profile": _profile(flat), "best": best, "constraints": ["grid line"]}
        search_summary(s, grid_best, _refined(spins, chi2), {"spin": 0.0, "inclination": 163.0})
        assert s["unconstrained"] == {"spin": spin_free, "inclination": True}, (flat, spins)
        assert s["estimate"]["stage"] == "refine" and s["constraints"][0] == "grid line"
        assert s["refined"][0]["delta_chi2_vs_grid"] == -10.0
        assert "estimate from a refinement" in s["constraints"][1]


def _newcomer(spins: list[float], chi2: list[float], refined_chi2: float) -> dict:
    """The summary of a search on a spin grid at inclination 160 with one refinement (the
    case of a newcomer's 2-point grid, 20 steps, one field seed)."""
    from kerrfield.fitting.observation_report import observation_profile

    prof = observation_profile({"spin": spins, "inclination": [160.0]},
                               np.array(chi2)[:, None], 10262)  # fmt: skip
    k = int(np.argmin(chi2))
    grid_best = {"unit": f"spin{k:03d}_inc000", "spin": spins[k], "inclination": 160.0,
                 "chi2_total": chi2[k]}  # fmt: skip
    best = {"unit": "refine_00", "spin": spins[k] - 0.13, "inclination": 156.1,
            "loss": refined_chi2, "stage": "refine"}  # fmt: skip
    s = {"profile": prof, "best": best, "constraints": []}
    ref = _refined([spins[k] - 0.13], [refined_chi2])
    ref[0].update(start_spin=spins[k], start_inclination=160.0, chi2_start=chi2[k])
    search_summary(s, grid_best, ref, {"spin": 0.0, "inclination": 160.0})
    return s


def test_search_flags_too_few_points_and_unconverged_grid():
    """Spin is unconstrained on a 2-point grid, and when a refinement beats the best grid
    point by more than the grid's whole χ² range along spin (unconverged grid fits)."""
    s = _newcomer([-0.5, 0.5], [16923.6, 18175.8], 14916.7)  # the newcomer's numbers
    assert s["unconstrained"] == {"spin": True, "inclination": True}
    line = next(c for c in s["constraints"] if c.startswith("spin unconstrained"))
    assert "only 2 grid values" in line and "not converged" in line
    assert "2007" in line and "1252" in line  # the gain and the grid's χ² range
    three = [-0.5, 0.0, 0.5]
    s = _newcomer(three, [16923.6, 17500.0, 18175.8], 14916.7)  # 3 points, gain > range
    line = next(c for c in s["constraints"] if c.startswith("spin unconstrained"))
    assert s["unconstrained"]["spin"] and "only" not in line and "not converged" in line
    s = _newcomer(three, [16923.6, 17500.0, 18175.8], 16900.0)  # a small, converged gain
    assert not s["unconstrained"]["spin"]
    assert not any(c.startswith("spin unconstrained") for c in s["constraints"])


def test_scan_profile_flags_fewer_than_three_points():
    from kerrfield.fitting.observation_report import observation_profile

    for spins, chi2, scatter, free in (([-0.5, 0.5], [100.0, 900.0], None, True),
                                       ([-0.5, 0.5], [100.0, 900.0], 1.0, True),
                                       ([-0.5, 0.0, 0.5], [300.0, 100.0, 900.0], None, False),
                                       ([-0.5, 0.0, 0.5], [300.0, 100.0, 900.0], 1.0, False)):
        e = observation_profile({"spin": spins, "inclination": [163.0]},
                                np.array(chi2)[:, None], 100, scatter)["spin"]  # fmt: skip
        assert e["unconstrained"] is free and not e["flat"], (spins, scatter)
        assert e["constraint"].startswith("spin unconstrained: only 2") is free
        # two points bound nothing: no interval is quoted beside "unconstrained"
        assert ("68 % interval" in e["constraint"]) is not free
        assert ("too few for a profile and an interval" in e["constraint"]) is free


def test_refine_unit_marks_bounds_and_failures(monkeypatch):
    """A refinement at the edge of the physical range is marked; a non-finite loss is
    recorded with χ² = NaN instead of stopping the run (and is never the estimate)."""
    from kerrfield.fitting import observation_infer
    from kerrfield.fitting.observation_search import fit_refine_unit, refined_row

    class Cfg:
        search = {"refine_steps": 3, "refine_geometry_lr": 0.02}
        fingerprint = "f"

    unit = Unit("refine_00", 3, 0.9, 170.0, True, True, {"spin": 1}, stage="refine",
                init_from="spin001_inc000")  # fmt: skip
    for spin, inc, bound in ((0.995, 160.0, True), (0.5, 179.5, True), (0.5, 160.0, False)):
        fake = xr.Dataset(attrs={"spin": spin, "inclination": inc, "chi2_total": 5.0})
        monkeypatch.setattr(observation_infer, "fit_seed", lambda *a, d=fake, **k: d.copy())
        a = fit_refine_unit(Cfg(), unit, None).attrs  # type: ignore[arg-type]
        assert bool(a["at_bound"]) is bound and a["start_spin"] == 0.9 and a["stage"] == "refine"

    def boom(*a, **k):
        raise FloatingPointError("fit_observation: the loss became non-finite")

    monkeypatch.setattr(observation_infer, "fit_seed", boom)
    a = fit_refine_unit(Cfg(), unit, None).attrs  # type: ignore[arg-type]
    assert np.isnan(a["chi2_total"]) and "non-finite" in a["failed"]
    assert a["spin"] == 0.9 and a["init_from"] == "spin001_inc000"
    assert refined_row(unit, a)["failed"]


def test_range_text_never_prints_infinity():
    from kerrfield.fitting.observation_search import _range_text

    assert _range_text(-np.inf, -0.8839) == "(≤ -0.8839, open below the grid)"
    assert _range_text(150.0, np.inf) == "(≥ 150, open above the grid)"
    assert "inf" not in _range_text(-np.inf, np.inf) and _range_text(1.0, 2.0) == "[1, 2]"


def _scan_toml(text: str) -> str:
    """The search config ``text`` as a scan: its ``[search]`` section (before ``[output]``)
    dropped."""
    head, tail = text.split("[search]\n")
    return head.replace('kind = "search"', 'kind = "scan"') + tail[tail.index("[output]"):]


def _mtimes(folder) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.glob("*.nc"))}


def test_scan_folder_continued_as_search(small_uvfits, tmp_path):
    """A finished scan rerun as a search reuses its grid units and fits only refinements;
    other refinement settings refit only those; a grid-relevant change is refused."""
    from kerrfield.fitting.runner import run_inference

    out, path = tmp_path / "run", tmp_path / "c.toml"
    search = _TOML.format(uvfits=small_uvfits, out=out).replace(
        "refine_steps = 3\n", "refine_steps = 3\nrefine_geometry_lr = 0.05\n")
    path.write_text(_scan_toml(search))
    scan = run_inference(path)
    assert scan["complete"] and scan["timing"]["units_fitted"] == 2 and "refined" not in scan
    # 2 spin values, inclination held: a scan flags both, in the key a search has
    assert scan["unconstrained"] == {"spin": True, "inclination": True}
    assert any("only 2 grid values" in c for c in scan["constraints"])
    assert "inclination unconstrained: held at 163 on the grid (no interval)" in scan[
        "constraints"]
    grid = _mtimes(out / "units")
    assert list(grid) == ["spin000_inc000.nc", "spin001_inc000.nc"]
    path.write_text(search)
    s = run_inference(path)
    assert s["complete"] and s["timing"]["units_resumed"] == 2  # the whole grid
    assert s["timing"]["units_fitted"] == 2 and len(s["refined"]) == 2  # the refinements only
    after = _mtimes(out / "units")
    assert {k: after[k] for k in grid} == grid and set(after) - set(grid) == {
        "refine_00.nc", "refine_01.nc"}
    assert {u["unit"]: u["chi2_total"] for u in s["units"]} == {
        u["unit"]: u["chi2_total"] for u in scan["units"]}
    a = xr.load_dataset(out / "units" / "refine_00.nc").attrs
    assert a["refine_geometry_lr"] == 0.05 and a["fingerprint"] == load_inference_config(
        path).fingerprint != load_inference_config(path).grid_fingerprint
    stamp = json.loads((out / "config.json").read_text())
    assert stamp["fingerprint"] == s["fingerprint"] != scan["fingerprint"]
    assert (out / "profile.png").stat().st_size > 0 and "profile.png" in s["files"]
    # one refinement fewer: the grid stays, refine_00 (of other settings) is fitted again
    path.write_text(search.replace("refine = 2", "refine = 1"))
    fewer = run_inference(path)
    assert fewer["timing"]["units_resumed"] == 2 and fewer["timing"]["units_fitted"] == 1
    assert _mtimes(out / "units")["refine_00.nc"] != after["refine_00.nc"]
    # back to the scan: nothing fitted
    path.write_text(_scan_toml(search))
    assert run_inference(path)["timing"] == {**scan["timing"], "units_fitted": 0,
                                             "units_resumed": 2,
                                             "seconds": pytest.approx(0, abs=60)}  # fmt: skip
    # a setting of the grid fits is another configuration: refused, nothing touched
    path.write_text(search.replace("steps = 2\n", "steps = 3\n", 1))
    with pytest.raises(ConfigError, match="holds results of a different configuration"):
        run_inference(path)
    assert _mtimes(out / "units")["spin000_inc000.nc"] == grid["spin000_inc000.nc"]


def test_grid_fingerprint_observation_only(small_uvfits, tmp_path):
    text = _TOML.format(uvfits=small_uvfits, out=tmp_path / "o")
    cfgs = [load_inference_config(tomllib.loads(t)) for t in (
        text, _scan_toml(text), text.replace("refine_steps = 3", "refine_steps = 9"),
        text.replace("refine = 2\n", "refine = 2\nrefine_geometry_lr = 0.1\n"))]
    assert len({c.grid_fingerprint for c in cfgs}) == 1
    assert len({c.fingerprint for c in cfgs}) == 4
    for changed in (text.replace("steps = 2\n", "steps = 3\n", 1),
                    text.replace("inclination = 163.0", "inclination = 160.0"),
                    text.replace("field_seeds = 2", "field_seeds = 1")):  # fmt: skip
        assert load_inference_config(tomllib.loads(changed)).grid_fingerprint not in {
            c.grid_fingerprint for c in cfgs}
    image = load_inference_config({"target": {"synthetic": {"npix": 8}},
                                   "mode": {"kind": "search", "spin": [0.1, 0.5]}})
    assert image.grid_fingerprint == image.fingerprint  # image targets: unchanged


def test_fingerprint_holds_the_effective_uv_min(small_uvfits, tmp_path):
    """A folder fitted with every baseline (uv_min = 0, the default before 2026-12-01) is
    not resumed by the same configuration under today's default, 0.1 Gλ."""
    from kerrfield.fitting.observation import UV_MIN

    raw = tomllib.loads(_TOML.format(uvfits=small_uvfits, out=tmp_path / "o"))

    def with_uv_min(value):
        out = copy.deepcopy(raw)
        out.setdefault("fit", {}).setdefault("observation", {})["uv_min"] = value
        return load_inference_config(out)

    default = load_inference_config(copy.deepcopy(raw))
    assert default.grid_fingerprint == with_uv_min(UV_MIN).grid_fingerprint
    assert default.grid_fingerprint != with_uv_min(0.0).grid_fingerprint
    assert default.fingerprint != with_uv_min(0.0).fingerprint


def test_refine_geometry_lr_reaches_the_optimiser(small_uvfits, tmp_path, monkeypatch):
    """search.refine_geometry_lr is the Adam learning rate of the refinement's u, v."""
    from kerrfield.fitting import observation
    from kerrfield.fitting.observation_search import fit_refine_unit
    from kerrfield.vlbi import load_uvfits

    seen: list[float] = []
    real = observation._optimizer

    def spy(sky, lr, sky_lr, geometry_lr):
        opt = real(sky, lr, sky_lr, geometry_lr)
        geo = {id(p) for p in getattr(sky.image_model, "geometry_parameters", list)()}
        seen.extend(g["lr"] for g in opt.param_groups
                    if geo and {id(p) for p in g["params"]} == geo)  # fmt: skip
        return opt

    monkeypatch.setattr(observation, "_optimizer", spy)
    text = _TOML.format(uvfits=small_uvfits, out=tmp_path / "o").replace(
        "refine_steps = 3\n", "refine_steps = 2\nrefine_geometry_lr = 0.037\n")
    cfg = load_inference_config(tomllib.loads(text))
    unit = Unit("refine_00", 0, 0.5, 163.0, True, True, {"spin": 0}, stage="refine",
                init_from="spin000_inc000")  # fmt: skip
    ds = fit_refine_unit(cfg, unit, load_uvfits(small_uvfits))
    assert seen and set(seen) == {0.037} and ds.attrs["refine_geometry_lr"] == 0.037


def test_profile_figure_draws_refinements():
    from kerrfield.fitting.observation_plot import plot_observation_profile

    prof = {"spin": {"grid": [0.0, 0.5, 0.9], "delta_chi2": [2.0, 0.0, 5.0], "flat": False},
            "inflation": 2.0, "chi2_min": 100.0, "scatter": 0.5}
    grid = [{"spin": s, "inclination": 163.0, "chi2_total": 100.0 + 4 * d}
            for s, d in zip([0.0, 0.5, 0.9], [1.0, 0.0, 2.5], strict=True)]
    refined = [{"spin": 0.6, "inclination": 158.0, "chi2_total": 96.0, "start_spin": 0.5,
                "start_inclination": 163.0, "chi2_start": 100.0},
               {"spin": 0.9, "inclination": 150.0, "chi2_total": np.nan, "start_spin": 0.0,
                "start_inclination": 163.0, "chi2_start": 104.0}]  # failed: not drawn
    fig = plot_observation_profile(prof, title="M87", grid=grid, refined=refined)
    spin_ax, plane = fig.axes[:2]
    assert "joint refinement" in [t.get_text() for t in spin_ax.get_legend().get_texts()]
    assert "joint refinement" in [t.get_text() for t in plane.get_legend().get_texts()]
    assert spin_ax.get_xlabel() == "spin a/M" and plane.get_ylabel() == "inclination [deg]"
    assert len([c for c in spin_ax.get_children() if type(c).__name__ == "Annotation"]) == 1
    star = [ln for ln in spin_ax.lines if ln.get_label() == "joint refinement"][0]
    assert star.get_xydata().tolist() == [[0.6, -2.0]]  # (96 - 100) / 2
    assert "M87" in fig._suptitle.get_text() and "joint refinement" in fig._suptitle.get_text()
    # a long file name: the title is wrapped and stays inside the figure
    long = ("M87, SR1_M87_2017_096_hi_hops_netcal_StokesI_with_a_much_longer_name.uvfits, "
            "MJD 57849")  # fmt: skip
    for shown in ([], refined):
        fig = plot_observation_profile(prof, title=long, grid=grid, refined=shown)
        fig.canvas.draw()
        box, page = fig._suptitle.get_window_extent(), fig.bbox
        text = fig._suptitle.get_text()
        assert "\n" in text and "".join(long.split()) in "".join(text.split())  # all of it
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and box.y1 <= page.y1, (box, page)
    bare = plot_observation_profile(prof)
    assert len(bare.axes) == 1 and bare.axes[0].get_legend() is not None
    assert "joint" not in bare._suptitle.get_text()
