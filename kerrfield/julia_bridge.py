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
``import kerrfield.raytrace``::

    import kerrfield.julia_bridge as jb
    jb.init_juliacall()            # starts Julia in-process, before torch is loaded
    import kerrfield as kf
    ds = kf.raytrace(0.9, 30.0, backend="julia")

With more than one Julia thread juliacall requires ``PYTHON_JULIACALL_HANDLE_SIGNALS=yes``
*before* it is imported; :func:`init_juliacall` sets it (and ``PYTHON_JULIACALL_THREADS``)
unless already set.
"""

from __future__ import annotations

import atexit
import collections
import importlib.util
import math
import os
import select
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "JuliaError",
    "JuliaNotFoundError",
    "JuliaWorker",
    "JuliaWorkerError",
    "bundled_project",
    "close_worker",
    "find_julia",
    "get_worker",
    "init_juliacall",
    "julia_info",
    "trace_rays_julia",
]

PROTOCOL = 1
#: output variables returned per (order, pixel) by the Julia tracer
PER_RAY_KEYS = (
    "r_s",
    "theta_s",
    "phi_s",
    "phi_ks",
    "t_s",
    "x",
    "y",
    "g",
    "nu_r",
    "nu_theta",
    "status",
)
#: output variables returned per pixel
PER_PIXEL_KEYS = ("lam", "eta")

HOW_TO_GET_JULIA = (
    "The Julia backend needs Julia. Get it with one of:\n"
    "  * make julia   (runs scripts/install-julia.sh: on Debian/Ubuntu as root it installs a\n"
    "                  working Julia non-interactively; elsewhere it prints instructions)\n"
    "  * juliaup:     curl -fsSL https://install.julialang.org | sh\n"
    '  * pip install "kerrfield[julia]"   (juliacall; downloads Julia ≥ 1.10, needs network)\n'
    "  * module load julia   (HPC clusters)\n"
    "then put `julia` on PATH or set KERRFIELD_JULIA=/path/to/julia."
)


class JuliaError(RuntimeError):
    """An error raised inside Julia; the message is Julia's own ``showerror`` text."""


class JuliaWorkerError(RuntimeError):
    """The Julia worker process crashed, hung past its time-out, or broke the protocol."""


class JuliaNotFoundError(RuntimeError):
    """No usable Julia: neither juliacall nor a ``julia`` executable."""


# ------------------------------------------------------------------------------------ helpers


def bundled_project() -> Path:
    """Directory of the bundled ``KerrField`` Julia project.

    In a wheel it is ``kerrfield/julia`` (force-included by hatch); in a source checkout or
    editable install ``kerrfield/julia`` is a symlink to the top-level ``julia/``.

    Returns
    -------
    pathlib.Path
        Absolute path of the directory holding ``Project.toml``.
    """
    here = Path(__file__).resolve().parent
    for cand in (here / "julia", here.parent / "julia"):
        if (cand / "Project.toml").is_file() and (cand / "src" / "KerrField.jl").is_file():
            return cand.resolve()
    raise FileNotFoundError(
        f"the bundled Julia project was not found next to {here} (looked for julia/Project.toml)"
    )


def default_threads() -> int:
    """Julia threads to use: ``KERRFIELD_JULIA_THREADS`` or the CPU cores available."""
    env = os.environ.get("KERRFIELD_JULIA_THREADS", "").strip()
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def find_julia() -> str | None:
    """The Julia executable for the subprocess path, or None.

    ``KERRFIELD_JULIA`` (a path or a command name) wins; otherwise ``julia`` on ``PATH``.

    Raises
    ------
    JuliaNotFoundError
        If ``KERRFIELD_JULIA`` is set but names nothing executable.
    """
    env = os.environ.get("KERRFIELD_JULIA", "").strip()
    if env:
        exe = shutil.which(env)
        if exe is None:
            raise JuliaNotFoundError(
                f"KERRFIELD_JULIA={env!r} is not an executable.\n{HOW_TO_GET_JULIA}"
            )
        return exe
    return shutil.which("julia")


def _bridge_mode() -> str:
    mode = os.environ.get("KERRFIELD_JULIA_BRIDGE", "auto").strip().lower() or "auto"
    if mode not in ("auto", "juliacall", "subprocess"):
        raise ValueError(
            f"KERRFIELD_JULIA_BRIDGE={mode!r}: expected 'auto', 'juliacall' or 'subprocess'"
        )
    return mode


# ------------------------------------------------------------------------- subprocess worker


class JuliaWorker:
    """A persistent ``julia worker.jl`` subprocess speaking kerrfield's pipe protocol.

    Requests and responses are a header line, ``name=value`` parameter lines, and arrays sent
    as their raw little-endian float64 memory (see ``julia/src/worker.jl``). A C-order numpy
    array of shape ``(d1, ..., dk)`` arrives in Julia as the column-major array of size
    ``(dk, ..., d1)`` (no copies either way), and vice versa.

    Parameters
    ----------
    executable : str
        Julia executable.
    project : pathlib.Path, optional
        Julia project holding ``KerrField`` (default :func:`bundled_project`).
    threads : int, optional
        Julia threads (default :func:`default_threads`).
    startup_timeout : float
        Seconds allowed for Julia to start and load ``KerrField`` (compiling it the first time).
    """

    def __init__(
        self,
        executable: str,
        project: Path | None = None,
        threads: int | None = None,
        startup_timeout: float = 300.0,
    ) -> None:
        self.executable = executable
        self.project = Path(project) if project is not None else bundled_project()
        self.threads = int(threads) if threads is not None else default_threads()
        self.startup_timeout = float(startup_timeout)
        self.julia_version: str | None = None
        self.restarts = 0
        self._started = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._buf = bytearray()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=60)
        self._lock = threading.RLock()
        self._counter = 0

    # -- process management
    @property
    def pid(self) -> int | None:
        """Process id of the running worker, or None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        """Whether the worker process is running."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        """Start the worker and wait for its greeting (no-op when already running)."""
        with self._lock:
            if self.alive:
                return
            self._kill()
            if self._started:
                self.restarts += 1
            self._started = True
            worker_jl = self.project / "src" / "worker.jl"
            cmd = [
                self.executable,
                "--startup-file=no",
                "--color=no",
                f"--project={self.project}",
                "-t",
                str(self.threads),
                str(worker_jl),
            ]
            env = dict(os.environ)
            env.pop("JULIA_NUM_THREADS", None)  # -t wins anyway; avoid "auto" on Julia 1.5
            self._buf = bytearray()
            self._stderr_tail.clear()
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                bufsize=0,
            )
            threading.Thread(
                target=self._drain_stderr, args=(self._proc,), daemon=True, name="julia-stderr"
            ).start()
            deadline = time.monotonic() + self.startup_timeout
            try:
                line = self._readline(deadline, what="the worker's start-up greeting")
            except JuliaWorkerError:
                self._kill()
                raise
            parts = line.split()
            if len(parts) < 4 or parts[0] != "KFREADY":
                self._kill()
                raise JuliaWorkerError(f"unexpected greeting from Julia worker: {line!r}")
            if int(parts[1]) != PROTOCOL:
                self._kill()
                raise JuliaWorkerError(f"worker speaks protocol {parts[1]}, expected {PROTOCOL}")
            self.julia_version = parts[2]

    def _drain_stderr(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        for raw in iter(proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip()
            self._stderr_tail.append(line)
            if os.environ.get("KERRFIELD_JULIA_VERBOSE"):
                print(f"[julia] {line}", file=sys.stderr)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):  # pragma: no cover - best effort
            pass
        for f in (proc.stdin, proc.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:  # pragma: no cover
                pass

    def close(self) -> None:
        """Ask the worker to exit (then kill it if it does not)."""
        with self._lock:
            proc = self._proc
            if proc is None:
                return
            if proc.poll() is None:
                try:
                    assert proc.stdin is not None
                    proc.stdin.write(b"KFREQ 0 exit 0 0\n")
                    proc.stdin.flush()
                    proc.stdin.close()
                    proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired, ValueError):
                    pass
            self._kill()

    def restart(self) -> None:
        """Kill the worker (if any) and start a fresh one."""
        with self._lock:
            self._kill()
            self.start()

    # -- low-level I/O with deadlines
    def _fail(self, msg: str) -> JuliaWorkerError:
        rc = self._proc.poll() if self._proc is not None else None
        tail = "\n".join(list(self._stderr_tail)[-25:])
        self._kill()
        text = msg
        if rc is not None:
            text += f" (worker exit status {rc})"
        if tail:
            text += f"\n--- Julia stderr (last lines) ---\n{tail}"
        return JuliaWorkerError(text + "\nThe worker will be restarted on the next call.")

    def _fill(self, deadline: float, what: str) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._fail(f"Julia worker timed out waiting for {what}")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise self._fail(
                f"Julia worker timed out after {remaining:.0f} s waiting for {what} (hung?)"
            )
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            time.sleep(0.05)  # let the exit status and stderr arrive
            raise self._fail(f"Julia worker died while we waited for {what}")
        self._buf += chunk

    def _readline(self, deadline: float, what: str) -> str:
        while True:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = bytes(self._buf[:i])
                del self._buf[: i + 1]
                return line.decode("utf-8", "replace")
            self._fill(deadline, what)

    def _readexact(self, n: int, deadline: float, what: str) -> bytes:
        while len(self._buf) < n:
            self._fill(deadline, what)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _read_array(self, deadline: float) -> tuple[str, np.ndarray]:
        head = self._readline(deadline, "an array header").split()
        name, nd = head[0], int(head[1])
        shape = tuple(int(d) for d in head[2 : 2 + nd])
        nbytes = 8 * math.prod(shape)
        data = self._readexact(nbytes, deadline, f"array {name}")
        return name, np.frombuffer(data, dtype="<f8").reshape(shape)

    # -- requests
    def call(
        self,
        command: str,
        params: Mapping[str, Any] | None = None,
        arrays: Mapping[str, np.ndarray] | None = None,
        timeout: float | None = None,
    ) -> tuple[dict[str, str], dict[str, np.ndarray]]:
        """Send one request and wait for its answer.

        A worker found dead before the request is restarted transparently.

        Parameters
        ----------
        command : str
            Worker command (``ping``, ``trace``, ``elliptic``, ``echo``, ``sleep``).
        params : mapping, optional
            Scalar parameters (sent as text; floats with full precision).
        arrays : mapping of str to numpy.ndarray, optional
            Arrays, converted to C-contiguous little-endian float64.
        timeout : float, optional
            Seconds before the worker is declared hung, killed, and :class:`JuliaWorkerError`
            raised (default ``KERRFIELD_JULIA_TIMEOUT`` or 300 s).

        Returns
        -------
        params, arrays : dict, dict
            The response's parameters (text) and arrays (float64).

        Raises
        ------
        JuliaError
            The request raised an error in Julia (the worker stays up).
        JuliaWorkerError
            The worker crashed or timed out (it is restarted on the next call).
        """
        params = dict(params or {})
        arrays = dict(arrays or {})
        if timeout is None:
            env = os.environ.get("KERRFIELD_JULIA_TIMEOUT", "").strip()
            timeout = float(env) if env else 300.0
        with self._lock:
            if not self.alive:
                self.start()
            assert self._proc is not None and self._proc.stdin is not None
            self._counter += 1
            rid = str(self._counter)
            lines = [f"KFREQ {rid} {command} {len(params)} {len(arrays)}"]
            for k, v in params.items():
                sv = repr(float(v)) if isinstance(v, float) else str(v)
                if "\n" in sv or "=" in k or "\n" in k:
                    raise ValueError(f"invalid parameter {k!r}={sv!r}")
                lines.append(f"{k}={sv}")
            payload = ["\n".join(lines).encode() + b"\n"]
            for k, a in arrays.items():
                arr = np.ascontiguousarray(a, dtype="<f8")
                shape = " ".join(str(d) for d in arr.shape)
                payload.append(f"{k} {arr.ndim}{' ' if arr.ndim else ''}{shape}\n".encode())
                payload.append(arr.tobytes())
            deadline = time.monotonic() + timeout
            try:
                self._write_all(b"".join(payload), deadline)
            except (BrokenPipeError, OSError) as exc:
                raise self._fail(f"could not send the request to the Julia worker ({exc})") from exc
            head = self._readline(deadline, f"the answer to {command!r}").split()
            if len(head) == 3 and head[0] == "KFERR":
                msg = self._readexact(int(head[2]), deadline, "the error message").decode(
                    "utf-8", "replace"
                )
                if head[1] != rid:
                    raise self._fail(f"Julia worker protocol error: {msg}")
                raise JuliaError(msg)
            if len(head) != 4 or head[0] != "KFOK" or head[1] != rid:
                raise self._fail(f"unexpected answer from the Julia worker: {' '.join(head)!r}")
            out_params: dict[str, str] = {}
            for _ in range(int(head[2])):
                k, _, v = self._readline(deadline, "a parameter").partition("=")
                out_params[k] = v
            out_arrays: dict[str, np.ndarray] = {}
            for _ in range(int(head[3])):
                name, arr = self._read_array(deadline)
                out_arrays[name] = arr
            return out_params, out_arrays

    def _write_all(self, data: bytes, deadline: float) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        fd = self._proc.stdin.fileno()
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail("Julia worker timed out reading our request (hung?)")
            _, ready, _ = select.select([], [fd], [], remaining)
            if not ready:
                continue
            n = os.write(fd, view[: 1 << 20])
            view = view[n:]

    def ping(self, timeout: float = 60.0) -> dict[str, str]:
        """Round trip without work; returns the worker's facts (version, threads, project)."""
        return self.call("ping", timeout=timeout)[0]


_WORKER: JuliaWorker | None = None
_WORKER_LOCK = threading.Lock()


def get_worker() -> JuliaWorker:
    """The process-wide subprocess worker, started on first use and closed at exit.

    Raises
    ------
    JuliaNotFoundError
        If no Julia executable is found.
    """
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is None:
            exe = find_julia()
            if exe is None:
                raise JuliaNotFoundError(f"no `julia` executable found.\n{HOW_TO_GET_JULIA}")
            _WORKER = JuliaWorker(exe)
            atexit.register(close_worker)
        _WORKER.start()
        return _WORKER


def close_worker() -> None:
    """Stop the process-wide subprocess worker (registered with :mod:`atexit`)."""
    global _WORKER
    with _WORKER_LOCK:
        if _WORKER is not None:
            _WORKER.close()
            _WORKER = None


# --------------------------------------------------------------------------------- juliacall

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
                "kerrfield.julia_bridge.init_juliacall() before importing torch.",
                RuntimeWarning,
                stacklevel=3,
            )
    try:
        init_juliacall()
        return True
    except Exception as exc:  # juliacall missing or failing to initialise
        _JULIACALL_ERROR = exc
        if mode == "juliacall":
            raise
        return False


# ----------------------------------------------------------------------------- public entry


def _velocity_params(velocity: Any) -> dict[str, str | float]:
    """Velocity model as ``velocity.*`` parameters: a name, a mapping, or GeneralVelocity."""
    if velocity is None:
        velocity = {"kind": "zamo"}
    elif isinstance(velocity, str):
        velocity = {"kind": velocity}
    elif all(hasattr(velocity, k) for k in ("xi", "beta_r", "beta_phi")):  # GeneralVelocity
        velocity = {
            "kind": "general",
            "xi": float(velocity.xi),
            "beta_r": float(velocity.beta_r),
            "beta_phi": float(velocity.beta_phi),
        }
    out: dict[str, str | float] = {}
    for k, v in velocity.items():
        out[f"velocity.{k}"] = v if isinstance(v, str) else float(v)
    return out


def trace_rays_julia(
    spin: float,
    inclination_deg: float,
    alpha: np.ndarray,
    beta: np.ndarray,
    orders: Sequence[int] = (0, 1, 2),
    surface_theta_deg: float | None = None,
    velocity: Any = None,
    *,
    timeout: float | None = None,
) -> dict[str, np.ndarray]:
    """Trace rays with the Julia backend (Gralla & Lupsasca 2020) and return numpy arrays.

    Same physics, conventions and outputs as the torch backend (``kerrfield.raytrace``).

    Parameters
    ----------
    spin : float
        Dimensionless spin a, |a| < 1.
    inclination_deg : float
        Observer inclination θo in degrees, in (0, 180).
    alpha, beta : numpy.ndarray
        Screen coordinates in M (flattened; same number of elements).
    orders : sequence of int
        Image orders n ≥ 0 (number of half-orbits in θ beyond the direct image).
    surface_theta_deg : float or None
        Emitting surface: None for the equatorial plane, else the polar angle θs (degrees) of a
        cone.
    velocity : str, GeneralVelocity or mapping, optional
        Emitter velocity model: ``"zamo"`` (default), ``"keplerian"``,
        :class:`kerrfield.GeneralVelocity`, or a mapping ``{"kind": "general", "xi": ...,
        "beta_r": ..., "beta_phi": ...}``.
    timeout : float, optional
        Subprocess path only: seconds before the worker is declared hung.

    Returns
    -------
    dict of str to numpy.ndarray
        :data:`PER_RAY_KEYS` with shape ``(len(orders), npix)`` (``status`` as int8, NaN where
        status ≠ 0 for the float variables) and ``lam``, ``eta`` with shape ``(npix,)``.

    Raises
    ------
    JuliaError
        Invalid input rejected by Julia (NaN, mismatched shapes, |a| ≥ 1, ...).
    JuliaNotFoundError
        Neither juliacall nor a Julia executable is available.
    """
    a = np.ascontiguousarray(np.asarray(alpha, dtype=np.float64).ravel())
    b = np.ascontiguousarray(np.asarray(beta, dtype=np.float64).ravel())
    orders_arr = np.asarray(list(orders), dtype=np.float64)
    surf = math.nan if surface_theta_deg is None else float(surface_theta_deg)
    vel = _velocity_params(velocity)
    mode = _bridge_mode()
    if _juliacall_usable(mode):
        res = _trace_juliacall(float(spin), float(inclination_deg), a, b, orders_arr, surf, vel)
    else:
        work = max(a.size, b.size) * max(1, orders_arr.size)
        if timeout is None:
            env = os.environ.get("KERRFIELD_JULIA_TIMEOUT", "").strip()
            timeout = float(env) if env else 300.0 + 1e-3 * work
        params: dict[str, Any] = {
            "spin": float(spin),
            "inclination_deg": float(inclination_deg),
            "surface_theta_deg": surf,
            **vel,
        }
        _, res = get_worker().call(
            "trace", params, {"alpha": a, "beta": b, "orders": orders_arr}, timeout=timeout
        )
    return _finish(res)


def _finish(res: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for k, v in res.items():
        arr = np.asarray(v)
        if k == "status":
            arr = arr.astype(np.int8)
        out[k] = arr
    return out


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


def evaluate_elliptic(function: str, *args: np.ndarray, timeout: float = 120.0) -> np.ndarray:
    """Evaluate one of the Julia special functions elementwise (subprocess path; for tests).

    Parameters
    ----------
    function : str
        ``elliprf``, ``elliprd``, ``elliprj``, ``elliprc``, ``ellipk``, ``ellipe``, ``ellippi``,
        ``ellipkinc``, ``ellipeinc``, ``ellippiinc``, ``sn``, ``cn`` or ``dn`` (scipy argument
        order; ``ellippiinc(n, phi, m)``).
    *args : numpy.ndarray
        Arguments of equal length.

    Returns
    -------
    numpy.ndarray
    """
    arrays = {f"a{i + 1}": np.asarray(x, dtype=np.float64).ravel() for i, x in enumerate(args)}
    _, res = get_worker().call(
        "elliptic", {"function": function, "nargs": len(args)}, arrays, timeout=timeout
    )
    return res["out"]


def julia_info() -> dict[str, Any]:
    """Which Julia the Julia backend uses, starting it if necessary.

    Never raises for a missing or broken Julia: it reports it (``available`` False and the
    reason in ``error``), so it can be used as a diagnostic.

    Returns
    -------
    dict
        ``available`` (bool), ``path`` (``"juliacall"``, ``"subprocess"`` or None),
        ``executable``, ``julia_version``, ``threads``, ``project`` (the bundled KerrField
        project); for the subprocess path also ``pid`` and ``restarts``; ``error`` (a message
        saying how to get Julia) when not available.

    Examples
    --------
    >>> import kerrfield as kf
    >>> kf.julia_info()["path"]  # doctest: +SKIP
    'subprocess'
    """
    try:
        project: str | None = str(bundled_project())
    except FileNotFoundError:
        project = None
    try:
        mode = _bridge_mode()
        if _juliacall_usable(mode):
            jl = _JL
            return {
                "available": True,
                "path": "juliacall",
                "executable": str(jl.seval("joinpath(Sys.BINDIR, Base.julia_exename())")),
                "julia_version": str(jl.seval("string(VERSION)")),
                "threads": int(jl.seval("Threads.nthreads()")),
                "project": str(jl.seval("dirname(dirname(pathof(KerrField)))")),
            }
        w = get_worker()
        facts = w.ping()
    except (JuliaNotFoundError, JuliaWorkerError, JuliaError, ImportError, ValueError) as exc:
        return {
            "available": False,
            "path": None,
            "executable": None,
            "julia_version": None,
            "threads": None,
            "project": project,
            "error": str(exc),
        }
    return {
        "available": True,
        "path": "subprocess",
        "executable": w.executable,
        "julia_version": facts.get("julia_version", w.julia_version),
        "threads": int(facts.get("threads", w.threads)),
        "project": facts.get("project", str(w.project)),
        "pid": w.pid,
        "restarts": w.restarts,
    }
