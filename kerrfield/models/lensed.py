"""Lensed image models: an emission field seen through Kerr lensing.

The image on a regular screen ``(beta, alpha)`` (in M) is

.. math:: I(\alpha, \beta) = \\sum_{n} g_n^k \\, f_\theta(x_n, y_n[, z_n])

summed over the requested image orders ``n``, where ``(x_n, y_n, z_n)`` is where the ray of
pixel ``(alpha, beta)`` crosses the emitting surface for the ``n``-th time and ``g_n`` the
redshift factor there. Pixels whose ``n``-th crossing does not exist (``status != 0``:
captured by the horizon, escaped) contribute 0; they are masked with ``torch.where`` so
the NaNs the ray tracer puts there never reach a gradient.

Two geometries share one class, :class:`LensedImage` (built by
:mod:`kerrfield.models.builders`):

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
import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from .._validate import check_inclination, check_orders, check_positive, check_spin
from ..physics._spec import parse_surface, parse_velocity, surface_text, velocity_text
from ..physics.redshift import velocity_attrs
from ._checks import _check_geometry, _fit_field_scale, _open_unit, _positive_pair

__all__ = ["LensedImage"]


_GEOMETRY_VARS = ("x", "y", "g", "status")


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
        beam_fwhm: float | None = None,
    ):
        super().__init__()
        if kind not in ("kerr", "fixed"):
            raise ValueError(f"kind must be 'kerr' or 'fixed', got {kind!r}")
        _check_regular("alpha", alpha)
        _check_regular("beta", beta)
        if not isinstance(field, nn.Module):
            raise TypeError(f"field must be a torch.nn.Module (e.g. kerrfield.EmissionField), "
                            f"got {type(field).__name__}")  # fmt: skip
        _fit_field_scale(field, alpha, beta)
        if isinstance(k, bool) or not isinstance(k, Real) or not math.isfinite(k):
            raise TypeError(f"k must be a finite number, got {k!r}")
        if beam_fwhm is not None and not (math.isfinite(beam_fwhm) and beam_fwhm >= 0):
            raise ValueError(f"beam_fwhm must be >= 0 (in M), got {beam_fwhm!r}")
        self.beam_fwhm = float(beam_fwhm or 0.0)
        self.field = field
        self.kind, self.k, self.orders = kind, float(k), check_orders(orders)
        self.surface, self.velocity = parse_surface(surface), parse_velocity(velocity)
        self.spin_bound = _open_unit("spin_bound", spin_bound)
        self.amp_dtype: torch.dtype | None = None  # set by fit(amp=True) on CUDA
        if isinstance(relinearize_every, bool) or not (
                isinstance(relinearize_every, Integral) and relinearize_every >= 1):
            raise ValueError(f"relinearize_every must be an int >= 1, got {relinearize_every!r}")
        self.relinearize_every = int(relinearize_every)
        self.trust_radius = check_positive(trust_radius, "trust_radius")
        self.relinearize_tol = _positive_pair("relinearize_tol", relinearize_tol)
        self.sensitivity_cut = _positive_pair("sensitivity_cut", sensitivity_cut)
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
            spin, inclination = check_spin(spin), check_inclination(inclination)
            if not -spin_bound < spin < spin_bound:
                raise ValueError(f"spin must lie in (-{spin_bound}, {spin_bound}) (the model's "
                                 f"spin_bound, which keeps a fitted spin off the extremal "
                                 f"|a| = 1 where the tracer's gradients diverge), got {spin}")
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
            _check_geometry(geometry, self.k)
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
        # sigmoid rounds to exactly 1 (0) for v ≳ 37 (≲ −745): a huge geometry step would then
        # ask the tracer for θo = 180° (0°) and end the fit with an error; the clamp keeps θo
        # strictly inside (0°, 180°) and is the identity elsewhere
        return 180.0 * torch.sigmoid(self.v).clamp(1e-9, 1.0 - 1e-9)

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
        trace_rays = importlib.import_module("kerrfield.physics.raytrace").trace_rays
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
        """Flattened image at pixel indices ``idx`` (all pixels if ``None``), float64.

        With a telescope beam (``beam_fwhm > 0``) the full image is computed and blurred
        (:func:`kerrfield.models.forward.gaussian_beam`) before ``idx`` is picked from it.
        """
        if self.beam_fwhm:
            from .forward import gaussian_beam

            img = self._sky(None).reshape(self.shape)
            dbeta = float(self.beta[1] - self.beta[0])
            dalpha = float(self.alpha[1] - self.alpha[0])
            flat = gaussian_beam(img, self.beam_fwhm, dbeta, dalpha).reshape(-1)
            return flat if idx is None else flat[idx]
        return self._sky(idx)

    def _sky(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """The unblurred flattened image at pixels ``idx``."""
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
            orders=list(self.orders), **velocity_attrs(self.velocity),
        )  # fmt: skip

    def config(self) -> dict[str, Any]:
        """JSON-serialisable description (field config + geometry) for :func:`save_model`."""
        return {
            "kind": self.kind, "k": self.k, "orders": list(self.orders),
            "surface": surface_text(self.surface), "velocity": velocity_text(self.velocity),
            "spin_bound": self.spin_bound, "spin": self.spin.item(),
            "inclination": self.inclination.item(),
            "learn_geometry": bool(self.geometry_parameters()),
            "relinearize_every": self.relinearize_every, "trust_radius": self.trust_radius,
            "relinearize_tol": self.relinearize_tol, "sensitivity_cut": self.sensitivity_cut,
            "alpha": self.alpha.cpu().tolist(), "beta": self.beta.cpu().tolist(),
            "beam_fwhm": self.beam_fwhm, "field": self._field_config(),
        }  # fmt: skip

    def _field_config(self) -> dict[str, Any] | None:
        """The field's config with the dtype its parameters have now (``.float()`` or
        ``amp`` after construction must survive a save and load)."""
        cfg = getattr(self.field, "config", None)
        first = next(self.field.parameters(), None)
        if cfg is None or first is None:
            return cfg
        return {**cfg, "dtype": str(first.dtype).removeprefix("torch.")}

    def extra_repr(self) -> str:
        return (
            f"kind={self.kind}, screen={self.shape}, orders={self.orders}, k={self.k}, "
            f"beam_fwhm={self.beam_fwhm:g}, "
            f"spin={self.spin.item():.4f}, inclination={self.inclination.item():.3f} deg"
        )


def _image_dataarray(img, alpha, beta, name="image", **attrs) -> xr.DataArray:
    return xr.DataArray(
        np.asarray(img),
        dims=("beta", "alpha"),
        coords={
            "alpha": ("alpha", np.asarray(alpha), {"units": "M", "long_name": "α"}),
            "beta": ("beta", np.asarray(beta), {"units": "M", "long_name": "β"}),
        },
        name=name,
        attrs={"units": "arbitrary (specific intensity)", **attrs},
    )
