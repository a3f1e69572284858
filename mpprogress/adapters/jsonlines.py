"""One JSON event per line on a text stream: ``mpprogress demo --format json``, the relay's
``--format json``, and anything that pipes progress into another program."""

from __future__ import annotations

import threading
from typing import TextIO

from .._base.events import EventSink, ProgressEvent, ProgressEventSerializer

__all__ = ["JsonLinesSink"]


class JsonLinesSink(EventSink):
    """Writes every event as one JSON line (``ProgressEventSerializer``) to a text stream.

    Args:
        stream: where to write; flushed after each line so a reader sees events live.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def handle(self, event: ProgressEvent) -> None:
        """Write ``event`` as one line of JSON and flush."""
        line = ProgressEventSerializer.serialize_event(event.type, **event.to_data())
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def close(self) -> None:
        """Flush the stream (it belongs to the caller and stays open)."""
        with self._lock:
            self._stream.flush()
