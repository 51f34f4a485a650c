"""What a ``search`` run reports: flag reasons, printed intervals, header and profiles.png."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib
import numpy as np
import pytest
import xarray as xr

from kerrfield.fitting.plan import Unit
from kerrfield.fitting.profile import LEVELS_1D, profile_intervals, quadratic_fit
from kerrfield.fitting.search_report import (
    format_estimate,
    format_interval,
    search_header,
    search_plots,
    search_summary,
)
from kerrfield.fitting.search_run import _rejection

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SPINS, INCS = (0.2, 0.5, 0.8), (20.0, 45.0, 70.0)


def _unit_ds(spin: float, inc: float, chi2: float) -> xr.Dataset:
    return xr.Dataset({"model": (("beta", "alpha"), np.zeros((12, 12)))},
                      attrs={"spin": spin, "inclination": inc, "chi2": chi2, "loss": chi2 / 144,
                             "loss_name": "chi2", "converged": 1})  # fmt: skip


def _noisy_search() -> dict:
    """A complete search result whose local quadratic was rejected as too noisy (χ²/N ≈ 6:
    also a misfit, so both parameters quote the coarse grid)."""
    grid = [Unit(f"grid_s{i}_i{j}", 0, s, t, False, False, {"spin": i, "inclination": j},
                 stage="grid") for i, s in enumerate(SPINS) for j, t in enumerate(INCS)]
    done = {u.name: _unit_ds(u.spin, u.inclination, 900 + 400 * abs(u.spin - 0.5) / 0.3
                             + 300 * abs(u.inclination - 45) / 25) for u in grid}  # fmt: skip
    ls, lt = np.linspace(0.45, 0.55, 5), np.linspace(40.0, 50.0, 5)
    local = [Unit(f"profile1_s{i}_i{j}", 0, s, t, False, False, {"spin": i, "inclination": j},
                  stage="profile1") for i, s in enumerate(ls) for j, t in enumerate(lt)]
    rng = np.random.default_rng(1)
    chi2 = (860 + ((ls[:, None] - 0.5) / 0.01) ** 2 + ((lt[None, :] - 45.0) / 0.2) ** 2
            + rng.normal(0, 40, (5, 5)))  # fmt: skip
    for u in local:
        done[u.name] = _unit_ds(u.spin, u.inclination, float(chi2[u.index["spin"],
                                                                  u.index["inclination"]]))
    axes = {"spin": ls, "inclination": lt}
    q = quadratic_fit(axes, chi2, cap=1e9)
    observed = float(chi2.min())
    return {"run": SimpleNamespace(done=done, units=grid + local), "grid": grid, "refine": [],
            "local": local, "axes": axes, "chi2": chi2, "chi2_min": observed, "rounds": [],
            "quadratic": None, "resolved": False,
            "quadratic_rejected": _rejection(q, axes, observed),
            "intervals": profile_intervals(axes, chi2, observed), "complete": True}  # fmt: skip


def test_rejection_records_why():
    axes = {"spin": np.linspace(0.4, 0.6, 5), "inclination": np.linspace(40, 50, 5)}
    q = {"names": ["spin", "inclination"], "vertex": [0.5, 45.0], "chi2_min": 1000.0,
         "scatter": 261.0}  # fmt: skip
    noisy = _rejection(q, axes, 1000.0)
    assert noisy["reason"] == "noisy" and noisy["allowed"] == pytest.approx(5.0)
    assert "too noisy" in noisy["text"] and "261 > 5" in noisy["text"]
    # the allowance does not grow with χ²: a profile scattered by 18 χ² units at N = 4096
    # (χ² ≈ 4300) hides a bowl that rises by ≈ 15 at the local grid's edges
    assert _rejection({**q, "scatter": 18.0, "chi2_min": 4300.0}, axes, 4300.0)["reason"] == "noisy"
    assert _rejection({**q, "scatter": 4.9, "chi2_min": 4300.0}, axes, 4300.0) is None
    assert "search.profile_steps" in noisy["text"]
    off = _rejection({**q, "scatter": 1.0, "vertex": [0.5, 52.0]}, axes, 1000.0)
    assert off["reason"] == "vertex off grid" and off["parameter"] == "inclination"
    assert "vertex is off the local grid" in off["text"]
    assert _rejection(None, axes, 1000.0)["reason"] == "no fit"
    low = _rejection({**q, "scatter": 1.0, "chi2_min": 990.0}, axes, 1000.0)
    assert low["reason"] == "extrapolated" and low["allowed"] == pytest.approx(995.0)
    good = {**q, "scatter": 1.0, "chi2_min": 998.0}
    assert _rejection(good, axes, 1000.0) is None
    spin_off = _rejection({**q, "scatter": 1.0, "vertex": [0.7, 45.0]}, axes, 1000.0)
    assert spin_off["reason"] == "vertex off grid" and spin_off["parameter"] == "spin"


def test_flag_reason_says_the_quadratic_was_too_noisy():
    res = _noisy_search()
    assert res["quadratic_rejected"]["reason"] == "noisy"
    s = search_summary(res, {"spin": 0.5, "inclination": 45.0})
    assert s["quadratic_rejected"] == res["quadratic_rejected"]
    for name in ("spin", "inclination"):
        why = s["flag_reasons"][name]
        assert any(r.startswith("local χ² too noisy for a quadratic (scatter ") for r in why)
        assert not any("no quadratic minimum" in r for r in why)
        assert s["intervals"][name]["source"] == "coarse grid"
    assert s["searched_range"] == {"spin": [0.2, 0.8], "inclination": [20.0, 70.0]}
    # the Birge factor reported is the one the coarse-grid quotes were widened by
    assert s["misfit"] and s["birge_factor"] == pytest.approx(s["estimate"]["reduced_chi2"])
    assert s["birge_factor"] > 5


@pytest.mark.parametrize("iv, rng, text", [
    ((0.5, 0.6, False, False), [0.2, 0.9], "[0.5, 0.6]"),
    ((0.475, 0.9, False, True), [0.2, 0.9], "[0.475, ≥ 0.9 (range edge)]"),
    ((20.0, 35.0, True, False), [20.0, 70.0], "[≤ 20 (range edge), 35]"),
    ((20.0, 70.0, True, True), [20.0, 70.0], "the whole searched range [20, 70]"),
    ((44.0, 46.5, False, True), [20.0, 70.0], "[44, 46.5 (open)]"),
    ((0.475, 0.9, False, True), None, "[0.475, 0.9 (open)]"),
])  # fmt: skip
def test_format_interval_spells_out_open_ends(iv, rng, text):
    lo, hi, olo, ohi = iv
    assert format_interval({"lo": lo, "hi": hi, "open_lo": olo, "open_hi": ohi}, rng) == text


def test_estimate_lines_show_open_ends_and_the_loss():
    s = search_summary(_noisy_search(), {})
    inc = next(line for line in format_estimate(s, {}) if line.startswith("  inclination:"))
    assert "68% the whole searched range [20, 70]  95% the whole searched range [20, 70]" in inc
    spin = {"lo": 0.475, "hi": 0.9, "open_lo": False, "open_hi": True}
    one = {**s, "intervals": {"spin": {"68": spin, "95": spin}},
           "estimate": {**s["estimate"], "spin": 0.7}, "unconstrained": {},
           "searched_range": {"spin": [0.2, 0.9]}}  # fmt: skip
    line = format_estimate(one, {"spin": 0.8})[0]
    assert line.startswith("  spin: 0.7  68% [0.475, ≥ 0.9 (range edge)]  95% [0.475, ≥ 0.9")
    assert "[0.475, 0.9]" not in line and line.endswith("(truth 0.8)")
    assert search_header(s) == "search (profile likelihood, noise-aware chi2):"
    nmse = {**s, "estimate": {**s["estimate"], "loss": "nmse"}}
    assert "nmse" in search_header(nmse) and "noise-aware" not in search_header(nmse)


def test_cli_header_names_the_loss_used(tmp_path, monkeypatch, capsys):
    import argparse

    from kerrfield.cli import infer

    res = _noisy_search()
    s = search_summary(res, {})
    s["estimate"]["loss"] = "nmse"
    s["statistical"] = False
    cfg = tmp_path / "c.toml"
    cfg.write_text('[target.synthetic]\nnpix = 8\n[output]\ndirectory = "out"\n')
    monkeypatch.setattr(infer, "run_inference", lambda *a, **k: {
        "n_done": 1, "n_units": 1, "best": {}, "search": s})  # fmt: skip
    args = argparse.Namespace(config=str(cfg), output=str(tmp_path / "out"), check=False,
                              scheduler=None, dask=False, workers=None, overwrite=False,
                              quiet=True)  # fmt: skip
    assert infer._cli_infer(args) == 0
    out = capsys.readouterr().out
    assert "search (profile of the nmse loss" in out and "noise-aware chi2" not in out


def _labels(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_profiles_png_shades_the_quoted_intervals_and_shows_every_point():
    res = _noisy_search()
    search_summary(res, {"spin": 0.5, "inclination": 45.0})
    figs = search_plots(plt, res, {"spin": 0.5, "inclination": 45.0}, None)
    try:
        for ax, name in zip(figs["profiles.png"].axes, ("spin", "inclination"), strict=True):
            iv = res["intervals"][name]
            labels = _labels(ax)
            assert "95 % interval, quoted (coarse grid)" in labels
            assert "68 % interval, quoted (coarse grid)" in labels
            assert "95 % local profile (not quoted)" in labels
            filled = [p for p in ax.patches if p.get_fill()]
            hatched = [p for p in ax.patches if p.get_hatch()]
            spans = sorted((round(p.get_x(), 9), round(p.get_x() + p.get_width(), 9))
                           for p in filled)  # fmt: skip
            assert spans == sorted((round(iv[c]["lo"], 9), round(iv[c]["hi"], 9))
                                   for c in ("68", "95"))  # fmt: skip
            assert len(hatched) == 2
            lo, hi = ax.get_ylim()
            assert lo <= 0 and hi >= max(iv["delta_chi2"]) > 50
            assert ax.get_yscale() == "symlog"
            levels = [ln.get_ydata()[0] for ln in ax.lines if ln.get_label().startswith("Δχ² =")]
            assert sorted(levels) == [LEVELS_1D["68"], LEVELS_1D["95"]]
            x0, x1 = ax.get_xlim()
            assert x0 <= min(iv["95"]["lo"], *iv["grid"]) and x1 >= max(iv["95"]["hi"], *iv["grid"])
            assert any(lbl.startswith("truth") for lbl in labels)
            assert ("[deg]" in ax.get_xlabel()) == (name == "inclination")
    finally:
        for fig in figs.values():
            plt.close(fig)


def test_profiles_png_unflagged_is_linear_without_hatching():
    x = np.linspace(0.4, 0.6, 5)
    prof = ((x - 0.5) / 0.05) ** 2
    iv = {"grid": x.tolist(), "delta_chi2": prof.tolist(), "estimate": 0.5, "sigma": 0.05,
          "source": "local profile"}  # fmt: skip
    for c, lv in LEVELS_1D.items():
        h = 0.05 * np.sqrt(lv)
        iv[c] = {"lo": 0.5 - h, "hi": 0.5 + h, "open_lo": False, "open_hi": False}
    iv["local"] = {c: dict(iv[c]) for c in LEVELS_1D}
    figs = search_plots(plt, {"intervals": {"spin": iv}}, {}, None)
    try:
        ax = figs["profiles.png"].axes[0]
        assert "delta_chi2_map.png" not in figs
        assert not [p for p in ax.patches if p.get_hatch()]
        assert "95 % interval, quoted (local profile)" in _labels(ax)
        assert ax.get_yscale() == "linear"
        assert ax.get_ylim()[0] < 0 and ax.get_ylim()[1] == 10.0
    finally:
        plt.close(figs["profiles.png"])
    # widened by search.interval_scale: the curve stays on the points (σ_fit), the shaded
    # quoted intervals are 1.2 × wider and the legend says so
    scaled = {**iv, "sigma": 0.06, "sigma_fit": 0.05}
    for c, lv in LEVELS_1D.items():
        scaled[c] = {**iv[c], "lo": 0.5 - 0.06 * np.sqrt(lv), "hi": 0.5 + 0.06 * np.sqrt(lv)}
    figs = search_plots(plt, {"intervals": {"spin": scaled}}, {}, None)
    try:
        ax = figs["profiles.png"].axes[0]
        assert "68 % interval, quoted (local profile, σ × 1.2)" in _labels(ax)
        curve = next(ln for ln in ax.lines if ln.get_label() == "quadratic profile (local)")
        g, y = curve.get_data()
        np.testing.assert_allclose(y, ((g - 0.5) / 0.05) ** 2)
    finally:
        plt.close(figs["profiles.png"])


def test_at_range_edge_means_the_searched_range_not_the_local_grid():
    """A local 95 % interval read a little past the local grid (open there) but far inside
    the searched range is not 'at the range edge'; one that reaches the range is."""
    res = _noisy_search()
    for name, u in res["run"].done.items():  # χ²/N ≈ 1 and a clean quadratic bowl
        u.attrs["chi2"] = (u.attrs["chi2"] - 860.0 if name.startswith("profile")
                           else 144.0 + 10 * (u.attrs["chi2"] - 900.0))  # fmt: skip
    res.update(resolved=True, quadratic_rejected=None,
               chi2_min=min(u.attrs["chi2"] for u in res["run"].done.values()))
    res["intervals"]["spin"]["95"] = {"lo": 0.47, "hi": 0.56, "open_lo": False, "open_hi": True}
    res["intervals"]["inclination"]["95"] = {"lo": 20.0, "hi": 46.0, "open_lo": True,
                                             "open_hi": False}  # fmt: skip
    s = search_summary(res, {})
    assert not s["unconstrained"]["spin"] and s["intervals"]["spin"]["source"] == "local profile"
    assert s["at_range_edge"] == {"spin": False, "inclination": True}


def test_delta_chi2_map_panels_from_their_own_minimum_within_the_physical_range():
    from kerrfield.fitting.search_plots import _map

    res = _noisy_search()
    grid = SPINS[-1] + 0.3  # an outer grid value near a = 1: its cell would reach past it
    res["grid"] = [Unit(f"grid_edge_{j}", 0, grid, t, False, False,
                        {"spin": 3, "inclination": j}, stage="grid") for j, t in enumerate(INCS)]
    res["grid"] += [u for u in res["run"].units if u.stage == "grid"]
    for u in res["grid"][:3]:
        res["run"].done[u.name] = _unit_ds(u.spin, u.inclination, 5000.0)
    fig = _map(plt, res, {"spin": 0.5, "inclination": 45.0})
    try:
        coarse, local = fig.axes[0], fig.axes[1]
        bars = fig.axes[2:]
        assert "coarse grid's minimum" in bars[0].get_ylabel()
        assert "best fit" in bars[1].get_ylabel()
        # the coarse grid's own best cell is at Δχ² = 0, clipped at log10 = -2
        assert coarse.collections[0].get_array().min() == pytest.approx(-2.0)
        assert coarse.get_ylim()[1] <= 1.0 and coarse.get_xlim()[0] >= 0.0
        assert local.get_ylim()[0] >= -1.0
    finally:
        plt.close(fig)


def test_a_search_with_another_loss_reports_no_chi2():
    """With nmse (no σ) the minimum is the loss's, not a χ²: no chi2_min / reduced_chi2, no
    misfit test, and the run is marked non-statistical."""
    res = _noisy_search()
    for ds in res["run"].done.values():
        ds.attrs.update(loss_name="nmse", chi2=float("nan"))
    s = search_summary(res, {"spin": 0.5, "inclination": 45.0})
    est = s["estimate"]
    assert est["loss"] == "nmse" and est["chi2_min"] is None and est["reduced_chi2"] is None
    assert est["loss_min"] == res["chi2_min"]
    assert not s["statistical"] and not s["misfit"] and s["birge_factor"] >= 1.0


def test_results_nc_labels_its_grids():
    from kerrfield.fitting.search_report import search_results

    res = _noisy_search()
    out = search_results(res)
    assert out.attrs["loss"] == "chi2"
    assert out["chi2_coarse"].attrs["long_name"] == "total χ² of each coarse grid unit"
    assert out["inclination_coarse"].attrs["units"] == "deg"
    assert out["spin_local"].attrs == {"long_name": "spin a", "units": "1"}
