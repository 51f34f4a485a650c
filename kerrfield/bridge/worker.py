"""The persistent ``julia worker.jl`` subprocess and its pipe protocol.

Requests and replies are a JSON header line followed by raw little-endian float64 arrays (see
``julia/src/worker.jl``). One worker per Python process is started on first use, reused,
restarted after a crash and killed and restarted when a request exceeds its time-out.
"""

from __future__ import annotations

import atexit
import collections
import math
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .discovery import (
    HOW_TO_GET_JULIA,
    JuliaError,
    JuliaNotFoundError,
    JuliaWorkerError,
    bundled_project,
    default_threads,
    find_julia,
)

__all__ = ["JuliaWorker", "get_worker", "close_worker", "PROTOCOL"]


PROTOCOL = 1


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
        """Write ``data`` to the worker's stdin without ever blocking past ``deadline``.

        The pipe is non-blocking, so a stopped or hung worker that no longer reads (its
        64 KiB pipe buffer full) cannot hold ``os.write`` beyond the time-out.
        """
        assert self._proc is not None and self._proc.stdin is not None
        fd = self._proc.stdin.fileno()
        os.set_blocking(fd, False)
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._fail("Julia worker timed out reading our request (hung or "
                                 "stopped?); it was killed")  # fmt: skip
            _, ready, _ = select.select([], [fd], [], remaining)
            if not ready:
                continue
            try:
                n = os.write(fd, view[: 1 << 16])
            except BlockingIOError:
                continue
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
