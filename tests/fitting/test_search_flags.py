"""Search summaries: refinement planning, the flags a profile earns (too few points,
unconverged grid, edge, dip) and the range text."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from kerrfield.fitting.observation_search import plan_refine, search_summary
from kerrfield.fitting.plan import Unit


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
    s = {"profile": prof, "best": best,  # the grid's sentences, as observation_report adds them
         "constraints": [prof[n]["constraint"] for n in ("spin", "inclination") if n in prof]}
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
    # one sentence per axis, and no interval saved where the text says none can exist
    assert sum(c.startswith("spin unconstrained") for c in s["constraints"]) == 1
    assert s["profile"]["spin"]["68"] is None and s["profile"]["spin"]["95"] is None
    three = [-0.5, 0.0, 0.5]
    s = _newcomer(three, [16923.6, 17500.0, 18175.8], 14916.7)  # 3 points, gain > range
    line = [c for c in s["constraints"] if c.startswith("spin unconstrained")][-1]  # search's
    assert s["unconstrained"]["spin"] and "only" not in line and "not converged" in line
    assert s["profile"]["spin"]["68"]["lo"] <= s["profile"]["spin"]["68"]["hi"]
    s = _newcomer(three, [16923.6, 17500.0, 18175.8], 16900.0)  # a small, converged gain
    assert not s["unconstrained"]["spin"]
    assert not any(c.startswith("spin unconstrained") for c in s["constraints"][1:])


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


def test_estimate_is_where_the_data_put_it(tmp_path):
    """A search whose best (polished) unit lies off the local grid, which was shifted to stay
    inside the searched range, with no trusted quadratic: the estimate is the best unit's
    geometry, not the local profile's vertex Δχ² ≫ 1 above it, and an interval with no point
    within its level holds nothing (a newcomer's run: estimate (0.8, 43.0°) from one unit,
    χ² from another)."""
    from kerrfield.fitting.runner import run_inference

    cfg = {"seed": 0,
           "target": {"synthetic": {"emission": "ring", "spin": 0.8, "inclination": 40.0,
                                    "emission_params": {"radius": 6.0, "width": 1.5},
                                    "fov": 9.0, "npix": 24, "orders": [0, 1], "noise": 0.02}},
           "field": {"width": 16, "depth": 2, "output": "softplus", "scale": 9.0},
           "fit": {"steps": 100},
           "mode": {"kind": "search", "spin": [0.0, 0.8], "inclination": [30.0, 50.0]},
           "search": {"field_seeds": 1, "refine": 1, "refine_steps": 100, "polish_steps": 100,
                      "profile_points": 3, "profile_rounds": 1, "profile_steps": 60,
                      "min_steps": 10},
           "output": {"directory": str(tmp_path / "out"), "progress": False, "plots": False}}
    s = run_inference(cfg)["search"]
    est = s["estimate"]
    units = {u["unit"]: u for u in json.loads((tmp_path / "out" / "summary.json").read_text()
                                              )["units"]}  # fmt: skip
    for name in ("spin", "inclination"):
        local = s["intervals"][name]["local"]["68"]
        reached = not local.get("empty")
        assert reached or est[name] == units[est["unit"]][name], (name, est, local)
        truth_in = s["intervals"][name].get("truth_inside_local", {}).get("68")
        assert not (local.get("empty") and truth_in)
