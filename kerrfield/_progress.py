"""Progress bars: tqdm's notebook widget where it can be drawn, its text bar elsewhere.

``tqdm.auto`` in Jupyter without ``ipywidgets`` warns ``TqdmWarning: IProgress not found``
and falls back to the text bar; this picks the text bar directly in that case (install the
``notebook`` extra, ``pip install -e ".[notebook]"``, for the widget).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

__all__ = ["progress_bar", "show_progress"]


def show_progress(progress: bool | None) -> bool:
    """Whether to draw progress bars: ``progress``, or for None whether stderr is a terminal.

    None is tqdm's ``disable=None``: a bar redrawn in place is useful on a terminal and
    noise in a piped log (one line per refresh).

    Parameters
    ----------
    progress : bool or None
        True or False: that; None: in a Jupyter kernel or when ``sys.stderr`` is a
        terminal.

    Returns
    -------
    bool
    """
    if progress is not None:
        return bool(progress)
    if _in_notebook():  # tqdm.auto draws a widget there, not lines in a log
        return True
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):  # no stderr, or a closed one
        return False


def _in_notebook() -> bool:
    """Running in a Jupyter kernel (stderr is not a terminal there, but bars are wanted)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_bar(*args: Any, **kwargs: Any) -> Any:
    """``tqdm.auto.tqdm(*args, **kwargs)``, or ``tqdm.std.tqdm`` without ipywidgets."""
    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(*args, **kwargs)
