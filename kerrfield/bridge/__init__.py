"""Bridge to the Julia backend (the ``KerrField`` Julia package bundled with kerrfield).

``kerrfield.raytrace(..., backend="julia")`` traces the same rays with the same formulas
(Gralla & Lupsasca 2020, PRD 101, 044032) in Julia, through one of two paths, chosen
automatically on first use:

``"juliacall"``
    In-process through `juliacall <https://github.com/JuliaPy/PythonCall.jl>`_ (the optional
    extra ``pip install "kerrfield[julia]"``). juliapkg reads ``kerrfield/juliapkg.json``,
    which declares the bundled Julia project as a *dev* dependency by a path relative to that
    file, so wheels and editable installs work alike. It needs Julia ≥ 1.10 and, the first
    time, network access to the Julia package registry. Arrays cross without copies.
``"subprocess"``
    A persistent worker, ``julia --project=<bundled project> -t <threads> worker.jl``, started
    once per Python process on first use and reused (start-up and compilation are paid once),
    exchanging raw little-endian float64 arrays over pipes. Needs only a ``julia`` (≥ 1.5) on
    ``PATH`` or named by ``KERRFIELD_JULIA``, and no registry (the Julia package uses the
    standard library only). A worker that crashes is restarted; one that does not answer within
    the time-out is killed and restarted; errors raised in Julia become :class:`JuliaError`.

Nothing here starts Julia at import time: importing kerrfield never starts Julia.

Environment variables
---------------------
``KERRFIELD_JULIA_BRIDGE``
    ``auto`` (default), ``juliacall`` or ``subprocess``.
``KERRFIELD_JULIA``
    Julia executable for the subprocess path (default: ``julia`` on ``PATH``).
``KERRFIELD_JULIA_THREADS``
    Julia threads (default: the number of CPU cores available to this process).
``KERRFIELD_JULIA_TIMEOUT``
    Seconds a single request may take before the worker is declared hung (default: 300 plus
    1 ms per ray-order, generous enough for first-call compilation).

Notes
-----
**Import order with torch.** Loading torch *before* juliacall has crashed processes
(PythonCall.jl issues 215 and 384; pytorch issue 78829: Julia's and torch's LLVM symbols
clash). kerrfield's torch backend imports torch, so in ``auto`` mode the juliacall path is
taken only when juliacall was imported before torch, or when no subprocess Julia is available
(then with a warning). To use juliacall safely, call :func:`init_juliacall` (or
``import juliacall``) first thing in your program, before ``import torch`` or
``import kerrfield.physics``::

    import kerrfield.bridge as jb
    jb.init_juliacall()            # starts Julia in-process, before torch is loaded
    import kerrfield as kf
    ds = kf.raytrace(0.9, 30.0, backend="julia")

With more than one Julia thread juliacall requires ``PYTHON_JULIACALL_HANDLE_SIGNALS=yes``
*before* it is imported; :func:`init_juliacall` sets it (and ``PYTHON_JULIACALL_THREADS``)
unless already set.
"""

from .api import evaluate_elliptic, julia_info, trace_rays_julia
from .discovery import (
    JuliaError,
    JuliaNotFoundError,
    JuliaWorkerError,
    bundled_project,
    default_threads,
    find_julia,
)
from .juliacall import init_juliacall
from .worker import PROTOCOL, JuliaWorker, close_worker, get_worker

__all__ = [
    "PROTOCOL", "JuliaError", "JuliaNotFoundError", "JuliaWorker", "JuliaWorkerError",
    "bundled_project",
    "close_worker", "default_threads", "evaluate_elliptic", "find_julia", "get_worker",
    "init_juliacall", "julia_info", "trace_rays_julia",
]  # fmt: skip
