"""What the rest of kerrfield calls: trace rays, evaluate elliptic functions, describe Julia.

Each call goes through juliacall when that path is usable and through the subprocess worker
otherwise (:mod:`kerrfield.bridge`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import juliacall as _juliacall_path
from .discovery import (
    JuliaError,
    JuliaNotFoundError,
    JuliaWorkerError,
    _bridge_mode,
    bundled_project,
)
from .juliacall import _juliacall_usable, _trace_juliacall
from .worker import get_worker

__all__ = ["trace_rays_julia", "evaluate_elliptic", "julia_info", "PER_RAY_KEYS", "PER_PIXEL_KEYS"]


#: output variables returned per (order, pixel) by the Julia tracer
PER_RAY_KEYS = (
    "r_s",
    "theta_s",
    "phi_s",
    "phi_ks",
    "t_s",
    "x",
    "y",
    "g",
    "nu_r",
    "nu_theta",
    "status",
)


#: output variables returned per pixel
PER_PIXEL_KEYS = ("lam", "eta")


def _velocity_params(velocity: Any) -> dict[str, str | float]:
    """Velocity model as ``velocity.*`` parameters: a name, a mapping, or GeneralVelocity."""
    if velocity is None:
        velocity = {"kind": "zamo"}
    elif isinstance(velocity, str):
        velocity = {"kind": velocity}
    elif all(hasattr(velocity, k) for k in ("xi", "beta_r", "beta_phi")):  # GeneralVelocity
        velocity = {
            "kind": "general",
            "xi": float(velocity.xi),
            "beta_r": float(velocity.beta_r),
            "beta_phi": float(velocity.beta_phi),
        }
    out: dict[str, str | float] = {}
    for k, v in velocity.items():
        out[f"velocity.{k}"] = v if isinstance(v, str) else float(v)
    return out


def trace_rays_julia(
    spin: float,
    inclination_deg: float,
    alpha: np.ndarray,
    beta: np.ndarray,
    orders: Sequence[int] = (0, 1, 2),
    surface_theta_deg: float | None = None,
    velocity: Any = None,
    *,
    timeout: float | None = None,
) -> dict[str, np.ndarray]:
    """Trace rays with the Julia backend (Gralla & Lupsasca 2020) and return numpy arrays.

    Same physics, conventions and outputs as the torch backend (``kerrfield.raytrace``).

    Parameters
    ----------
    spin : float
        Dimensionless spin a, |a| < 1.
    inclination_deg : float
        Observer inclination θo in degrees, in (0, 180).
    alpha, beta : numpy.ndarray
        Screen coordinates in M (flattened; same number of elements).
    orders : sequence of int
        Image orders n ≥ 0 (number of half-orbits in θ beyond the direct image).
    surface_theta_deg : float or None
        Emitting surface: None for the equatorial plane, else the polar angle θs (degrees) of a
        cone.
    velocity : str, GeneralVelocity or mapping, optional
        Emitter velocity model: ``"zamo"`` (default), ``"keplerian"``,
        :class:`kerrfield.GeneralVelocity`, or a mapping ``{"kind": "general", "xi": ...,
        "beta_r": ..., "beta_phi": ...}``.
    timeout : float, optional
        Subprocess path only: seconds before the worker is declared hung.

    Returns
    -------
    dict of str to numpy.ndarray
        :data:`PER_RAY_KEYS` with shape ``(len(orders), npix)`` (``status`` as int8, NaN where
        status ≠ 0 for the float variables) and ``lam``, ``eta`` with shape ``(npix,)``.

    Raises
    ------
    JuliaError
        Invalid input rejected by Julia (NaN, mismatched shapes, |a| ≥ 1, ...).
    JuliaNotFoundError
        Neither juliacall nor a Julia executable is available.
    """
    a = np.ascontiguousarray(np.asarray(alpha, dtype=np.float64).ravel())
    b = np.ascontiguousarray(np.asarray(beta, dtype=np.float64).ravel())
    orders_arr = np.asarray(list(orders), dtype=np.float64)
    surf = math.nan if surface_theta_deg is None else float(surface_theta_deg)
    vel = _velocity_params(velocity)
    mode = _bridge_mode()
    if _juliacall_usable(mode):
        res = _trace_juliacall(float(spin), float(inclination_deg), a, b, orders_arr, surf, vel)
    else:
        work = max(a.size, b.size) * max(1, orders_arr.size)
        if timeout is None:
            env = os.environ.get("KERRFIELD_JULIA_TIMEOUT", "").strip()
            timeout = float(env) if env else 300.0 + 1e-3 * work
        params: dict[str, Any] = {
            "spin": float(spin),
            "inclination_deg": float(inclination_deg),
            "surface_theta_deg": surf,
            **vel,
        }
        _, res = get_worker().call(
            "trace", params, {"alpha": a, "beta": b, "orders": orders_arr}, timeout=timeout
        )
    return _finish(res)


def _finish(res: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for k, v in res.items():
        arr = np.asarray(v)
        if k == "status":
            arr = arr.astype(np.int8)
        out[k] = arr
    return out


def evaluate_elliptic(function: str, *args: np.ndarray, timeout: float = 120.0) -> np.ndarray:
    """Evaluate one of the Julia special functions elementwise (subprocess path; for tests).

    Parameters
    ----------
    function : str
        ``elliprf``, ``elliprd``, ``elliprj``, ``elliprc``, ``ellipk``, ``ellipe``, ``ellippi``,
        ``ellipkinc``, ``ellipeinc``, ``ellippiinc``, ``sn``, ``cn`` or ``dn`` (scipy argument
        order; ``ellippiinc(n, phi, m)``).
    *args : numpy.ndarray
        Arguments of equal length.

    Returns
    -------
    numpy.ndarray
    """
    arrays = {f"a{i + 1}": np.asarray(x, dtype=np.float64).ravel() for i, x in enumerate(args)}
    _, res = get_worker().call(
        "elliptic", {"function": function, "nargs": len(args)}, arrays, timeout=timeout
    )
    return res["out"]


def julia_info() -> dict[str, Any]:
    """Which Julia the Julia backend uses, starting it if necessary.

    Never raises for a missing or broken Julia: it reports it (``available`` False and the
    reason in ``error``), so it can be used as a diagnostic.

    Returns
    -------
    dict
        ``available`` (bool), ``path`` (``"juliacall"``, ``"subprocess"`` or None),
        ``executable``, ``julia_version``, ``threads``, ``project`` (the bundled KerrField
        project); for the subprocess path also ``pid`` and ``restarts``; ``error`` (a message
        saying how to get Julia) when not available.

    Examples
    --------
    >>> import kerrfield as kf
    >>> kf.julia_info()["path"]  # doctest: +SKIP
    'subprocess'
    """
    try:
        project: str | None = str(bundled_project())
    except FileNotFoundError:
        project = None
    try:
        mode = _bridge_mode()
        if _juliacall_usable(mode):
            jl = _juliacall_path._JL  # the live handle, set by init_juliacall
            return {
                "available": True,
                "path": "juliacall",
                "executable": str(jl.seval("joinpath(Sys.BINDIR, Base.julia_exename())")),
                "julia_version": str(jl.seval("string(VERSION)")),
                "threads": int(jl.seval("Threads.nthreads()")),
                "project": str(jl.seval("dirname(dirname(pathof(KerrField)))")),
            }
        w = get_worker()
        facts = w.ping()
    except (JuliaNotFoundError, JuliaWorkerError, JuliaError, ImportError, ValueError) as exc:
        return {
            "available": False,
            "path": None,
            "executable": None,
            "julia_version": None,
            "threads": None,
            "project": project,
            "error": str(exc),
        }
    return {
        "available": True,
        "path": "subprocess",
        "executable": w.executable,
        "julia_version": facts.get("julia_version", w.julia_version),
        "threads": int(facts.get("threads", w.threads)),
        "project": facts.get("project", str(w.project)),
        "pid": w.pid,
        "restarts": w.restarts,
    }
