"""Physical units for observers: screens in microarcseconds and images as FITS files.

kerrfield works in geometric units, :math:`G = c = M = 1`: the screen coordinates
:math:`(\alpha, \beta)` are lengths in units of the gravitational radius
:math:`r_g = GM/c^2`. An observer at distance :math:`D` sees one such unit subtend the
angle

.. math::

    \theta_g = \frac{G M}{c^2 D},

about 3.8 μas for M87* (6.5e9 M☉ at 16.8 Mpc) and 4.8 μas for Sgr A* (4.0e6 M☉ at 8.15 kpc).
This module converts screens to angles with :mod:`astropy.units` and writes images on
``(beta, alpha)`` to FITS (:mod:`kerrfield.io.fits`) with a world coordinate system in
those angles.

Masses given as plain numbers are in solar masses and distances in megaparsecs; any
:class:`astropy.units.Quantity` of the right physical type is accepted as well.
"""

from __future__ import annotations

from typing import Any

import astropy.constants as const
import astropy.units as u
import numpy as np
import xarray as xr

__all__ = [
    "SOURCES", "gravitational_angle", "gravitational_time", "screen_to_muas", "muas_to_screen",
    "with_sky_coords", "source_name",
]  # fmt: skip


#: Mass, distance and sky position of the two horizon-scale EHT targets.
#: ``mass`` in solar masses, ``distance`` in Mpc, ``ra``/``dec`` in degrees (ICRS).
SOURCES: dict[str, dict[str, float]] = {
    # EHT 2019 paper VI: M = 6.5e9 Msun, D = 16.8 Mpc
    "M87": {"mass": 6.5e9, "distance": 16.8, "ra": 187.70593, "dec": 12.39112},
    # EHT 2022 paper I / GRAVITY: M = 4.0e6 Msun, D = 8.15 kpc
    "SgrA": {"mass": 4.0e6, "distance": 8.15e-3, "ra": 266.41684, "dec": -29.00781},
}


def source_name(source: str) -> str:
    """The :data:`SOURCES` key of ``source``, accepting the usual spellings ("M87*",
    "Sgr A*", "SgrA*", "sgra", ...: case, spaces, '*' and '-' are ignored).

    Raises ValueError naming the known sources for anything else.

    Examples
    --------
    >>> source_name("Sgr A*"), source_name("m87")
    ('SgrA', 'M87')
    """
    key = "".join(str(source).split()).replace("*", "").replace("-", "").lower()
    for name in SOURCES:
        if name.lower() == key:
            return name
    raise ValueError(f"source must be one of {sorted(SOURCES)} (spellings such as 'Sgr A*' "
                     f"and 'M87*' are accepted), got {source!r}")


def _quantity(value: Any, default_unit: u.UnitBase, name: str, physical_type: str) -> u.Quantity:
    """Coerce ``value`` to a positive, finite scalar Quantity of ``physical_type``."""
    if isinstance(value, u.Quantity):
        try:
            q = value.to(default_unit)
        except u.UnitConversionError:
            raise ValueError(
                f"{name} must be a {physical_type} (got a quantity in {value.unit}); "
                f"plain numbers are read as {default_unit}"
            ) from None
    else:
        try:
            q = float(value) * default_unit
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be a number in {default_unit} or an astropy Quantity, "
                f"got {type(value).__name__}"
            ) from None
    if not q.isscalar:
        raise ValueError(f"{name} must be a scalar, got shape {q.shape}")
    if not (np.isfinite(q.value) and q.value > 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return q


def _resolve(
    mass: Any | None, distance: Any | None, source: str | None
) -> tuple[u.Quantity, u.Quantity]:
    if source is not None:
        source = source_name(source)
        mass = SOURCES[source]["mass"] if mass is None else mass
        distance = SOURCES[source]["distance"] if distance is None else distance
    if mass is None or distance is None:
        raise ValueError("give mass and distance (or source='M87' / 'SgrA')")
    return (
        _quantity(mass, u.M_sun, "mass", "mass"),
        _quantity(distance, u.Mpc, "distance", "length"),
    )


def gravitational_angle(
    mass: Any | None = None, distance: Any | None = None, *, source: str | None = None
) -> u.Quantity:
    """Angle subtended by one gravitational radius, :math:`\\theta_g = GM/(c^2 D)`.

    Parameters
    ----------
    mass : float or astropy.units.Quantity
        Black-hole mass; plain numbers are solar masses.
    distance : float or astropy.units.Quantity
        Distance to the observer; plain numbers are megaparsecs.
    source : {"M87", "SgrA"}, optional
        A known source (also spelt "M87*", "Sgr A*", ...; see :func:`source_name`).
        Take mass and distance (where not given) from :data:`SOURCES`.

    Returns
    -------
    astropy.units.Quantity
        :math:`\\theta_g` in microarcseconds.

    Examples
    --------
    >>> import kerrfield as kf
    >>> round(float(kf.gravitational_angle(6.5e9, 16.8).value), 2)
    3.82
    """
    m, d = _resolve(mass, distance, source)
    theta = (const.G * m / (const.c**2 * d)).decompose() * u.rad
    return theta.to(u.uas)


def gravitational_time(mass: Any | None = None, *, source: str | None = None) -> u.Quantity:
    """Time unit :math:`t_g = GM/c^3` of the geometric system (for ``t_s``).

    Parameters
    ----------
    mass : float or astropy.units.Quantity
        Black-hole mass; plain numbers are solar masses.
    source : {"M87", "SgrA"}, optional
        A known source (also spelt "M87*", "Sgr A*", ...; see :func:`source_name`).
        Take the mass from :data:`SOURCES` when not given.

    Returns
    -------
    astropy.units.Quantity
        :math:`t_g` in seconds.

    Examples
    --------
    >>> import kerrfield as kf
    >>> round(float(kf.gravitational_time(4.0e6).value), 1)
    19.7
    """
    if source is not None and mass is None:
        mass = SOURCES[source_name(source)]["mass"]
    if mass is None:
        raise ValueError("give mass (or source='M87' / 'SgrA')")
    m = _quantity(mass, u.M_sun, "mass", "mass")
    return (const.G * m / const.c**3).to(u.s)


def _check_finite(values: Any, name: str, what: str) -> None:
    """NaN or inf in ``values`` would come back as NaN angles: refuse them, naming ``name``."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    if not ok.all():
        got = (f"got {v.item()!r}" if v.ndim == 0
               else f"{v.size - int(ok.sum())} of {v.size} values are NaN or inf")  # fmt: skip
        raise ValueError(f"{name} must be finite ({what}), {got}")


def screen_to_muas(
    x: Any, mass: Any | None = None, distance: Any | None = None, *, source: str | None = None
) -> Any:
    """Convert screen coordinates from units of M to microarcseconds, ``x θ_g``.

    Parameters
    ----------
    x : float, array_like or xarray.DataArray
        Screen coordinate(s) :math:`\\alpha` or :math:`\\beta` in units of M, finite.
    mass, distance, source
        As in :func:`gravitational_angle`.

    Returns
    -------
    same type as ``x``
        ``x * θ_g`` as plain numbers in μas (a DataArray keeps its coordinates and gets
        ``attrs["units"] = "µas"``).

    Raises
    ------
    ValueError
        If ``x`` holds NaN or inf, or for a mass, distance or source as in
        :func:`gravitational_angle`.

    Examples
    --------
    >>> import kerrfield as kf
    >>> round(float(kf.screen_to_muas(5.196, source="M87")), 1)  # Schwarzschild shadow radius
    19.8
    """
    scale = gravitational_angle(mass, distance, source=source).value
    _check_finite(x.values if isinstance(x, xr.DataArray) else x, "x", "screen coordinates in M")
    if isinstance(x, xr.DataArray):
        out = x * scale
        out.attrs = {**x.attrs, "units": "µas"}
        return out
    return np.asarray(x, dtype=float) * scale if np.ndim(x) else float(x) * scale


def muas_to_screen(
    x: Any, mass: Any | None = None, distance: Any | None = None, *, source: str | None = None
) -> Any:
    """Inverse of :func:`screen_to_muas`: microarcseconds to units of M, ``x / θ_g``.

    Parameters
    ----------
    x : float or array_like
        Angle(s) in μas (or an angular Quantity), finite.
    mass, distance, source
        As in :func:`gravitational_angle`.

    Returns
    -------
    float or numpy.ndarray
        Screen coordinate(s) in units of M.

    Raises
    ------
    ValueError
        If ``x`` holds NaN or inf, or for a mass, distance or source as in
        :func:`gravitational_angle`.

    Examples
    --------
    >>> import kerrfield as kf
    >>> round(float(kf.muas_to_screen(42.0, source="M87")), 2)
    11.0
    """
    scale = gravitational_angle(mass, distance, source=source).value
    if isinstance(x, u.Quantity):
        x = x.to_value(u.uas)
    _check_finite(x, "x", "angles in µas")
    return np.asarray(x, dtype=float) / scale if np.ndim(x) else float(x) / scale


def _uniform_axis(values: np.ndarray, name: str) -> tuple[float, float]:
    """Return (first value, step) of a uniformly spaced, increasing coordinate."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"image coordinate {name!r} needs at least 2 values, got {v.size}")
    steps = np.diff(v)
    step = float(steps.mean())
    if step <= 0 or not np.allclose(steps, step, rtol=1e-6, atol=1e-12 * abs(step)):
        raise ValueError(
            f"image coordinate {name!r} must be uniformly spaced and increasing to "
            "define a FITS pixel grid"
        )
    return float(v[0]), step


def with_sky_coords(
    image: xr.DataArray,
    mass: Any | None = None,
    distance: Any | None = None,
    *,
    source: str | None = None,
) -> xr.DataArray:
    """Attach microarcsecond coordinates ``alpha_uas``/``beta_uas`` to an image.

    Parameters
    ----------
    image : xarray.DataArray
        Image with ``alpha`` and ``beta`` coordinates in units of M.
    mass, distance, source
        As in :func:`gravitational_angle`.

    Returns
    -------
    xarray.DataArray
        A copy with extra coordinates ``alpha_uas`` and ``beta_uas`` (μas) and
        ``attrs["theta_g_uas"]``; plot with ``image.plot(x="alpha_uas", y="beta_uas")``.

    Examples
    --------
    >>> import numpy as np, xarray as xr, kerrfield as kf
    >>> img = xr.DataArray(np.ones((3, 3)), dims=("beta", "alpha"),
    ...                    coords={"beta": [-1.0, 0, 1], "alpha": [-1.0, 0, 1]})
    >>> out = kf.with_sky_coords(img, source="M87")
    >>> round(float(out.alpha_uas[-1]), 2)
    3.82
    """
    for dim in ("alpha", "beta"):
        if dim not in image.coords:
            raise ValueError(f"image needs an {dim!r} coordinate (screen units of M)")
    scale = gravitational_angle(mass, distance, source=source).value
    out = image.assign_coords(
        alpha_uas=("alpha", np.asarray(image["alpha"].values, float) * scale),
        beta_uas=("beta", np.asarray(image["beta"].values, float) * scale),
    )
    out["alpha_uas"].attrs = {"units": "µas", "long_name": "α"}
    out["beta_uas"].attrs = {"units": "µas", "long_name": "β"}
    out.attrs = {**image.attrs, "theta_g_uas": scale}
    return out
