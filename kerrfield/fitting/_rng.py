"""Torch's global random state, kept as the caller left it.

Fits seed torch's global generator so that a unit's result depends only on its seed (the
same in a serial run and on any dask worker). A notebook user's own random draws after
``kf.infer(...)`` or ``fit_observation(..., seed=...)`` must not change because of it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@contextlib.contextmanager
def caller_rng() -> Iterator[None]:
    """Restore torch's global random state (CPU and every CUDA device) after the block."""
    import torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        yield


def keeps_caller_rng(fn: F) -> F:
    """Decorator: ``fn`` may seed torch's global generator; its caller's state is restored."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with caller_rng():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
