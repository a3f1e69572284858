"""A worker process opens ``op.phase(..., phase_id=...)`` (issue 25, item 12): the session holds
the phase under that id, and a resumed run finds the phase by it although its title changed."""

from __future__ import annotations

from multiprocessing.context import BaseContext
from pathlib import Path

import pytest

import mpprogress


def fetch(operation_id: str, title: str, fail_after: int | None) -> tuple[str, int | float | None, int | float]:
    """Count a phase of 10 items with the id ``fetch``; fail after ``fail_after`` of them.

    Returns:
        (the phase's id, where it resumed, its count at the end).
    """
    op = mpprogress.get_tracker().get_operation(operation_id)
    assert op is not None
    try:
        with op.phase(title, total=10, phase_id="fetch") as phase:
            for done in phase.track(range(10)):
                if done == fail_after:
                    raise RuntimeError("boom")  # the phase fails: the next run resumes it
    except RuntimeError:
        pass
    return phase.phase_id, phase.resumed_from, phase.current


def run(context: BaseContext, journal: Path, title: str, fail_after: int | None) -> tuple[object, ...]:
    with mpprogress.session(console=False, journal=journal, resume=True) as tracker:
        with tracker.operation("Scrape", operation_id="scrape") as op:
            with context.Pool(1) as pool:
                result = pool.apply(fetch, (op.operation_id, title, fail_after))
            phase = tracker.get_phase("fetch")
            assert phase is not None and phase.title == title
            return (*result, phase.current, phase.finished)


@pytest.mark.processes
def test_a_workers_phase_id_reaches_the_session_and_resumes(tmp_path: Path, mp_context: BaseContext) -> None:
    journal = tmp_path / "scrape.db"
    # phase id, resumed from, the worker's count, the session's count, finished
    assert run(mp_context, journal, "Fetch", fail_after=4) == ("fetch", None, 4, 4, True)  # failed at 4
    assert run(mp_context, journal, "Fetch, second try", fail_after=None) == ("fetch", 4, 10, 10, True)
