"""``kerrfield infer`` ``kind = "search"`` on an observation: grid, refinements, report."""

from __future__ import annotations

import copy
import json
import sys

import numpy as np
import pytest
import xarray as xr

from kerrfield.fitting.config import ConfigError, load_inference_config
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
