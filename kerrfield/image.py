"""Lensed image models: an emission field seen through Kerr lensing.

The image on a regular screen ``(beta, alpha)`` (in M) is

.. math:: I(\\alpha, \\beta) = \\sum_{n} g_n^k \\, f_\\theta(x_n, y_n[, z_n])

summed over the requested image orders ``n``, where ``(x_n, y_n, z_n)`` is where the ray of
pixel ``(alpha, beta)`` crosses the emitting surface for the ``n``-th time and ``g_n`` the
redshift factor there. Pixels whose ``n``-th crossing does not exist (``status != 0``:
captured by the horizon, escaped) contribute 0; they are masked with ``torch.where`` so
the NaNs the ray tracer puts there never reach a gradient.

Two geometries share one module, :class:`LensedImage`:

* fixed (:func:`fixed_image_model`): crossings precomputed once by any backend (a
  :func:`kerrfield.raytrace` Dataset, e.g. from the Julia backend) and stored as flattened
  float64 buffers that move with ``.to(device)``; only the field is trained;
* differentiable (:func:`kerr_image_model`): spin and inclination are ``nn.Parameter`` s
  re-ray-traced every call through :func:`kerrfield.trace_rays`, kept in range by the smooth
  reparametrisation ``spin = spin_bound * tanh(u)``, ``inclination = 180° * sigmoid(v)``.

The geometry always stays float64; only the field may run in reduced precision.
"""

from __future__ import annotations

import importlib
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from .fields import EmissionField, field_from_config

__all__ = [
    "LensedImage",
    "fixed_image_model",
    "kerr_image_model",
    "render",
    "psnr",
    "save_model",
    "load_model",
    "screen",
]

_GEOMETRY_VARS = ("x", "y", "g", "status")


def screen(
    fov: float = 10.0, npix: int = 64, dtype: torch.dtype = torch.float64, device=None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The default regular screen ``alpha = beta = linspace(-fov, fov, npix)`` (in M).

    Examples
    --------
    >>> a, b = screen(10.0, 30)
    >>> float(a[0]), float(a[-1]), len(b)
    (-10.0, 10.0, 30)
    """
    if not fov > 0:
        raise ValueError(f"fov must be positive (in M), got {fov!r}")
    if not (isinstance(npix, int) and npix >= 2):
        raise ValueError(f"npix must be an int >= 2, got {npix!r}")
    a = torch.linspace(-fov, fov, npix, dtype=dtype, device=device)
    return a, a.clone()


def _check_regular(name: str, values: torch.Tensor) -> None:
    v = values.detach().to("cpu", torch.float64)
    if v.ndim != 1 or v.numel() < 2:
        raise ValueError(f"{name} must be a 1-D grid with at least 2 points")
    d = torch.diff(v)
    if not torch.all(d > 0) or not torch.allclose(d, d[0].expand_as(d), rtol=1e-6, atol=1e-9):
        raise ValueError(f"{name} must be a regular increasing grid (the screen is regular)")


class LensedImage(nn.Module):
    """Emission field plus lensing geometry producing an image on a regular screen.

    Build it with :func:`fixed_image_model` or :func:`kerr_image_model`. Calling the module
    with optional flattened pixel indices returns the flattened image ``(P,)`` (row-major
    over ``(beta, alpha)``); :meth:`image` returns the ``(beta, alpha)`` image and
    :meth:`to_xarray` a labelled DataArray.

    Attributes
    ----------
    field : EmissionField
        The emission model (trainable).
    spin, inclination : torch.Tensor
        Current geometry (inclination in degrees); for a fixed model these are the values
        recorded in the Dataset attrs (NaN if unknown) and carry no gradient.
    """

    def __init__(
        self,
        field: nn.Module,
        alpha: torch.Tensor,
        beta: torch.Tensor,
        *,
        k: float = 1.0,
        orders: Sequence[int] = (0, 1),
        kind: str = "kerr",
        spin: float = 0.5,
        inclination: float = 60.0,
        learn_geometry: bool = True,
        spin_bound: float = 0.999,
        surface: str = "equatorial",
        velocity: str = "zamo",
        geometry: dict[str, torch.Tensor] | None = None,
        relinearize_every: int = 1,
        trust_radius: float = 1.0,
        relinearize_tol: tuple[float, float] | None = None,
        sensitivity_cut: tuple[float, float] | None = None,
    ):
        super().__init__()
        if kind not in ("kerr", "fixed"):
            raise ValueError(f"kind must be 'kerr' or 'fixed', got {kind!r}")
        _check_regular("alpha", alpha)
        _check_regular("beta", beta)
        if not isinstance(k, (int, float)) or not math.isfinite(k):
            raise TypeError(f"k must be a finite number, got {k!r}")
        self.field = field
        self.kind, self.k, self.orders = kind, float(k), tuple(int(n) for n in orders)
        self.surface, self.velocity, self.spin_bound = surface, velocity, float(spin_bound)
        self.amp_dtype: torch.dtype | None = None  # set by fit(amp=True) on CUDA
        if not (isinstance(relinearize_every, int) and relinearize_every >= 1):
            raise ValueError(f"relinearize_every must be an int >= 1, got {relinearize_every!r}")
        self.relinearize_every, self.trust_radius = relinearize_every, float(trust_radius)
        self.relinearize_tol = (None if relinearize_tol is None
                                else tuple(float(t) for t in relinearize_tol))  # fmt: skip
        self.sensitivity_cut = (None if sensitivity_cut is None
                                else tuple(float(t) for t in sensitivity_cut))  # fmt: skip
        self._lin: dict[str, Any] | None = None  # linearised-geometry cache
        self._lin_calls = 0
        f64 = dict(dtype=torch.float64)
        self.register_buffer("alpha", alpha.detach().to(**f64))
        self.register_buffer("beta", beta.detach().to(**f64))
        bb, aa = torch.meshgrid(self.beta, self.alpha, indexing="ij")
        # flattened pixel coordinates, computed once (row-major over (beta, alpha))
        self.register_buffer("pix_alpha", aa.reshape(-1).contiguous())
        self.register_buffer("pix_beta", bb.reshape(-1).contiguous())
        if kind == "kerr":
            if not -spin_bound < spin < spin_bound:
                raise ValueError(f"spin must lie in (-{spin_bound}, {spin_bound}), got {spin}")
            if not 0.0 < inclination < 180.0:
                raise ValueError(f"inclination must lie in (0, 180) degrees, got {inclination}")
            u = torch.tensor(math.atanh(spin / spin_bound), **f64)
            p = inclination / 180.0
            v = torch.tensor(math.log(p / (1.0 - p)), **f64)
            if learn_geometry:
                self.u, self.v = nn.Parameter(u), nn.Parameter(v)
            else:
                self.register_buffer("u", u)
                self.register_buffer("v", v)
        else:
            assert geometry is not None
            self.register_buffer("fixed_spin", torch.tensor(float(spin), **f64))
            self.register_buffer("fixed_inclination", torch.tensor(float(inclination), **f64))
            mask = geometry["status"] == 0
            self.register_buffer("geo_mask", mask)
            xyz = torch.stack([geometry["x"], geometry["y"], geometry["z"]], dim=-1)
            self.register_buffer("geo_xyz", torch.where(mask[..., None], xyz, 0.0).to(**f64))
            g = torch.where(mask, geometry["g"], 1.0).to(**f64)
            self.register_buffer("geo_gk", torch.where(mask, g**self.k, 0.0))
            self._build_fast_path()
            self.register_load_state_dict_post_hook(lambda module, _: module._build_fast_path())

    def _build_fast_path(self) -> None:
        # full-image fast path of a fixed geometry: evaluate the field only at existing
        # crossings (the n = 1 ring covers a small part of the screen) and scatter-add them
        order_idx, pix_idx = torch.nonzero(self.geo_mask, as_tuple=True)
        self.register_buffer("valid_pts", self.geo_xyz[order_idx, pix_idx], persistent=False)
        self.register_buffer("valid_gk", self.geo_gk[order_idx, pix_idx], persistent=False)
        self.register_buffer("valid_pix", pix_idx, persistent=False)

    # -- geometry ------------------------------------------------------------------------
    @property
    def spin(self) -> torch.Tensor:
        if self.kind == "fixed":
            return self.fixed_spin
        return self.spin_bound * torch.tanh(self.u)

    @property
    def inclination(self) -> torch.Tensor:
        if self.kind == "fixed":
            return self.fixed_inclination
        return 180.0 * torch.sigmoid(self.v)

    def geometry_parameters(self) -> list[nn.Parameter]:
        """The trainable geometry parameters (``[u, v]``; empty for fixed geometry)."""
        return [p for name, p in self.named_parameters(recurse=False) if name in ("u", "v")]

    @property
    def shape(self) -> tuple[int, int]:
        return (self.beta.numel(), self.alpha.numel())

    @property
    def npix(self) -> int:
        return self.pix_alpha.numel()

    def crossings(self, idx: torch.Tensor | None = None):
        """Masked crossing points, ``g^k`` and validity for the pixels ``idx``.

        Returns
        -------
        xyz : torch.Tensor
            ``(len(orders), P, 3)`` float64, 0 where invalid.
        gk : torch.Tensor
            ``(len(orders), P)`` float64 ``g^k``, 0 where invalid.
        mask : torch.Tensor
            ``(len(orders), P)`` bool, ``status == 0``.
        """
        if self.kind == "fixed":
            if idx is None:
                return self.geo_xyz, self.geo_gk, self.geo_mask
            return self.geo_xyz[:, idx], self.geo_gk[:, idx], self.geo_mask[:, idx]
        if self.relinearize_every > 1 and torch.is_grad_enabled() and self.geometry_parameters():
            return self._linearised_crossings(idx)
        xyzg, mask = self._trace(self.spin, self.inclination, idx)
        g = torch.where(mask, xyzg[3], 1.0)
        gk = torch.where(mask, g**self.k, 0.0)
        return xyzg[:3].permute(1, 2, 0), gk, mask

    def _trace(self, spin, inclination, idx=None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(4, n_orders, P)`` masked ``x, y, z, g`` (0 where invalid) and the mask."""
        a = self.pix_alpha if idx is None else self.pix_alpha[idx]
        b = self.pix_beta if idx is None else self.pix_beta[idx]
        # looked up at call time so the lazily-imported ray tracer (or a test double) is used
        trace_rays = importlib.import_module("kerrfield.raytrace").trace_rays
        rays = trace_rays(
            spin, inclination, a, b,
            orders=self.orders, surface=self.surface, velocity=self.velocity,
        )  # fmt: skip
        mask = rays["status"] == 0
        x = torch.where(mask, rays["x"], 0.0)
        y = torch.where(mask, rays["y"], 0.0)
        if getattr(self.field, "in_features", 2) == 3:
            z = torch.where(mask, rays["r_s"] * torch.cos(rays["theta_s"]), 0.0)
        else:
            z = torch.zeros_like(x)
        g = torch.where(mask, rays["g"], 0.0)
        return torch.stack([x, y, z, g]), mask

    def invalidate_geometry(self) -> None:
        """Drop the linearised-geometry cache (re-traced on the next training call)."""
        self._lin, self._lin_calls = None, 0

    @torch.no_grad()
    def _relinearize(self) -> None:
        # exact crossings at the current (spin, inclination) plus their finite-difference
        # Jacobian (one-sided, stepping towards the interior of the parameter range):
        # three untracked traces, far cheaper than a traced step plus its backward pass
        s0, i0 = self.spin.detach().clone(), self.inclination.detach().clone()
        es = -1e-6 if float(s0) > 0 else 1e-6
        ei = -1e-5 if float(i0) > 90.0 else 1e-5
        base, mask = self._trace(s0, i0)
        ps, ms = self._trace(s0 + es, i0)
        pi, mi = self._trace(s0, i0 + ei)
        js = torch.where(ms & mask, (ps - base) / es, 0.0)
        ji = torch.where(mi & mask, (pi - base) / ei, 0.0)
        if self.sensitivity_cut is not None:
            # crossings that move by more than the cut (M per unit spin, M per degree) sit
            # next to the critical curve: unresolved by the pixels, their point-sampled
            # derivatives are aliasing noise that swamps the geometry gradient; they keep
            # their exact values but stop steering spin and inclination
            wild = ((js[:2].abs().amax(0) > self.sensitivity_cut[0])
                    | (ji[:2].abs().amax(0) > self.sensitivity_cut[1]))  # fmt: skip
            js = torch.where(wild, 0.0, js)
            ji = torch.where(wild, 0.0, ji)
        trust = torch.tensor([self.trust_radius] * 3 + [0.1], dtype=base.dtype,
                             device=base.device).view(4, 1, 1)  # fmt: skip
        self._lin = {"s0": s0, "i0": i0, "base": base, "js": js, "ji": ji, "mask": mask,
                     "trust": trust}  # fmt: skip
        self._lin_calls = 0

    def _linearised_crossings(self, idx=None):
        lin = self._lin
        stale = lin is None or self._lin_calls >= self.relinearize_every
        if not stale and self.relinearize_tol is not None:
            # moved further than the tolerance since the last exact trace: re-linearise now
            stale = (abs(self.spin.item() - lin["s0"].item()) > self.relinearize_tol[0]
                     or abs(self.inclination.item() - lin["i0"].item())
                     > self.relinearize_tol[1])  # fmt: skip
        if stale or lin["base"].device != self.pix_alpha.device:
            self._relinearize()
            lin = self._lin
        self._lin_calls += 1
        ds = self.spin - lin["s0"]
        di = self.inclination - lin["i0"]
        base, js, ji, mask = lin["base"], lin["js"], lin["ji"], lin["mask"]
        if idx is not None:
            base, js, ji, mask = base[:, :, idx], js[:, :, idx], ji[:, :, idx], mask[:, idx]
        # first-order update inside a soft trust region (|delta| <= trust_radius M; 0.1 in
        # g): pixels near the critical curve have enormous derivatives for which the
        # linearisation is meaningless beyond tiny steps
        trust = lin["trust"]
        xyzg = base + trust * torch.tanh((js * ds + ji * di) / trust)
        g = torch.where(mask, xyzg[3], 1.0).clamp_min(1e-12)
        gk = torch.where(mask, g**self.k, 0.0)
        xyz = torch.where(mask, xyzg[:3], 0.0)
        return xyz.permute(1, 2, 0), gk, mask

    # -- image ---------------------------------------------------------------------------
    def forward(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Flattened image at pixel indices ``idx`` (all pixels if ``None``), float64."""
        if self.kind == "fixed" and idx is None:
            d = getattr(self.field, "in_features", 2)
            f = self._field(self.valid_pts[:, :d])
            out = torch.zeros(self.npix, dtype=torch.float64, device=f.device)
            return out.index_add(0, self.valid_pix, self.valid_gk * f)
        xyz, gk, mask = self.crossings(idx)
        n_ord, n_pix = gk.shape
        d = getattr(self.field, "in_features", 2)
        f = self._field(xyz[..., :d].reshape(n_ord * n_pix, d)).reshape(n_ord, n_pix)
        return torch.where(mask, gk * f, 0.0).sum(dim=0)

    def _field(self, pts: torch.Tensor) -> torch.Tensor:
        """Field at float64 points; float16 autocast on CUDA when ``amp_dtype`` is set."""
        if self.amp_dtype is not None and pts.is_cuda:
            with torch.autocast("cuda", dtype=self.amp_dtype):
                f = self.field(pts.float())
        else:
            f = self.field(pts)
        return f.to(torch.float64)

    def image(self) -> torch.Tensor:
        """The full image ``(n_beta, n_alpha)``."""
        return self().reshape(self.shape)

    @torch.no_grad()
    def to_xarray(self, name: str = "image") -> xr.DataArray:
        """The image as an ``xarray.DataArray`` on ``(beta, alpha)`` with geometry attrs."""
        img = self.image().detach().cpu().numpy()
        return _image_dataarray(
            img, self.alpha.cpu().numpy(), self.beta.cpu().numpy(), name,
            spin=self.spin.item(), inclination=self.inclination.item(), k=self.k,
            orders=list(self.orders),
        )  # fmt: skip

    def config(self) -> dict[str, Any]:
        """JSON-serialisable description (field config + geometry) for :func:`save_model`."""
        return {
            "kind": self.kind, "k": self.k, "orders": list(self.orders),
            "surface": self.surface, "velocity": self.velocity,
            "spin_bound": self.spin_bound, "spin": self.spin.item(),
            "inclination": self.inclination.item(),
            "learn_geometry": bool(self.geometry_parameters()),
            "relinearize_every": self.relinearize_every, "trust_radius": self.trust_radius,
            "relinearize_tol": self.relinearize_tol, "sensitivity_cut": self.sensitivity_cut,
            "alpha": self.alpha.cpu().tolist(), "beta": self.beta.cpu().tolist(),
            "field": getattr(self.field, "config", None),
        }  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind}, screen={self.shape}, orders={self.orders}, k={self.k}, "
            f"spin={self.spin.item():.4f}, inclination={self.inclination.item():.3f} deg"
        )


def _image_dataarray(img, alpha, beta, name="image", **attrs) -> xr.DataArray:
    return xr.DataArray(
        np.asarray(img),
        dims=("beta", "alpha"),
        coords={
            "alpha": ("alpha", np.asarray(alpha), {"units": "M", "long_name": "screen alpha"}),
            "beta": ("beta", np.asarray(beta), {"units": "M", "long_name": "screen beta"}),
        },
        name=name,
        attrs={"units": "arbitrary (specific intensity)", **attrs},
    )


def fixed_image_model(
    field: nn.Module,
    geometry: xr.Dataset,
    *,
    k: float = 1.0,
    orders: Sequence[int] | None = None,
    device: torch.device | str | None = None,
) -> LensedImage:
    """Lensed image model on a precomputed (fixed) geometry.

    Parameters
    ----------
    field : nn.Module
        Emission field taking ``(N, d)`` coordinates in M (``d = field.in_features``).
    geometry : xarray.Dataset
        Output of :func:`kerrfield.raytrace` (any backend) with dims ``(n, beta, alpha)``
        and variables ``x, y, g, status`` (plus ``r_s, theta_s`` for 3-D fields).
    k : float
        Redshift power: the image is ``sum_n g_n**k * f``.
    orders : sequence of int, optional
        Image orders to sum (subset of ``geometry.n``); all by default.
    device : torch device, optional
        Where to put the model (the geometry is moved there once).

    Returns
    -------
    LensedImage

    Examples
    --------
    >>> import kerrfield as kf
    >>> ds = kf.raytrace(0.94, 20.0, npix=16)  # doctest: +SKIP
    >>> model = kf.fixed_image_model(kf.EmissionField(seed=0), ds)  # doctest: +SKIP
    >>> model.image().shape  # doctest: +SKIP
    torch.Size([16, 16])
    """
    if not isinstance(geometry, xr.Dataset):
        raise TypeError(f"geometry must be an xarray.Dataset, got {type(geometry).__name__}")
    missing = [v for v in _GEOMETRY_VARS if v not in geometry]
    if missing:
        raise ValueError(f"geometry is missing variables {missing}")
    avail = [int(n) for n in np.atleast_1d(geometry["n"].values)] if "n" in geometry.dims else [0]
    orders = tuple(avail if orders is None else orders)
    bad = [n for n in orders if n not in avail]
    if bad:
        raise ValueError(f"orders {bad} not in the geometry (it has n = {avail})")
    ds = geometry.sel(n=list(orders)) if "n" in geometry.dims else geometry.expand_dims(n=[0])
    ds = ds.transpose("n", "beta", "alpha")
    n_ord = len(orders)

    def flat(name, fill=np.nan):
        arr = ds[name].values if name in ds else np.full(ds["x"].shape, fill)
        return torch.tensor(np.array(arr).reshape(n_ord, -1))

    status = flat("status").to(torch.int64)
    valid = status == 0
    if "r_s" in ds and "theta_s" in ds:
        z = flat("r_s") * torch.cos(flat("theta_s"))
    else:
        z = torch.zeros_like(flat("x"))
    geo = {"x": flat("x"), "y": flat("y"), "z": z, "g": flat("g"), "status": status}
    for name in ("x", "y", "g"):
        if not torch.isfinite(geo[name][valid]).all():
            raise ValueError(f"geometry variable {name!r} is not finite where status == 0")
    alpha = torch.tensor(np.asarray(ds["alpha"].values, dtype=np.float64))
    beta = torch.tensor(np.asarray(ds["beta"].values, dtype=np.float64))
    model = LensedImage(
        field, alpha, beta, k=k, orders=orders, kind="fixed",
        spin=float(geometry.attrs.get("spin", math.nan)),
        inclination=float(geometry.attrs.get("inclination", math.nan)),
        surface=str(geometry.attrs.get("surface", "equatorial")),
        velocity=str(geometry.attrs.get("velocity", "zamo")), geometry=geo,
    )  # fmt: skip
    return model.to(device) if device is not None else model


def kerr_image_model(
    field: nn.Module,
    spin: float = 0.5,
    inclination: float = 60.0,
    *,
    fov: float = 10.0,
    npix: int = 30,
    alpha: torch.Tensor | np.ndarray | None = None,
    beta: torch.Tensor | np.ndarray | None = None,
    k: float = 1.0,
    orders: Sequence[int] = (0, 1),
    surface: str = "equatorial",
    velocity: str = "zamo",
    learn_geometry: bool = True,
    spin_bound: float = 0.999,
    relinearize_every: int = 1,
    trust_radius: float = 1.0,
    relinearize_tol: tuple[float, float] | None = None,
    sensitivity_cut: tuple[float, float] | None = None,
    device: torch.device | str | None = None,
) -> LensedImage:
    """Differentiable lensed image model: spin and inclination re-ray-traced every call.

    ``spin = spin_bound * tanh(u)`` and ``inclination = 180° * sigmoid(v)`` with ``u, v``
    trainable (``learn_geometry=True``), so Adam can never leave the physical range.

    Parameters
    ----------
    field : nn.Module
        Emission field taking coordinates in M.
    spin : float
        Initial dimensionless spin ``a/M`` in ``(-spin_bound, spin_bound)``.
    inclination : float
        Initial observer inclination in degrees, in ``(0, 180)``.
    fov, npix : float, int
        Default screen ``alpha = beta = linspace(-fov, fov, npix)`` (in M).
    alpha, beta : array-like, optional
        Explicit regular screen axes (in M), overriding ``fov``/``npix``.
    k : float
        Redshift power in ``sum_n g_n**k f``.
    orders : sequence of int
        Image orders (0 = direct, 1 = first photon-ring image, ...).
    surface, velocity : str
        Passed to :func:`kerrfield.trace_rays`.
    learn_geometry : bool
        Make spin and inclination trainable (else fixed buffers, still traced).
    spin_bound : float
        Bound of the spin reparametrisation.
    relinearize_every : int
        1 (default): every training call re-traces the rays exactly, with autograd through
        :func:`kerrfield.trace_rays`. ``K > 1``: the crossings and redshifts are traced
        exactly every ``K`` training calls together with their finite-difference Jacobian
        in (spin, inclination), and in between follow the first-order expansion around
        that point (gradients to spin and inclination flow through the Jacobian). Values
        are exact at each re-linearisation, so a converged fit sits at a stationary point
        of the exact loss; the ray tracer then costs ~3 untracked traces per ``K`` steps.
        Evaluation without gradients (``to_xarray``, ``render``) always traces exactly.
    trust_radius : float
        Soft bound (M) on the linear change of ``x, y, z`` between re-linearisations
        (0.1 for ``g``), taming pixels near the critical curve.
    relinearize_tol : (float, float), optional
        ``(spin, inclination in degrees)``: also re-linearise as soon as the geometry has
        moved further than this from the last exact trace, so ``relinearize_every`` can be
        large once the fit settles.
    sensitivity_cut : (float, float), optional
        ``(M per unit spin, M per degree)``: pixels whose crossing moves faster than this
        (next to the critical curve, unresolved by the screen) keep their exact values but
        get no Jacobian, i.e. do not steer spin and inclination (linearised mode only).
    device : torch device, optional

    Returns
    -------
    LensedImage

    Examples
    --------
    >>> import kerrfield as kf
    >>> model = kf.kerr_image_model(kf.EmissionField(seed=0), 0.5, 60.0, npix=30)
    >>> round(model.spin.item(), 6), round(model.inclination.item(), 6)
    (0.5, 60.0)
    """
    if alpha is None or beta is None:
        a, b = screen(fov, npix)
        alpha = a if alpha is None else alpha
        beta = b if beta is None else beta
    alpha = torch.as_tensor(alpha, dtype=torch.float64)
    beta = torch.as_tensor(beta, dtype=torch.float64)
    model = LensedImage(
        field, alpha, beta, k=k, orders=orders, kind="kerr", spin=float(spin),
        inclination=float(inclination), learn_geometry=learn_geometry,
        spin_bound=spin_bound, surface=surface, velocity=velocity,
        relinearize_every=relinearize_every, trust_radius=trust_radius,
        relinearize_tol=relinearize_tol, sensitivity_cut=sensitivity_cut,
    )  # fmt: skip
    return model.to(device) if device is not None else model


@torch.no_grad()
def render(
    field: nn.Module,
    spin: float,
    inclination: float,
    *,
    fov: float = 10.0,
    npix: int = 128,
    k: float = 1.0,
    orders: Sequence[int] = (0, 1),
    surface: str = "equatorial",
    velocity: str = "zamo",
    geometry: xr.Dataset | None = None,
    chunk: int = 65536,
    device: torch.device | str | None = None,
) -> xr.DataArray:
    """Render a (fitted) emission field at any resolution, spin or inclination.

    Parameters
    ----------
    field : nn.Module
        Emission field.
    spin, inclination : float
        Geometry (inclination in degrees); ignored when ``geometry`` is given.
    fov, npix : float, int
        Screen half-width (M) and pixels per side.
    k, orders, surface, velocity
        As in :func:`kerr_image_model`.
    geometry : xarray.Dataset, optional
        Precomputed geometry to render on instead of ray tracing.
    chunk : int
        Pixels traced per call, bounding memory at large ``npix``.
    device : torch device, optional

    Returns
    -------
    xarray.DataArray
        Image on ``(beta, alpha)`` with ``spin``, ``inclination``, ``k`` attrs.

    Examples
    --------
    >>> import kerrfield as kf
    >>> img = kf.render(kf.EmissionField(seed=0), 0.94, 20.0, npix=64)  # doctest: +SKIP
    >>> img.shape  # doctest: +SKIP
    (64, 64)
    """
    if device is not None:
        field = field.to(device)
    if geometry is not None:
        model = fixed_image_model(field, geometry, k=k, orders=orders, device=device)
    else:
        model = kerr_image_model(
            field, spin, inclination, fov=fov, npix=npix, k=k, orders=orders,
            surface=surface, velocity=velocity, learn_geometry=False, device=device,
        )  # fmt: skip
    was_training = field.training
    field.eval()
    idx = torch.arange(model.npix, device=model.pix_alpha.device)
    flat = torch.cat([model(i) for i in torch.split(idx, chunk)])
    field.train(was_training)
    img = flat.reshape(model.shape).cpu().numpy()
    return _image_dataarray(
        img, model.alpha.cpu().numpy(), model.beta.cpu().numpy(), "image",
        spin=model.spin.item(), inclination=model.inclination.item(), k=float(k),
        orders=list(model.orders),
    )  # fmt: skip


def psnr(
    image: Any, reference: Any, *, normalize: bool = False, data_range: float | None = None
) -> float:
    """Peak signal-to-noise ratio ``10 log10(range^2 / MSE)`` in dB.

    Parameters
    ----------
    image, reference : array-like, torch.Tensor or xarray.DataArray
        Images of equal shape (DataArrays must share their ``alpha``/``beta`` coordinates).
    normalize : bool
        Rescale ``image`` to the total flux of ``reference`` first (for fits with the
        scale-free normalised loss).
    data_range : float, optional
        Peak-to-peak range; ``max(reference) - min(reference)`` by default.

    Returns
    -------
    float
        PSNR in dB (``inf`` for identical images).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.ones((4, 4)); ref[0, 0] = 0.0
    >>> round(psnr(ref + 0.01, ref), 3)
    40.0
    """
    a = _as_numpy("image", image, reference)
    b = _as_numpy("reference", reference, None)
    if a.shape != b.shape:
        raise ValueError(f"image shape {a.shape} differs from reference shape {b.shape}")
    if normalize:
        a = a * (b.sum() / a.sum())
    rng = float(b.max() - b.min()) if data_range is None else float(data_range)
    if not rng > 0:
        raise ValueError("reference has zero dynamic range; pass data_range")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(rng**2 / mse)


def _as_numpy(name, value, other) -> np.ndarray:
    if isinstance(value, xr.DataArray) and isinstance(other, xr.DataArray):
        for c in ("alpha", "beta"):
            if c not in value.coords or c not in other.coords:
                continue
            va, vb = value[c].values, other[c].values
            if va.shape != vb.shape or not np.allclose(va, vb):
                raise ValueError(f"{name} and reference are on different screens ({c} differs)")
    if isinstance(value, xr.DataArray):
        value = value.values
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr


def save_model(model: LensedImage, directory: str | os.PathLike) -> Path:
    """Write ``model.pt`` (state dict) and ``model.json`` (config) into ``directory``.

    Both files are written atomically (temporary file + ``os.replace``).

    Examples
    --------
    >>> import kerrfield as kf, tempfile
    >>> m = kf.kerr_image_model(kf.EmissionField(seed=0), 0.5, 60.0, npix=8)
    >>> d = kf.save_model(m, tempfile.mkdtemp())
    >>> kf.load_model(d).config()["spin"]  # doctest: +ELLIPSIS
    0.5...
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(model.state_dict(), directory / "model.pt")
    atomic_write_text(json.dumps(model.config(), indent=1), directory / "model.json")
    return directory


def load_model(directory: str | os.PathLike, device=None) -> LensedImage:
    """Load a model written by :func:`save_model` (fixed geometry included)."""
    directory = Path(directory)
    cfg = json.loads((directory / "model.json").read_text())
    state = torch.load(directory / "model.pt", map_location="cpu", weights_only=True)
    field = field_from_config(cfg["field"]) if cfg.get("field") else EmissionField()
    alpha = torch.tensor(cfg["alpha"], dtype=torch.float64)
    beta = torch.tensor(cfg["beta"], dtype=torch.float64)
    common = dict(k=cfg["k"], orders=cfg["orders"], surface=cfg["surface"],
                  velocity=cfg["velocity"], spin_bound=cfg["spin_bound"])  # fmt: skip
    if cfg["kind"] == "fixed":
        n_ord, n_pix = state["geo_gk"].shape
        geo = {
            "x": state["geo_xyz"][..., 0], "y": state["geo_xyz"][..., 1],
            "z": state["geo_xyz"][..., 2], "g": torch.ones(n_ord, n_pix),
            "status": (~state["geo_mask"]).to(torch.int64),
        }  # fmt: skip
        model = LensedImage(field, alpha, beta, kind="fixed", geometry=geo, spin=cfg["spin"],
                            inclination=cfg["inclination"], **common)  # fmt: skip
    else:
        model = LensedImage(field, alpha, beta, kind="kerr", spin=0.5, inclination=60.0,
                            learn_geometry=cfg["learn_geometry"],
                            relinearize_every=cfg.get("relinearize_every", 1),
                            trust_radius=cfg.get("trust_radius", 1.0),
                            relinearize_tol=cfg.get("relinearize_tol"),
                            sensitivity_cut=cfg.get("sensitivity_cut"), **common)  # fmt: skip
    model.load_state_dict(state)
    return model.to(device) if device is not None else model


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to a temporary file in the same directory, then ``os.replace``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def atomic_write_text(text: str, path: str | os.PathLike) -> None:
    """Write text atomically (temporary file + ``os.replace``)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
