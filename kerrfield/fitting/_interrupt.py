"""Ctrl-C during a fit ends it at a step boundary, not inside an Adam update.

An interrupt that lands between ``loss.backward()`` and the end of the optimiser step would
leave a model half-updated and its history one entry ahead of its parameters, and a fit
with a checkpoint would lose every step since the last one written. While a fit runs in the
main thread the first SIGINT is only noted; the loop finishes the step it is in, writes its
checkpoint and raises :class:`KeyboardInterrupt`. A second Ctrl-C interrupts at once.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class Interrupt:
    """Whether a SIGINT arrived since the block began (``requested``)."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _note(self, signum: int, frame: Any) -> None:
        self.requested = True
        # the next Ctrl-C is not deferred: whoever waits on a stuck step can still leave
        signal.signal(signal.SIGINT, self._previous)


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Interrupt]:
    """Note the first SIGINT instead of raising it, inside the block (main thread only;
    elsewhere, e.g. on a dask worker thread, signals are not ours to handle and
    ``requested`` stays False)."""
    state = Interrupt()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    state._previous = signal.getsignal(signal.SIGINT)
    if state._previous is None:  # installed outside Python: leave it alone
        yield state
        return
    signal.signal(signal.SIGINT, state._note)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, state._previous)
