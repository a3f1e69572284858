"""Resume after a crash: stable keys, where a phase resumes, and the item keys done (stdlib only).

A tracker given a ``ResumeSource`` (a ``JournalSink(path, resume=True)``) looks up every phase it
starts by stable keys and, when an earlier run recorded it, starts the phase where it stood:

- **Stable keys.**  An operation's key is the id its user gave, else its title (generated ids,
  UUIDs and ``default-<UUID>``, differ in every run); a phase's key is the path of such keys from
  its operation down (``"Download/page 3"``).  The same code gives the same keys in every run and
  every process.  Two phases with the same key under one operation (two workers' ``"chunk"``)
  cannot be told apart: the first to start in this run takes the earlier state, the others start
  afresh (give them distinct titles or ids).
- **Where a phase resumes** (``ResumePoint``): its count in the earlier run; for a phase that
  recorded item keys (``phase.track(items, key=...)``), the number of those keys, which is what
  the items skipped will not count again.  A phase that finished successfully is done: it
  starts at its final count and its ``track()`` yields nothing.
- **Item keys** are strings of at most ``MAX_ITEM_KEY`` bytes; longer ones are replaced by a
  digest (``item_key``), the same in every process.  Keys are recorded *after* an item's body
  ran: an item done but not yet recorded when the process died is done again (at least once,
  not exactly once).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Final, Protocol

from .events import ProgressCallback
from .text import strip_controls

__all__ = [
    "MAX_ITEM_KEY",
    "Journal",
    "ResumePoint",
    "ResumeSource",
    "ResumingPhase",
    "item_key",
    "phase_key",
    "remaining_items",
    "stable_key",
]

_log = logging.getLogger("mpprogress")

MAX_ITEM_KEY: Final = 120
"""Bytes of UTF-8 an item key keeps as it is; a longer one becomes ``"sha1:<hex digest>"``."""


@dataclass(frozen=True)
class ResumePoint:
    """Where a phase of an earlier run stood.

    Args:
        current: the count it resumes at.
        total: its total then (used when the phase is started without one).
        finished: it finished successfully: its work is done, its loops are skipped.
        run_id: the run it was recorded in.
        done_keys: how many item keys it recorded done (``current`` is that number when > 0).
    """

    current: int | float
    total: int | None = None
    finished: bool = False
    run_id: int | None = None
    done_keys: int = 0


class ResumeSource(Protocol):
    """What a tracker resumes from, and records done item keys in (the journal sink)."""

    @property
    def resuming(self) -> bool:
        """Whether there is an earlier run to resume (workers then wait for where they resume)."""

    def resume_point(self, operation_key: str, phase_key: str) -> ResumePoint | None:
        """Where the phase with these keys stood in the earlier run, or ``None``."""

    def done_keys(self, operation_key: str, phase_key: str) -> frozenset[str]:
        """The item keys of that phase recorded done in the earlier runs."""

    def record_done(self, phase_id: str, keys: Sequence[str]) -> None:
        """Record that the items with ``keys`` of phase ``phase_id`` (this run) are done; never blocks."""


class Journal(ResumeSource, ProgressCallback, Protocol):
    """A sink that is also a resume source: what ``BaseProgressTracker(journal=...)`` takes
    (``JournalSink``)."""


class ResumingPhase(Protocol):
    """What ``remaining_items`` asks of a phase (every ``port.ProgressPhase`` has it)."""

    resumed: ResumePoint | None
    title: str

    def update(self, increment: int | float = 1, message: str | None = None, **metadata: Any) -> None: ...

    def _done_keys(self) -> frozenset[str]: ...

    def _item_done(self, key: str) -> None: ...


def remaining_items(
    phase: ResumingPhase, iterable: Iterable[Any], key: Callable[[Any], object] | None
) -> Iterator[Any]:
    """The body of ``phase.track(iterable, key=key)`` in a resumed phase or with item keys.

    Skips what an earlier run did: everything if the phase finished successfully then (with
    ``key``, a warning says so when items whose keys that run did not record are skipped too);
    the items whose keys it recorded (with ``key``); else the first ``resumed.current`` items.
    Counts each item yielded once the caller's loop body ran for it, and records its key.
    """
    resumed = phase.resumed
    if resumed is not None and resumed.finished:
        if key is not None:
            _warn_if_new_keys(phase, iterable, key)
        return  # done in an earlier run
    if key is None:
        assert resumed is not None
        update = phase.update
        for item in islice(iterable, int(resumed.current), None):
            yield item
            update()
        return
    done = phase._done_keys() if resumed is not None else frozenset()
    item_done = phase._item_done
    for item in iterable:
        name = item_key(key(item))
        if name in done:
            continue
        yield item
        item_done(name)


def _warn_if_new_keys(phase: ResumingPhase, iterable: Iterable[Any], key: Callable[[Any], object]) -> None:
    """Warn when a phase that finished earlier is given items whose keys it did not record.

    Reads at most one item more than the keys recorded (among distinct keys one of those is new,
    if any is), so a long or endless iterable costs no more.  Says nothing when the keys done are
    not known here (a worker is told only that the phase finished).
    """
    done = phase._done_keys()
    if not done:
        return
    for item in islice(iterable, len(done) + 1):
        name = item_key(key(item))
        if name not in done:
            run = "" if phase.resumed is None or phase.resumed.run_id is None else f" (run {phase.resumed.run_id})"
            _log.warning(
                "phase %r finished in an earlier run%s, so its track() yields nothing on resume, not even items "
                "whose keys that run did not record (such as %r): run them in a fresh run (resume=False) or in "
                "a phase with another id", strip_controls(phase.title), run, name,
            )
            return


def stable_key(identifier: str, title: str) -> str:
    """An operation's or phase's id that is the same in every run: the id its user gave, else its title.

    Ids the library generates (UUIDs, ``default-<UUID>``) differ in every run, so those are
    replaced by the title.

    Args:
        identifier: the operation's or phase's id in this run.
        title: its title.

    Returns:
        ``identifier``, unless it is a generated one: then ``title``.
    """
    try:
        uuid.UUID(identifier.removeprefix("default-"))
    except ValueError:
        return identifier
    return title


def phase_key(parent_key: str | None, phase_id: str, title: str) -> str:
    """A phase's id that is the same in every run: its path of ``stable_key`` s in its operation.

    Args:
        parent_key: the enclosing phase's key (``None`` for a top-level phase).
        phase_id: the phase's id in this run.
        title: the phase's title (a ``/`` in a key part is written ``\\/``).

    Returns:
        ``"Download/page 3"`` for sub-phase ``page 3`` of ``Download`` (generated ids).
    """
    own = stable_key(phase_id, title).replace("/", "\\/")
    return own if parent_key is None else f"{parent_key}/{own}"


def item_key(key: object) -> str:
    """An item's key as it is recorded: ``str(key)``, or its digest when that is longer than
    ``MAX_ITEM_KEY`` bytes, holds control characters (the wire strips them) or is not valid
    UTF-8, so a key means the same in the journal, on the wire and in every process."""
    text = key if isinstance(key, str) else str(key)
    if text.isascii():  # the usual case, fast: ASCII's control characters are its unprintable ones
        if 0 < len(text) <= MAX_ITEM_KEY and text.isprintable():
            return text
    else:
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates
            raw = b""
        if raw and len(raw) <= MAX_ITEM_KEY and strip_controls(text) == text:
            return text
    return "sha1:" + hashlib.sha1(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()
