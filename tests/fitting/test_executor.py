"""The dask executor: no cluster when there is nothing to run, one clear error when the
scheduler does not answer."""

from __future__ import annotations

import dask
import distributed  # noqa: F401 - its config defaults must exist before dask.config.set
import pytest

from kerrfield.fitting.executor import Executor


def test_unreachable_scheduler_is_one_clear_error_and_only_when_needed():
    ex = Executor("tcp://127.0.0.1:1")
    assert list(ex.map(pow, [])) == [] and ex.client is None  # all units done: no connection
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConnectionError, match=r"no dask scheduler answers at 'tcp://127"):
            list(ex.map(pow, [(2, 3)]))
    ex.close()


def test_serial_executor_runs_in_order():
    assert list(Executor().map(pow, [(2, 3), (3, 2)])) == [8, 9]


def test_units_that_seed_torch_leave_the_callers_random_state_alone():
    """Units seed torch's global generator (their results depend on their seed only); a
    notebook's own draws after kf.infer(...) must not."""
    import torch

    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    assert len(list(Executor().map(torch.manual_seed, [(5,), (6,)]))) == 2
    assert torch.equal(torch.rand(3), expected)
