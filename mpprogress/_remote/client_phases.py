"""Client operations and phases: the port's objects in a worker process.

``update()`` only touches the phase's own numbers: no lock, no I/O, no clock (the client's link
sends them later, see ``link``).  Starting and finishing go through the client that owns them
(``ClientTracker``), which records them in its outbox and hands the messages to its link.

Counting without a lock: ``self.current += increment`` on an attribute is exact on CPython with
the GIL (the interpreter only switches threads at calls and backward jumps; the in-place add of
ints contains neither), which ``tests/integration/test_multiprocess_client.py`` checks with 8
threads x 100,000 updates on one phase under a 1 us switch interval.  On a free-threaded build
the update takes the client's lock instead, like the local tracker.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .._base.errors import ensure_open
from .._base.port import ProgressOperation, ProgressPhase, validate_total
from .._base.resume import ResumePoint
from .._core.phases import GIL_ENABLED, checked_count
from . import wire
from .messages import MAX_KEYS_BYTES

__all__ = ["ClientOperation", "ClientPhase", "PhaseOwner", "checked_id"]


_ONE = 1  # ``increment is _ONE`` is true for every ``1`` (CPython caches small ints)


def checked_id(value: str, name: str) -> str:
    """An operation or phase id as it will travel: 1 to ``wire.MAX_ID`` bytes of UTF-8.

    Raises:
        ValueError: the id is empty or too long (cutting it would change its meaning).
    """
    value = str(value)
    if not value or len(value.encode("utf-8", "replace")) > wire.MAX_ID:
        raise ValueError(f"{name} must be 1 to {wire.MAX_ID} bytes of UTF-8, got {value[:40]!r}...")
    return value


KEYS_DRAIN_TIMEOUT = 5.0
"""Seconds a finishing phase waits for its item keys done to be sent (``track(key=...)``)."""


class PhaseOwner(Protocol):
    """What client operations and phases ask of the client that owns them.

    An owner may also have ``resume_timeout``: seconds a phase start waits to hear where it
    resumes (``RESUMED``, see ``resumes.py``); 0 or missing when the session resumes nothing.
    """

    @property
    def _lock(self) -> AbstractContextManager[Any]: ...

    def _start_phase(
        self, container: ClientOperation | ClientPhase, phase_id: str, title: str, total: int | None,
        description: str | None,
    ) -> ClientPhase: ...

    def _finish_phase(self, phase: ClientPhase, success: bool, reason: str | None) -> None: ...


class _ClientContainer:
    """Starting and finishing phases, shared by client operations and client phases."""

    _client: PhaseOwner
    _finished: bool
    operation_id: str
    phases: dict[str, ProgressPhase]
    current_phase: str | None

    def start_phase(
        self, phase_id: str, title: str, total: int | None = None, description: str | None = None
    ) -> ClientPhase:
        phase = self._client._start_phase(self, phase_id, title, total, description)  # type: ignore[arg-type]
        wait = getattr(self._client, "resume_timeout", 0.0)
        point = phase.keys.wait(wait) if wait > 0 else None
        if point is not None:  # start where the parent says (its own phase starts there too)
            phase.resumed, phase.resumed_from, phase.current = point, point.current, point.current
            if phase.total is None:
                phase.total = point.total
        return phase

    def finish_phase(self, phase_id: str, success: bool = True, *, reason: str | None = None) -> None:
        phase = self.phases.get(phase_id)
        if isinstance(phase, ClientPhase):
            phase.keys.drain(KEYS_DRAIN_TIMEOUT)
            self._client._finish_phase(phase, success, reason)


class ItemKeys:
    """A client phase's item keys (``track(key=...)``): those done, waiting to be sent with its
    state, and, when the session resumes an earlier run, where the phase resumes (``resumes.py``).

    Item keys are appended by the phase's threads and taken by the link's thread: a deque does
    both without a lock.
    """

    def __init__(self) -> None:
        self.pending: deque[str] = deque()
        self.done: frozenset[str] = frozenset()  # the keys an earlier run did
        self._parts: list[wire.Resumed] = []  # RESUMED frames received (the link's thread)
        self._heard = threading.Event()

    def take(self) -> tuple[str, ...]:
        """Keys to send with the phase's next state: at most ``MAX_KEYS_BYTES`` of them."""
        keys: list[str] = []
        size, pending = 0, self.pending
        while pending and len(keys) < 2 * wire.MAX_BATCH - 8:
            length = len(pending[0])
            if keys and size + length > MAX_KEYS_BYTES:
                break
            keys.append(pending.popleft())
            size += length
        return tuple(keys)

    def put_back(self, keys: tuple[str, ...]) -> None:
        """Keys that could not be sent: they go first with the next state."""
        self.pending.extendleft(reversed(keys))

    def heard(self, message: wire.Resumed) -> None:
        """One ``RESUMED`` frame for the phase; the last of them ends ``wait``."""
        self._parts.append(message)
        if sum(len(part.keys) for part in self._parts) >= message.done:
            self._heard.set()

    def wait(self, timeout: float) -> ResumePoint | None:
        """Wait (bounded) to hear where the phase resumes; ``None``: it starts afresh.

        Keys that did not come in time are done again: the count is lowered by their number,
        so it still ends exact.
        """
        self._heard.wait(timeout)
        parts = list(self._parts)
        start = parts[0].current if parts else None
        if start is None:
            return None  # afresh (or the parent never said: it then counts from 0 as we do)
        first = parts[0]
        self.done = frozenset(key for part in parts for key in part.keys)
        current = start - (first.done - len(self.done))
        return ResumePoint(current, first.total, first.finished, None, len(self.done))

    def drain(self, timeout: float) -> None:
        """Before the phase finishes: wait (bounded) until the link has sent its keys."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.01)


class ClientPhase(_ClientContainer, ProgressPhase):
    """A phase in a worker; its numbers are sent to the aggregator by the client's link."""

    def __init__(
        self,
        phase_id: str,
        title: str,
        total: int | None,
        description: str | None,
        *,
        container: ClientOperation | ClientPhase,
        handle: int,
    ) -> None:
        super().__init__(phase_id, title, total, description)
        self._client = container._client
        self._container = container
        self.handle = handle
        self.operation_id = container.operation_id
        self.reason: str | None = None
        self._finished = False
        self._cancelled = False
        self._metadata: dict[str, Any] = {}  # given to updates since the link last sent them
        self.keys = ItemKeys()

    def __repr__(self) -> str:
        return f"<client phase {self.title!r} {self.current}/{self.total}>"

    def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
        # The hot path: ``update(1)`` skips the type check (small ints are one object), and
        # message and metadata cost one test.  Every attribute access here costs ~15 ns.
        if increment is not _ONE and (increment.__class__ is not int or increment < 0):
            increment = checked_count(increment, "increment")
        if self._finished:  # the test inlined, not ``_check_open()``: the hot path
            ensure_open(True, self.title)
        self.current += increment  # exact without a lock under the GIL: see the module docstring
        if message is not None or metadata:
            self._note(message, metadata)

    if not GIL_ENABLED:  # free-threaded CPython: ``+=`` on an attribute is not atomic there

        def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None:
            if increment.__class__ is not int or increment < 0:
                increment = checked_count(increment, "increment")
            with self._client._lock:
                self._check_open()
                self.current += increment
                self._note(message, metadata)

    def track(
        self, iterable: Iterable[Any], message: str | None = None, *, key: Callable[[Any], object] | None = None
    ) -> Iterator[Any]:
        if not GIL_ENABLED or key is not None or self.resumed is not None:
            yield from super().track(iterable, message, key=key)
            return
        # The port's ``track`` calls ``update()`` per item; counting inline here halves the cost.
        if self.total is None and isinstance(iterable, Sized):
            self.set_total(len(iterable))
        if message is not None:
            self.update(0, message)
        for item in iterable:
            yield item
            if self._finished:
                ensure_open(True, self.title)
            self.current += 1

    # --- resume and item keys (``resume.py``, ``resumes.py``) -------------------------------

    def _item_done(self, key: str) -> None:
        if self._finished:
            ensure_open(True, self.title)
        self.current += 1
        self.keys.pending.append(key)  # deque.append: safe against the link's popleft without a lock

    def _done_keys(self) -> frozenset[str]:
        return self.keys.done

    def set_progress(self, current: int | float, message: str | None = None, **metadata: Any) -> None:
        current = checked_count(current, "current")
        self._check_open()
        self.current = current
        self._note(message, metadata)

    def _note(self, message: str | None, metadata: dict[str, Any]) -> None:
        if message is not None:
            self.last_message = message
        if metadata:
            self._metadata.update(metadata)

    def _check_open(self) -> None:
        ensure_open(self._finished, self.title)

    def set_total(self, total: int | None) -> None:
        total = validate_total(total)
        self._check_open()
        self.total = total

    def cancel(self) -> None:
        """Cancel this phase's work in this worker (the parent is not told)."""
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        node: ClientPhase | ClientOperation = self
        while isinstance(node, ClientPhase):  # up the parents without recursion (any depth)
            if node._cancelled:
                return True
            node = node._container
        return node.cancelled

    @property
    def finished(self) -> bool:
        """Whether the phase has finished (successfully or not)."""
        return self._finished

    @property
    def parent_handle(self) -> int | None:
        """The handle of the client phase this one is nested in, if any."""
        container = self._container
        return container.handle if isinstance(container, ClientPhase) else None


class ClientOperation(_ClientContainer, ProgressOperation):
    """An operation in a worker: its own (``owned``) or a view of the parent's."""

    def __init__(
        self, operation_id: str, title: str, description: str | None, *, client: PhaseOwner, owned: bool
    ) -> None:
        super().__init__(operation_id, title, description)
        self._client = client
        self.owned = owned
        self._finished = False
        self._cancelled = False

    def __repr__(self) -> str:
        return f"<client operation {self.title!r}{'' if self.owned else ' (attached)'}>"

    def cancel(self) -> None:
        """Cancel this operation's work in this worker (the parent is not told)."""
        self._cancelled = True

    @property
    def cancelled(self) -> bool:
        return self._cancelled
