"""Input encodings of coordinate MLPs.

* :func:`positional_encoding` -- NeRF's sin/cos octaves (Mildenhall et al. 2020, arXiv:2003.08934);
* :class:`FourierFeatures` -- random Fourier features (Tancik et al. 2020, arXiv:2006.10739);
* :class:`HashGridEncoding` -- multi-resolution hash grid (Müller et al. 2022, Instant-NGP,
  arXiv:2201.05989), in pure torch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["positional_encoding", "FourierFeatures", "HashGridEncoding"]


def positional_encoding(x: torch.Tensor, n_frequencies: int, include_input: bool = True):
    """NeRF positional encoding (Mildenhall et al. 2020, arXiv:2003.08934, eq. 4).

    ``gamma(p) = (p, sin(2^0 pi p), cos(2^0 pi p), ..., sin(2^(L-1) pi p), cos(2^(L-1) pi p))``
    applied to every input feature.

    Parameters
    ----------
    x : torch.Tensor
        ``(N, d)`` normalised coordinates (order unity).
    n_frequencies : int
        Number ``L`` of octaves.
    include_input : bool
        Prepend the raw coordinates.

    Returns
    -------
    torch.Tensor
        ``(N, d * (2 L + include_input))``.

    Examples
    --------
    >>> positional_encoding(torch.zeros(5, 2), 4).shape
    torch.Size([5, 18])
    """
    freqs = math.pi * 2.0 ** torch.arange(n_frequencies, dtype=x.dtype, device=x.device)
    xb = (x[..., None] * freqs).flatten(-2)  # (N, d*L)
    parts = [x] if include_input else []
    return torch.cat([*parts, torch.sin(xb), torch.cos(xb)], dim=-1)


class FourierFeatures(nn.Module):
    """Random Fourier features (Tancik et al. 2020, arXiv:2006.10739).

    ``gamma(v) = [cos(2 pi B v), sin(2 pi B v)]`` with a fixed Gaussian ``B ~ N(0, sigma^2)``
    of shape ``(n_features, d)``; ``sigma`` sets the bandwidth (in cycles per unit of the
    normalised coordinate).

    Parameters
    ----------
    in_features : int
        Input dimension ``d``.
    n_features : int
        Number of random frequencies (output has ``2 n_features`` columns).
    sigma : float
        Standard deviation of the frequencies.
    seed : int
        Seed for ``B`` (a buffer, so it is saved in the state dict).

    Examples
    --------
    >>> FourierFeatures(2, 16)(torch.zeros(3, 2)).shape
    torch.Size([3, 32])
    """

    def __init__(self, in_features: int, n_features: int = 64, sigma: float = 1.0, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(int(seed))
        self.register_buffer(
            "B", torch.randn(n_features, in_features, generator=gen, dtype=torch.float64) * sigma
        )
        self.out_features = 2 * n_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        proj = 2.0 * math.pi * (x @ self.B.to(x.dtype).T)
        return torch.cat([torch.cos(proj), torch.sin(proj)], dim=-1)


# spatial-hash primes of Instant-NGP (Teschner et al. 2003), first dimension unhashed
_PRIMES = (1, 2654435761, 805459861)


class HashGridEncoding(nn.Module):
    """Multi-resolution hash-grid encoding (Müller et al. 2022, arXiv:2201.05989), pure torch.

    ``n_levels`` grids with resolutions ``base_resolution * b**l`` (geometric up to
    ``max_resolution``); each level stores ``n_features`` trainable features per vertex in a
    table of ``2**log2_table_size`` entries, indexed densely when the grid fits and by the
    XOR spatial hash otherwise, and (bi/tri)linearly interpolated. Inputs are expected in
    ``[-1, 1]`` (clamped).

    Parameters
    ----------
    in_features : int
        2 or 3.
    n_levels, n_features, log2_table_size, base_resolution, max_resolution : int
        Instant-NGP hyper-parameters ``L, F, log2 T, N_min, N_max``.
    seed : int
        Seed for the ``U(-1e-4, 1e-4)`` table initialisation of the paper.

    Examples
    --------
    >>> enc = HashGridEncoding(2, n_levels=4, log2_table_size=10)
    >>> enc(torch.zeros(7, 2, dtype=torch.float64)).shape
    torch.Size([7, 8])
    """

    def __init__(
        self,
        in_features: int = 2,
        n_levels: int = 12,
        n_features: int = 2,
        log2_table_size: int = 14,
        base_resolution: int = 8,
        max_resolution: int = 512,
        seed: int = 0,
    ):
        super().__init__()
        if in_features not in (2, 3):
            raise ValueError(f"in_features must be 2 or 3 for the hash grid, got {in_features}")
        self.d = in_features
        self.table_size = 2**log2_table_size
        growth = (max_resolution / base_resolution) ** (1.0 / max(n_levels - 1, 1))
        res = [int(math.floor(base_resolution * growth**lvl)) for lvl in range(n_levels)]
        self.register_buffer("resolution", torch.tensor(res, dtype=torch.int64))
        # dense indexing where (res+1)^d vertices fit in the table: no collisions there
        self.register_buffer(
            "dense", torch.tensor([(r + 1) ** in_features <= self.table_size for r in res])
        )
        gen = torch.Generator().manual_seed(int(seed))
        table = (torch.rand(n_levels, self.table_size, n_features, generator=gen) * 2 - 1) * 1e-4
        self.table = nn.Parameter(table.to(torch.float64))
        corners = torch.tensor(
            [[(c >> i) & 1 for i in range(in_features)] for c in range(2**in_features)]
        )
        self.register_buffer("corners", corners)  # (2^d, d)
        self.register_buffer("primes", torch.tensor(_PRIMES[:in_features], dtype=torch.int64))
        self.out_features = n_levels * n_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n_levels, _, n_feat = self.table.shape
        u = (x.clamp(-1.0, 1.0) + 1.0) * 0.5  # [0, 1]
        pos = u[:, None, :] * self.resolution.to(x.dtype)[None, :, None]  # (N, L, d)
        base = torch.floor(pos).clamp(max=self.resolution[None, :, None].to(x.dtype) - 1)
        frac = pos - base
        vert = base.long()[:, :, None, :] + self.corners[None, None]  # (N, L, 2^d, d)
        # dense index: row-major over (res+1)^d vertices
        stride = (self.resolution + 1)[None, :, None]
        dense_idx = vert[..., 0]
        for i in range(1, self.d):
            dense_idx = dense_idx + vert[..., i] * stride**i
        hashed = vert[..., 0] * self.primes[0]
        for i in range(1, self.d):
            hashed = hashed ^ (vert[..., i] * self.primes[i])
        idx = torch.where(self.dense[None, :, None], dense_idx, hashed) % self.table_size
        # interpolation weights: prod_i (frac_i if corner_i else 1 - frac_i)
        c = self.corners[None, None].to(x.dtype)  # (1, 1, 2^d, d)
        w = torch.prod(c * frac[:, :, None, :] + (1 - c) * (1 - frac[:, :, None, :]), dim=-1)
        level = torch.arange(n_levels, device=x.device)[None, :, None]
        feats = self.table.to(x.dtype)[level, idx]  # (N, L, 2^d, F)
        out = (w[..., None] * feats).sum(dim=2)  # (N, L, F)
        return out.reshape(x.shape[0], n_levels * n_feat)
