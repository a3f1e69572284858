"""Pushing states to viewers: one diff per tick for all of them, a bounded queue for each.

The ``Hub`` lives on the server's event loop.  Every ``interval`` (0.1 s: at most ten pushes a
second, whatever the rate of updates) it asks the source for a fresh ``State``, computes the
patch from the state it last pushed, encodes it once as a Server-Sent Event and offers it to
every ``Viewer``.  A viewer whose queue is full (a slow or stalled browser) loses what waits in
it and gets a fresh snapshot next instead: its memory stays bounded and no one waits for it.
A viewer that connects, or reconnects, starts with a snapshot.  Standard library only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any, Protocol

from .model import Row, State, diff

__all__ = ["END", "RESYNC", "WINDOWS", "Hub", "Source", "Viewer", "run_outcome", "sse"]

logger = logging.getLogger(__name__)

RESYNC = -1
"""What a viewer's queue holds instead of patches once it fell behind: send a snapshot."""
WINDOWS = ("latest", "5m", "15m", "60m")
"""Parts of a run its timeline can be drawn over besides the whole: the latest operation, the
last minutes (a relay's run spans its whole life)."""
END = -2
"""What a viewer's queue holds once its stream must end (pushed out, or the server stops)."""


class Source(Protocol):
    """Where states come from (a live tracker, a journal)."""

    def collect(self, force: bool = False) -> State | None:
        """A fresh state, or ``None`` when nothing changed (``force``: always one)."""

    def timeline_svg(self, window: str | None = None) -> bytes | None:
        """The timeline picture (an SVG document), if there is one; ``window``: a part of the run
        (``WINDOWS``), the whole run when ``None``."""

    def cancel(self, operation_id: str) -> bool:
        """Cancel an operation; whether there was one to cancel."""

    def close(self) -> None:
        """Release what the source holds."""


def sse(event: str, data: Any, seq: int | None = None) -> bytes:
    """One Server-Sent Event: ``event``, optional ``id``, and ``data`` as one line of JSON."""
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    head = f"event: {event}\n" + (f"id: {seq}\n" if seq is not None else "")
    return f"{head}data: {payload}\n\n".encode()


class Viewer:
    """One connected page: the pushes waiting for it, at most ``max_queued``."""

    def __init__(self, max_queued: int) -> None:
        self.queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(max(2, max_queued))
        self.resyncs = 0
        self.sent_bytes = 0
        self.trusted = True  # the owner's (see ``gate``): never pushed out for another viewer

    def end(self, last: bytes = b"") -> None:
        """End this viewer's stream after what waits and ``last`` (nothing waits when ``last`` is
        empty: pushed out); a full queue gives way to a snapshot first."""
        if not last or self.queue.qsize() >= self.queue.maxsize - 1:
            while not self.queue.empty():
                self.queue.get_nowait()
            if last:
                self.queue.put_nowait((RESYNC, b""))
        self.queue.put_nowait((END, last))

    def offer(self, seq: int, message: bytes) -> None:
        """Queue a push; when the queue is full, drop it all for a snapshot instead."""
        try:
            self.queue.put_nowait((seq, message))
        except asyncio.QueueFull:
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait((RESYNC, b""))
            self.resyncs += 1


class Hub:
    """The pushes of one server (see the module's note).

    Args:
        source: where states come from.
        extra: facts added to every snapshot (the page's CSRF secret).
        interval: seconds at least between two pushes.
        max_queued: pushes waiting per viewer before it drops to a snapshot.
    """

    def __init__(self, source: Source, *, extra: Row, interval: float = 0.1, max_queued: int = 16) -> None:
        self.source = source
        self._extra = extra
        self.interval = interval
        self._max_queued = max_queued
        self.viewers: set[Viewer] = set()
        self.state = State()
        self.seq = 0
        self._stale = True
        self._snapshot: tuple[int, bytes] | None = None
        self.pushes = 0
        self._failed = False

    def join(self) -> tuple[Viewer, int, bytes]:
        """A new viewer and its first message: a snapshot of the newest state, with its sequence."""
        if self._stale:
            self.tick(force=True)
        viewer = Viewer(self._max_queued)
        self.viewers.add(viewer)
        seq, message = self.snapshot()
        return viewer, seq, message

    def leave(self, viewer: Viewer) -> None:
        """Forget a viewer that disconnected."""
        self.viewers.discard(viewer)

    def snapshot(self) -> tuple[int, bytes]:
        """The newest state as one ``snapshot`` event (made once per state, shared)."""
        if self._snapshot is None or self._snapshot[0] != self.seq:
            document = {**self.state.document(), "seq": self.seq, "time": round(time.time(), 3), **self._extra}
            self._snapshot = (self.seq, sse("snapshot", document, self.seq))
        return self._snapshot

    def tick(self, force: bool = False) -> None:
        """Take a fresh state from the source and push what changed to every viewer."""
        if not self.viewers and not force:
            self._stale = True  # nobody watches: the next viewer's join reads the source
            return
        try:
            state = self.source.collect(force or self._stale)
        except Exception:  # a source that fails must not end the server: log once, go on
            if not self._failed:
                logger.exception("mpprogress dashboard: reading the progress failed")
                self._failed = True
            return
        self._stale = False
        if state is None:
            return
        patch = diff(self.state, state)
        self.state = state
        if patch is None:
            return
        self.seq += 1
        self.pushes += 1
        message = sse("patch", {**patch, "seq": self.seq, "time": round(time.time(), 3)}, self.seq)
        for viewer in self.viewers:
            viewer.offer(self.seq, message)

    def finish(self) -> None:
        """The last push: the final state, then an ``end`` event saying how the run ended (see
        ``run_outcome``); every viewer's stream ends after it."""
        self.tick(force=True)
        end = {"outcome": run_outcome(self.state), "source": self.state.meta.get("source"), "seq": self.seq,
               "time": round(time.time(), 3)}
        message = sse("end", end)
        for viewer in list(self.viewers):
            viewer.end(message)

    async def run(self) -> None:
        """Tick every ``interval`` until cancelled (late ticks are not made up)."""
        loop = asyncio.get_running_loop()
        due = loop.time()
        while True:
            due = max(due + self.interval, loop.time())
            await asyncio.sleep(due - loop.time())
            self.tick()


def run_outcome(state: State) -> str:
    """How a run ended, from its operations: ``interrupted`` when one was still open, else
    ``cancelled``, ``failed`` or ``finished`` (the worst of theirs)."""
    outcomes = [row["outcome"] if row["finished"] else "interrupted" for row in state.operations.values()]
    return next((word for word in ("interrupted", "cancelled", "failed") if word in outcomes), "finished")
