"""Progress bars: tqdm's notebook widget where it can be drawn, its text bar elsewhere.

``tqdm.auto`` in Jupyter without ``ipywidgets`` warns ``TqdmWarning: IProgress not found``
and falls back to the text bar; this picks the text bar directly in that case (install the
``notebook`` extra, ``pip install -e ".[notebook]"``, for the widget).
"""

from __future__ import annotations

import importlib.util
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(*args: Any, **kwargs: Any) -> Any:
    """``tqdm.auto.tqdm(*args, **kwargs)``, or ``tqdm.std.tqdm`` without ipywidgets."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(*args, **kwargs)
