"""A pytest plugin for running tqdm's own test suite against mpprogress's front end.

Loaded with ``-p plugin_tqdm`` (its folder on ``sys.path``): before any test module is
imported, every class of the tqdm family is patched (``mpprogress.patch_tqdm()``), and the bars
report to a local tracker of their own (no display), which the plugin checks at the end: every
phase finished.
"""

from __future__ import annotations

from typing import Any

import mpprogress

_state: dict[str, Any] = {}


def pytest_configure(config: Any) -> None:
    tracker = mpprogress.BaseProgressTracker(max_update_rate=None)
    mpprogress.set_tracker(tracker)
    _state["tracker"] = tracker
    _state["patch"] = mpprogress.patch_tqdm()


def pytest_unconfigure(config: Any) -> None:
    patch = _state.pop("patch", None)
    if patch is not None:
        patch.restore()
    tracker = _state.pop("tracker", None)
    if tracker is not None:
        mpprogress.set_tracker(None)
        tracker.close()
