"""Ray tracing straight to a netCDF file, block by block, within bounded memory.

:func:`raytrace_to_netcdf` traces a screen in blocks of rows (β) and writes each block
into its place in one netCDF file, so a 8192² screen needs the memory of one block, not the
~20 GiB :func:`kerrfield.raytrace` holds. The file is the same Dataset ``raytrace`` returns
(variables, coordinates, units and attrs), written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._validate import check_npoints
from ..io.atomic import atomic_path
from ._memory import available_bytes, trace_bytes
from .raytrace import raytrace

__all__ = ["raytrace_to_netcdf"]


def raytrace_to_netcdf(
    path: str | os.PathLike[str], spin: float, inclination: float, *, fov: float = 10.0,
    npix: int = 64, alpha: Any = None, beta: Any = None, rows_per_block: int | None = None,
    progress: bool | None = None, **kwargs: Any,
) -> Path:  # fmt: skip
    """Trace a screen in blocks of rows and write them into one netCDF file.

    Parameters
    ----------
    path : str or os.PathLike
        The netCDF file (written atomically: readers see the old file or the complete new one).
    spin, inclination, fov, npix, alpha, beta
        As in :func:`kerrfield.raytrace`.
    rows_per_block : int, optional
        Screen rows (β) per block; default: about 2^20 pixels per block, fewer when half
        the available memory holds less.
    progress : bool, optional
        Progress bar over blocks (default: with more than one block, in a notebook or when
        stderr is a terminal, not in a piped log).
    **kwargs
        ``orders``, ``surface``, ``velocity``, ``backend``, ``device``, ``dtype``,
        ``compiled`` as in :func:`kerrfield.raytrace`.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib, xarray as xr
    >>> p = raytrace_to_netcdf(pathlib.Path(tempfile.mkdtemp()) / "r.nc", 0.5, 30.0, npix=8,
    ...                        rows_per_block=3, orders=(0,))
    >>> xr.load_dataset(p).r_s.shape
    (1, 8, 8)
    """
    import h5netcdf

    if alpha is None and beta is None:
        axis = np.linspace(-float(fov), float(fov), int(npix)) if int(npix) > 1 else np.zeros(1)
        alpha, beta = axis, axis.copy()
    al = np.asarray(alpha, dtype=np.float64)
    be = np.asarray(beta, dtype=np.float64)
    first = raytrace(spin, inclination, alpha=al, beta=be[:1], progress=False, **kwargs)
    if rows_per_block is None:  # ~2^20 pixels per block, at most half the memory available
        per_row, have = trace_bytes(al.size, first.sizes["n"]), available_bytes()
        rows = max(1, (1 << 20) // max(al.size, 1))
        if have is not None:
            rows = max(1, min(rows, int(0.5 * have // per_row)))
    else:
        rows = check_npoints(rows_per_block, "rows_per_block")
    starts = range(0, be.size, rows)
    if progress is None:  # as raytrace: a bar where one can be drawn, not in a piped log
        from .._progress import show_progress

        progress = len(starts) > 1 and show_progress(None)
    if progress:
        from .._progress import progress_bar

        starts = progress_bar(starts, desc="ray tracing", unit="block")
    with atomic_path(path) as tmp, h5netcdf.File(tmp, "w") as f:
        _define(f, first, be)
        for r0 in starts:
            blk = first if r0 == 0 and rows == 1 else raytrace(
                spin, inclination, alpha=al, beta=be[r0:r0 + rows], progress=False, **kwargs)
            for name, var in blk.data_vars.items():
                f.variables[name][..., r0:r0 + var.sizes["beta"], :] = var.values
    return Path(path)


def _define(f: Any, first: Any, be: np.ndarray) -> None:
    """Dimensions, coordinates, variables and attrs of the full screen from a 1-row trace."""
    f.dimensions = {"n": first.sizes["n"], "beta": be.size, "alpha": first.sizes["alpha"]}
    for name, values in (("n", first["n"].values), ("beta", be),
                         ("alpha", first["alpha"].values)):  # fmt: skip
        v = f.create_variable(name, (name,), values.dtype, data=values)
        v.attrs.update(first[name].attrs)
    for name, var in first.data_vars.items():
        chunks = tuple(1 if d == "n" else min(256, f.dimensions[d].size) for d in var.dims)
        v = f.create_variable(name, var.dims, var.dtype, chunks=chunks)
        v.attrs.update(var.attrs)
    for key, value in first.attrs.items():
        f.attrs[key] = value
