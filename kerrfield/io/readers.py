"""Reading the files kerrfield (and its users) feed back in, with one clear error each.

A truncated or corrupt netCDF, FITS or torch file otherwise ends in a library traceback
(``OSError: NetCDF: HDF error``, ``EOFError``, ``UnpicklingError``, ``buffer is too small``);
here it becomes one :class:`CorruptFileError` naming the file, what it was read as and what
to do about it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["CorruptFileError", "load_netcdf", "load_torch"]


class CorruptFileError(ValueError):
    """A file that exists but cannot be read (truncated, corrupt or of another format)."""


def _corrupt(path: Path, what: str, exc: BaseException, advice: str | None) -> CorruptFileError:
    detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
    return CorruptFileError(
        f"{what} {path} cannot be read ({type(exc).__name__}{': ' + detail if detail else ''}); "
        f"the file is truncated or corrupt (e.g. a crash or a full disk while it was written). "
        f"{advice or 'Recreate it, or point at another file.'}"
    )


def _existing(path: str | os.PathLike[str], what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what}: no such file {str(p)!r}")
    return p


#: first bytes of netCDF classic/64-bit (``CDF``) and netCDF-4 (HDF5) files
_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")


def load_netcdf(path: str | os.PathLike[str], what: str = "netCDF file",
                advice: str | None = None) -> Any:  # fmt: skip
    """``xarray.load_dataset(path, auto_complex=True)`` raising :class:`CorruptFileError` for
    unreadable files (complex variables, such as an observation's ``vis``, come back complex).

    Parameters
    ----------
    path : str or os.PathLike
        The netCDF file.
    what : str
        What the file is, for the message (``"target"``, ``"geometry"``, ...).
    advice : str, optional
        What to do (default: recreate it or point at another file).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is a FITS file (an image or uvfits given where netCDF is read), or does not
        start with a netCDF/HDF5 signature at all (a text file, say).
    CorruptFileError
        The file exists but is not a readable netCDF file.
    """
    import xarray as xr

    p = _existing(path, what)
    with p.open("rb") as fh:
        head = fh.read(8)
    if head[:6] == b"SIMPLE":  # every FITS file starts with this card
        raise ValueError(f"{what} {p} is a FITS file, not netCDF: read a FITS image with "
                         "kerrfield.read_fits_image, and give visibilities as a .uvfits "
                         "file (kerrfield.load_uvfits)")  # fmt: skip
    if head and not head.startswith(_NETCDF_MAGIC):  # text, an image, ...: not damaged
        raise ValueError(f"{what} {p} is not a netCDF file (it starts with {head[:4]!r}, not "
                         "a netCDF or HDF5 signature); give a .nc file written by kerrfield "
                         "or xarray")  # fmt: skip
    try:
        # complex variables (an observation's visibilities) are stored as netCDF compound
        # types, which xarray reads back as complex only when asked
        return xr.load_dataset(p, auto_complex=True)
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise _corrupt(p, what, exc, advice) from exc


def load_torch(path: str | os.PathLike[str], what: str = "torch file", advice: str | None = None,
               **kwargs: Any) -> Any:  # fmt: skip
    """``torch.load(path, **kwargs)`` raising :class:`CorruptFileError` for unreadable files."""
    import pickle

    import torch

    p = _existing(path, what)
    try:
        return torch.load(p, **kwargs)
    except (OSError, EOFError, pickle.UnpicklingError, RuntimeError, ValueError,
            AttributeError, IndexError, KeyError) as exc:  # fmt: skip
        raise _corrupt(p, what, exc, advice) from exc
