"""Sinks: what turns a local tracker's events into output (console, logs, web).

Each adapter module is the only importer of its third-party library, so importing this package
imports none of them.  ``TrackerWithSinks`` is the one composition the seed's class names share:
a local tracker that owns the sinks attached to it and closes them with itself.
"""

from __future__ import annotations

from typing import Any, TypeVar

from .._base.events import Sink
from .._core.tracker import BaseProgressTracker

__all__ = ["TrackerWithSinks"]

_Tracker = TypeVar("_Tracker", bound="TrackerWithSinks")


class TrackerWithSinks(BaseProgressTracker):
    """A local tracker that owns sinks: ``close()`` (or leaving a ``with``) closes them too.

    Args:
        **tracker_kwargs: passed to ``BaseProgressTracker`` (``get_time``, ``max_update_rate``...).
    """

    def __init__(self, **tracker_kwargs: Any) -> None:
        super().__init__(**tracker_kwargs)
        self._sinks: list[Sink] = []

    def attach(self, sink: Sink) -> Sink:
        """Subscribe ``sink`` to this tracker's events and close it when the tracker closes.

        Args:
            sink: a callable ``(event_type=..., **data)`` with an idempotent ``close()``.

        Returns:
            ``sink``, so the caller may keep it.
        """
        self.add_callback(sink)
        if sink not in self._sinks:
            self._sinks.append(sink)
        return sink

    @property
    def sinks(self) -> tuple[Sink, ...]:
        """The owned sinks, in the order they were attached."""
        return tuple(self._sinks)

    def __enter__(self: _Tracker) -> _Tracker:
        return self

    def close(self) -> None:
        """Deliver pending state to the sinks, then close them (last attached first). Idempotent."""
        try:
            super().close()
        finally:
            while self._sinks:
                sink = self._sinks.pop()
                try:
                    sink.close()
                finally:
                    self.remove_callback(sink)
