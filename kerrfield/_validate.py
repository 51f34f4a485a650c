"""Argument checks shared by the public API: clear errors naming the argument and its range."""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import torch


def _as_float(value: object, name: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise ValueError(f"{name} must be a scalar, got a tensor of shape {tuple(value.shape)}")
        value = value.detach().item()
    if type(value).__name__ == "ndarray" and getattr(value, "ndim", None) == 0:
        value = value[()]  # a 0-d array (xarray's .values of a scalar) is its number
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def check_spin(spin: object, name: str = "spin") -> float:
    """Return spin as float; |a| < 1 and finite."""
    a = _as_float(spin, name)
    if not math.isfinite(a) or not -1.0 < a < 1.0:
        raise ValueError(f"{name} must satisfy -1 < {name} < 1 (dimensionless Kerr spin), got {a}")
    return a


def check_inclination(inclination: object, name: str = "inclination") -> float:
    """Return inclination (degrees) as float; 0 < θo < 180."""
    th = _as_float(inclination, name)
    if not math.isfinite(th) or not 0.0 < th < 180.0:
        raise ValueError(f"{name} must be in degrees with 0 < {name} < 180, got {th}")
    return th


def warn_if_radians(inclination: float, name: str = "inclination") -> None:
    """UserWarning for an inclination below π/2 "degrees": most likely radians by mistake
    (θo is in degrees everywhere in kerrfield); a truly face-on observer may ignore it."""
    if 0.0 < inclination < math.pi / 2:
        warnings.warn(f"{name} = {inclination:g} deg is within {math.pi / 2:.2f} deg of "
                      f"face-on; {name} is in degrees (as radians, {inclination:g} would be "
                      f"{math.degrees(inclination):.1f} deg). Ignore this for a face-on "
                      "observer.", UserWarning, stacklevel=3)


def check_npoints(value: object, name: str, minimum: int = 1) -> int:
    """Return an integer count ≥ minimum."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive(value: object, name: str) -> float:
    """Return a finite float > 0."""
    x = _as_float(value, name)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {x}")
    return x


def check_orders(orders: object, name: str = "orders") -> tuple[int, ...]:
    """Distinct non-negative integer image orders (an int or a sequence of ints)."""
    if isinstance(orders, Integral) and not isinstance(orders, bool):
        orders = (int(orders),)
    if isinstance(orders, (str, bytes)) or not hasattr(orders, "__iter__"):
        raise TypeError(f"{name} must be an int or a sequence of ints, got {orders!r}")
    items = list(orders)  # type: ignore[call-overload]
    bad = [n for n in items if isinstance(n, bool) or not isinstance(n, Integral)]
    if bad:
        raise TypeError(f"{name} must hold integers (image orders n = 0, 1, ...), got "
                        f"{bad[0]!r} in {orders!r}")  # fmt: skip
    out = tuple(int(n) for n in items)
    if not out or any(n < 0 for n in out) or len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct non-negative integers, got {orders!r}")
    return out


def check_nonnegative(value: object, name: str) -> float:
    """Return a finite float >= 0."""
    x = _as_float(value, name)
    if not math.isfinite(x) or x < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {x}")
    return x


def check_device(device: object, name: str = "device") -> torch.device:
    """A usable torch device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (if available), ``"mps"``,
    or ``"auto"``: CUDA when available, else the CPU."""
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)  # type: ignore[arg-type]
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"{name} must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}"
        ) from None
    if dev.type == "meta":
        raise ValueError(f"{name}={device!r}: the meta device holds no data; use 'cpu' or 'cuda'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={device!r} but CUDA is not available here; use 'cpu' or 'auto'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"{name}={device!r} but only {torch.cuda.device_count()} CUDA "
                         "device(s) exist")  # fmt: skip
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name}={device!r}: kerrfield runs on 'cpu', 'cuda' or 'mps'")
    return dev


def check_sky_placement(theta_g: object = None, position_angle: object = 0.0,
                        flux: object = None) -> tuple[float | None, float, float | None]:
    """Check the numbers that place an image on the sky; ``None`` passes through.

    Parameters
    ----------
    theta_g : float or None
        Angular scale, µas per M (a scale factor for sky images): finite and > 0. A zero
        would collapse the image to a point, a negative one point-mirror it, NaN poison every
        visibility.
    position_angle : float
        Degrees east of north: finite (any value; it is periodic).
    flux : float or None
        Total flux in Jy: finite and >= 0.

    Returns
    -------
    tuple
        ``(theta_g, position_angle, flux)`` as floats (``None`` kept).

    Raises
    ------
    TypeError
        A value that is not a real number.
    ValueError
        A value outside its range; the message names the argument and the allowed range.
    """
    tg = None
    if theta_g is not None:
        tg = _as_float(theta_g, "theta_g")
        if not math.isfinite(tg) or tg <= 0:
            raise ValueError(f"theta_g must be a finite number in (0, inf) µas per M, got {tg}")
    pa = _as_float(position_angle, "position_angle")
    if not math.isfinite(pa):
        raise ValueError(f"position_angle must be a finite number of degrees east of north, "
                         f"got {pa}")  # fmt: skip
    fx = None
    if flux is not None:
        fx = _as_float(flux, "flux")
        if not math.isfinite(fx) or fx < 0:
            raise ValueError(f"flux must be a finite number in [0, inf) Jy, got {fx}")
    return tg, pa, fx
