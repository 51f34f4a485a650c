"""The default ``search`` strategy, consistent forward model, pre-fit errors and dask runs."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

import kerrfield as kf
from kerrfield.fitting.config import ConfigError
from kerrfield.fitting.convergence import check_inference_inputs, resolve_physics
from kerrfield.fitting.profile import interval, quadratic_fit
from kerrfield.fitting.runner import run_inference
from kerrfield.models.forward import gaussian_beam, target_physics

SEARCH = """
seed = 0
[target.synthetic]
emission = "ring"
emission_params = {{ radius = 6.0, width = 1.5 }}
spin = 0.8
inclination = 40.0
fov = 9.0
npix = 12
noise = 0.02
[field]
width = 6
depth = 1
output = "softplus"
scale = 9.0
[fit]
steps = 20
[mode]
kind = "search"
spin = {{ start = 0.2, stop = 0.9, num = 2 }}
inclination = {{ start = 30.0, stop = 50.0, num = 2 }}
[search]
field_seeds = 1
refine = 1
refine_steps = 5
profile_points = 3
profile_steps = 10
profile_rounds = 1
[output]
directory = "{out}"
progress = false
plots = {plots}
"""


def _cfg(tmp_path: Path, name: str = "out", plots: bool = False) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(SEARCH.format(out=tmp_path / name, plots=str(plots).lower()))
    return path


def test_beam_is_normalised_and_differentiable():
    img = torch.zeros(11, 11, dtype=torch.float64, requires_grad=True)
    out = gaussian_beam(img + torch.eye(11, dtype=torch.float64), 2.0, 1.0, 1.0)
    out.sum().backward()
    assert img.grad is not None and torch.isfinite(img.grad).all()
    point = torch.zeros(21, 21, dtype=torch.float64)
    point[10, 10] = 1.0
    assert float(gaussian_beam(point, 3.0, 0.5, 0.5).sum()) == pytest.approx(1.0, abs=1e-12)


def test_synthesize_records_forward_model_and_fit_reads_it(tmp_path):
    ds = kf.synthesize("ring", 0.6, 30.0, npix=10, fov=8.0, orders=(0,), k=2.0,
                       velocity="keplerian", noise=0.01, blur_fwhm=2.0)  # fmt: skip
    path = tmp_path / "t.nc"
    ds.to_netcdf(path)
    back = xr.load_dataset(path)
    phys = target_physics(back)
    assert phys == {"orders": (0,), "k": 2.0, "surface": "equatorial", "velocity": "keplerian",
                    "beam_fwhm": 2.0}  # fmt: skip
    assert float(back["sigma"].min()) > 0
    # the model reproduces the target's clean, blurred image exactly with the true emission
    model = kf.kerr_image_model(kf.truth_emission(back), 0.6, 30.0, npix=10, fov=8.0,
                                orders=(0,), k=2.0, velocity="keplerian", beam_fwhm=2.0,
                                learn_geometry=False)  # fmt: skip
    clean_blurred = gaussian_beam(torch.tensor(back["clean"].values), 2.0,
                                  float(back.beta[1] - back.beta[0]),
                                  float(back.alpha[1] - back.alpha[0]))  # fmt: skip
    np.testing.assert_allclose(model.image().detach().numpy(), clean_blurred.numpy(),
                               rtol=1e-9, atol=1e-12)  # fmt: skip


def test_mismatch_is_allowed_but_printed(capsys):
    ds = kf.synthesize("ring", 0.6, 30.0, npix=8, orders=(0, 1))
    out = resolve_physics(ds, {"orders": [0]})
    assert out["orders"] == (0,) and "mismatch" in capsys.readouterr().err


def test_render_uses_all_geometry_orders():
    geo = kf.raytrace(0.5, 30.0, npix=8, orders=(0, 1, 2))
    img = kf.render(kf.EmissionField(seed=0), 0.5, 30.0, geometry=geo)
    assert img.attrs["orders"] == [0, 1, 2]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"loss": "chi2"}, "needs the target's per-pixel noise"),
        ({"spins": [0.5, 1.2]}, "outside the physical range"),
        ({"inclinations": [0.0]}, "outside the physical range"),
        ({"beam_fwhm": 50.0}, "not smaller than the screen"),
        ({"screen": (np.linspace(-5, 5, 8), np.linspace(-5, 5, 9))}, "screens are incompatible"),
    ],
)
def test_bad_input_errors_before_fitting(kwargs, match):
    ds = kf.synthesize("ring", 0.6, 30.0, npix=8, fov=8.0)  # noise 0: sigma is 0
    with pytest.raises(ValueError, match=match):
        check_inference_inputs(ds, **kwargs)


def test_chi2_without_sigma_fails_in_infer(tmp_path):
    path = _cfg(tmp_path)
    path.write_text(path.read_text().replace("noise = 0.02", "noise = 0.0") + "")
    text = path.read_text().replace("[fit]\n", '[fit]\nloss = "chi2"\n')
    path.write_text(text)
    with pytest.raises(ConfigError, match="per-pixel noise"):
        run_inference(path)
    assert not list((tmp_path / "out" / "units").glob("*.nc"))


def test_profile_interval_and_quadratic():
    x = np.linspace(0, 4, 9)
    iv = interval(x, (x - 1.0) ** 2 / 0.25, 1.0)  # sigma 0.5
    assert iv["lo"] == pytest.approx(0.5) and iv["hi"] == pytest.approx(1.5)
    edge = interval(x, x * 0.1, 1.0)
    assert edge["open_lo"]
    s, t = np.meshgrid(np.linspace(-1, 1, 5), np.linspace(30, 50, 5), indexing="ij")
    chi2 = 100 + (s / 0.1) ** 2 + ((t - 40) / 2.0) ** 2
    q = quadratic_fit({"spin": s[:, 0], "inclination": t[0]}, chi2, cap=1e9)
    assert q["vertex"] == pytest.approx([0.0, 40.0], abs=1e-9)
    assert np.sqrt(q["cov1"][1][1]) == pytest.approx(2.0)
    # widened by the Birge ratio (a variance factor) and search.interval_scale: the
    # intervals grow by sqrt(birge) · scale about the same vertex, the fitted bowl is kept
    from kerrfield.fitting.profile import quadratic_intervals, widened
    axes = {"spin": s[:, 0], "inclination": t[0]}
    bare, wide = quadratic_intervals(q, axes), quadratic_intervals(widened(q, 2.25, 1.2), axes)
    for name, sigma in (("spin", 0.1), ("inclination", 2.0)):
        assert wide[name]["sigma_fit"] == pytest.approx(sigma)
        assert wide[name]["sigma"] == pytest.approx(1.5 * 1.2 * sigma)
        for c, level in (("68", 1.0), ("95", 3.84)):
            w, b = wide[name][c], bare[name][c]
            assert w["hi"] - wide[name]["estimate"] == pytest.approx(1.8 * sigma * level**0.5)
            assert w["hi"] + w["lo"] == pytest.approx(b["hi"] + b["lo"])
    with pytest.raises(ValueError, match="scale > 0"):
        widened(q, 1.0, 0.0)


def test_profile_estimate_lies_inside_its_own_interval():
    """A lopsided three-point profile (Δχ² 5, 0, 200): the parabola's vertex would fall
    outside the 68 % interval read off the same points; it is kept inside."""
    from kerrfield.fitting.profile import profile_intervals

    axes = {"spin": np.array([0.5]), "inclination": np.array([52.0, 53.125, 54.25])}
    iv = profile_intervals(axes, np.array([[105.0, 100.0, 300.0]]), 100.0)["inclination"]
    x = axes["inclination"]
    vertex = x[1] - 0.5 * (x[1] - x[0]) * (300.0 - 105.0) / (300.0 + 105.0 - 200.0)
    assert vertex < iv["68"]["lo"]  # the unclipped vertex
    assert iv["68"]["lo"] <= iv["estimate"] <= iv["68"]["hi"]
    # a symmetric profile keeps its vertex
    iv = profile_intervals(axes, np.array([[104.0, 100.0, 104.0]]), 100.0)["inclination"]
    assert iv["estimate"] == pytest.approx(53.125)


def test_search_smoke_and_resume(tmp_path, capsys):
    path = _cfg(tmp_path, plots=True)
    s = run_inference(path, progress=True)
    assert s["complete"] and s["mode"] == "search"
    err = capsys.readouterr().err  # one line per finished unit
    assert "kerrfield infer: grid_s000_i000 (spin 0.2, inclination 30): chi2 " in err
    assert err.count("kerrfield infer: profile1_") == 9
    # strict JSON: an unconverged unit's infinite relative change is written as null
    json.loads((tmp_path / "out" / "summary.json").read_text(),
               parse_constant=lambda c: pytest.fail(f"summary.json holds {c}"))
    se = s["search"]
    assert se["statistical"] and set(se["intervals"]) >= {"spin", "inclination"}
    for name in ("spin", "inclination"):
        iv = se["intervals"][name]
        assert iv["68"]["lo"] <= iv["68"]["hi"] and "truth_inside" in iv
    assert all("converged" in r and "steps" in r for r in s["units"])
    # goodness of fit: this tiny field (20 L-BFGS steps) is far from the noise floor, so the
    # run must say so and flag both parameters instead of quoting its intervals
    red = se["estimate"]["reduced_chi2"]
    assert se["misfit"] == (red > 1.0 + 5.0 * np.sqrt(2.0 / 144)) and red > 2.0, red
    assert se["unconstrained"] == {"spin": True, "inclination": True}
    assert any(r.startswith("misfit") for r in se["flag_reasons"]["spin"])
    assert se["birge_factor"] == pytest.approx(red, rel=0.05)  # the widening applied
    from kerrfield.fitting.search_report import format_estimate
    lines = format_estimate(se, {})
    assert any("UNCONSTRAINED (misfit" in line for line in lines)
    if se["convergence"]["fraction_converged"] < 1.0:  # 20-step fits: said, not hidden
        assert any("stopped at their step limit" in line for line in lines)
    assert (tmp_path / "out" / "profiles.png").is_file()
    assert (tmp_path / "out" / "delta_chi2_map.png").is_file()
    again = run_inference(path)
    assert again["timing"]["units_fitted"] == 0
    assert again["search"]["estimate"] == se["estimate"]
    assert again["search"]["flag_reasons"] == se["flag_reasons"]
    assert again["search"]["intervals"]["spin"]["68"] == se["intervals"]["spin"]["68"]
    # search.interval_scale only changes how finished units are read: the same folder is
    # re-read with the bare Δχ² intervals (scale 1) without fitting anything
    path.write_text(path.read_text().replace("profile_rounds = 1", "profile_rounds = 1\n"
                                             "interval_scale = 1.0"))
    bare = run_inference(path)
    assert bare["timing"]["units_fitted"] == 0
    assert bare["search"]["interval_scale"] == 1.0 and se["interval_scale"] == 1.2


def _unit_bytes(d: Path) -> dict[str, np.ndarray]:
    out = {}
    for p in sorted((d / "units").glob("*.nc")):
        ds = xr.load_dataset(p)
        out[p.name] = (ds["model"].values.tobytes(), ds["field_params"].values.tobytes(),
                       ds.attrs["loss"])  # fmt: skip
    return out


@pytest.mark.skipif(os.environ.get("KERRFIELD_SKIP_DASK") == "1", reason="dask disabled")
def test_dask_local_cluster_matches_serial_and_survives_a_killed_worker(tmp_path):
    pytest.importorskip("distributed")
    serial = run_inference(_cfg(tmp_path, "serial"))
    par = run_inference(_cfg(tmp_path, "par"), scheduler="local", workers=2)
    assert par["search"]["estimate"] == serial["search"]["estimate"]
    assert _unit_bytes(tmp_path / "serial") == _unit_bytes(tmp_path / "par")

    # kill one worker process mid-scan: finished units stay, the run (or a rerun) completes
    from kerrfield.fitting.executor import Executor

    path = _cfg(tmp_path, "killed")
    units = tmp_path / "killed" / "units"
    ex = Executor("local", 2).connect()
    pids = list(ex.client.run(os.getpid).values())

    def killer():
        deadline = time.time() + 120
        while time.time() < deadline and not list(units.glob("grid_*.nc")):
            time.sleep(0.05)
        os.kill(pids[0], signal.SIGKILL)

    t = threading.Thread(target=killer)
    t.start()
    try:
        first = _run_with(path, ex)
    except Exception:  # noqa: BLE001 - a lost task may surface as an error; rerun below
        first = None
    finally:
        t.join()
        ex.close()
    before = {p.name: p.stat().st_mtime_ns for p in units.glob("*.nc")}
    assert before  # at least one unit was finished before the kill
    rerun = run_inference(path)
    assert rerun["complete"]
    after = {p.name: p.stat().st_mtime_ns for p in units.glob("*.nc")}
    assert all(after[n] == m for n, m in before.items())  # finished units were not redone
    assert first is None or first["complete"]
    assert rerun["search"]["estimate"] == serial["search"]["estimate"]


def _run_with(path: Path, executor) -> dict:
    """run_inference on an existing executor (so the test can kill one of its workers)."""
    from kerrfield.fitting import runner

    real = runner.Executor if hasattr(runner, "Executor") else None
    import kerrfield.fitting.executor as exmod

    class _Reuse:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return executor

        def __exit__(self, *exc):
            return None

    orig = exmod.Executor
    exmod.Executor = _Reuse
    try:
        return run_inference(path, scheduler="local")
    finally:
        exmod.Executor = orig
        del real
