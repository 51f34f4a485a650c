"""Emission surfaces and emitter velocities as values, text and netCDF-friendly numbers.

:class:`Cone` and the velocity names live here so that the ray tracer, the models, the
configuration files and the command line parse and print them one way:
``"equatorial"`` / ``"cone:DEG"`` and ``"zamo"`` / ``"keplerian"`` /
``"general:XI,BETA_R,BETA_PHI"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

from .redshift import GeneralVelocity

__all__ = ["Cone", "VELOCITIES", "parse_surface", "parse_velocity", "surface_text",
           "velocity_text"]  # fmt: skip

VELOCITIES = ("zamo", "keplerian")


@dataclass(frozen=True)
class Cone:
    """Emission on the cone θ = θs (Krang's ConeGeometry).

    Parameters
    ----------
    opening_angle : float
        θs in degrees from the spin axis, 0 < θs < 180; 90 is the equatorial plane.

    Examples
    --------
    >>> Cone(60.0).theta_s
    1.0471975511965976
    """

    opening_angle: float

    def __post_init__(self) -> None:
        th = self.opening_angle
        if isinstance(th, bool) or not isinstance(th, Real):
            raise TypeError(f"Cone opening_angle must be a number of degrees, got {th!r}")
        if not math.isfinite(float(th)) or not 0.0 < float(th) < 180.0:
            raise ValueError(f"Cone opening_angle must be in degrees with 0 < θs < 180, got {th}")

    @property
    def theta_s(self) -> float:
        """θs in radians."""
        return math.radians(self.opening_angle)


def parse_surface(spec: object, name: str = "surface") -> str | Cone:
    """``"equatorial"``, a :class:`Cone` or the text ``"cone:DEG"``; ValueError otherwise."""
    if isinstance(spec, Cone) or spec == "equatorial":
        return spec  # type: ignore[return-value]
    if isinstance(spec, str) and spec.startswith("cone:"):
        try:
            deg = float(spec.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"{name} {spec!r}: expected 'cone:DEGREES'") from None
        return Cone(deg)
    raise ValueError(f"{name} must be 'equatorial', 'cone:DEGREES' or "
                     f"kerrfield.Cone(opening_angle), got {spec!r}")  # fmt: skip


def parse_velocity(spec: object, name: str = "velocity") -> str | GeneralVelocity:
    """A name in :data:`VELOCITIES`, a GeneralVelocity or ``"general:XI,BETA_R,BETA_PHI"``."""
    if isinstance(spec, GeneralVelocity) or (isinstance(spec, str) and spec in VELOCITIES):
        return spec  # type: ignore[return-value]
    if isinstance(spec, str) and spec.startswith("general:"):
        parts = spec.split(":", 1)[1].split(",")
        try:
            values = [float(v) for v in parts]
        except ValueError:
            values = []
        if len(values) != 3:
            raise ValueError(f"{name} {spec!r}: expected 'general:XI,BETA_R,BETA_PHI'")
        return GeneralVelocity(*values)
    raise ValueError(f"{name} must be one of {VELOCITIES}, 'general:XI,BETA_R,BETA_PHI' or "
                     f"kerrfield.GeneralVelocity(xi, beta_r, beta_phi), got {spec!r}")  # fmt: skip


def surface_text(surface: str | Cone) -> str:
    """``"equatorial"`` or ``"cone:DEG"`` (inverse of :func:`parse_surface`)."""
    return f"cone:{float(surface.opening_angle)!r}" if isinstance(surface, Cone) else str(surface)


def velocity_text(velocity: str | GeneralVelocity) -> str:
    """A name or ``"general:XI,BETA_R,BETA_PHI"`` (inverse of :func:`parse_velocity`)."""
    if isinstance(velocity, GeneralVelocity):
        return (f"general:{float(velocity.xi)!r},{float(velocity.beta_r)!r},"
                f"{float(velocity.beta_phi)!r}")  # fmt: skip
    return str(velocity)


def spec_from_attrs(attrs: dict) -> tuple[str | Cone, str | GeneralVelocity]:
    """Surface and velocity back from the netCDF attrs :func:`kerrfield.raytrace` writes."""
    surface: str | Cone = "equatorial"
    if str(attrs.get("surface", "equatorial")).startswith("cone"):
        text = str(attrs["surface"])
        surface = parse_surface(text) if ":" in text else Cone(
            float(attrs.get("surface_theta_deg", 90.0)))
    velocity: str | GeneralVelocity = str(attrs.get("velocity", "zamo"))
    if velocity == "general":
        velocity = GeneralVelocity(float(attrs["velocity_xi"]), float(attrs["velocity_beta_r"]),
                                   float(attrs["velocity_beta_phi"]))  # fmt: skip
    return surface, parse_velocity(velocity)
