"""Fail when an executed notebook shows a figure as text instead of an image.

A matplotlib figure that Jupyter cannot render appears as the text ``<Figure size 840x720
with 8 Axes>``. ``make docs`` runs this over the executed notebooks (myst-nb's
``jupyter_execute`` folder) and the built HTML; ``docs/conf.py`` runs it at the end of every
Sphinx build, so such an output fails the documentation build.

Usage: ``python scripts/check_notebook_outputs.py PATH [PATH ...]`` (files or folders).
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

FIGURE_TEXT = re.compile(r"<(?:matplotlib\.figure\.)?Figure size \d+(?:\.\d+)?x\d+(?:\.\d+)? "
                         r"with \d+ Axes>")  # fmt: skip


def text_only_figures(notebook: dict) -> list[tuple[int, str]]:
    """``(cell index, text)`` of every output that shows a figure as text only."""
    found = []
    for i, cell in enumerate(notebook.get("cells", [])):
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            text = data.get("text/plain", out.get("text", ""))
            text = "".join(text) if isinstance(text, list) else str(text)
            has_image = any(k.startswith("image/") for k in data)
            match = FIGURE_TEXT.search(text)
            if match and not has_image:
                found.append((i, match.group(0)))
    return found


def check_paths(paths: Iterable[str | Path]) -> list[str]:
    """Problems found in the notebooks and HTML pages under ``paths``."""
    problems = []
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("*.ipynb")) + sorted(p.rglob("*.html"))
        elif p.is_file():
            files.append(p)
    for f in files:
        if ".ipynb_checkpoints" in f.parts:
            continue
        if f.suffix == ".ipynb":
            try:
                nb = json.loads(f.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                problems.append(f"{f}: unreadable notebook ({exc})")
                continue
            problems += [f"{f}: cell {i} shows {t!r} instead of the figure"
                         for i, t in text_only_figures(nb)]  # fmt: skip
        elif f.suffix == ".html":
            match = FIGURE_TEXT.search(html.unescape(f.read_text(encoding="utf-8",
                                                                 errors="replace")))
            if match:
                problems.append(f"{f}: shows {match.group(0)!r} instead of the figure")
    return problems


def main(argv: list[str] | None = None) -> int:
    paths = (argv if argv is not None else sys.argv[1:]) or ["docs/_build"]
    problems = check_paths(paths)
    for line in problems:
        print(f"check_notebook_outputs: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
