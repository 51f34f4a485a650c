"""The in-process path through juliacall (PythonCall.jl), used when it is safe to.

See :mod:`kerrfield.bridge` for the import-order constraint with torch.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .discovery import JuliaNotFoundError, default_threads, find_julia

__all__ = ["init_juliacall"]


_JL: Any = None


_JULIACALL_ERROR: BaseException | None = None


_JULIACALL_SKIPPED = False  # auto mode decided on the subprocess path (decided once)


def init_juliacall(threads: int | None = None) -> Any:
    """Start Julia in-process through juliacall and load ``KerrField``.

    Call this before importing torch (see the module notes). Sets
    ``PYTHON_JULIACALL_THREADS`` and, for more than one thread,
    ``PYTHON_JULIACALL_HANDLE_SIGNALS=yes`` unless they are already set.

    Parameters
    ----------
    threads : int, optional
        Julia threads (default :func:`default_threads`); ignored if Julia already runs.

    Returns
    -------
    juliacall.Main
        The Julia ``Main`` module, with ``KerrField`` loaded.

    Raises
    ------
    ImportError
        If juliacall is not installed (``pip install "kerrfield[julia]"``).
    """
    global _JL
    if _JL is not None:
        return _JL
    n = int(threads) if threads is not None else default_threads()
    if "juliacall" not in sys.modules:
        os.environ.setdefault("PYTHON_JULIACALL_THREADS", str(n))
        if n > 1:
            os.environ.setdefault("PYTHON_JULIACALL_HANDLE_SIGNALS", "yes")
    elif os.environ.get("PYTHON_JULIACALL_HANDLE_SIGNALS", "").lower() != "yes":
        warnings.warn(
            "juliacall was imported before kerrfield could set PYTHON_JULIACALL_HANDLE_SIGNALS=yes;"
            " with more than one Julia thread set it before importing juliacall",
            RuntimeWarning,
            stacklevel=2,
        )
    from juliacall import Main as jl  # lazy by design: importing kerrfield never starts Julia

    jl.seval("using KerrField")
    _JL = jl
    return jl


def _juliacall_usable(mode: str) -> bool:
    """Decide (once per call) whether to use juliacall; see the module notes."""
    global _JULIACALL_ERROR, _JULIACALL_SKIPPED
    if _JL is not None:
        return True
    if mode == "subprocess" or _JULIACALL_ERROR is not None:
        return False
    if mode == "auto":
        if _JULIACALL_SKIPPED:
            return False
        if importlib.util.find_spec("juliacall") is None:
            _JULIACALL_SKIPPED = True
            return False
        if "torch" in sys.modules and "juliacall" not in sys.modules:
            try:
                has_exe = find_julia() is not None
            except JuliaNotFoundError:
                has_exe = False
            if has_exe:
                _JULIACALL_SKIPPED = True
                return False  # the safe choice: no torch-before-juliacall crash risk
            warnings.warn(
                "kerrfield: starting juliacall after torch was imported; this has crashed "
                "processes (PythonCall.jl issues 215, 384). Call "
                "kerrfield.bridge.init_juliacall() before importing torch.",
                RuntimeWarning,
                stacklevel=3,
            )
    try:
        init_juliacall()
        return True
    except Exception as exc:  # juliacall missing or failing to initialise
        _JULIACALL_ERROR = exc
        if mode == "juliacall":  # asked for by name: say why, and what else there is
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise ValueError(
                f"KERRFIELD_JULIA_BRIDGE=juliacall, but juliacall cannot start "
                f"({type(exc).__name__}: {first}); install it with pip install -e '.[julia]' "
                "(needs Julia >= 1.10), or unset KERRFIELD_JULIA_BRIDGE to use the "
                "subprocess bridge"
            ) from exc
        return False


def _trace_juliacall(
    spin: float,
    inc: float,
    alpha: np.ndarray,
    beta: np.ndarray,
    orders: np.ndarray,
    surf: float,
    vel: Mapping[str, Any],
) -> dict[str, np.ndarray]:
    jl = _JL
    vdict = jl.Dict[jl.String, jl.String]()
    for k, v in vel.items():
        vdict[k.removeprefix("velocity.")] = repr(v) if isinstance(v, float) else str(v)
    # numpy arrays arrive as PyArray (AbstractVector) without copies
    res = jl.KerrField.trace_rays_dict(
        spin, inc, alpha, beta, np.ascontiguousarray(orders, dtype=np.int64), surf, vdict
    )
    out: dict[str, np.ndarray] = {}
    for key in list(res.keys()):
        # a Julia (npix, norders) column-major matrix is a C-order (norders, npix) array
        out[str(key)] = np.asarray(res[key]).T
    return out
