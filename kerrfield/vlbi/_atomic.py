"""Atomic file writes for the vlbi subpackage (temporary file in the same folder + os.replace)."""

# TODO(io): use kerrfield.io.atomic once the io subpackage exists on main.

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary path next to ``path``, then move it into place.

    Parameters
    ----------
    path : str or os.PathLike
        Destination. Its folder must exist.
    write : callable
        ``write(tmp_path)`` writes the complete file to ``tmp_path``.

    Returns
    -------
    pathlib.Path
        The destination path.

    Raises
    ------
    FileNotFoundError
        If the destination folder does not exist. Nothing is left behind on any error.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"path: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
