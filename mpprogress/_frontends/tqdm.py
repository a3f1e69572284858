"""``tqdm`` and ``trange`` with tqdm's semantics, reporting to mpprogress: switch with one import.

``from mpprogress import tqdm, trange``: the loops, ``update()`` calls, descriptions and postfixes
of tqdm-style code land on the one display, in threads, asyncio tasks and worker processes alike.
Each bar is a phase; where it goes is ``placement``'s rule.

Counting is cheaper than tqdm's: ``update(n)`` adds to ``self.n`` and compares it with the next
hand-over point; every few items (about every ``watch.SYNC_PERIOD`` seconds) the bar hands its
count, its description and its postfix to the phase, and a watcher thread does it for bars whose
loops went quiet (``watch``).  Closing hands over the exact final count.

Arguments that only concern tqdm's own drawing are accepted and ignored: ``file``, ``ncols``,
``nrows``, ``ascii``, ``dynamic_ncols``, ``smoothing``, ``bar_format``, ``position`` (nesting
comes from which bars are open), ``colour``, ``delay``, ``maxinterval``, ``lock_args``,
``write_bytes``, ``gui``; ``leave`` is kept (finished rows stay until their operation ends, and
the display folds finished rows when space runs short); ``unit``, ``unit_scale`` and
``unit_divisor`` are kept for ``format_dict``; ``disable=None`` (tqdm: off on a non-terminal)
counts as ``False``, the display deciding what a non-terminal gets.  ``file`` is kept as
``bar.fp`` (``sys.stderr`` by default); a bar given no ``file`` while ``sys.stderr`` is
redirected into an ``io.StringIO`` (``contextlib.redirect_stderr``: output nobody sees, such as
mpire's option check) counts but is no phase.  Unknown keywords raise ``TqdmKeyError``, as tqdm's.

Outcomes: a bar closed while an exception is being handled (``close()`` in ``finally:`` or
``except:``; the ``with`` form) fails with the exception's type as its reason; a ``for`` loop
over a bar fails when an exception unwinds through it (``unwinding``); ``break`` and running to
the end are a normal close; a bar never closed (garbage-collected) fails as ``incomplete`` short
of its total.  A bar closed while bars opened under it are still open finishes when the last of
them does, with its own count and outcome (``Placement.end``).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import os
import sys
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, ClassVar, Generic, TypeVar

from .._base.port import ProgressError, ProgressOperation, ProgressPhase, ProgressTracker
from .placement import OpenBar, Placement, phase_total, pop, push, script_title
from .tqdm_compat import AsyncBar, ClassWide, Described, Drawing, Positioned, SizedBar, TqdmKeyError
from .unwinding import exception_reason, unwinding_reason
from .watch import SYNC_PERIOD, unwatch, watch

__all__ = ["TqdmKeyError", "tqdm", "trange"]

T = TypeVar("T")
_log = logging.getLogger(__name__)
_Refused = (ProgressError, ArithmeticError, TypeError, ValueError, RuntimeError)  # what the port refuses with


def _ignored_update(n: float = 1) -> None:
    """``update`` of a closed or disabled bar, as tqdm's: nothing happens."""


def _bar_total(total: float | None) -> int | None:
    """A bar's total as its phase's: tqdm treats 0 (what ``tqdm.contrib`` passes for generators)
    as unknown."""
    return phase_total(total) if total else None


class tqdm(AsyncBar, ClassWide, Described, Drawing, Positioned, SizedBar, Generic[T]):
    """A progress bar with tqdm's interface, shown as an mpprogress phase.

    Args:
        iterable: what to iterate over; its ``len()`` is the total when ``total`` is not given.
        desc: the description: the phase's title (changes later are shown as its message).
        total: the expected number of items (``None`` or infinite: unknown).
        leave: kept as ``bar.leave``; see the module's docstring.
        mininterval: ``update()`` returns ``True`` at most this often, as tqdm's does.
        miniters: hand the count over every ``miniters`` items (by default, adjusted as it goes).
        disable: a disabled bar is no phase and counts nothing, as in tqdm.
        initial: the count to start from.
        postfix: shown after the description, as by ``set_postfix``.
        operation: extension: the operation (or its id) a bar with no bar above it joins.
        tracker: extension: the tracker to report to instead of ``get_tracker()``.
        **kwargs: none: an unknown keyword raises ``TqdmKeyError``, as in tqdm.

    Raises:
        TqdmKeyError: an unknown keyword argument.
    """

    monitor_interval: ClassVar[float] = 10
    monitor: ClassVar[object] = None
    _instances: ClassVar[weakref.WeakSet[Any]] = weakref.WeakSet()
    _time = staticmethod(time.monotonic)
    _key_error: ClassVar[type[KeyError]] = TqdmKeyError
    _deprecated: ClassVar[type[Exception]] = TqdmKeyError

    def __init__(
        self,
        iterable: Iterable[T] | None = None,
        desc: str | None = None,
        total: float | None = None,
        leave: bool | None = True,
        file: IO[str] | None = None,
        ncols: int | None = None,
        mininterval: float = 0.1,
        maxinterval: float = 10.0,
        miniters: float | None = None,
        ascii: bool | str | None = None,
        disable: bool | None = False,
        unit: str = "it",
        unit_scale: bool | float = False,
        dynamic_ncols: bool = False,
        smoothing: float = 0.3,
        bar_format: str | None = None,
        initial: float = 0,
        position: int | None = None,
        postfix: Mapping[str, Any] | str | None = None,
        unit_divisor: float = 1000,
        write_bytes: bool = False,
        lock_args: tuple[Any, ...] | None = None,
        nrows: int | None = None,
        colour: str | None = None,
        delay: float = 0.0,
        gui: bool = False,
        *,
        operation: ProgressOperation | str | None = None,
        tracker: ProgressTracker | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            self._refuse(kwargs, sys.stderr if file is None else file)
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                total = None
        if total == math.inf:
            total = None
        self.iterable = iterable
        self.desc = desc or ""
        self._total = total
        silenced = file is None and isinstance(sys.stderr, io.StringIO)
        self.leave, self.fp, self.ncols, self.nrows = leave, sys.stderr if file is None else file, ncols, nrows
        self.mininterval, self.maxinterval = mininterval, maxinterval
        self.miniters: float = miniters or 0
        self.dynamic_miniters = miniters is None
        self.ascii, self.unit, self.unit_scale, self.unit_divisor = ascii, unit, unit_scale, unit_divisor
        self.dynamic_ncols, self.smoothing, self.bar_format = dynamic_ncols, smoothing, bar_format
        self.colour, self.delay, self.gui, self.lock_args = colour, delay, gui, lock_args
        self.initial = initial
        self.n: float = initial
        self.postfix = None
        self.disable = bool(disable)
        self.start_t = self.last_print_t = self._time()
        self.last_print_n = initial
        self._closed = False
        self._pid = os.getpid()
        self._state_lock = threading.RLock()
        self._phase: ProgressPhase | None = None
        self._placement: Placement | None = None
        self._open: OpenBar | None = None
        self._title = self.desc
        self._handed: tuple[float, str | None] = (0, None)  # count and message the phase has
        self._sync_t, self._sync_n, self._due = self.start_t, initial, initial + 1
        self._handling = sys.exc_info()[1]  # an exception handled around the bar is not its failure
        if postfix:
            try:
                self.set_postfix(refresh=False, **postfix)  # type: ignore[arg-type]
            except TypeError:
                self.postfix = postfix  # kept as given, as tqdm does
        self._register(position, counted=not self.disable)
        if self.disable:
            self.update = _ignored_update  # type: ignore[method-assign]
            return
        if not silenced:
            self._open_phase(operation, tracker)

    def _open_phase(self, operation: ProgressOperation | str | None, tracker: ProgressTracker | None) -> None:
        try:
            placement = Placement.resolve(self.desc or script_title(), operation=operation, tracker=tracker)
        except Exception:  # tqdm never fails to make a bar: this one then only counts
            _log.debug("mpprogress: bar %r has no phase", self.desc, exc_info=True)
            return
        try:
            phase = placement.start(self.desc, _bar_total(self._total))
        except Exception:
            _log.debug("mpprogress: bar %r has no phase", self.desc, exc_info=True)
            placement.close(False)
            return
        placement.hold()
        self._phase, self._placement = phase, placement
        self._open = push(phase, placement.tracker)
        self.hand_over()
        watch(self)

    # --- counting (the hot path) ------------------------------------------------------------

    def update(self, n: float = 1) -> bool | None:
        """Add ``n`` to the count (a negative ``n`` counts back).

        Returns:
            ``True`` when this call handed the count to the display and ``mininterval`` had
            passed since the last such call, else ``None`` (tqdm's "displayed").
        """
        self.n += n
        if self.n >= self._due:
            return self._sync()
        return None

    def __iter__(self) -> Iterator[T]:
        if self.iterable is None:
            raise TypeError("'NoneType' object is not iterable")
        return self._iterate(self.iterable)

    def _iterate(self, iterable: Iterable[T]) -> Iterator[T]:
        if self.disable:
            yield from iterable
            return
        n, due = self.n, self._due
        success, reason = True, None
        try:
            for item in iterable:
                yield item
                n += 1
                self.n = n  # the watcher reads it
                if n >= due:
                    self._sync()
                    due = self._due
        except GeneratorExit:  # the loop stopped early: break, or an exception in its body
            reason = unwinding_reason(sys._getframe(1))
            success = reason is None
            raise
        except BaseException as exc:  # raised by the iterable itself
            success, reason = False, exception_reason(exc)
            raise
        finally:
            self.n = n
            self._close(success, reason)

    def _sync(self) -> bool | None:
        """Hand the count over, and set the next hand-over point."""
        now = self._time()
        n = self.n
        if self.dynamic_miniters:
            elapsed, done = now - self._sync_t, n - self._sync_n
            period = min(SYNC_PERIOD, self.mininterval)
            if elapsed > 0 and done > 0:  # about one hand-over per period; growing 8x at most
                self.miniters = max(1, min(int(done * period / elapsed), 8 * max(int(self.miniters), 1)))
        self._sync_t, self._sync_n = now, n
        self._due = n + max(self.miniters, 1)
        self.hand_over()
        if now - self.last_print_t < self.mininterval:
            return None
        self.last_print_t, self.last_print_n = now, n
        return True

    def hand_over(self) -> None:
        """Give the phase the bar's count and message, if they changed (any thread)."""
        with self._state_lock:
            phase = self._phase
            if phase is None:
                return
            n, message = self.n, self._message()
            handed_n, handed_message = self._handed
            if n == handed_n and message == handed_message:
                return
            try:
                phase.set_progress(max(n, 0), None if message == handed_message else message)
            except _Refused:  # finished elsewhere (its operation ended), or a count the port refuses
                return
            self._handed = (n, message)

    def _message(self) -> str | None:
        """The phase's message: a description changed since the start, then the postfix."""
        desc = self.desc[:-2] if self.desc.endswith(": ") else self.desc
        parts = [desc] if desc and desc != self._title else []
        if self.postfix:
            parts.append(str(self.postfix))
        text = ", ".join(parts)
        return text if text or self._handed[1] else None

    # --- the rest of tqdm's interface ---------------------------------------------------------

    @property
    def total(self) -> float | None:
        """The expected number of items; setting it updates the phase."""
        return self._total

    @total.setter
    def total(self, value: float | None) -> None:
        self._total = None if value == math.inf else value
        phase = self._phase
        if phase is not None:
            with contextlib.suppress(*_Refused):
                phase.set_total(_bar_total(self._total))

    def refresh(self, nolock: bool = False, lock_args: tuple[Any, ...] | None = None) -> bool | None:
        """Hand the current state to the display now."""
        if self.disable:
            return None
        self.hand_over()
        return True

    def reset(self, total: float | None = None) -> None:
        """Start counting again from 0, with a new total if one is given."""
        self.n = 0
        if total is not None:
            self.total = total
        if self.disable:
            return
        self.last_print_n = 0
        self.start_t = self.last_print_t = self._sync_t = self._time()
        self._sync_n, self._due = 0, 1
        if self.dynamic_miniters:
            self.miniters = 0
        self.hand_over()

    @property
    def disable(self) -> bool:
        """Whether the bar counts; setting it on an open bar ends the bar there, as tqdm stops it
        (mpire's ``final_refresh`` does): complete if it reached its total, else ``incomplete``."""
        return self._disabled

    @disable.setter
    def disable(self, value: bool) -> None:
        self._disabled = bool(value)
        if value and self.__dict__.get("_closed") is False:
            self._end_as_it_stands()

    def _end_as_it_stands(self) -> None:
        reached = not self._total or self.n >= self._total
        self._close(reached, None if reached else "incomplete")

    def close(self) -> None:
        """Finish the bar's phase with its exact count (idempotent; a no-op for a disabled bar).

        Called while an exception is being handled (in ``finally:`` or ``except:``), the bar
        fails with the exception's type as its reason.
        """
        exc = sys.exc_info()[1]
        if exc is None or exc is self.__dict__.get("_handling") or isinstance(exc, GeneratorExit):
            self._close(True, None)
        else:
            self._close(False, exception_reason(exc))

    def _close(self, success: bool, reason: str | None) -> None:
        if self._closed or self._pid != os.getpid():
            return  # a bar inherited by a forked child is its parent's to close
        self._closed = True
        self.disable = True
        self.update = _ignored_update  # type: ignore[method-assign]
        unwatch(self)
        self._unregister()
        if self._open is not None:
            pop(self._open)
        placement = self._placement
        with self._state_lock:
            self.hand_over()
            phase, self._phase = self._phase, None
        if placement is not None and phase is not None:
            placement.end(phase, success, reason, self._open)

    def __enter__(self) -> tqdm[T]:
        return self
    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, GeneratorExit):
            self._close(True, None)
        else:
            self._close(False, exception_reason(exc))

    def __del__(self) -> None:  # a bar never closed: complete if it reached its total, else not
        if "_closed" in self.__dict__:  # not for a bar whose __init__ failed
            with contextlib.suppress(Exception):
                self._end_as_it_stands()

    def __reversed__(self) -> Iterator[T]:
        return self._iterate(reversed(self.iterable))  # type: ignore[call-overload]


def trange(*args: int, **kwargs: Any) -> tqdm[int]:
    """``tqdm(range(*args), **kwargs)``."""
    return tqdm(range(*args), **kwargs)

