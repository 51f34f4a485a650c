"""The forward model's physics as plain values: telescope beam, surface/velocity names, and
what a target records about the physics that made it.

:func:`gaussian_beam` blurs an image with a circular Gaussian beam (FWHM in M) by a separable,
zero-padded convolution truncated at 4 σ; it is differentiable and is used both by
:func:`kerrfield.synthesize` and, through ``LensedImage(beam_fwhm=...)``, by the fitted model,
so target and model see the same beam. Surface and velocity options travel as netCDF-safe
text (``kerrfield.physics._spec``: ``surface_text``/``parse_surface`` and the velocity pair).
:func:`target_physics` reads the options a target was made with (``synthesize`` attrs).
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import warnings
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["gaussian_beam", "fwhm_to_sigma", "check_beam_width", "target_physics", "PHYSICS_KEYS",
           "PhysicsMismatchWarning", "physics_reported", "warn_physics_mismatch"]

#: the forward-model options a target records and a fit reads back
PHYSICS_KEYS = ("orders", "k", "surface", "velocity", "beam_fwhm")

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def fwhm_to_sigma(fwhm: float) -> float:
    """Gaussian standard deviation of a beam FWHM (same units).

    Examples
    --------
    >>> round(fwhm_to_sigma(2.3548200450309493), 12)
    1.0
    """
    return float(fwhm) / _FWHM_PER_SIGMA


def _kernel(sigma_pix: float, dtype, device, truncate: float = 4.0) -> torch.Tensor:
    half = max(1, int(truncate * sigma_pix + 0.5))
    x = torch.arange(-half, half + 1, dtype=dtype, device=device)
    w = torch.exp(-0.5 * (x / sigma_pix) ** 2)
    return w / w.sum()


def gaussian_beam(image: torch.Tensor, fwhm: float | None, dbeta: float, dalpha: float
                  ) -> torch.Tensor:  # fmt: skip
    """Blur ``image`` ``(..., n_beta, n_alpha)`` with a circular Gaussian beam.

    Parameters
    ----------
    image : torch.Tensor
        Image(s) on a regular screen; leading dimensions are batch.
    fwhm : float or None
        Beam full width at half maximum in M; ``None`` or 0 returns ``image`` unchanged.
    dbeta, dalpha : float
        Pixel spacings in M.

    Returns
    -------
    torch.Tensor
        The blurred image (zero padding outside the screen, kernel truncated at 4 σ),
        differentiable in ``image``.

    Raises
    ------
    ValueError
        ``fwhm`` negative or NaN; ``dbeta`` or ``dalpha`` zero or not finite.

    Examples
    --------
    >>> img = torch.zeros(9, 9, dtype=torch.float64); img[4, 4] = 1.0
    >>> out = gaussian_beam(img, 2.0, 1.0, 1.0)
    >>> round(float(out.sum()), 6), bool(out[4, 4] < 1)
    (1.0, True)
    """
    if not fwhm:
        return image
    if not fwhm > 0:
        raise ValueError(f"beam FWHM must be >= 0 (in M), got {fwhm!r}")
    for name, step in (("dbeta", dbeta), ("dalpha", dalpha)):
        if not (math.isfinite(float(step)) and float(step) != 0):
            raise ValueError(f"{name} must be a finite, non-zero pixel spacing in M, got "
                             f"{step!r}")  # fmt: skip
    shape = image.shape
    x = image.reshape(-1, 1, shape[-2], shape[-1])
    sig = fwhm_to_sigma(fwhm)
    kb = _kernel(sig / abs(float(dbeta)), image.dtype, image.device)
    ka = _kernel(sig / abs(float(dalpha)), image.dtype, image.device)
    x = torch.nn.functional.conv2d(x, kb.view(1, 1, -1, 1), padding=(kb.numel() // 2, 0))
    x = torch.nn.functional.conv2d(x, ka.view(1, 1, 1, -1), padding=(0, ka.numel() // 2))
    return x.reshape(shape)


def check_beam_width(beam_fwhm: float | None, alpha: Any, beta: Any,
                     name: str = "beam FWHM") -> None:
    """Refuse a beam whose FWHM (M) is not smaller than the screen ``alpha`` × ``beta`` (M):
    blurring by it leaves nothing of the image. ``name`` is how the error names the beam.

    Raises
    ------
    ValueError
        ``beam_fwhm`` ≥ the smaller side of the screen.
    """
    width = float(min(max(alpha) - min(alpha), max(beta) - min(beta)))
    if beam_fwhm and beam_fwhm >= width:
        raise ValueError(f"{name} {beam_fwhm:g} M is not smaller than the screen "
                         f"({width:g} M across)")


def target_physics(target: Any) -> dict[str, Any]:
    """The forward-model options a target records (only those it records).

    Reads ``orders``, ``k``, ``surface``, ``velocity`` and the beam FWHM (``beam_fwhm`` or
    the older ``blur_fwhm``) from the attrs of a :func:`kerrfield.synthesize` Dataset or any
    netCDF target carrying them; orders become a tuple of ints, surface and velocity their
    text forms (also from the ``"cone"`` + ``surface_theta_deg`` and ``"general"`` +
    ``velocity_*`` attrs that :func:`kerrfield.raytrace` and ``LensedImage.to_xarray`` write).

    Examples
    --------
    >>> import xarray as xr
    >>> target_physics(xr.Dataset(attrs={"orders": [0, 1], "k": 2.0, "blur_fwhm": 0.0}))
    {'orders': (0, 1), 'k': 2.0, 'beam_fwhm': 0.0}
    """
    attrs = dict(getattr(target, "attrs", {}) or {})
    target_truth(attrs)  # an impossible recorded truth is refused before any fitting
    out: dict[str, Any] = {}
    if "orders" in attrs:
        orders = attrs["orders"]
        orders = [orders] if isinstance(orders, (int, float)) or getattr(orders, "ndim", 1) == 0 \
            else list(orders)  # fmt: skip
        out["orders"] = tuple(int(n) for n in orders)
    if "k" in attrs:
        out["k"] = float(attrs["k"])
    if "surface" in attrs or "velocity" in attrs:
        # kf.raytrace and LensedImage.to_xarray write "cone" + surface_theta_deg and
        # "general" + velocity_xi/... : read them back as the text form parse_* accepts
        from ..physics._spec import spec_from_attrs, surface_text, velocity_text

        try:
            surface, velocity = spec_from_attrs(attrs)
            spec = {"surface": surface_text(surface), "velocity": velocity_text(velocity)}
        except (KeyError, TypeError, ValueError):  # malformed: keep the text as written
            spec = {k: str(attrs[k]) for k in ("surface", "velocity") if k in attrs}
        out.update({k: spec[k] for k in ("surface", "velocity") if k in attrs})
    for key in ("beam_fwhm", "blur_fwhm"):
        if key in attrs:
            out["beam_fwhm"] = float(attrs[key])
            break
    return out


def target_truth(target: Any) -> dict[str, float]:
    """The true spin and inclination (degrees) a target records in its attrs, validated.

    Only the keys present are returned. Raises ValueError naming the attribute when a
    recorded value is not a Kerr spin (|a| < 1) or an inclination in (0°, 180°).

    Examples
    --------
    >>> target_truth({"spin": 0.94, "inclination": 17.0, "k": 1.0})
    {'spin': 0.94, 'inclination': 17.0}
    """
    from .._validate import check_inclination, check_spin

    attrs = target if isinstance(target, dict) else dict(getattr(target, "attrs", {}) or {})
    out = {}
    for key, check, allowed in (("spin", check_spin, "-1 < spin < 1"),
                                ("inclination", check_inclination, "0 < inclination < 180 (deg)")):
        if key in attrs:
            try:
                out[key] = check(attrs[key], key)
            except (TypeError, ValueError):
                raise ValueError(f"target attrs[{key!r}] = {attrs[key]!r}: the recorded truth "
                                 f"must satisfy {allowed}") from None
    return out


class PhysicsMismatchWarning(UserWarning):
    """A fit whose model uses other forward-model physics than the target records.

    Issued by :func:`kerrfield.fit` and :func:`kerrfield.fit_multiscale` once per differing
    option (``orders``, ``k``, ``surface``, ``velocity``, ``beam_fwhm``; issue 10: a fit uses
    the physics that made the target unless told otherwise, and a deliberate mismatch is
    allowed but said). Silence a deliberate one with
    ``warnings.simplefilter("ignore", kerrfield.PhysicsMismatchWarning)``.
    """


_REPORTED: contextvars.ContextVar[bool] = contextvars.ContextVar("kf_physics", default=False)


@contextlib.contextmanager
def physics_reported() -> Iterator[None]:
    """Inside this block fits do not warn about physics mismatches: the caller (``kerrfield
    fit``, ``kerrfield infer``) has printed the ones the user asked for."""
    token = _REPORTED.set(True)
    try:
        yield
    finally:
        _REPORTED.reset(token)


def warn_physics_mismatch(model: Any, target: Any) -> list[str]:
    """Warn (:class:`PhysicsMismatchWarning`) for each option the target records that the
    model does not use; returns the messages. Issue 10, item 1: a fit uses the physics that
    made the target unless told otherwise, and a mismatch is allowed but said."""
    from ..physics._spec import parse_surface, parse_velocity, surface_text, velocity_text

    if _REPORTED.get() or not hasattr(model, "config"):
        return []
    cfg, out = model.config(), []
    for key, recorded in target_physics(target).items():
        mine = cfg.get(key)
        if mine is None:  # a model that does not describe this option
            continue
        try:  # a warning helper must never stop a fit: an unreadable attr is not compared
            if key == "surface":
                recorded = surface_text(parse_surface(recorded))
            elif key == "velocity":
                recorded = velocity_text(parse_velocity(recorded))
            if key == "orders":  # the image sums the orders: their order does not matter
                same = sorted(mine) == sorted(recorded)
            elif key in ("k", "beam_fwhm"):
                same = math.isclose(float(mine), float(recorded), rel_tol=1e-9, abs_tol=1e-12)
            else:
                same = str(mine) == str(recorded)
        except (TypeError, ValueError):
            continue
        if not same:
            out.append(f"the model uses {key} = {mine!r} but the target was made with "
                       f"{recorded!r}")  # fmt: skip
    for text in out:
        warnings.warn(f"forward-model mismatch: {text} (kf.target_physics(target) lists the "
                      "target's options; pass them to kf.kerr_image_model, or to kf.raytrace "
                      "and kf.fixed_image_model, to match)",
                      PhysicsMismatchWarning, stacklevel=3)  # fmt: skip
    return out
