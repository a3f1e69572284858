"""The parts of tqdm's interface around the bar itself: class-wide printing and locking, tqdm's
text helpers, and ``tqdm.asyncio``'s iteration, ``as_completed`` and ``gather``.

Mixed into ``frontends.tqdm.tqdm``; kept apart so each module reads in one sitting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator, Mapping
from typing import IO, Any, ClassVar, Protocol

from .._base.forksafe import ProcessLock
from .._base.port import failure_reason
from . import output, tqdm_text

__all__ = ["AsyncBar", "ClassWide", "Described", "Drawing", "NoLock", "Positioned", "SizedBar", "TqdmKeyError"]


class TqdmKeyError(KeyError):
    """An unknown keyword argument (tqdm's ``TqdmKeyError``; under ``patch_tqdm``, tqdm's own)."""


class NoLock:
    """What ``get_lock()`` returns: a lock that does nothing (no bar shares a terminal line).

    Picklable, and its own ``mp_lock``, so ``tqdm.contrib.concurrent`` can hand it to workers.
    """

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        """Accepted; always succeeds."""
        return True

    def release(self) -> None:
        """Accepted."""

    def __enter__(self) -> NoLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    @property
    def mp_lock(self) -> NoLock:
        """Itself (tqdm's lock has a multiprocessing part)."""
        return self

    @property
    def th_lock(self) -> NoLock:
        """Itself (tqdm's lock has a threading part)."""
        return self


class ClassWide:
    """tqdm's class-wide calls: ``write``, ``external_write_mode``, the lock, text helpers."""

    _lock: ClassVar[Any] = NoLock()

    format_sizeof = staticmethod(tqdm_text.format_sizeof)
    format_interval = staticmethod(tqdm_text.format_interval)
    format_num = staticmethod(tqdm_text.format_num)

    @classmethod
    def write(cls, s: object, file: IO[str] | None = None, end: str = "\n", nolock: bool = False) -> None:
        """Print ``s`` above the display, from any process (see ``output.write``)."""
        output.write(s, file, end)

    @classmethod
    def external_write_mode(
        cls, file: IO[str] | None = None, nolock: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        """Inside the block, what is printed appears above the display (see ``output``)."""
        cls.get_lock()  # made again if deleted, as tqdm's does
        return output.external_write_mode(file, nolock)

    _key_error: ClassVar[type[KeyError]]
    _deprecated: ClassVar[type[Exception]]

    @classmethod
    def _refuse(cls, kwargs: dict[str, Any], file: IO[str]) -> None:
        """Raise tqdm's error for unknown keywords (``nested``: its deprecation, as tqdm does)."""
        if "nested" in kwargs:
            message = "`nested` is deprecated and automated.\nUse `position` instead for manual control.\n"
            if cls._deprecated is cls._key_error:
                raise cls._key_error(message)
            raise cls._deprecated(message, getattr(file, "write", None))
        raise cls._key_error(f"Unknown argument(s): {kwargs}")

    @classmethod
    def get_lock(cls) -> Any:
        """Accepted: a lock that does nothing, or the one given to ``set_lock``."""
        lock = getattr(cls, "_lock", None)
        if lock is None:  # deleted (``del tqdm._lock``): made again, as tqdm does
            cls._lock = lock = NoLock()
        return lock

    @classmethod
    def set_lock(cls, lock: Any) -> None:
        """Accepted: kept for ``get_lock()``; no lock is needed."""
        cls._lock = lock


class _Bar(Protocol):
    """What ``AsyncBar`` uses of the bar it is mixed into."""

    iterable: Any
    _async: bool
    _source: Any
    _closed: bool

    def update(self, n: float = 1) -> bool | None: ...

    def close(self) -> None: ...

    def _close(self, success: bool, reason: str | None) -> None: ...


class AsyncBar:
    """``async for`` over a bar, and ``tqdm.asyncio``'s ``as_completed`` and ``gather``."""

    def __aiter__(self: _Bar) -> Any:
        iterable = self.iterable
        self._async = hasattr(iterable, "__aiter__")
        self._source = iterable.__aiter__() if self._async else iter(iterable)
        return self

    async def __anext__(self: _Bar) -> Any:
        try:
            item = await self._source.__anext__() if self._async else next(self._source)
        except (StopIteration, StopAsyncIteration):
            self.close()
            raise StopAsyncIteration from None
        except BaseException as exc:
            self._close(False, failure_reason(exc))
            raise
        self.update()
        return item

    def send(self: _Bar, *args: Any, **kwargs: Any) -> Any:
        """``iterable.send(...)``: a generator driven through the bar, as ``tqdm.asyncio``'s."""
        return self.iterable.send(*args, **kwargs)

    @classmethod
    def as_completed(
        cls, fs: Any, *, loop: object = None, timeout: float | None = None, total: int | None = None,
        **tqdm_kwargs: Any,
    ) -> Iterator[Awaitable[Any]]:
        """``asyncio.as_completed(fs)`` counted by a bar, as ``tqdm.asyncio.tqdm.as_completed``."""
        if total is None:
            total = len(fs)

        def completed() -> Iterator[Awaitable[Any]]:
            # Lazily: the tasks are made once the bar is open, so they nest under it (Python
            # 3.13's as_completed makes them at once, 3.12's on the first next()).
            yield from asyncio.as_completed(fs, timeout=timeout)

        bar: Any = cls(completed(), total=total, **tqdm_kwargs)  # type: ignore[call-arg]
        yield from bar

    @classmethod
    async def gather(
        cls, *fs: Awaitable[Any], loop: object = None, timeout: float | None = None, total: int | None = None,
        return_exceptions: bool = False, **tqdm_kwargs: Any,
    ) -> list[Any]:
        """``asyncio.gather(*fs)`` counted by a bar; results in the order of ``fs`` (an item's
        exception in its place with ``return_exceptions=True``)."""

        async def indexed(index: int, awaitable: Awaitable[Any]) -> tuple[int, Any]:
            try:
                return index, await awaitable
            except Exception as exc:
                if return_exceptions:
                    return index, exc
                raise

        pending = [indexed(i, f) for i, f in enumerate(fs)]
        done = [await f for f in cls.as_completed(pending, timeout=timeout, total=total, **tqdm_kwargs)]
        return [result for _, result in sorted(done, key=lambda pair: pair[0])]


class _Counted(Protocol):
    iterable: Any
    n: float
    desc: str
    unit: str
    format_dict: dict[str, Any]

    @property
    def total(self) -> float | None: ...


class SizedBar:
    """``len()``, truth, ``in`` and the text of a bar, as tqdm's."""

    def __len__(self: _Counted) -> int:
        """As tqdm's: the total, or the iterable's length; ``TypeError`` when neither is known."""
        iterable = self.iterable
        if iterable is not None:
            if hasattr(iterable, "shape"):
                return int(iterable.shape[0])
            if hasattr(iterable, "__len__"):
                return len(iterable)
            if hasattr(iterable, "__length_hint__"):
                return int(iterable.__length_hint__())
        return self.total  # type: ignore[return-value]  # None or a float: len() raises TypeError

    def __bool__(self: _Counted) -> bool:
        if self.total is not None:
            return self.total > 0
        if self.iterable is None:
            raise TypeError("bool() undefined when iterable == total == None")
        return bool(self.iterable)

    def __contains__(self: _Counted, item: object) -> bool:
        return item in self.iterable if self.iterable is not None else False

    def __repr__(self: _Counted) -> str:
        meter = getattr(type(self), "format_meter", None)  # tqdm's own, under ``patch_tqdm``
        if meter is not None:
            return str(meter(**self.format_dict))
        total = "?" if self.total is None else f"{self.total:g}"
        prefix = f"{self.desc.removesuffix(': ')}: " if self.desc else ""
        return f"{prefix}{self.n:g}/{total} {self.unit}"

    __str__ = __repr__


class _Shown(Protocol):
    n: float
    initial: float
    start_t: float
    last_print_t: float
    disable: bool
    desc: str
    postfix: Any
    ncols: int | None
    nrows: int | None
    ascii: Any
    unit: str
    unit_scale: Any
    unit_divisor: float
    bar_format: str | None
    colour: str | None

    @property
    def total(self) -> float | None: ...

    def _time(self) -> float: ...

    def refresh(self, nolock: bool = False, lock_args: tuple[Any, ...] | None = None) -> bool | None: ...


class Drawing:
    """tqdm's drawing calls, which the display answers for: ``display``, ``clear``, ``moveto``,
    and the state tqdm would draw from (``format_dict``)."""

    def display(self: _Shown, msg: str | None = None, pos: int | None = None) -> bool:
        """Accepted: hands the current state to the display (``msg`` and ``pos`` are ignored)."""
        self.refresh()
        return True

    def clear(self, nolock: bool = False) -> None:
        """Accepted: the display draws the bars; there is no line of ours to clear."""

    def moveto(self, n: int) -> None:
        """Accepted: rows are placed by the display."""

    def unpause(self: _Shown) -> None:
        """Restart the elapsed time from the last hand-over, as tqdm does."""
        if self.disable:
            return
        now = self._time()
        self.start_t += now - self.last_print_t
        self.last_print_t = now

    @property
    def format_dict(self: _Shown) -> dict[str, Any]:
        """The bar's state, with tqdm's keys."""
        elapsed = self._time() - self.start_t
        done = self.n - self.initial
        return {
            "n": self.n, "total": self.total, "elapsed": elapsed, "ncols": self.ncols, "nrows": self.nrows,
            "prefix": self.desc, "ascii": self.ascii, "unit": self.unit, "unit_scale": self.unit_scale,
            "rate": done / elapsed if elapsed > 0 and done else None, "bar_format": self.bar_format,
            "postfix": self.postfix, "unit_divisor": self.unit_divisor, "initial": self.initial,
            "colour": self.colour,
        }


_registry = ProcessLock()  # a worker forked while a parent thread made a bar must not wait for it


class Positioned:
    """tqdm's ``pos`` (the lowest position no open bar holds, unless ``position=`` is given) and
    the ordering of bars by it (``sorted(bars)``, ``bar1 < bar2``)."""

    _instances: ClassVar[Any]
    pos: int

    def _register(self, position: int | None, counted: bool) -> None:
        """Take a position (and join the open bars when ``counted``), one thread at a time: bars
        made in several threads at once must not see the set change under them."""
        with _registry.current():
            if position is None:
                bars = type(self)._instances
                taken = {abs(bar.pos) for bar in list(bars) if bar is not self and hasattr(bar, "pos")}
                position = min(set(range(len(taken) + 1)) - taken)
            self.pos = position
            if counted:
                type(self)._instances.add(self)

    def _unregister(self) -> None:
        with _registry.current():
            type(self)._instances.discard(self)

    @property
    def _comparable(self) -> int:
        return abs(int(getattr(self, "pos", 1 << 31)))

    def __lt__(self, other: Positioned) -> bool:
        return self._comparable < other._comparable

    def __le__(self, other: Positioned) -> bool:
        return self._comparable <= other._comparable

    def __gt__(self, other: Positioned) -> bool:
        return self._comparable > other._comparable

    def __ge__(self, other: Positioned) -> bool:
        return self._comparable >= other._comparable


class _Labelled(Protocol):
    desc: str
    postfix: Any

    def refresh(self, nolock: bool = False, lock_args: tuple[Any, ...] | None = None) -> bool | None: ...


class Described:
    """The description and the postfix, shown in the phase's message."""

    desc: str
    postfix: Any

    def set_description(self: _Labelled, desc: str | None = None, refresh: bool = True) -> None:
        """Set the description (shown as the phase's message when it differs from its title)."""
        self.desc = desc + ": " if desc else ""
        if refresh:
            self.refresh()

    def set_description_str(self: _Labelled, desc: str | None = None, refresh: bool = True) -> None:
        """Set the description, as given."""
        self.desc = desc or ""
        if refresh:
            self.refresh()

    def set_postfix(
        self: _Labelled, ordered_dict: Mapping[str, Any] | None = None, refresh: bool = True, **kwargs: Any
    ) -> None:
        """Set the postfix from fields (``loss=0.1``), shown in the phase's message."""
        self.postfix = tqdm_text.postfix_text(ordered_dict, kwargs)
        if refresh:
            self.refresh()

    def set_postfix_str(self: _Labelled, s: str = "", refresh: bool = True) -> None:
        """Set the postfix text, shown in the phase's message."""
        self.postfix = str(s)
        if refresh:
            self.refresh()
