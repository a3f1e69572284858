"""JSON events for web clients: a WebSocket sink and Server-Sent Events with a bounded fan-out.

Standard library only; the web framework stays the application's choice.  Every event is the
seed's JSON form (``ProgressEventSerializer``: ``type``, ``timestamp``, ``data``).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from .._base.events import EventSink, ProgressEvent, ProgressEventSerializer
from . import TrackerWithSinks

__all__ = [
    "EventBuffer",
    "EventStream",
    "Subscription",
    "WebSocketHandler",
    "WebSocketProgressTracker",
    "WebSocketSink",
    "sse_message",
]


class WebSocketHandler(Protocol):
    """Anything with ``emit(event_name, payload)``, e.g. a Socket.IO server or a small wrapper."""

    def emit(self, event: str, data: str) -> Any:
        """Send one event (its name, and its JSON payload) to the connected clients."""


def sse_message(event_type: str, **data: Any) -> str:
    """Frame one event as a Server-Sent Events message (``event:`` and ``data:`` lines).

    Args:
        event_type: the event's type; becomes the SSE event name.
        **data: the event's data.

    Returns:
        The message text, ending with the blank line that terminates an SSE message.
    """
    payload = ProgressEventSerializer.serialize_event(event_type, **data)
    return f"event: {event_type}\ndata: {payload}\n\n"


class WebSocketSink(EventSink):
    """Sends every event as JSON through ``handler.emit(event_name, payload)``.

    Args:
        handler: the WebSocket side; ``None`` makes the sink a no-op until one is set.
        event_name: the name passed to ``emit`` (the seed uses ``"progress_update"``).
    """

    def __init__(self, handler: WebSocketHandler | None = None, *, event_name: str = "progress_update") -> None:
        self.handler = handler
        self.event_name = event_name

    def handle(self, event: ProgressEvent) -> None:
        """Emit ``event`` as JSON, if a handler is set."""
        handler = self.handler
        if handler is not None:
            handler.emit(self.event_name, ProgressEventSerializer.serialize_event(event.type, **event.to_data()))

    def close(self) -> None:
        """Stop sending. Idempotent."""
        self.handler = None


class WebSocketProgressTracker(TrackerWithSinks):
    """The seed's WebSocket tracker: a local tracker with a ``WebSocketSink`` subscribed.

    Args:
        websocket_handler: the object whose ``emit`` receives each JSON event.
        **tracker_kwargs: passed to ``BaseProgressTracker``.
    """

    def __init__(self, websocket_handler: WebSocketHandler | None = None, **tracker_kwargs: Any) -> None:
        super().__init__(**tracker_kwargs)
        self.sink = WebSocketSink(websocket_handler)
        self.attach(self.sink)

    @property
    def websocket_handler(self) -> WebSocketHandler | None:
        """The handler events are emitted to; may be replaced at any time."""
        return self.sink.handler

    @websocket_handler.setter
    def websocket_handler(self, handler: WebSocketHandler | None) -> None:
        self.sink.handler = handler


class Subscription:
    """One reader of an ``EventStream``: SSE messages in order, with a bounded buffer.

    When the reader falls more than ``max_buffered`` messages behind, the oldest are dropped and
    counted in ``dropped`` (the next progress update carries the full state anyway).
    """

    def __init__(self, stream: EventStream, max_buffered: int) -> None:
        self._stream = stream
        self._queue: queue.Queue[str | None] = queue.Queue(max_buffered)
        self.dropped = 0

    def _offer(self, message: str | None) -> None:
        while True:
            try:
                self._queue.put_nowait(message)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def get(self, timeout: float | None = None) -> str | None:
        """The next message, or ``None`` on timeout or once the stream or subscription closed."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def __iter__(self) -> Iterator[str]:
        while (message := self.get()) is not None:
            yield message

    async def __aiter__(self) -> AsyncIterator[str]:
        while True:
            message = await asyncio.to_thread(self.get, 0.5)
            if message is not None:
                yield message
            elif self._closed:
                return

    @property
    def _closed(self) -> bool:
        return self not in self._stream._subscribers

    def close(self) -> None:
        """Stop receiving; a reader blocked in ``get`` or iteration wakes up. Idempotent."""
        self._stream._unsubscribe(self)
        self._offer(None)


class EventBuffer:
    """Typed events for one in-process reader (``EventStream.watch``), bounded, never blocking.

    The tracker's thread only appends; the reader takes everything with ``drain()``.  When more
    than ``max_events`` wait, the oldest are let go and ``drain`` says so, so the reader can
    start again from a snapshot instead of trusting a history with a hole in it.
    """

    def __init__(self, stream: EventStream, max_events: int) -> None:
        self._stream = stream
        self._events: deque[ProgressEvent] = deque(maxlen=max_events)
        self._max = max_events
        self._overflowed = False

    def _offer(self, event: ProgressEvent) -> None:
        if len(self._events) == self._max:
            self._overflowed = True  # the append below pushes the oldest out
        self._events.append(event)

    def drain(self) -> tuple[list[ProgressEvent], bool]:
        """The events waiting, oldest first, and whether some were let go since the last drain."""
        taken: list[ProgressEvent] = []
        events = self._events
        while True:
            try:
                taken.append(events.popleft())  # atomic: the tracker's thread may append meanwhile
            except IndexError:
                break
        overflowed, self._overflowed = self._overflowed, False
        return taken, overflowed

    def close(self) -> None:
        """Stop receiving. Idempotent."""
        self._stream._unwatch(self)
        self._events.clear()


class EventStream(EventSink):
    """A sink that fans events out to any number of web readers as SSE messages.

    ``tracker.add_callback(stream)``, then per HTTP client ``for msg in stream.subscribe(): ...``
    (or ``async for``) and write each message to the response.

    Args:
        max_buffered: messages kept per reader before the oldest are dropped.
    """

    def __init__(self, max_buffered: int = 1000) -> None:
        self._subscribers: tuple[Subscription, ...] = ()
        self._watchers: tuple[EventBuffer, ...] = ()
        self._lock = threading.Lock()
        self._max_buffered = max_buffered

    def subscribe(self) -> Subscription:
        """Start a new reader that receives every event from now on."""
        subscription = Subscription(self, self._max_buffered)
        with self._lock:
            self._subscribers = (*self._subscribers, subscription)
        return subscription

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers = tuple(s for s in self._subscribers if s is not subscription)

    def watch(self, max_events: int = 10_000) -> EventBuffer:
        """Start an in-process reader of the typed events themselves (no JSON is made for it).

        A server that renders its own view (the dashboard) uses this: the tracker's thread
        pays one append per event, and the reader does the rest on its own thread.

        Args:
            max_events: events kept waiting before the oldest are let go (``EventBuffer``).
        """
        buffer = EventBuffer(self, max_events)
        with self._lock:
            self._watchers = (*self._watchers, buffer)
        return buffer

    def _unwatch(self, buffer: EventBuffer) -> None:
        with self._lock:
            self._watchers = tuple(w for w in self._watchers if w is not buffer)

    def handle(self, event: ProgressEvent) -> None:
        """Queue ``event`` as an SSE message for every reader, and as itself for every watcher."""
        for watcher in self._watchers:
            watcher._offer(event)
        subscribers = self._subscribers
        if subscribers:
            message = sse_message(event.type, **event.to_data())
            for subscription in subscribers:
                subscription._offer(message)

    def close(self) -> None:
        """End every subscription (readers see the end of the stream). Idempotent."""
        for subscription in self._subscribers:
            subscription.close()
        for watcher in self._watchers:
            watcher.close()
