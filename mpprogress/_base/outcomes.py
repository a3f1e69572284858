"""What became of a phase or an operation: the one vocabulary of outcomes (standard library only).

Every output (console, plain lines, logs, JSON events, journal report, dashboard, notebook,
OpenTelemetry) names an outcome by the one ``word`` and draws it with the one ``symbol`` of
this table; no sink has words of its own.

===========  ======  ===========================================================================
word         symbol  when
===========  ======  ===========================================================================
succeeded    ✔       ended normally, its total reached (or it had none), no item failed
incomplete   ◐       ended without an error, but short of its total or with items that failed
failed       ✘       an exception escaped (its type and message are kept) or the code said so
cancelled    ⊘       cancelled (``cancel()``, ``ProgressCancelled``)
interrupted  ⊗       Ctrl-C, SIGTERM or ``SystemExit`` ended it
lost         ⚠       its worker process died or fell silent for good
===========  ======  ===========================================================================

An operation's outcome comes from its own end and its phases' (``operation_outcome``):
interrupted if it or any phase was; else cancelled (or lost) if it was itself; else failed if it
or any phase failed or was lost; else incomplete if any phase was incomplete or cancelled; else succeeded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from .text import clean_line

__all__ = [
    "CANCELLED",
    "FAILED",
    "INCOMPLETE",
    "INTERRUPTED",
    "LOST",
    "OUTCOMES",
    "SUCCEEDED",
    "WORDS",
    "OperationOutcome",
    "Outcome",
    "by_word",
    "error_text",
    "is_detail",
    "items_failed",
    "operation_outcome",
    "phase_outcome",
]


@dataclass(frozen=True)
class Outcome:
    """One way a phase or an operation can end.

    ``tone`` is what a sink colours by: ``"good"``, ``"warn"`` or ``"bad"``.
    """

    word: str
    symbol: str
    tone: str
    when: str

    def __str__(self) -> str:
        return self.word


SUCCEEDED: Final = Outcome("succeeded", "✔", "good", "ended normally, its total reached (or it had none)")
INCOMPLETE: Final = Outcome("incomplete", "◐", "warn", "no error, but short of its total or items failed")
FAILED: Final = Outcome("failed", "✘", "bad", "an exception escaped (type and message kept) or the code said so")
CANCELLED: Final = Outcome("cancelled", "⊘", "warn", "cancelled (cancel(), ProgressCancelled)")
INTERRUPTED: Final = Outcome("interrupted", "⊗", "warn", "Ctrl-C, SIGTERM or SystemExit ended it")
LOST: Final = Outcome("lost", "⚠", "bad", "its worker process died or fell silent for good")

OUTCOMES: Final = (SUCCEEDED, INCOMPLETE, FAILED, CANCELLED, INTERRUPTED, LOST)
"""Every outcome, the good first, in the order summaries list them."""

WORDS: Final = tuple(outcome.word for outcome in OUTCOMES)
"""The outcomes' words, in ``OUTCOMES`` order (the keys of a count by outcome)."""

_BY_WORD: Final = {outcome.word: outcome for outcome in OUTCOMES}
# Reasons that name an outcome rather than describe a failure: "error" and "failed" are what
# earlier versions recorded for an exception whose text they dropped; "unfinished" a worker's
# phase left open at its exit.
_NAMED: Final = {
    "cancelled": CANCELLED,
    "interrupted": INTERRUPTED,
    "lost": LOST,
    "incomplete": INCOMPLETE,
    "unfinished": INCOMPLETE,
    "error": FAILED,
    "failed": FAILED,
}

ERROR_TEXT_LIMIT: Final = 200
"""Longest exception text kept (``"RuntimeError: boom"``), in characters (the wire's own bound
on a reason is larger)."""


def by_word(word: str) -> Outcome:
    """The outcome with this word; ``FAILED`` for a word not in the table."""
    return _BY_WORD.get(word, FAILED)


def phase_outcome(
    success: bool | None, reason: str | None, current: float = 0, total: int | None = None, failed_items: int = 0
) -> Outcome:
    """The outcome of a finished phase.

    Args:
        success: whether it ended successfully.
        reason: why not (``"cancelled"``, ``"lost"``, ``"RuntimeError: boom"``...), if not.
        current: its final count.
        total: its total, ``None`` when unknown.
        failed_items: how many of its items failed (the ``failed`` count its updates carried).

    Returns:
        ``SUCCEEDED`` only for a success that reached its total with no failed item; a success
        short of its total, or with failed items (counted here or said by its reason,
        ``"14 of 120 items failed"``), is ``INCOMPLETE``; a failure is the outcome its
        reason names, ``FAILED`` for any other reason (an exception's text).
    """
    if success:  # a success with a reason: items failed (``items_failed``)
        short = total is not None and current < total
        return INCOMPLETE if short or failed_items > 0 or is_detail(reason) else SUCCEEDED
    return _NAMED.get(reason or "failed", FAILED)


def items_failed(failed: int, current: float) -> str:
    """The reason of a phase that ended with items that failed: ``"14 of 120 items failed"``."""
    count = f"{int(current):,}" if float(current).is_integer() else f"{current:,.1f}"
    return f"{failed:,} of {count} items failed"


def is_detail(reason: str | None) -> bool:
    """Whether ``reason`` says more than its outcome's word (an exception's ``"Type: message"``)."""
    return bool(reason) and reason not in _NAMED


def error_text(exc: BaseException) -> str:
    """``"RuntimeError: boom"``: an exception's type and message, one sanitised line, bounded.

    Args:
        exc: the exception.

    Returns:
        The type's name, then ``": "`` and the message when there is one; control characters and
        line breaks removed, at most ``ERROR_TEXT_LIMIT`` characters.
    """
    name = type(exc).__name__
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not hide the failure it describes
        message = ""
    return clean_line(f"{name}: {message}" if message else name, ERROR_TEXT_LIMIT)


@dataclass(frozen=True)
class OperationOutcome:
    """How an operation ended: its ``outcome`` and how its phases ended.

    ``phases`` maps an outcome's word to the number of the operation's phases (at any depth)
    that ended so.
    """

    outcome: Outcome
    phases: Mapping[str, int]

    @property
    def detail(self) -> str:
        """``"0 of 3 phases succeeded (1 failed, 2 lost)"``; empty when every phase succeeded
        (or there was none)."""
        ended = sum(self.phases.values())
        good = self.phases.get(SUCCEEDED.word, 0)
        if good == ended:
            return ""
        others = ", ".join(f"{self.phases[word]:,} {word}" for word in WORDS[1:] if self.phases.get(word))
        noun = "phase" if ended == 1 else "phases"
        return f"{good:,} of {ended:,} {noun} succeeded ({others})"


def operation_outcome(success: bool | None, reason: str | None, phases: Mapping[str, int]) -> OperationOutcome:
    """The outcome of a finished operation, from its own end and its phases' outcomes.

    Args:
        success: whether the operation itself ended successfully.
        reason: why not (``"cancelled"``, ``"interrupted"``, an exception's text), if not.
        phases: outcome word -> how many of its phases ended so (any depth).

    Returns:
        Interrupted if the operation or any phase was; else cancelled (or lost) if the
        operation itself was; else failed if it or any phase failed or was lost; else incomplete
        if any phase was incomplete or cancelled; else succeeded.
    """
    own = SUCCEEDED if success else _NAMED.get(reason or "failed", FAILED)
    if own is INTERRUPTED or phases.get(INTERRUPTED.word):
        outcome = INTERRUPTED
    elif own in (CANCELLED, LOST):
        outcome = own
    elif own is FAILED or phases.get(FAILED.word) or phases.get(LOST.word):
        outcome = FAILED
    elif own is INCOMPLETE or phases.get(INCOMPLETE.word) or phases.get(CANCELLED.word):
        outcome = INCOMPLETE
    else:
        outcome = SUCCEEDED
    return OperationOutcome(outcome, dict(phases))
