"""The parts of tqdm's interface around the bar itself: class-wide printing and locking, tqdm's
text helpers, and ``tqdm.asyncio``'s iteration, ``as_completed`` and ``gather``.

Mixed into ``frontends.tqdm.tqdm``; kept apart so each module reads in one sitting.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Iterator
from typing import IO, Any, ClassVar, Protocol

from .._base.port import failure_reason
from . import output, tqdm_text

__all__ = ["AsyncBar", "ClassWide", "NoLock", "SizedBar"]


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

    _lock: ClassVar[Any]

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
        return output.external_write_mode(file, nolock)

    @classmethod
    def get_lock(cls) -> Any:
        """Accepted: a lock that does nothing, or the one given to ``set_lock``."""
        if "_lock" not in cls.__dict__:
            cls._lock = NoLock()
        return cls._lock

    @classmethod
    def set_lock(cls, lock: Any) -> None:
        """Accepted: kept for ``get_lock()``; no lock is needed."""
        cls._lock = lock


class _Bar(Protocol):
    """What ``AsyncBar`` uses of the bar it is mixed into."""

    iterable: Any
    _async: bool
    _source: Any

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
        **tqdm_kwargs: Any,
    ) -> list[Any]:
        """``asyncio.gather(*fs)`` counted by a bar; results in the order of ``fs``."""

        async def indexed(index: int, awaitable: Awaitable[Any]) -> tuple[int, Any]:
            return index, await awaitable

        pending = [indexed(i, f) for i, f in enumerate(fs)]
        done = [await f for f in cls.as_completed(pending, timeout=timeout, total=total, **tqdm_kwargs)]
        return [result for _, result in sorted(done, key=lambda pair: pair[0])]


class _Counted(Protocol):
    iterable: Any
    n: float
    desc: str
    unit: str

    @property
    def total(self) -> float | None: ...


class SizedBar:
    """``len()``, truth, ``in`` and the text of a bar, as tqdm's."""

    def __len__(self: _Counted) -> int:
        iterable = self.iterable
        if iterable is None:
            return int(self.total or 0)
        if hasattr(iterable, "shape"):
            return int(iterable.shape[0])
        if hasattr(iterable, "__len__"):
            return len(iterable)
        if hasattr(iterable, "__length_hint__"):
            return int(iterable.__length_hint__())
        return int(self.total or 0)

    def __bool__(self: _Counted) -> bool:
        if self.total is not None:
            return self.total > 0
        if self.iterable is None:
            raise TypeError("bool() undefined when iterable == total == None")
        return bool(self.iterable)

    def __contains__(self: _Counted, item: object) -> bool:
        return item in self.iterable if self.iterable is not None else False

    def __repr__(self: _Counted) -> str:
        total = "?" if self.total is None else f"{self.total:g}"
        prefix = f"{self.desc.removesuffix(': ')}: " if self.desc else ""
        return f"{prefix}{self.n:g}/{total} {self.unit}"

    __str__ = __repr__
