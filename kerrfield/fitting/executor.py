"""Where the units of a scripted inference run: in this process, or on a dask cluster.

Every unit is a call ``work(*args)`` that fits, writes its own result file atomically and
returns the unit's name, so a unit finished on any worker is on disk even if that worker (or
the whole run) dies later; a rerun skips it. :class:`Executor` runs a list of such calls
serially (the default) or on ``dask.distributed``: a :class:`~distributed.LocalCluster` with
one single-threaded worker process per core (``scheduler="local"``), or an existing
scheduler by address (``scheduler="tcp://host:8786"``, e.g. one started by dask-jobqueue's
``SLURMCluster``). Each call sets torch to the thread count of the submitting process, so
results on CPU are bitwise identical to a serial run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["Executor", "executor_workers", "run_call"]


def run_call(fn: Callable[..., Any], args: tuple, threads: int) -> Any:
    """Run ``fn(*args)`` with torch using ``threads`` threads (the task a worker runs); torch's
    global random state is restored afterwards (units seed it)."""
    import torch

    from ._rng import caller_rng

    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with caller_rng():
            return fn(*args)
    finally:
        torch.set_num_threads(previous)


class Executor:
    """Runs independent unit calls serially or on dask.distributed.

    Parameters
    ----------
    scheduler : None, "local" or str
        ``None``: in this process, one after another. ``"local"``: a new
        ``LocalCluster`` (closed with the executor). Otherwise the address of a running
        dask scheduler.
    workers : int, optional
        Workers of the local cluster (default: one per CPU core).
    processes : bool
        Local cluster workers as processes (default) or threads of this process.

    Examples
    --------
    >>> ex = Executor()
    >>> list(ex.map(pow, [(2, 3), (3, 2)]))
    [8, 9]
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 processes: bool = True):  # fmt: skip
        self.scheduler, self.client, self._cluster = scheduler, None, None
        self._workers, self._processes = workers, processes

    def connect(self) -> Executor:
        """Start the local cluster or connect to the scheduler (idempotent). :meth:`map` calls
        it at its first call with work to do, so a run whose units are all done needs none."""
        if self.client is not None or self.scheduler is None:
            return self
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            raise ImportError("running units on dask needs `pip install distributed`") from exc
        if self.scheduler == "local":
            n = int(self._workers or os.cpu_count() or 1)
            # errors only: dask's warnings (a cancelled task, a worker killed on shutdown
            # after Ctrl-C) are noise to someone running units, not news
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1,
                                         processes=self._processes, dashboard_address=None,
                                         silence_logs=logging.ERROR)  # fmt: skip
            self.client = Client(self._cluster)
            return self
        try:
            self.client = Client(self.scheduler)
        except (OSError, TimeoutError) as exc:  # distributed raises OSError on a timeout
            raise ConnectionError(
                f"no dask scheduler answers at {self.scheduler!r} ({exc}); start one (e.g. "
                "`dask scheduler`, or dask-jobqueue on a cluster) or drop --scheduler"
            ) from None
        return self

    def map(self, fn: Callable[..., Any], calls: Sequence[tuple]) -> Iterator[Any]:
        """``fn(*args)`` for every ``args`` in ``calls``; results as they complete."""
        import torch

        threads = torch.get_num_threads()
        if self.scheduler is None:
            for args in calls:
                yield run_call(fn, args, threads)
            return
        if not calls:
            return
        self.connect()
        from distributed import as_completed

        futures = [self.client.submit(run_call, fn, args, threads, pure=False) for args in calls]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        self.client = self._cluster = None

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def executor_workers(scheduler: str | None, workers: int | None) -> int | str:
    """Workers a run used, for the record (``"cluster"`` for an external scheduler)."""
    if scheduler is None:
        return 1
    return int(workers or os.cpu_count() or 1) if scheduler == "local" else "cluster"
