"""Atomic file writes: a temporary file in the target's folder, then :func:`os.replace`.

A reader (or a resumed run) sees either the previous complete file or the new complete file,
never a partial one, even when the writer is killed mid-write. Every file kerrfield writes
(netCDF datasets, JSON summaries, torch checkpoints, FITS images) goes through
:func:`atomic_write`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_write", "atomic_write_text", "atomic_torch_save",
           "write_netcdf"]  # fmt: skip


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The parent folder is created if needed. On any exception the temporary file is removed
    and ``path`` is left untouched.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp creates 0600; a result file gets the mode open() would give it (where the
        # file system allows modes at all: vfat or some network mounts refuse chmod)
        with contextlib.suppress(OSError):
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (os.umask sets it,
    which other threads could observe)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(write: Callable[[Path], Any], path: str | os.PathLike[str]) -> Path:
    """Call ``write(tmp_path)`` and move the result to ``path`` atomically; return ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def atomic_write_text(text: str, path: str | os.PathLike[str]) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(lambda tmp: tmp.write_text(text, encoding="utf-8"), path)


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj)`` to ``path`` atomically."""
    import torch

    return atomic_write(lambda tmp: torch.save(obj, tmp), path)


def write_netcdf(ds: Any, path: str | os.PathLike[str], engine: str | None = None) -> Path:
    """Write an ``xarray.Dataset`` to netCDF atomically (``engine`` as in ``to_netcdf``).

    Examples
    --------
    >>> import tempfile, pathlib, xarray as xr
    >>> p = write_netcdf(xr.Dataset({"v": ("x", [1.0, 2.0])}),
    ...                  pathlib.Path(tempfile.mkdtemp()) / "v.nc")
    >>> xr.load_dataset(p)["v"].values.tolist()
    [1.0, 2.0]
    """
    return atomic_write(lambda tmp: ds.to_netcdf(tmp, engine=engine), path)
