"""On resume, ``track(key=)`` of a phase that finished in the earlier run yields nothing; when
it is given items whose keys that run did not record, a warning says they are skipped too."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import pytest

from mpprogress._core.tracker import BaseProgressTracker
from mpprogress.adapters.journal import JournalSink


def run(path: Path, items: list[str] | itertools.cycle[str]) -> list[str]:
    journal = JournalSink(path, resume=True)
    tracker = BaseProgressTracker(journal=journal, max_update_rate=None)
    seen: list[str] = []
    with tracker.operation("Crawl", operation_id="crawl") as op, op.phase("Fetch", total=3) as phase:
        seen.extend(phase.track(items, key=str))
    tracker.close()
    journal.close()
    return seen


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "mpprogress" and r.levelno == logging.WARNING]


def test_new_keys_given_to_a_phase_finished_earlier_are_skipped_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "runs.db"
    assert run(path, ["a", "b", "c"]) == ["a", "b", "c"]
    with caplog.at_level(logging.WARNING, "mpprogress"):
        assert run(path, ["a", "b", "c", "d", "e"]) == []
    assert warnings_of(caplog) == [
        "phase 'Fetch' finished in an earlier run (run 1), so its track() yields nothing on resume, not even items"
        " whose keys that run did not record (such as 'd'): run them in a fresh run (resume=False) or in a phase"
        " with another id"
    ]


def test_the_same_items_again_are_skipped_silently(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "runs.db"
    run(path, ["a", "b", "c"])
    with caplog.at_level(logging.WARNING, "mpprogress"):
        assert run(path, ["c", "a", "b"]) == []
        assert run(path, itertools.cycle(["a", "b", "c"])) == []  # endless: read no further than needed
    assert warnings_of(caplog) == []
