"""The seed's section-5 tests, run a second time with the plain local tracker (threaded mode).

The verbatim copy lives in ``test_console_seed.py`` (with ``ConsoleProgressTracker``); here the
name it resolves is pointed at ``BaseProgressTracker`` so the same tests prove the locked tracker
on its own, without keeping a second copy of them.
"""

from __future__ import annotations

import pytest

from mpprogress import BaseProgressTracker

from . import test_console_seed as seed


class TestConcurrentProgressLocal(seed.TestConcurrentProgress):
    """The seed's four tests, against ``BaseProgressTracker``."""

    @pytest.fixture(autouse=True)
    def _local_tracker(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(seed, "ConsoleProgressTracker", BaseProgressTracker)

    def test_the_local_tracker_is_what_runs(self) -> None:
        assert seed.ConsoleProgressTracker is BaseProgressTracker
