"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import mpprogress


@pytest.fixture
def frontend_tracker() -> Iterator[mpprogress.BaseProgressTracker]:
    """This process's tracker for a front-end test (what ``get_tracker()`` returns), every update
    delivered; unset afterwards."""
    local = mpprogress.BaseProgressTracker(max_update_rate=None)
    mpprogress.set_tracker(local)
    try:
        yield local
    finally:
        mpprogress.set_tracker(None)
        local.close()
