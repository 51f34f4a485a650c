"""Neural emission fields: coordinate MLPs mapping emitter positions (in M) to intensity.

An :class:`EmissionField` is ``output_head(MLP(encoding(transform(x / scale))))``:

* coordinate transform -- Cartesian ``(x, y[, z])`` or polar ``(r, phi)``;
* input encoding -- none, NeRF positional encoding (Mildenhall et al. 2020,
  arXiv:2003.08934), random Fourier features (Tancik et al. 2020, arXiv:2006.10739) or a
  multi-resolution hash grid (Müller et al. 2022, Instant-NGP, arXiv:2201.05989; pure torch);
* MLP -- configurable width/depth with tanh, ReLU or SIREN sine layers (Sitzmann et al.
  2020, arXiv:2006.09661, with their initialisation and ``omega0``);
* output head -- sigmoid (bounded), softplus (positive) or exp (HDR, positive).

Every field records the keyword arguments it was built with in ``field.config`` (a plain
JSON-serialisable dict) so :func:`field_from_config` rebuilds it for saving and loading.
"""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import torch
from torch import nn

from .._validate import _as_float, check_npoints, check_positive
from .encodings import FourierFeatures, HashGridEncoding, positional_encoding

__all__ = [
    "EmissionField", "field_from_config", "emission_map", "ACTIVATIONS", "ENCODINGS",
    "OUTPUTS", "COORDS",
]  # fmt: skip


ACTIVATIONS = ("tanh", "relu", "sine")


ENCODINGS = ("none", "positional", "fourier", "hashgrid")


OUTPUTS = ("sigmoid", "softplus", "exp", "linear")


COORDS = ("cartesian", "polar")


class _Sine(nn.Module):
    def __init__(self, omega0: float):
        super().__init__()
        self.omega0 = omega0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.omega0 * x)


def _activation(name: str, omega0: float) -> nn.Module:
    if name == "tanh":
        return nn.Tanh()
    if name == "relu":
        return nn.ReLU()
    return _Sine(omega0)


def _output_head(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "softplus":
        return nn.functional.softplus(x)
    if name == "exp":
        # clamp keeps the HDR head finite early in training (exp(80) ~ 1e35 in float32 range)
        return torch.exp(x.clamp(max=80.0))
    return x


class EmissionField(nn.Module):
    """Coordinate-MLP emission field ``f_theta(x, y[, z])`` with coordinates in M.

    Parameters
    ----------
    in_features : int
        2 for equatorial ``(x, y)``, 3 for volumetric ``(x, y, z)``.
    width : int
        Hidden-layer width.
    depth : int
        Number of hidden layers (the Krang reference MLP 2→20→20→1 has ``depth=2``).
    activation : {"tanh", "relu", "sine"}
        Hidden activation; ``"sine"`` builds a SIREN (arXiv:2006.09661) with their
        initialisation (first layer ``U(-1/n, 1/n)``, others ``U(-sqrt(6/n)/omega0, ...)``).
    encoding : {"none", "positional", "fourier", "hashgrid"}
        Input encoding (see module docstring for the papers).
    output : {"sigmoid", "softplus", "exp", "linear"}
        Output head.
    scale : float, optional
        Length (in M) dividing the coordinates before encoding, e.g. the field of view.
        Default: ``1.0`` (raw coordinates in M, as Krang's example) for every encoding but
        the hash grid, which clamps its input to [-1, 1]; there the default is the screen's
        half-width, set when the field is put behind a lens (:class:`~kerrfield.LensedImage`),
        and an explicit scale much smaller than the screen draws a warning.
    coords : {"cartesian", "polar"}
        ``"polar"`` maps ``(x, y)`` to ``(r / scale, phi / pi)`` (``phi`` in ``(-pi, pi]``,
        discontinuous on the negative x axis); needs ``in_features=2``.
    omega0 : float
        SIREN frequency factor.
    n_frequencies : int
        Octaves of the positional encoding.
    fourier_features, fourier_sigma : int, float
        Number and bandwidth of random Fourier features.
    hash_levels, hash_features, hash_log2_size, hash_base_resolution, hash_max_resolution : int
        Hash-grid hyper-parameters.
    seed : int or None
        Seed for the weights (and the Fourier matrix / hash tables); ``None`` uses torch's
        global RNG.
    dtype : torch.dtype
        Parameter dtype (float64 by default, matching the float64 geometry).

    Examples
    --------
    >>> f = EmissionField(width=20, depth=2, seed=0)  # Krang's 2→20→20→1 tanh/sigmoid MLP
    >>> f(torch.zeros(4, 2, dtype=torch.float64)).shape
    torch.Size([4])
    """

    def __init__(
        self,
        in_features: int = 2,
        width: int = 20,
        depth: int = 2,
        activation: str = "tanh",
        encoding: str = "none",
        output: str = "sigmoid",
        scale: float | None = None,
        coords: str = "cartesian",
        omega0: float = 30.0,
        n_frequencies: int = 6,
        fourier_features: int = 64,
        fourier_sigma: float = 1.0,
        hash_levels: int = 12,
        hash_features: int = 2,
        hash_log2_size: int = 14,
        hash_base_resolution: int = 8,
        hash_max_resolution: int = 512,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
    ):
        super().__init__()
        for arg, value, allowed in (
            ("activation", activation, ACTIVATIONS),
            ("encoding", encoding, ENCODINGS),
            ("output", output, OUTPUTS),
            ("coords", coords, COORDS),
        ):
            if not isinstance(value, str):
                raise TypeError(f"{arg} must be a string, one of {allowed}; got {value!r}")
            if value not in allowed:
                raise ValueError(f"unknown {arg} {value!r}; expected one of {allowed}")
        _check_sizes(in_features, coords, width, depth, n_frequencies, fourier_features,
                     hash_levels, hash_features, hash_log2_size, hash_base_resolution,
                     hash_max_resolution, seed, dtype)  # fmt: skip
        in_features = int(in_features)
        #: True while the scale waits for a screen (hash grid with the default scale)
        self.scale_auto = scale is None and encoding == "hashgrid"
        scale = 1.0 if scale is None else check_positive(scale, "scale")
        omega0 = check_positive(omega0, "omega0")
        fourier_sigma = check_positive(fourier_sigma, "fourier_sigma")
        self.config: dict[str, Any] = {
            "in_features": in_features, "width": width, "depth": depth,
            "activation": activation, "encoding": encoding, "output": output,
            "scale": float(scale), "coords": coords, "omega0": float(omega0),
            "n_frequencies": n_frequencies, "fourier_features": fourier_features,
            "fourier_sigma": float(fourier_sigma), "hash_levels": hash_levels,
            "hash_features": hash_features, "hash_log2_size": hash_log2_size,
            "hash_base_resolution": hash_base_resolution,
            "hash_max_resolution": hash_max_resolution, "seed": seed,
            "dtype": str(dtype).removeprefix("torch."),
        }  # fmt: skip
        self.in_features, self.scale, self.coords, self.output = in_features, scale, coords, output
        self.encoding_name, self.n_frequencies = encoding, n_frequencies
        enc_seed = 0 if seed is None else int(seed)

        self.encoder: nn.Module | None = None
        if encoding == "none":
            n_in = in_features
        elif encoding == "positional":
            n_in = in_features * (2 * n_frequencies + 1)
        elif encoding == "fourier":
            self.encoder = FourierFeatures(in_features, fourier_features, fourier_sigma, enc_seed)
            n_in = self.encoder.out_features
        else:
            self.encoder = HashGridEncoding(
                in_features, hash_levels, hash_features, hash_log2_size,
                hash_base_resolution, hash_max_resolution, enc_seed,
            )  # fmt: skip
            n_in = self.encoder.out_features

        gen = None if seed is None else torch.Generator().manual_seed(int(seed))
        layers: list[nn.Module] = []
        sizes = [n_in] + [width] * depth
        for i in range(depth):
            lin = nn.Linear(sizes[i], sizes[i + 1], dtype=dtype)
            _init_linear(lin, activation, omega0, first=(i == 0), generator=gen)
            layers += [lin, _activation(activation, omega0)]
        last = nn.Linear(sizes[-1], 1, dtype=dtype)
        _init_linear(last, activation, omega0, first=(depth == 0), generator=gen, final=True)
        layers.append(last)
        self.mlp = nn.Sequential(*layers)
        if self.encoder is not None:
            self.encoder.to(dtype)

    def transform(self, xyz: torch.Tensor) -> torch.Tensor:
        """Normalised network input ``(N, in_features)`` from coordinates in M."""
        if self.coords == "polar":
            r = torch.sqrt(xyz[:, 0] ** 2 + xyz[:, 1] ** 2)
            phi = torch.atan2(xyz[:, 1], xyz[:, 0])
            return torch.stack([r / self.scale, phi / math.pi], dim=-1)
        return xyz / self.scale

    def set_scale(self, scale: float) -> None:
        """Set the coordinate scale (M), e.g. to a screen's half-width; ends ``scale_auto``."""
        self.scale = check_positive(scale, "scale")
        self.config["scale"] = self.scale
        self.scale_auto = False

    def forward(self, xyz: torch.Tensor) -> torch.Tensor:
        """Evaluate the emission at ``xyz`` ``(N, in_features)`` (in M); returns ``(N,)``."""
        if xyz.ndim != 2 or xyz.shape[-1] != self.in_features:
            raise ValueError(
                f"xyz must have shape (N, {self.in_features}), got {tuple(xyz.shape)}"
            )
        h = self.transform(xyz.to(self.mlp[0].weight.dtype))
        if self.encoding_name == "positional":
            h = positional_encoding(h, self.n_frequencies)
        elif self.encoder is not None:
            h = self.encoder(h)
        return _output_head(self.output, self.mlp(h)[:, 0])

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"in={c['in_features']}, width={c['width']}, depth={c['depth']}, "
            f"activation={c['activation']}, encoding={c['encoding']}, output={c['output']}, "
            f"scale={c['scale']}"
        )


def _init_linear(lin, activation, omega0, *, first, generator, final=False):
    """Initialise in place; torch's default (= Lux's) for tanh/ReLU, SIREN's for sine."""
    fan_in = lin.in_features
    with torch.no_grad():
        if activation == "sine":
            bound = 1.0 / fan_in if first else math.sqrt(6.0 / fan_in) / omega0
            if final and not first:
                bound = math.sqrt(6.0 / fan_in) / omega0
        else:
            # PyTorch nn.Linear default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(n), 1/sqrt(n))
            bound = 1.0 / math.sqrt(fan_in)
        lin.weight.copy_(_uniform(lin.weight.shape, bound, generator, lin.weight.dtype))
        bias_bound = 1.0 / math.sqrt(fan_in)
        lin.bias.copy_(_uniform(lin.bias.shape, bias_bound, generator, lin.bias.dtype))


def _uniform(shape, bound, generator, dtype):
    return (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) * bound


def _check_sizes(in_features: Any, coords: str, width: Any, depth: Any, n_frequencies: Any,
                 fourier_features: Any, hash_levels: Any, hash_features: Any,
                 hash_log2_size: Any, hash_base_resolution: Any, hash_max_resolution: Any,
                 seed: Any, dtype: Any) -> None:  # fmt: skip
    """:class:`EmissionField`'s integer sizes, seed and dtype: errors naming the argument."""
    if isinstance(in_features, bool) or not isinstance(in_features, Integral) or (
            in_features not in (2, 3)):
        raise ValueError(f"in_features must be the int 2 or 3, got {in_features!r}")
    if coords == "polar" and in_features != 2:
        raise ValueError("coords='polar' needs in_features=2")
    for arg, value, lo in (("width", width, 1), ("depth", depth, 0),
                           ("n_frequencies", n_frequencies, 0),
                           ("fourier_features", fourier_features, 1),
                           ("hash_levels", hash_levels, 1),
                           ("hash_features", hash_features, 1),
                           ("hash_base_resolution", hash_base_resolution, 1)):  # fmt: skip
        check_npoints(value, arg, minimum=lo)
    # 2^24 entries x features x levels already takes GBs; torch's own error is an
    # allocation of petabytes
    if check_npoints(hash_log2_size, "hash_log2_size") > 24:
        raise ValueError(f"hash_log2_size must be in [1, 24], got {hash_log2_size}")
    if check_npoints(hash_max_resolution, "hash_max_resolution") < hash_base_resolution:
        raise ValueError(f"hash_max_resolution must be >= hash_base_resolution "
                         f"({hash_base_resolution}), got {hash_max_resolution}")
    if seed is not None:
        check_npoints(seed, "seed", minimum=0)
    if dtype not in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
        raise TypeError(f"dtype must be a floating torch dtype (torch.float64, float32, "
                        f"float16, bfloat16), got {dtype!r}")


def field_from_config(config: dict[str, Any]) -> EmissionField:
    """Rebuild an :class:`EmissionField` from its ``config`` dict (e.g. loaded from JSON).

    Parameters
    ----------
    config : dict
        ``field.config`` of the original field.

    Returns
    -------
    EmissionField
        A field with the same architecture (weights re-initialised from ``seed``; load a
        state dict for trained weights).

    Examples
    --------
    >>> f = EmissionField(width=8, seed=1)
    >>> g = field_from_config(f.config)
    >>> torch.equal(f.mlp[0].weight, g.mlp[0].weight)
    True
    """
    cfg = dict(config)
    dtype = getattr(torch, cfg.pop("dtype", "float64"))
    return EmissionField(**cfg, dtype=dtype)


@torch.no_grad()
def emission_map(field: nn.Module, extent: float = 10.0, npix: int = 128, z: float = 0.0):
    """Evaluate a field on the equatorial plane grid ``x, y in [-extent, extent]`` (in M).

    Parameters
    ----------
    field : nn.Module
        Emission field (2-D, or 3-D evaluated at height ``z``).
    extent : float
        Half-width of the grid in M.
    npix : int
        Grid points per side.
    z : float
        Height for 3-D fields.

    Returns
    -------
    xarray.DataArray
        ``emission`` on dims ``(y, x)`` with coordinates in M.

    Raises
    ------
    TypeError, ValueError
        ``field`` is not a module; ``extent`` is not a finite number > 0, ``npix`` not an
        integer in [2, 8192], ``z`` not finite.

    Examples
    --------
    >>> emission_map(EmissionField(seed=0), 10.0, 8).shape
    (8, 8)
    """
    import xarray as xr

    if not isinstance(field, nn.Module):
        raise TypeError(f"field must be a torch.nn.Module, got {type(field).__name__}")
    extent = check_positive(extent, "extent")
    npix = check_npoints(npix, "npix", minimum=2)
    if npix > 8192:
        raise ValueError(f"npix must be at most 8192 (a {npix}² map), got {npix}")
    z = _as_float(z, "z")
    if not math.isfinite(z):
        raise ValueError(f"z must be finite, got {z}")
    param = next(field.parameters(), None)
    device = param.device if param is not None else None
    ax = torch.linspace(-extent, extent, npix, dtype=torch.float64, device=device)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    cols = [xx.reshape(-1), yy.reshape(-1)]
    if getattr(field, "in_features", 2) == 3:
        cols.append(torch.full_like(cols[0], z))
    vals = field(torch.stack(cols, dim=-1)).to(torch.float64).reshape(npix, npix)
    axis = ax.cpu().numpy()
    return xr.DataArray(
        vals.cpu().numpy(), dims=("y", "x"),
        coords={"x": ("x", axis, {"units": "M"}), "y": ("y", axis, {"units": "M"})},
        name="emission", attrs={"units": "arbitrary (emissivity)"},
    )  # fmt: skip
