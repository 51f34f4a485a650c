"""Shipped examples, the CLI's physics options, the hidden-truth protocol subset and the
interval rules at the grid and range edges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from kerrfield.fitting.profile import interval
from kerrfield.fitting.runner import run_inference


def test_cli_synth_and_fit_accept_physics_options(tmp_path, capsys):
    from kerrfield import cli

    out = tmp_path / "t.nc"
    assert cli.main(["synth", "--emission", "ring", "--npix", "8", "--orders", "0",
                     "--velocity", "keplerian", "--surface", "equatorial", "--k", "2",
                     "--noise", "0.01", "-o", str(out)]) == 0  # fmt: skip
    ds = xr.load_dataset(out)
    assert ds.attrs["velocity"] == "keplerian" and list(np.atleast_1d(ds.attrs["orders"])) == [0]
    assert json.loads(ds.attrs["emission_params"])
    capsys.readouterr()
    assert cli.main(["fit", "--target", str(out), "--steps", "1", "--no-progress",
                     "-o", str(tmp_path / "fit")]) == 0  # fmt: skip
    printed = json.loads(capsys.readouterr().out.split("wrote")[0])
    assert printed["true_spin"] == ds.attrs["spin"]  # the truth beside the estimate
    assert printed["true_inclination_deg"] == pytest.approx(ds.attrs["inclination"])


@pytest.mark.parametrize("example", sorted(
    p.name for p in (Path(__file__).parents[2] / "examples").glob("*.toml")
    if "\n[data]" not in p.read_text()  # [data]: a `kerrfield fit-obs` config (test_observation)
    and "[target.observation]" not in p.read_text()  # test_observation_target smoke-runs those
))
def test_example_smoke(example, tmp_path):
    """CI smoke version of every shipped example: same physics and mode, tiny sizes."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    root = Path(__file__).parents[2] / "examples"
    raw = tomllib.loads((root / example).read_text())
    raw["target"]["synthetic"].update(npix=10)
    raw["field"].update(width=4, depth=1)
    raw.setdefault("fit", {})["steps"] = 5
    mode = raw["mode"]
    for axis in ("spin", "inclination"):
        if isinstance(mode.get(axis), dict):
            mode[axis]["num"] = 2
    if mode.get("kind") == "ensemble":
        mode["seeds"] = 2
    raw["search"] = {**raw.get("search", {}), "profile_points": 3, "profile_rounds": 1,
                     "refine_steps": 3, "profile_steps": 5}
    raw["output"] = {"directory": str(tmp_path / "out"), "progress": False, "plots": False}
    s = run_inference(raw)
    assert s["complete"]
    if s["mode"] == "search":
        assert s["search"]["intervals"] and s["truth"]


def test_hidden_truth_protocol_subset(tmp_path):
    """A small fast subset of benchmarks/coverage.py: hidden truths, default strategy, table."""
    import argparse
    import importlib.util

    path = Path(__file__).parents[2] / "benchmarks" / "coverage.py"
    spec = importlib.util.spec_from_file_location("kf_coverage", path)
    cov = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cov)
    targets = cov.draw_targets(2, seed=424242, npix=10, noise=0.02)
    assert all(-0.9 <= t["spin"] <= 0.95 for t in targets)
    assert all(15 <= t["inclination"] <= 75 or 105 <= t["inclination"] <= 165 for t in targets)
    args = argparse.Namespace(width=4, steps=10, n_spin=2, n_inc=2)
    real_config = cov.config

    def tiny(spec_, outdir, a):
        cfg = real_config(spec_, outdir, a)
        cfg["search"].update(profile_points=3, profile_rounds=1, refine=1, refine_steps=3,
                             profile_steps=5)  # fmt: skip
        return cfg

    cov.config = tiny
    rows = [cov.run_one(t, tmp_path, args, i) for i, t in enumerate(targets)]
    table = cov.table(rows)
    assert table["n"] == 2
    for name in ("spin", "inclination"):
        assert 0.0 <= table[name]["coverage68"] <= table[name]["coverage95"] <= 1.0
    from kerrfield.fitting.search_report import _MISFIT

    # the misfit reason mentions the coarse grid but is not the "coarse grid" flag
    assert cov._why({"flag_reasons": {"spin": [_MISFIT]}}) == "misfit"
    lines = cov.markdown(rows).splitlines()  # the docs table: header, rule, one row each
    assert len(lines) == 4 and lines[2].startswith(f"| 0 | {targets[0]['emission']} |")
    assert all(isinstance(r["flag_reasons"], dict) for r in rows)


def test_coverage_pooled_table_counts_unflagged_parameters_by_family():
    """benchmarks/coverage.py --pool: hand-made rows with known z-scores and coverage."""
    import importlib.util

    path = Path(__file__).parents[2] / "benchmarks" / "coverage.py"
    spec = importlib.util.spec_from_file_location("kf_coverage_pool", path)
    cov = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cov)

    def row(family, truth, flagged=False):  # estimate 0, 68 % interval [-1, 2]
        r = {"family": family}
        for name in ("spin", "inclination"):
            r.update({f"{name}_68": [-1.0, 2.0], f"{name}_estimate": 0.0,
                      f"truth_{name}": truth, f"{name}_unconstrained": flagged,
                      f"{name}_in68": -1 <= truth <= 2, f"{name}_in95": -2 <= truth <= 4})
        return r

    rows = [row("ring", 1.0), row("ring", -3.0), row("ring", 9.0, flagged=True),
            row("disk", 0.5)]  # fmt: skip
    lines = {tuple(c.strip() for c in ln.split("|")[1:3]): ln
             for ln in cov.pooled([{"rows": rows}]).splitlines()[2:]}
    ring = [c.strip() for c in lines[("ring", "spin")].split("|")[1:-1]]
    # z = 1/2 (towards the upper end, half-width 2) and -3 (lower, half-width 1); flagged out
    assert ring[2:5] == ["2", "1 (50%)", "1 (50%)"]
    assert float(ring[5]) == pytest.approx(1 - 0.95**2, abs=1e-3)  # P(≤ 1 of 2 in 95 %), 2 digits
    assert float(ring[6]) == pytest.approx(np.sqrt((0.25 + 9.0) / 2), abs=0.005)
    assert float(ring[7]) == pytest.approx(1.75)
    assert [c.strip() for c in lines[("all", "inclination")].split("|")][3] == "3"
    assert ("mlp", "spin") not in lines
    # --calibrate: |z| of the unflagged rows 0.5, 3 (rings) and 0.25 (disk: truth 0.5 towards
    # a half-width of 2), spin and inclination pooled; a row quoted with a scale of 2 has a
    # bare z twice its quoted one
    cal = cov.calibrate([{"rows": rows}])
    assert cal["n_parameters"] == 6
    assert cal["q68_abs_z"] == pytest.approx(np.quantile([0.5, 0.5, 3, 3, 0.25, 0.25], 0.68))
    assert cal["interval_scale"] == round(round(cal["q68_abs_z"] / 0.05) * 0.05, 2)
    scaled = [{**rows[3], "interval_scale": 2.0}]
    assert cov.calibrate([{"rows": scaled}])["q68_abs_z"] == pytest.approx(0.5)


def test_interval_when_no_grid_point_is_inside():
    x = np.linspace(0, 1, 5)
    iv = interval(x, np.full(5, 10.0) + x, 1.0)
    assert iv["lo"] <= iv["hi"] and iv["open_lo"] and iv["open_hi"]


def test_local_grid_keeps_its_points_at_the_range_edge():
    """A refined point past the searched range (θo = 167.2° > 165°) still gets a local grid
    of profile_points values per axis, inside the range (it used to collapse to one value,
    leaving that parameter without an interval)."""
    from types import SimpleNamespace

    from kerrfield.fitting.plan import Unit
    from kerrfield.fitting.search import plan_profile

    cfg = SimpleNamespace(search={"profile_points": 5}, spin=[-0.9, 0.0, 0.95],
                          inclination=[15.0, 90.0, 165.0])
    centre = Unit("polish_00", 0, 0.3, 167.2, False, False, {}, stage="polish")
    units = plan_profile(cfg, 2, centre, {"spin": 0.01, "inclination": 0.3})
    incs = sorted({u.inclination for u in units})
    assert len(incs) == 5 and max(incs) == 165.0 and min(incs) >= 164.0
    assert len({u.spin for u in units}) == 5
    wide = plan_profile(cfg, 2, centre, {"spin": 5.0, "inclination": 0.3})
    assert sorted({u.spin for u in wide}) == pytest.approx([-0.9, -0.4375, 0.025, 0.4875, 0.95])


def test_flagged_parameter_quotes_the_coarse_grid():
    """Two coarse basins (θo 45° and 135°, equal χ²): the quoted intervals span both, not
    the narrow local profile around the one that was refined; the grid values inside the
    level are widened by half a coarse step at 68 % (the
    crossing's midpoint) and a full step at 95 % (both after a misfit); the Birge factor
    widens the level."""
    from kerrfield.fitting.search_report import coarse_intervals

    x = np.linspace(15.0, 165.0, 6)  # 30° steps
    local = {c: {"lo": 44.5, "hi": 45.5} for c in ("68", "95")}
    two = coarse_intervals(x, np.array([500, 100, 400, 300, 100.5, 900.0]), local)
    assert (two["68"]["lo"], two["68"]["hi"]) == pytest.approx((30.0, 150.0))
    assert not two["68"]["open_lo"] and not two["68"]["open_hi"]
    assert (two["95"]["lo"], two["95"]["hi"]) == pytest.approx((15.0, 165.0))
    assert two["95"]["open_lo"] and two["95"]["open_hi"]
    one = coarse_intervals(x, np.array([500, 100, 400, 300, 200, 900.0]), local)
    assert (one["68"]["lo"], one["68"]["hi"]) == pytest.approx((30.0, 60.0))
    assert (one["95"]["lo"], one["95"]["hi"]) == pytest.approx((15.0, 75.0))
    assert not one["95"]["open_hi"]
    # the local interval is kept where it reaches further than the grid cell
    far = coarse_intervals(x, np.array([500, 100, 400, 300, 200, 900.0]),
                           {c: {"lo": 25.0, "hi": 62.0} for c in ("68", "95")})
    assert (far["68"]["lo"], far["68"]["hi"]) == pytest.approx((25.0, 62.0))
    # after a misfit the Δχ² are not calibrated: a full step at 68 % as well
    bad = coarse_intervals(x, np.array([500, 100, 400, 300, 200, 900.0]), local, misfit=True)
    assert (bad["68"]["lo"], bad["68"]["hi"]) == pytest.approx((15.0, 75.0))
    # χ²/N = 60: Δχ² = 100 at 135° is outside 1 × 60 (68 %) but inside 3.84 × 60 (95 %)
    wide = coarse_intervals(x, np.array([500, 100, 400, 300, 200, 900.0]), local, birge=60.0)
    assert wide["68"]["hi"] == pytest.approx(60.0) and wide["95"]["hi"] == pytest.approx(165.0)


def test_range_edge_is_reported_open_not_unconstrained():
    """A local 95 % interval past the searched range (θo 15° here) is clipped there and
    marked open (``at_range_edge``), and is not 'extrapolated'; past a local grid that
    does not stop at the range it is extrapolated only beyond one local step."""
    from types import SimpleNamespace

    from kerrfield.fitting.plan import Unit
    from kerrfield.fitting.search_report import _clip_to_range, _extrapolated

    grid = [Unit(f"g{i}{j}", 0, s, t, False, False, {"spin": i, "inclination": j})
            for i, s in enumerate((-0.9, 0.95)) for j, t in enumerate((15.0, 165.0))]
    done = {u.name: xr.Dataset(attrs={"chi2": 1.0}) for u in grid}

    def res(lo: float, hi: float, axis: list[float]) -> dict:
        iv = {c: {"lo": lo, "hi": hi, "open_lo": lo < axis[0], "open_hi": hi > axis[-1]}
              for c in ("68", "95")}
        return {"grid": grid, "run": SimpleNamespace(done=done), "axes": {"inclination":
                np.asarray(axis)}, "intervals": {"inclination": iv}}  # fmt: skip

    edge = res(14.2, 16.6, [15.0, 15.5, 16.0, 16.5, 17.0])
    assert not _extrapolated(edge, "inclination") and _clip_to_range(edge, "inclination")
    iv = edge["intervals"]["inclination"]["95"]
    assert (iv["lo"], iv["open_lo"], iv["hi"], iv["open_hi"]) == (15.0, True, 16.6, False)
    slight = res(39.6, 41.0, [40.0, 40.5, 41.0, 41.5, 42.0])  # 0.4° past, step 0.5°
    assert not _extrapolated(slight, "inclination")
    assert not _clip_to_range(slight, "inclination")
    far = res(38.0, 41.0, [40.0, 40.5, 41.0, 41.5, 42.0])
    assert _extrapolated(far, "inclination")
