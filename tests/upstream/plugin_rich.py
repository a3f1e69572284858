"""A pytest plugin for running Rich's ``tests/test_progress.py`` against ``mpprogress.rich``.

Loaded with ``-p plugin_rich`` (its folder on ``sys.path``): before the test module is imported,
``rich.progress.Progress`` and ``rich.progress.track`` are mpprogress's (Rich's columns, ``Task``
and the rest stay Rich's: the tests of those test Rich itself), and the tasks report to a local
tracker of their own (no display).
"""

from __future__ import annotations

from typing import Any

import rich.progress

import mpprogress
import mpprogress.rich

_saved: dict[str, Any] = {}


def pytest_configure(config: Any) -> None:
    tracker = mpprogress.BaseProgressTracker(max_update_rate=None)
    mpprogress.set_tracker(tracker)
    _saved.update(tracker=tracker, Progress=rich.progress.Progress, track=rich.progress.track)
    rich.progress.Progress = mpprogress.rich.Progress  # type: ignore[misc]
    rich.progress.track = mpprogress.rich.track


def pytest_unconfigure(config: Any) -> None:
    if "Progress" in _saved:
        rich.progress.Progress = _saved.pop("Progress")  # type: ignore[misc]
        rich.progress.track = _saved.pop("track")
    tracker = _saved.pop("tracker", None)
    if tracker is not None:
        mpprogress.set_tracker(None)
        tracker.close()
