"""Where worker and application code get their tracker, and the module-level ``track()``."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from .port import ProgressTracker, failure_reason

__all__ = ["get_tracker", "set_tracker", "track"]

T = TypeVar("T")

ADDRESS_ENV = "MPPROGRESS_ADDRESS"
FORWARD_LOGS_ENV = "MPPROGRESS_FORWARD_LOGS"

_current: ProgressTracker | None = None
_current_pid = 0  # the process ``_current`` belongs to: a forked child never uses its parent's
_current_lock = threading.Lock()
_fork_hook_installed = False


def set_tracker(tracker: ProgressTracker | None) -> None:
    """Make ``tracker`` the one ``get_tracker()`` returns in this process (``None`` resets)."""
    _replace_tracker(tracker)


def _replace_tracker(tracker: ProgressTracker | None) -> ProgressTracker | None:
    """Set the process's tracker; return the one it replaces (``None`` if it was a parent's)."""
    global _current, _current_pid
    with _lock():
        previous = _current if _current_pid == os.getpid() else None
        _current, _current_pid = tracker, os.getpid()
        return previous


def _lock() -> threading.Lock:
    """The lock of ``_current``; a forked child gets a new one (a parent thread may hold it)."""
    global _fork_hook_installed
    if not _fork_hook_installed:
        _fork_hook_installed = True
        os.register_at_fork(after_in_child=_new_lock_in_child)
    return _current_lock


def _new_lock_in_child() -> None:
    global _current_lock
    _current_lock = threading.Lock()


def inherited_setting(name: str) -> str | None:
    """A setting a session exported to its children (``MPPROGRESS_ADDRESS``...), or ``None``.

    Read first from the ``multiprocessing`` record of this process, which a child created by
    ``multiprocessing`` receives from its parent at creation under every start method, then
    from the environment (plain subprocesses).  The environment alone is not enough: the
    ``forkserver`` server process keeps the environment of the moment it started, so its
    children would connect to the address of an earlier session, or to none.
    """
    from multiprocessing import process

    value = process.current_process()._config.get(name)  # type: ignore[attr-defined]
    return value if value is not None else os.environ.get(name) or None


def export_settings(settings: dict[str, str | None]) -> Callable[[], None]:
    """Set settings for children (environment and multiprocessing record); ``None`` unsets.

    Returns:
        A function that puts back what was there before.
    """
    from multiprocessing import process

    config: dict[str, Any] = process.current_process()._config  # type: ignore[attr-defined]
    saved = {name: (os.environ.get(name), config.get(name)) for name in settings}
    for name, value in settings.items():
        _put(os.environ, name, value)
        _put(config, name, value)

    def restore() -> None:
        for name, (env_value, config_value) in saved.items():
            _put(os.environ, name, env_value)
            _put(config, name, config_value)

    return restore


def _put(mapping: Any, name: str, value: str | None) -> None:
    if value is None:
        mapping.pop(name, None)
    else:
        mapping[name] = value


def get_tracker() -> ProgressTracker:
    """The tracker this process should report to.

    In order:

    - the tracker set by ``set_tracker`` in this process (``mpprogress.session()`` sets its
      own, so in the parent this is the session's tracker);
    - in a process whose environment has ``MPPROGRESS_ADDRESS`` (a worker started inside a
      session, by ``fork``, ``spawn``, ``forkserver`` or ``subprocess``): a client tracker
      connected to that address, created on first use, one per process;
    - otherwise a process-wide ``BaseProgressTracker`` created on first use, which holds state
      and emits events but shows nothing until a sink is added.

    A tracker set or created in a parent process is never returned in a forked child: the
    child gets its own, by the same rules.
    """
    global _current, _current_pid
    with _lock():
        if _current is not None and _current_pid == os.getpid():
            return _current
        address = inherited_setting(ADDRESS_ENV)
        if address:
            from .remote.session import worker_client

            _current = worker_client(address)
        else:
            from .tracker import BaseProgressTracker

            _current = _fallback[0] = BaseProgressTracker()
        _current_pid = os.getpid()
        return _current


_fallback: list[ProgressTracker | None] = [None]  # the silent tracker get_tracker() made, if any


def _display_for_track() -> ProgressTracker | None:
    """A console tracker of its own for ``track()`` when nothing else would show its progress."""
    if get_tracker() is not _fallback[0]:
        return None  # a session, a worker's client or a tracker the application set
    from rich.console import Console

    from .adapters.console import ConsoleConfig, ConsoleProgressTracker

    return ConsoleProgressTracker(Console(stderr=True), config=ConsoleConfig(show_summary=False))


def track(
    iterable: Iterable[T],
    description: str = "Working...",
    total: int | None = None,
    *,
    tracker: ProgressTracker | None = None,
) -> Iterator[T]:
    """Yield the items of ``iterable`` while reporting them as one phase, like ``rich.progress.track``.

    The phase runs in its own operation titled ``description``.  Leaving the loop early
    finishes it successfully: a generator cannot tell ``break`` from an exception raised in the
    loop body, so when failures must show, use ``with op.phase(...) as phase`` and
    ``phase.track(iterable)`` instead, whose block sees the exception.

    Args:
        iterable: the items to walk through.
        description: the title shown for the operation and its phase.
        total: the number of items; taken from ``len(iterable)`` when omitted and possible.
        tracker: the tracker to report to; by default ``get_tracker()``, except where that would
            be the silent fallback (no session, no worker address, nothing set): then, like
            ``rich.progress.track``, a console display of its own on stderr for the loop's
            duration.

    Yields:
        The items of ``iterable``.
    """
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    owned = None if tracker is not None else _display_for_track()
    tracker = tracker or owned or get_tracker()
    operation_id = str(uuid.uuid4())
    op = tracker.start_operation(operation_id, description)
    phase_id = str(uuid.uuid4())
    phase = op.start_phase(phase_id, description, total)
    success, reason = True, None
    try:
        yield from phase.track(iterable)
    except GeneratorExit:
        pass  # the caller stopped iterating (break, or an exception in its loop body)
    except BaseException as exc:  # raised by the iterable itself
        success, reason = False, failure_reason(exc)
        raise
    finally:
        op.finish_phase(phase_id, success, reason=reason)
        tracker.finish_operation(operation_id, success)
        if owned is not None:
            owned.close()
