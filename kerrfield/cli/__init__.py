"""The ``kerrfield`` command line: one thin module per subcommand.

Each module in this package parses its arguments and calls the library; none holds physics
or training logic, and no argparse code lives outside this package. A module registers its
subcommand with ``add_cli(subparsers)`` and is listed in ``_SUBCOMMAND_MODULES``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
import warnings
from collections.abc import Iterator, Sequence

from .._version import __version__

# modules providing ``add_cli(subparsers)``; each adds one or more subcommands whose
# parsers set ``func`` (called with the parsed namespace, returning an exit code)
# subcommand -> module where the names differ
_MODULE = {"fit-obs": "observe"}
_SUBCOMMAND_MODULES = ("raytrace", "infer", "synth", "fit", "fit-obs", "render", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerrfield",
        description="Kerr ray tracing and neural emission fields for black-hole images. "
        "Units: G = c = M = 1 (lengths and screen coordinates in M), angles in degrees.",
    )
    parser.add_argument("--version", action="version", version=f"kerrfield {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(f"kerrfield.cli.{_MODULE.get(name, name)}").add_cli(sub)
    return parser


def _refuse_unknown(parser: argparse.ArgumentParser, command: str | None,
                    extra: list[str]) -> None:  # fmt: skip
    """Unknown options: the subcommand's own usage line and the closest option names
    (argparse would print the top-level usage for them)."""
    import difflib

    subcommands = next(a.choices for a in parser._actions
                       if isinstance(a, argparse._SubParsersAction))  # fmt: skip
    sub = subcommands.get(command) if command else None
    if sub is None:
        return
    known = [o for a in sub._actions for o in a.option_strings]
    hints = []
    for word in (w for w in extra if w.startswith("-")):
        if close := difflib.get_close_matches(word.split("=")[0], known, n=2, cutoff=0.6):
            hints.append(f"{word}: did you mean {' or '.join(close)}?")
    more = f" ({'; '.join(hints)})" if hints else ""
    sub.error(f"unrecognized arguments: {' '.join(extra)}{more}")


@contextlib.contextmanager
def _one_line_warnings(command: str) -> Iterator[None]:
    """Show warnings as ``kerrfield COMMAND: warning: ...`` lines while the block runs."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"kerrfield {command}: warning: {message}", file=file or sys.stderr)

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        _refuse_unknown(parser, args.command, extra)
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        # from the shell (argv None), warnings read like the errors: one line, no source path
        with _one_line_warnings(args.command) if argv is None else contextlib.nullcontext():
            return int(args.func(args) or 0)
    # ConnectionError: data that are neither local nor downloadable (the message says what
    # to do); other OSErrors (a full or failing disk) keep their traceback
    except (ValueError, TypeError, FileNotFoundError, MemoryError, ConnectionError) as exc:
        print(f"kerrfield {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        from ..fitting.result import FitInterrupted

        hint = getattr(args, "interrupt_hint", None)
        text = hint(args) if hint is not None else ""
        if isinstance(exc, FitInterrupted):  # ended at a step boundary, checkpoint written
            text = f"after step {exc.step} of {exc.steps}" + (f"; {text}" if text else "")
        print(f"\nkerrfield {args.command}: interrupted{'; ' + text if text else ''}",
              file=sys.stderr)  # fmt: skip
        return 130
    except Exception as exc:
        from ..bridge.discovery import JULIA_ONE_LINE, JuliaNotFoundError

        if isinstance(exc, JuliaNotFoundError):
            print(f"kerrfield {args.command}: error: {JULIA_ONE_LINE}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    raise SystemExit(main())
