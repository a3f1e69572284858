"""A worker started outside any session (no session, or a pool made before it): the README's
worker pattern still runs its loop, and says once, clearly, why nothing is shown."""

from __future__ import annotations

import warnings
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.context import BaseContext

import pytest

import mpprogress
from mpprogress._core.tracking import DetachedWorkerWarning


def readme_worker(operation_id: str) -> tuple[int | float, list[str]]:
    """The README's worker, counting 100 items; returns the count and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        op = mpprogress.get_tracker().get_operation(operation_id)
        with op.phase("worker", total=100) as phase:
            for _ in range(100):
                phase.update(1)
        again = mpprogress.get_tracker().get_operation(operation_id)  # known now: no second warning
        assert again is op
    return phase.current, [f"{w.category.__name__}: {w.message}" for w in caught]


@pytest.mark.processes
def test_a_worker_outside_any_session_runs_and_says_why(
    mp_context: BaseContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MPPROGRESS_ADDRESS", raising=False)
    with ProcessPoolExecutor(1, mp_context=mp_context) as pool:
        count, caught = pool.submit(readme_worker, "op-from-nowhere").result(timeout=60)
    assert count == 100
    assert len(caught) == 1
    assert caught[0].startswith(DetachedWorkerWarning.__name__)
    assert "'op-from-nowhere' is unknown in worker process" in caught[0]
    assert "inside `with mpprogress.session():`" in caught[0]


def test_the_main_process_keeps_the_port_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPPROGRESS_ADDRESS", raising=False)
    mpprogress.set_tracker(None)
    try:
        assert mpprogress.get_tracker().get_operation("missing") is None
    finally:
        mpprogress.set_tracker(None)
