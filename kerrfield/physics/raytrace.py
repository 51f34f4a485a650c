"""Ray-tracing front end: screen → emission coordinates for every sub-image order.

:func:`raytrace` returns an :class:`xarray.Dataset`; :func:`trace_rays` is the differentiable
tensor-level core that the fitting code calls every step.

Screen convention: α (horizontal) and β (vertical) are Bardeen's impact parameters in M,
with β along the sky projection of the black hole's spin axis. A ray reaching the observer
with p^θ > 0 (coming from the spin-axis side) appears at β > 0, i.e. sign(p^θ) = sign(β) at
the observer. The observer sits at azimuth φ = 0, so with a > 0 and a disk rotating in +φ
the approaching side of the disk is at α < 0 (its photons carry λ = −α sin θo > 0).

Sub-image order n: the ray traced back from the screen crosses the emission surface
repeatedly; n = 0 is the first crossing (direct image), n = 1 the second (first photon
ring), and so on.

Status codes (int8): 0 the n-th crossing exists; 1 the ray falls into the horizon first;
2 it escapes back to infinity first; 3 its polar motion never reaches the surface (the
surface lies outside the ray's θ range; vortical rays, η < 0, only reach cones on the
observer's side of the equator).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr
from torch import Tensor

from .._validate import (
    check_device,
    check_inclination,
    check_npoints,
    check_orders,
    check_positive,
    check_spin,
    warn_if_radians,
)
from .._version import __version__
from ._dataset import FLOAT_VARS, rays_to_dataset
from ._memory import check_trace_memory
from ._spec import VELOCITIES, Cone, parse_surface, parse_velocity
from .elliptic import fused_duplication
from .geodesics import (
    STATUS_MISSES,
    STATUS_OK,
    conserved_quantities,
    radial_solution,
    surface_crossings,
)
from .redshift import GeneralVelocity, redshift, velocity_attrs

__all__ = ["Cone", "raytrace", "trace_rays", "BACKENDS", "VELOCITIES", "FLOAT_VARS"]

BACKENDS = ("torch", "julia")
MAX_SCREEN = 1e8  # |alpha|, |beta| in M; η ~ β² must stay far from overflow in float32 too
_CHUNK = 16384  # pixels per chunk: fastest measured on 2 CPU cores (8192: -30 %, 65536: -20 %)


def _surface_theta(surface: object) -> float:
    surface = parse_surface(surface)
    return surface.theta_s if isinstance(surface, Cone) else math.pi / 2


def _check_velocity(velocity: object) -> str | GeneralVelocity:
    return parse_velocity(velocity)


def _scalar(value: float | Tensor, like: Tensor, name: str) -> Tensor:
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar tensor, got shape {tuple(value.shape)}")
        if value.device != like.device:
            raise ValueError(f"{name} is on {value.device} but alpha is on {like.device}")
        return value.reshape(()).to(like.dtype)
    return torch.as_tensor(float(value), dtype=like.dtype, device=like.device)


def trace_rays(
    spin: float | Tensor,
    inclination: float | Tensor,
    alpha: Tensor,
    beta: Tensor,
    *,
    orders: Sequence[int] | int = (0, 1),
    surface: str | Cone = "equatorial",
    velocity: str | GeneralVelocity = "zamo",
) -> dict[str, Tensor]:
    """Differentiable ray tracing of a batch of screen points (the tensor-level core).

    Parameters
    ----------
    spin : float or 0-d Tensor
        Kerr spin a, |a| < 1. A tensor may require grad.
    inclination : float or 0-d Tensor
        Observer inclination θo in degrees, 0 < θo < 180. A tensor may require grad.
    alpha, beta : Tensor
        1-D tensors of equal length P: screen coordinates in M. dtype and device are taken
        from ``alpha``.
    orders : sequence of int
        Sub-image orders n to compute.
    surface : "equatorial" or Cone
        Emission surface.
    velocity : "zamo", "keplerian" or GeneralVelocity
        Emitter velocity model for the redshift g.

    Returns
    -------
    dict of Tensor
        r_s, theta_s, phi_s, phi_ks, t_s, x, y, g, nu_r, nu_theta (float, shape (N, P)),
        status (int8, (N, P)), lam and eta ((P,)). Floats are NaN where status ≠ 0; mask
        with ``torch.where(status == 0, value, 0)`` before reducing: a masked-out lane never
        reaches a gradient.

    Examples
    --------
    >>> al = torch.tensor([6.0, -6.0], dtype=torch.float64)
    >>> out = trace_rays(0.5, 30.0, al, torch.zeros_like(al), orders=(0,))
    >>> out["status"].tolist()
    [[0, 0]]
    """
    if not isinstance(alpha, Tensor) or not isinstance(beta, Tensor):
        raise TypeError("alpha and beta must be torch tensors")
    if alpha.dim() != 1 or alpha.shape != beta.shape:
        raise ValueError(
            f"alpha and beta must be 1-D of equal length, got {tuple(alpha.shape)} "
            f"and {tuple(beta.shape)}"
        )
    if alpha.device != beta.device:
        raise ValueError(f"alpha is on {alpha.device} but beta is on {beta.device}")
    if alpha.device.type == "meta":
        raise ValueError("alpha and beta are on the meta device (no data); use 'cpu' or 'cuda'")
    if alpha.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"alpha must be a float32 or float64 tensor, got {alpha.dtype} "
                        "(half precision cannot hold the conserved quantities)")  # fmt: skip
    beta = beta.to(alpha.dtype)
    if not bool(torch.isfinite(alpha).all()) or not bool(torch.isfinite(beta).all()):
        raise ValueError("alpha and beta must be finite (found NaN or inf)")
    if alpha.numel() and float(torch.maximum(alpha.abs().max(), beta.abs().max())) > MAX_SCREEN:
        raise ValueError(f"alpha and beta must lie within ±{MAX_SCREEN:g} M (screen "
                         "coordinates in M; larger values overflow the conserved η)")  # fmt: skip
    check_spin(spin)
    check_inclination(inclination)
    orders = check_orders(orders)
    theta_s = _surface_theta(surface)
    velocity = _check_velocity(velocity)

    a = _scalar(spin, alpha, "spin")
    theta_o = _scalar(inclination, alpha, "inclination") * (math.pi / 180.0)
    lam, eta = conserved_quantities(a, theta_o, alpha, beta)
    ang = surface_crossings(a, theta_o, lam, eta, beta, math.cos(theta_s), orders)
    reach = ang["reach"]
    # lanes that never reach the surface get a harmless stand-in ray (no NaN in backward)
    use = reach
    lam_r = torch.where(use, lam, torch.zeros_like(lam))
    eta_r = torch.where(use, eta, torch.full_like(eta, 30.0))
    tau = torch.where(use, ang["tau"], torch.ones_like(ang["tau"]))
    rad = radial_solution(a, lam_r, eta_r, tau)
    status = torch.where(reach, rad["status"], torch.full_like(rad["status"], STATUS_MISSES))
    ok = status == STATUS_OK
    r_s = torch.where(ok, rad["r_s"], torch.full_like(rad["r_s"], 10.0))
    nu_r = rad["nu_r"]
    phi_s = -(
        rad["I_phi"] + torch.where(reach, ang["lam_G_phi"], torch.zeros_like(ang["lam_G_phi"]))
    )
    t_s = rad["I_t"] + a * a * ang["G_t"]
    rp = 1.0 + torch.sqrt(1.0 - a * a)
    rm = a * a / rp  # r₊r₋ = a², without 1 − √(1 − a²)'s cancellation
    # Kerr–Schild azimuth: dφ_KS = dφ_BL + (a/Δ) dr, equal at infinity
    phi_ks = phi_s + a / (rp - rm) * torch.log((r_s - rp) / (r_s - rm))
    theta_t = torch.full_like(r_s, theta_s)
    g = redshift(velocity, a, lam_r, eta_r, r_s, theta_t, nu_r)
    nan = torch.full_like(r_s, float("nan"))
    out = {
        "r_s": r_s,
        "theta_s": theta_t,
        "phi_s": phi_s,
        "phi_ks": phi_ks,
        "t_s": t_s,
        "x": r_s * torch.cos(phi_ks),
        "y": r_s * torch.sin(phi_ks),
        "g": g,
        "nu_r": nu_r,
        "nu_theta": ang["nu_theta"],
    }
    out = {k: torch.where(ok, v, nan) for k, v in out.items()}
    out["status"] = status
    out["lam"] = lam
    out["eta"] = eta
    return out


def _screen_axis(values: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(
            values.detach().cpu() if isinstance(values, Tensor) else values, dtype=np.float64
        )
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a 1-D array of numbers (screen coordinates in M), "
                        f"got {type(values).__name__}") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of screen coordinates (M)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (found NaN or inf)")
    if np.abs(arr).max() > MAX_SCREEN:
        raise ValueError(f"{name} must lie within ±{MAX_SCREEN:g} M")
    return arr


def raytrace(
    spin: float,
    inclination: float,
    *,
    fov: float = 10.0,
    npix: int = 64,
    alpha: Sequence[float] | np.ndarray | Tensor | None = None,
    beta: Sequence[float] | np.ndarray | Tensor | None = None,
    orders: Sequence[int] | int = (0, 1),
    surface: str | Cone = "equatorial",
    velocity: str | GeneralVelocity = "zamo",
    backend: str = "torch",
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float64,
    progress: bool | None = None,
    compiled: bool = False,
) -> xr.Dataset:
    """Ray trace a screen and return emission coordinates for each sub-image order.

    Implements the analytic solution of Gralla & Lupsasca 2020 (PRD 101, 044032); see
    :mod:`kerrfield.geodesics` for the equations.

    Parameters
    ----------
    spin : float
        Kerr spin a, |a| < 1 (a < 0: the hole counter-rotates with the disk).
    inclination : float
        Observer inclination θo in degrees, 0 < θo < 180.
    fov : float
        Half-width of the default screen in M: α = β = linspace(−fov, fov, npix).
    npix : int
        Pixels per side of the default screen (≥ 1).
    alpha, beta : array-like, optional
        Explicit 1-D screen axes in M (any lengths, in any order: sample points of the
        screen); override fov/npix. Image models and figures need regular increasing axes
        (:func:`kerrfield.fixed_image_model` says so).
    orders : int or sequence of int
        Sub-image orders n (0 direct image, 1 first photon ring, ...).
    surface : "equatorial" or Cone
        Emission surface.
    velocity : "zamo", "keplerian" or GeneralVelocity
        Emitter velocity model for g (see :mod:`kerrfield.redshift`).
    backend : {"torch", "julia"}
        Implementation: torch (CPU/CUDA) or the bundled Julia project.
    device : str or torch.device, optional
        torch device ("cpu", "cuda"); default CPU.
    dtype : torch.dtype
        torch.float64 (default) or torch.float32.
    progress : bool, optional
        Show a progress bar over pixel chunks. Default: for traces of a million or more
        pixel-orders, in a notebook or when stderr is a terminal (not in a piped log).
    compiled : bool
        Fuse the elliptic-integral sweeps with ``torch.compile`` (torch backend; see
        :func:`kerrfield.elliptic.fused_duplication`). 1.3-1.5× faster on a 2-core CPU once
        compiled (256², orders 0-2; ``benchmarks/results/raytrace_cpu.json``); the first
        call in a fresh cache compiles for ~1 minute, later processes load the cached
        kernels in seconds. Needs a C++ compiler on CPU; falls back to the eager
        path with a warning if compilation fails.

    Raises
    ------
    ValueError
        Naming the argument and its allowed range: spin outside (−1, 1), inclination outside
        (0°, 180°), fov ≤ 0 or beyond the screen limit, orders not distinct non-negative
        integers, an unknown surface, velocity or backend, alpha/beta not finite 1-D axes;
        device, float32 or compiled with backend="julia".
    TypeError
        For a non-numeric spin, inclination or screen axis, a non-integer npix, an
        unsupported dtype, or compiled/progress not a bool.
    MemoryError
        When the result would not fit in the available memory (the message gives the
        estimate and the largest screen that fits); checked before any tracing.

    Returns
    -------
    xarray.Dataset
        Dims (n, beta, alpha); variables r_s, theta_s, phi_s, phi_ks, t_s, x, y, g, nu_r,
        nu_theta, status and per-pixel lam, eta, with ``long_name``, ``description`` and
        ``units`` (CF: "1" when dimensionless; ``status`` has ``flag_values`` and
        ``flag_meanings``).

    Examples
    --------
    >>> ds = raytrace(0.94, 17.0, npix=33, orders=(0, 1))
    >>> ds.r_s.dims
    ('n', 'beta', 'alpha')
    """
    a = check_spin(spin)
    th = check_inclination(inclination)
    warn_if_radians(th)
    orders = check_orders(orders)
    surface = parse_surface(surface)  # "cone:60" is a Cone from here on (attrs, Julia)
    velocity = _check_velocity(velocity)
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if dtype not in (torch.float64, torch.float32):
        raise TypeError(f"dtype must be torch.float64 or torch.float32, got {dtype}")
    for name, flag in (("compiled", compiled), ("progress", progress)):
        if not (isinstance(flag, bool) or (flag is None and name == "progress")):
            allowed = "True or False" + (" (or None: automatic)" if name == "progress" else "")
            raise TypeError(f"{name} must be {allowed}, got {flag!r}")
    if backend == "julia":  # options of the torch backend that Julia would silently ignore
        julia_only_cpu = [f"{n}={v!r}" for n, v, ok in (
            ("device", device, device is None or str(device) == "cpu"),
            ("dtype", dtype, dtype == torch.float64), ("compiled", compiled, not compiled),
        ) if not ok]  # fmt: skip
        if julia_only_cpu:
            raise ValueError(f"backend='julia' traces in float64 on the CPU and does not take "
                             f"{', '.join(julia_only_cpu)} (options of backend='torch')")
    if alpha is None or beta is None:
        if alpha is not None or beta is not None:
            raise ValueError("give both alpha and beta, or neither (then fov and npix are used)")
        half = check_positive(fov, "fov")
        if half > MAX_SCREEN:
            raise ValueError(f"fov must be at most {MAX_SCREEN:g} M, got {half:g}")
        n = check_npoints(npix, "npix")
        axis = np.linspace(-half, half, n) if n > 1 else np.zeros(1)
        al_axis, be_axis = axis, axis.copy()
    else:
        al_axis = _screen_axis(alpha, "alpha")
        be_axis = _screen_axis(beta, "beta")
    check_trace_memory(al_axis.size, be_axis.size, len(orders))
    if progress is None:  # large traces show their progress, where a bar can be drawn
        from .._progress import show_progress

        progress = al_axis.size * be_axis.size * len(orders) >= 1 << 20 and show_progress(None)
    bb, aa = np.meshgrid(be_axis, al_axis, indexing="ij")
    theta_s = _surface_theta(surface)
    if backend == "julia":
        from ..bridge import trace_rays_julia

        flat = trace_rays_julia(
            a, th, aa.ravel(), bb.ravel(), orders, math.degrees(theta_s), velocity
        )
    else:
        with fused_duplication(bool(compiled)):
            flat = _trace_torch_chunked(
                a, th, aa.ravel(), bb.ravel(), orders, surface, velocity, device, dtype, progress
            )
    return rays_to_dataset(
        flat, orders, al_axis, be_axis,
        spin=a, inclination=th, inclination_units="deg",
        surface="equatorial" if not isinstance(surface, Cone) else "cone",
        surface_theta_deg=round(math.degrees(theta_s), 10), backend=backend,
        kerrfield_version=__version__, units="G = c = M = 1", **velocity_attrs(velocity),
    )  # fmt: skip


def _trace_torch_chunked(
    a: float,
    th: float,
    al: np.ndarray,
    be: np.ndarray,
    orders: tuple[int, ...],
    surface: str | Cone,
    velocity: str | GeneralVelocity,
    device: str | torch.device | None,
    dtype: torch.dtype,
    progress: bool,
) -> dict[str, np.ndarray]:
    dev = check_device(device) if device is not None else torch.device("cpu")
    out: dict[str, np.ndarray] = {}
    starts = range(0, al.size, _CHUNK)
    if progress:
        from .._progress import progress_bar

        starts = progress_bar(starts, desc="ray tracing", unit="chunk")
    with torch.no_grad():
        for i in starts:
            ta = torch.as_tensor(al[i : i + _CHUNK], dtype=dtype, device=dev)
            tb = torch.as_tensor(be[i : i + _CHUNK], dtype=dtype, device=dev)
            res = trace_rays(a, th, ta, tb, orders=orders, surface=surface, velocity=velocity)
            for k, v in res.items():  # written in place: no second copy of the result
                arr = v.cpu().numpy()
                if k not in out:
                    out[k] = np.empty(arr.shape[:-1] + (al.size,), dtype=arr.dtype)
                out[k][..., i : i + arr.shape[-1]] = arr
    return out
