"""Finding Julia and the bundled ``KerrField`` project; the bridge's errors and settings.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

__all__ = [
    "JuliaError", "JuliaWorkerError", "JuliaNotFoundError", "bundled_project",
    "default_threads", "find_julia",
]  # fmt: skip


HOW_TO_GET_JULIA = (
    "The Julia backend needs Julia. Get it with one of:\n"
    "  * make julia   (runs scripts/install-julia.sh: on Debian/Ubuntu as root it installs a\n"
    "                  working Julia non-interactively; elsewhere it prints instructions)\n"
    "  * juliaup:     curl -fsSL https://install.julialang.org | sh\n"
    '  * pip install -e ".[julia]"   (in the kerrfield checkout: juliacall, which downloads\n'
    "                  Julia ≥ 1.10; needs network)\n"
    "  * module load julia   (HPC clusters)\n"
    "then put `julia` on PATH or set KERRFIELD_JULIA=/path/to/julia."
)


class JuliaError(RuntimeError):
    """An error raised inside Julia; the message is Julia's own ``showerror`` text."""


class JuliaWorkerError(RuntimeError):
    """The Julia worker process crashed, hung past its time-out, or broke the protocol."""


#: the one-line form of HOW_TO_GET_JULIA, for command-line errors
JULIA_ONE_LINE = ("no Julia found for --backend julia: run `make julia` in the kerrfield "
                  "checkout (or `curl -fsSL https://install.julialang.org | sh`) and put julia "
                  "on PATH or set KERRFIELD_JULIA; or use --backend torch")


class JuliaNotFoundError(RuntimeError):
    """No usable Julia: neither juliacall nor a ``julia`` executable."""


def bundled_project() -> Path:
    """Directory of the bundled ``KerrField`` Julia project.

    In a wheel it is ``kerrfield/julia`` (force-included by hatch); in a source checkout or
    editable install ``kerrfield/julia`` is a symlink to the top-level ``julia/``.

    Returns
    -------
    pathlib.Path
        Absolute path of the directory holding ``Project.toml``.
    """
    package = Path(__file__).resolve().parents[1]  # kerrfield/
    here = package
    for cand in (package / "julia", package.parent / "julia"):
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
