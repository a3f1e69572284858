"""The one fork-safety helper: what a forked child must not inherit from its parent.

Standard library only, and nothing happens at import.  Four tools:

- ``PerProcess``: a value made lazily, once per process, like pyzmq's ``Context.instance()``:
  a forked child that asks for it gets a new one (the pid is compared on each ``get()``), and
  the parent's is never touched (closing an inherited ZeroMQ context or socket can hang).  For
  resources reached off the hot path: contexts, the current tracker, process-wide clients.
- ``reinit_after_fork(obj)``: for objects whose lock sits on the hot path, where a pid check on
  every use would cost too much: ``obj._reinit_after_fork()`` runs in every forked child
  (fresh locks, no threads that did not survive the fork).  The one ``os.register_at_fork``
  hook behind it is installed on first use, never at import, and only where the platform has
  it.
- ``ProcessLock``: a module-level lock that is this process's only: a forked child that takes it
  takes a new one (a parent thread may have held the old one at the fork, for good).
- ``add_parent_only_handler(logger, handler)``: a logging handler that serves this process only
  (a session's console, journal and dashboard handlers).  A child forked while it is in place
  starts without it: its locks may have been held by a parent thread at the fork, and what it
  writes to (a live display, a journal, a dashboard's page) is the parent's.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["ForkAware", "PerProcess", "ProcessLock", "add_parent_only_handler", "reinit_after_fork"]

T = TypeVar("T")


class ProcessLock:
    """A lock for this process only: ``with lock.current():``; a forked child gets a new one.

    For module-level locks a forked child may take (bars made in a worker): one a parent thread
    held at the fork would stay held in the child forever.  Costs a pid lookup per use.

    Args:
        reentrant: an ``RLock`` rather than a ``Lock``.
    """

    def __init__(self, reentrant: bool = False) -> None:
        self._make: Callable[[], Any] = threading.RLock if reentrant else threading.Lock
        # ``dict.setdefault`` is atomic, so two threads of a new child agree on one lock.
        self._locks: dict[int, Any] = {}

    def current(self) -> Any:
        """This process's lock (made now in a forked child)."""
        pid = os.getpid()
        lock = self._locks.get(pid)
        if lock is None:
            lock = self._locks.setdefault(pid, self._make())
            for other in [key for key in self._locks if key != pid]:
                self._locks.pop(other, None)
        return lock


class PerProcess(Generic[T]):
    """A value created on first use in each process; a forked child creates its own.

    Args:
        factory: makes the value; called at most once per process (under a per-process lock).
            ``None`` when each ``get`` names its own.
    """

    def __init__(self, factory: Callable[[], T] | None = None) -> None:
        self._factory = factory
        self._value: T | None = None
        self._pid = 0
        self._lock = ProcessLock()  # one per process: a lock held by a parent thread at fork stays held

    def get(self, factory: Callable[[], T] | None = None) -> T:
        """This process's value, made now (by ``factory`` or the default one) if it has none yet.

        Raises:
            TypeError: a value must be made and there is no factory to make it.
        """
        value, pid = self._value, os.getpid()
        if value is not None and self._pid == pid:
            return value
        with self.lock():
            if self._value is None or self._pid != pid:
                make = factory or self._factory
                if make is None:
                    raise TypeError("PerProcess.get() needs a factory: none was given here or at creation")
                self._value, self._pid = make(), pid
            return self._value

    def peek(self) -> T | None:
        """This process's value if it was made here, else ``None`` (an inherited one is not)."""
        return self._value if self._pid == os.getpid() else None

    def set(self, value: T | None) -> T | None:
        """Put ``value`` in place for this process; return the one it replaces (made here)."""
        with self.lock():
            previous = self.peek()
            self._value, self._pid = value, os.getpid()
            return previous

    def lock(self) -> threading.Lock:
        """The lock of this process guarding the value (a new one in a forked child)."""
        lock: threading.Lock = self._lock.current()
        return lock


class ForkAware(Protocol):
    """An object that knows how to make itself usable in a forked child."""

    def _reinit_after_fork(self) -> None: ...


_registered: weakref.WeakSet[ForkAware] = weakref.WeakSet()
_hook_installed = False


def reinit_after_fork(obj: ForkAware) -> None:
    """Call ``obj._reinit_after_fork()`` in every child forked from now on (while ``obj`` lives)."""
    global _hook_installed
    if not _hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_reinit_all)
        _hook_installed = True
    _registered.add(obj)


def _reinit_all() -> None:
    for obj in list(_registered):
        obj._reinit_after_fork()


class _ParentOnly:
    """The logging handlers a forked child takes off its loggers before anything else runs."""

    def __init__(self) -> None:
        self.handlers: list[tuple[logging.Logger, logging.Handler]] = []

    def _reinit_after_fork(self) -> None:
        held, self.handlers = self.handlers, []
        for logger, handler in held:
            logger.removeHandler(handler)  # logging's own lock was made new before this runs


_parent_only = _ParentOnly()


def add_parent_only_handler(logger: logging.Logger, handler: logging.Handler) -> Callable[[], None]:
    """Add ``handler`` to ``logger`` for this process only: a child forked while it is there
    starts without it.

    Returns:
        The undo: takes ``handler`` off ``logger`` here (idempotent).
    """
    reinit_after_fork(_parent_only)
    entry = (logger, handler)
    _parent_only.handlers.append(entry)
    logger.addHandler(handler)

    def undo() -> None:
        logger.removeHandler(handler)
        with suppress(ValueError):
            _parent_only.handlers.remove(entry)

    return undo
