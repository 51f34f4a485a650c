"""Atomic file writes: a temporary file in the target's folder, then :func:`os.replace`.

A reader (or a resumed run) sees either the previous complete file or the new complete file,
never a partial one, even when the writer is killed mid-write. The data are flushed to disk
(``fsync``) before the rename and the folder after it, so a power cut or kernel crash
cannot leave the new name pointing at an empty file either. Every file kerrfield writes
(netCDF datasets, JSON summaries, torch checkpoints, FITS images) goes through
:func:`atomic_write`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["atomic_path", "atomic_write", "atomic_write_text", "atomic_write_json",
           "atomic_torch_save", "write_netcdf"]  # fmt: skip


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
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent, directory=True)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _fsync(path: str | os.PathLike[str], directory: bool = False) -> None:
    """Flush ``path``'s data (or a folder's entries) to disk; where the OS or file system
    cannot (Windows folders, some network mounts) the rename alone still guarantees
    atomicity for readers."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


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


def _finite_or_none(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite_or_none(v) for v in obj]
    return obj


def atomic_write_json(obj: Any, path: str | os.PathLike[str], *, indent: int = 1,
                      default: Callable[[Any], Any] | None = str) -> Path:  # fmt: skip
    """Write ``obj`` as strict JSON to ``path`` atomically.

    Non-finite floats (an unconverged unit's ``inf`` relative change, a NaN statistic)
    become ``null``: Python's ``json`` would write ``Infinity`` / ``NaN``, which strict
    readers (JavaScript, ``jq``, other languages' parsers) reject. ``default`` converts
    objects ``json`` does not know (as in :func:`json.dumps`).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = atomic_write_json({"a": float("inf"), "b": [1.5, float("nan")]},
    ...                       pathlib.Path(tempfile.mkdtemp()) / "s.json", indent=0)
    >>> json.loads(p.read_text())
    {'a': None, 'b': [1.5, None]}
    """
    plain = json.loads(json.dumps(obj, default=default))  # numpy scalars etc. via default
    text = json.dumps(_finite_or_none(plain), indent=indent, allow_nan=False)
    return atomic_write_text(text, path)


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj)`` to ``path`` atomically."""
    import torch

    return atomic_write(lambda tmp: torch.save(obj, tmp), path)


def write_netcdf(ds: Any, path: str | os.PathLike[str], engine: str | None = None) -> Path:
    """Write an ``xarray.Dataset`` to netCDF atomically (``engine`` as in ``to_netcdf``).

    Complex variables (an observation's ``vis``) are stored as netCDF compound types
    (``auto_complex``, netCDF4 engine), which :func:`kerrfield.io.readers.load_netcdf` reads
    back as complex.

    Examples
    --------
    >>> import tempfile, pathlib, xarray as xr
    >>> p = write_netcdf(xr.Dataset({"v": ("x", [1.0, 2.0])}),
    ...                  pathlib.Path(tempfile.mkdtemp()) / "v.nc")
    >>> xr.load_dataset(p)["v"].values.tolist()
    [1.0, 2.0]
    """
    if any(v.dtype.kind == "c" for v in ds.variables.values()) and engine in (None, "netcdf4"):
        return atomic_write(lambda tmp: ds.to_netcdf(tmp, engine="netcdf4", auto_complex=True),
                            path)  # fmt: skip
    return atomic_write(lambda tmp: ds.to_netcdf(tmp, engine=engine), path)
