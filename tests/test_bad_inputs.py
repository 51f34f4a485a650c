"""The bad-input matrix: every public entry point, every argument, many wrong values.

Each case either raises ``TypeError``/``ValueError`` (or a subclass) whose message names the
argument, or is valid and handled correctly ("ok" cases, e.g. ``steps=np.int64(3)``).
Nothing may fail deep inside torch, return NaN images or silently succeed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import xarray as xr

import kerrfield as kf
from kerrfield.fitting.config import ConfigError, load_inference_config

NAN, INF = math.nan, math.inf
OK = "ok"

# values that are never a real number
NOT_REAL = ["0.5", None, True, [0.5], {"a": 1}, "x"]
NOT_COUNT = [0.5, 2.5, "4", None, True, -1, [3]]
NOT_POSITIVE = [0, -1.0, NAN, INF, "1", None]
NOT_NONNEG = [-1.0, -1e-9, NAN, INF, "0", None]
BAD_ORDERS = [(1.5,), ("1",), "1", (), (-1,), (0, 0), 1.5, None, (True,), [[0]], (0, 2.0)]
BAD_SURFACES = ["foo", "cone:abc", "cone:0", "cone:180", "cone:-5", 5, None, "Equatorial"]
BAD_VELOCITIES = ["foo", "general:1,2", "general:a,b,c", "general:2,0,0", "general:0,1,1",
                  5, None, "ZAMO"]
BAD_DEVICES = ["meta", "foo", "cuda:99", "gpu", 3.5]
if not torch.cuda.is_available():
    BAD_DEVICES.append("cuda")


def _cases(fn_name, argname, values, match=None):
    return [(fn_name, argname, v, match or argname) for v in values]


# -- raytrace --------------------------------------------------------------------------------
def _raytrace(**kw):
    args = dict(spin=0.5, inclination=30.0, npix=3, fov=5.0, orders=(0,))
    if "alpha" in kw:  # a valid beta, so that the error is about alpha itself
        args["beta"] = [0.0, 1.0]
    args.update(kw)
    return kf.raytrace(args.pop("spin"), args.pop("inclination"), **args)


def _raytrace_julia(**kw):  # refused before any Julia process is started
    return _raytrace(backend="julia", **kw)


RAYTRACE = (
    _cases("raytrace", "spin", [1.0, -1.0, 1.5, NAN, INF, *NOT_REAL,
                                torch.tensor([0.1, 0.2])])
    + _cases("raytrace", "inclination", [0.0, 180.0, -5.0, 200.0, NAN, INF, *NOT_REAL])
    + _cases("raytrace", "npix", [0, *NOT_COUNT])
    + _cases("raytrace", "fov", [*NOT_POSITIVE, 1e160, "10"])
    + _cases("raytrace", "orders", BAD_ORDERS)
    + _cases("raytrace", "surface", BAD_SURFACES, "surface|opening_angle")
    + _cases("raytrace", "velocity", BAD_VELOCITIES, "velocity|GeneralVelocity")
    + _cases("raytrace", "backend", ["foo", None, "Julia"])
    + _cases("raytrace", "dtype", [torch.float16, torch.bfloat16, torch.int32, "float64"])
    + _cases("raytrace", "device", BAD_DEVICES)
    + [("raytrace", "device", "auto", OK)]  # CUDA when available, else the CPU
    + _cases("raytrace", "compiled", ["no", 1, None])
    + _cases("raytrace", "progress", ["yes", 0])
    + [("raytrace", "spin", np.array(0.5), OK)]  # a 0-d array, as .values of a scalar gives
    + _cases("raytrace", "alpha", [[], [NAN, 1.0], [0.0, 1e160], [[1.0, 2.0]], ["a"]], "^alpha")
    + [("raytrace", "alpha", [1.0, 0.0], OK)]  # sample points in any order
    + _cases("raytrace_julia", "device", ["cuda", "cuda:0"], "device=.*backend='torch'")
    + _cases("raytrace_julia", "dtype", [torch.float32], "dtype=.*backend='torch'")
    + _cases("raytrace_julia", "compiled", [True], "compiled=True.*backend='torch'")
)


# -- trace_rays ------------------------------------------------------------------------------
def _trace_rays(**kw):
    al = torch.tensor([3.0, -4.0], dtype=torch.float64)
    args = dict(spin=0.5, inclination=30.0, alpha=al, beta=torch.zeros_like(al), orders=(0,))
    args.update(kw)
    return kf.trace_rays(args.pop("spin"), args.pop("inclination"), args.pop("alpha"),
                         args.pop("beta"), **args)


def _t(values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype)


TRACE_RAYS = (
    _cases("trace_rays", "alpha", [
        _t([1.0, 2.0], torch.float16), _t([1.0, 2.0], torch.bfloat16), torch.tensor([1, 2]),
        _t([[1.0, 2.0]]), _t([1.0]), [1.0, 2.0], _t([NAN, 1.0]), _t([1e160, 0.0]),
        _t([INF, 0.0]), torch.empty(2, device="meta"), np.array([1.0, 2.0]),
    ], "alpha")
    + _cases("trace_rays", "spin", [1.0, 1.5, NAN, "0.5", None, torch.tensor([0.1, 0.2])])
    + _cases("trace_rays", "inclination", [0.0, 180.0, NAN, "30", None])
    + _cases("trace_rays", "orders", BAD_ORDERS)
    + _cases("trace_rays", "surface", BAD_SURFACES, "surface|opening_angle")
    + _cases("trace_rays", "velocity", BAD_VELOCITIES, "velocity|GeneralVelocity")
)


# -- Cone, GeneralVelocity -------------------------------------------------------------------
def _cone(**kw):
    return kf.Cone(kw["opening_angle"])


def _general(**kw):
    args = dict(xi=0.5, beta_r=0.5, beta_phi=0.5)
    args.update(kw)
    return kf.GeneralVelocity(**args)


SPECS = (
    _cases("cone", "opening_angle", ["60", 0.0, 180.0, -1.0, NAN, INF, None, True, [60.0]])
    + _cases("general", "xi", [0.0, 1.5, -0.1, NAN, "0.5", None], "xi")
    + _cases("general", "beta_r", [1.5, -0.1, NAN, "0.5", None], "beta_r")
    + _cases("general", "beta_phi", [1.5, -0.1, INF, "0.5"], "beta_phi")
)


# -- models ----------------------------------------------------------------------------------
def _kerr_model(**kw):
    args = dict(field=kf.EmissionField(seed=0, width=4, depth=1), spin=0.5, inclination=40.0,
                npix=4, fov=5.0)
    args.update(kw)
    return kf.kerr_image_model(args.pop("field"), args.pop("spin"), args.pop("inclination"),
                               **args)


MODELS = (
    _cases("kerr_model", "field", ["x", None, lambda x: x, 3, np.ones(3)], "field")
    + _cases("kerr_model", "spin", [1.0, 0.9995, -1.5, NAN, *NOT_REAL], "spin")
    + _cases("kerr_model", "inclination", [0.0, 180.0, NAN, *NOT_REAL], "inclination")
    + _cases("kerr_model", "velocity", BAD_VELOCITIES, "velocity|GeneralVelocity")
    + _cases("kerr_model", "surface", BAD_SURFACES, "surface|opening_angle")
    + _cases("kerr_model", "orders", BAD_ORDERS)
    + _cases("kerr_model", "trust_radius", NOT_POSITIVE)
    + _cases("kerr_model", "relinearize_every", [0, -1, 1.5, True, "2", None])
    + _cases("kerr_model", "spin_bound", [0.0, 1.0, 1.5, -0.5, NAN, "0.9"])
    + _cases("kerr_model", "relinearize_tol", [(1.0,), (-1.0, 1.0), "ab", (0.0, 1.0),
                                               (NAN, 1.0), 5])
    + _cases("kerr_model", "sensitivity_cut", [(1.0,), (1.0, -1.0), "ab", 3])
    + _cases("kerr_model", "k", [NAN, INF, "1", None, True])
    + _cases("kerr_model", "npix", [1, 0, 2.5, "4", None])
    + _cases("kerr_model", "fov", [0.0, -1.0, NAN, "5"])
    + _cases("kerr_model", "device", BAD_DEVICES)
    + [("kerr_model", "alpha", np.array([0.0, 1.0, 3.0, 4.0]), "alpha"),
       ("kerr_model", "velocity", "general:0.5,0.5,0.5", OK),
       ("kerr_model", "surface", "cone:60", OK),
       ("kerr_model", "surface", kf.Cone(60.0), OK),
       ("kerr_model", "orders", np.array([0, 1]), OK),
       ("kerr_model", "orders", 1, OK),
       ("kerr_model", "spin", np.float64(0.3), OK),
       ("kerr_model", "relinearize_every", np.int64(5), OK),
       ("kerr_model", "device", "auto", OK)]
)


def _geometry(g_sign=1.0):
    a = np.linspace(-4.0, 4.0, 4)
    shape = (1, 4, 4)
    ds = xr.Dataset(
        {"x": (("n", "beta", "alpha"), np.ones(shape)), "y": (("n", "beta", "alpha"),
                                                             np.ones(shape)),
         "g": (("n", "beta", "alpha"), g_sign * np.full(shape, 0.5)),
         "status": (("n", "beta", "alpha"), np.zeros(shape, dtype=np.int8))},
        coords={"n": [0], "alpha": a, "beta": a}, attrs={"spin": 0.5, "inclination": 30.0},
    )
    return ds


def _fixed_model(**kw):
    args = dict(field=kf.EmissionField(seed=0, width=4, depth=1), geometry=_geometry())
    args.update(kw)
    if args.pop("negative_g", False):  # g < 0 with non-integer k: g**k would be NaN
        args["geometry"], args["k"] = _geometry(-1.0), 0.5
    return kf.fixed_image_model(args.pop("field"), args.pop("geometry"), **args)


def _nan_geometry():
    ds = _geometry()
    ds["x"][0, 1, 1] = np.nan
    return ds


FIXED = (
    _cases("fixed_model", "geometry", [None, "geo.nc", _geometry().drop_vars("g"),
                                       _nan_geometry()], "geometry")
    + _cases("fixed_model", "orders", [(1.5,), ("0",), (0, 0), (-1,), (3,)], "orders")
    + _cases("fixed_model", "field", ["x", None], "field")
    + _cases("fixed_model", "k", [NAN, "1"], "k")
    + _cases("fixed_model", "device", BAD_DEVICES)
    + [("fixed_model", "negative_g", True, "g"),
       ("fixed_model", "k", 2, OK), ("fixed_model", "device", "AUTO", OK)]
)


# -- fit -------------------------------------------------------------------------------------
def _fit(**kw):
    model = _fixed_model()
    target = np.random.default_rng(0).random((4, 4)) + 0.1
    args = dict(steps=1, progress=False)
    args.update(kw)
    if "model" in args:
        model = args.pop("model")
    if "target" in args:
        target = args.pop("target")
    res = kf.fit(model, target, **args)
    assert np.isfinite(res.final_loss)
    return res


FIT = (
    _cases("fit", "steps", [-1, 1.5, "3", None, True, [3]])
    + _cases("fit", "lr", [*NOT_POSITIVE, "0.1"])
    + _cases("fit", "geometry_lr", [0, -1.0, NAN, INF, "1"])
    + _cases("fit", "lr_final", NOT_NONNEG)
    + _cases("fit", "tv_weight", NOT_NONNEG)
    + _cases("fit", "weight_decay_weight", NOT_NONNEG)
    + _cases("fit", "batch_size", [0, -1, 1.5, True, "8"])
    + _cases("fit", "schedule", ["foo", 3])
    + _cases("fit", "loss", ["foo", 3, None], "loss")
    + _cases("fit", "seed", [-1, 1.5, "a", True])
    + _cases("fit", "device", BAD_DEVICES)
    + _cases("fit", "geometry_betas", [(1.5, 0.9), (0.9,), "ab", (0.9, -0.1), (0.9, 1.0)])
    + _cases("fit", "checkpoint_every", [-1, 1.5, "5", None])
    + _cases("fit", "target", [np.ones((3, 4)), np.zeros((4, 4)), np.full((4, 4), np.nan),
                               "image", None], "target|zero total flux|finite|screen")
    + _cases("fit", "model", ["m", None, torch.nn.Linear(2, 1)], "model")
    + [("fit", "steps", np.int64(3), OK), ("fit", "steps", 0, OK),
       ("fit", "batch_size", np.int64(8), OK), ("fit", "seed", np.int64(4), OK),
       ("fit", "lr", np.float32(0.01), OK), ("fit", "lr_final", 0.0, OK),
       ("fit", "schedule", None, OK), ("fit", "seed", None, OK)]
)


# -- synthesize, EmissionField, downsample ---------------------------------------------------
def _synthesize_mlp(**kw):
    return _synthesize(emission="mlp", **kw)


def _synthesize(**kw):
    args = dict(emission="ring", spin=0.5, inclination=30.0, npix=4, fov=5.0)
    args.update(kw)
    return kf.synthesize(args.pop("emission"), args.pop("spin"), args.pop("inclination"), **args)


SYNTH = (
    _cases("synthesize", "emission", ["foo", 5, None], "emission")
    + _cases("synthesize", "noise", [-1.0, NAN, "0.1", None])
    + _cases("synthesize", "blur_fwhm", [-1.0, NAN, "1"])
    + _cases("synthesize", "spin", [1.0, NAN, "0.5"])
    + _cases("synthesize", "inclination", [0.0, 181.0, "30"])
    + _cases("synthesize", "npix", [0, 1.5, "4"])
    + _cases("synthesize", "orders", [(1.5,), ("1",), (0, 0)])
    + _cases("synthesize", "velocity", ["foo", "general:2,0,0"], "velocity|GeneralVelocity")
    + _cases("synthesize", "surface", ["foo", "cone:0"], "surface|opening_angle")
    + [("synthesize", "velocity", kf.GeneralVelocity(0.8, 0.5, 0.9), OK),
       ("synthesize", "surface", kf.Cone(70.0), OK),
       ("synthesize", "blur_fwhm", 50.0, "blur_fwhm 50 M is not smaller than the screen"),
       ("synthesize", "orders", (6,), "zero on every pixel"),  # 4 pixels over ±5 M
       ("synthesize", "emission_params", {"radius": -6.0}, "ring parameter radius .* > 0"),
       ("synthesize", "emission_params", {"width": 0.0}, "ring parameter width .* > 0"),
       ("synthesize", "emission_params", {"radius": NAN}, "radius must be a finite"),
       ("synthesize", "emission_params", {"wdith": 1.0}, r"unknown parameters \['wdith'\]")]
    + [("synthesize_mlp", "emission_params", {"radius": 5.0}, "expected EmissionField options")]
)


def _field(**kw):
    return kf.EmissionField(**kw)


FIELD = (
    _cases("field", "width", [0, -1, 1.5, "a", None, True])
    + _cases("field", "depth", [-1, 1.5, "a", None])
    + _cases("field", "activation", ["gelu", 3, None])
    + _cases("field", "encoding", ["foo", 3])
    + _cases("field", "output", ["foo", None])
    + _cases("field", "scale", [0, -1.0, NAN, INF, "1"])
    + _cases("field", "omega0", [0, -1.0, NAN, "30"])
    + _cases("field", "in_features", [1, 4, "2", True, 2.0])
    + _cases("field", "coords", ["spherical", 3])
    + _cases("field", "fourier_sigma", [0, -1.0, NAN])
    + _cases("field", "n_frequencies", [-1, 1.5, "6"])
    + _cases("field", "hash_log2_size", [0, 40, 1.5])
    + _cases("field", "hash_levels", [0, -1])
    + _cases("field", "hash_max_resolution", [4])
    + _cases("field", "seed", ["abc", -1, 1.5])
    + _cases("field", "dtype", [torch.int64, "float64"])
    + [("field", "encoding", "hashgrid", OK), ("field", "width", np.int64(8), OK)]
)


def _emission_map(**kw):
    args = dict(field=kf.EmissionField(seed=0, width=4), extent=10.0, npix=4)
    args.update(kw)
    return kf.emission_map(**args)


def _render(**kw):
    return kf.render(kf.EmissionField(seed=0, width=4), 0.5, 30.0, **{"npix": 4, **kw})


EMISSION_MAP = (
    _cases("emission_map", "npix", [0, 1, -3, 4.0, 100000])
    + _cases("emission_map", "extent", [0, -10.0, NAN, INF, "10"])
    + _cases("emission_map", "z", [NAN, INF, "abc", None])
    + _cases("emission_map", "field", [None, np.ones(3)])
    + _cases("render", "chunk", [0, -1, 1.5])
)


def _downsample(**kw):
    a = np.arange(4.0)
    da = xr.DataArray(np.ones((4, 4)), dims=("beta", "alpha"), coords={"alpha": a, "beta": a})
    return kf.downsample(da, kw["factor"])


DOWNSAMPLE = _cases("downsample", "factor", [0, -2, 1.5, 3, "2", None], "factor")


# -- inference configuration (what `kerrfield infer --check` validates) -----------------------
def _config(**kw):
    section, key = kw.pop("where")
    raw = {"target": {"synthetic": {"emission": "ring", "npix": 8}},
           "mode": {"kind": "joint", "spin": 0.5, "inclination": 40.0}}
    raw.setdefault(section, {})[key] = kw["value"]
    return load_inference_config(raw)


def _cfg_cases(section, key, values):
    return [("config", (section, key), v, f"{section}.{key}|{section}\\]|{key}") for v in values]


CONFIG = (
    _cfg_cases("model", "velocity", ["foo", "general:2,0,0", 5])
    + _cfg_cases("model", "surface", ["cone:abc", "cone:0", "conical", 60])
    + _cfg_cases("model", "orders", [[0, 0], [1.5], ["1"], [], 1, [-1], [11]])
    + _cfg_cases("model", "k", ["1", None])
    + _cfg_cases("field", "activation", ["gelu"])
    + _cfg_cases("field", "width", [0, -3])
    + _cfg_cases("field", "scale", [-1.0])
    + _cfg_cases("fit", "lr", [-1.0, 0])
    + _cfg_cases("fit", "lr_final", [-1.0])
    + _cfg_cases("fit", "tv_weight", [-1.0])
    + _cfg_cases("fit", "device", ["meta", "foo"])
    + _cfg_cases("fit", "steps", [0, 1.5])
    + _cfg_cases("fit", "loss", ["foo"])
    + [("config", ("mode", "fit_spin"), False, OK)]  # joint in inclination alone
    + [("config", ("model", "surface"), "cone:60", OK),
       ("config", ("model", "velocity"), "general:0.8,0.5,0.9", OK)]
)

RUNNERS = {
    "raytrace": _raytrace, "raytrace_julia": _raytrace_julia, "trace_rays": _trace_rays,
    "cone": _cone, "general": _general,
    "kerr_model": _kerr_model, "fixed_model": _fixed_model, "fit": _fit,
    "synthesize": _synthesize, "synthesize_mlp": _synthesize_mlp, "field": _field,
    "downsample": _downsample, "config": _config, "emission_map": _emission_map,
    "render": _render,
}
ALL = (RAYTRACE + TRACE_RAYS + SPECS + MODELS + FIXED + FIT + SYNTH + FIELD + EMISSION_MAP
       + DOWNSAMPLE + CONFIG)  # fmt: skip


def _id(case):
    fn, arg, value, _ = case
    text = repr(value) if not isinstance(value, torch.Tensor) else f"tensor{value.dtype}"
    return f"{fn}-{arg}-{text[:30]}"


def test_matrix_is_large_enough():
    assert len(ALL) >= 300


@pytest.mark.parametrize("case", ALL, ids=[_id(c) for c in ALL])
def test_bad_input(case):
    fn, arg, value, match = case
    kw = {"where": arg, "value": value} if fn == "config" else {arg: value}
    run = RUNNERS[fn]
    if match == OK:
        out = run(**kw)
        if isinstance(out, xr.Dataset) and "image" in out:
            assert np.isfinite(out["image"].values).all()
        return
    with pytest.raises((TypeError, ValueError, ConfigError, FileNotFoundError,
                        MemoryError)) as info:  # fmt: skip
        run(**kw)
    import re

    msg = str(info.value)
    assert re.search(match, msg), f"{type(info.value).__name__}: {msg}"
    assert "Traceback" not in msg
