"""Cell helpers shared by the tutorial-notebook scripts (``scripts/make_notebooks.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kerrfield.fitting.workflow import DEMO  # noqa: E402

#: numbers the prose quotes, taken from the code so that the two cannot drift apart
FACTS = {"@DEMO_STEPS@": str(DEMO["steps"])}


def md(text: str):
    for key, value in FACTS.items():
        text = text.replace(key, value)
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    return new_code_cell(text.strip("\n"))
