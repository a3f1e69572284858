"""The one exception hierarchy of mpprogress, and the port's checks and finish rule.

Every error mpprogress raises on misuse derives from ``ProgressError``; the checks here are the
one wording of each, shared by every tracker (local, remote client, silent).  Standard library
only.
"""

from __future__ import annotations

from .outcomes import error_text

__all__ = [
    "DuplicateIdError",
    "PhaseDepthError",
    "PhaseFinishedError",
    "ProgressCancelled",
    "ProgressError",
    "checked_count",
    "ensure_open",
    "failure_reason",
    "finish_outcome",
    "validate_total",
]


class ProgressError(Exception):
    """Base class of the errors mpprogress raises on misuse."""


class PhaseFinishedError(ProgressError, RuntimeError):
    """Raised when a finished phase is updated again."""


class ProgressCancelled(ProgressError):
    """Raised by ``raise_if_cancelled()`` inside a phase whose work was cancelled."""


class DuplicateIdError(ProgressError, ValueError):
    """Raised when an operation or a phase is started with an id its tracker already holds."""


class PhaseDepthError(ProgressError, ValueError):
    """Raised when a phase would nest deeper than its tracker's ``max_phase_depth``."""


def ensure_open(finished: bool, title: str) -> None:
    """Refuse to change a finished phase: the one wording of that error, for every tracker.

    Args:
        finished: whether the phase has finished.
        title: the phase's title, named in the error.

    Raises:
        PhaseFinishedError: ``finished`` is true.
    """
    if finished:
        raise PhaseFinishedError(f"phase {title!r} has finished; it cannot be updated")


def finish_outcome(success: bool, reason: str | None, cancelled: bool) -> tuple[bool, str | None]:
    """The one finish rule of phases and operations, local or remote.

    A cancelled piece of work never finishes successfully, and a failure always has a reason.

    Args:
        success: the success the caller asked for.
        reason: the reason the caller gave for a failure (ignored on success), or ``None``.
        cancelled: whether the phase (or a parent, or its operation) was cancelled.

    Returns:
        ``(success, reason)``: ``(True, None)``; or ``(False, "cancelled")`` when a successful
        finish meets a cancellation; or ``(False, reason or "failed")``.
    """
    if success:
        return (False, "cancelled") if cancelled else (True, None)
    return False, "failed" if reason is None else reason


def failure_reason(exc: BaseException) -> str:
    """Name the reason a phase or operation failed because ``exc`` escaped its block.

    Args:
        exc: the exception that ended the ``with`` block.

    Returns:
        ``"cancelled"``, ``"interrupted"`` (Ctrl-C, ``SystemExit``), or else the exception's
        type and message, one bounded and sanitised line (``"RuntimeError: boom"``,
        ``outcomes.error_text``): the outcome is ``failed`` and its reason says why.
    """
    if isinstance(exc, ProgressCancelled):
        return "cancelled"
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return "interrupted"
    return error_text(exc)


def checked_count(value: object, name: str) -> int | float:
    """Validate an increment or an absolute count: a finite, non-negative number.

    Args:
        value: the number given by the caller.
        name: the argument's name, for the error message.

    Returns:
        ``value``, unchanged.

    Raises:
        TypeError: ``value`` is not an int or float (booleans are refused).
        ValueError: ``value`` is negative, NaN or infinite.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be an int or float, not {type(value).__name__}")
    if not (0 <= value < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


def validate_total(total: object) -> int | None:
    """Check a phase total: ``None`` (unknown) or a non-negative whole number.

    Args:
        total: the value given by the caller.

    Returns:
        The total as an ``int``, or ``None``.

    Raises:
        TypeError: ``total`` is not a number (booleans are refused too).
        ValueError: ``total`` is negative or not whole.
    """
    if total is None:
        return None
    if isinstance(total, bool) or not isinstance(total, (int, float)):
        raise TypeError(f"total must be an int or None, not {type(total).__name__}")
    if total != total or total < 0 or int(total) != total:  # NaN, negative, fractional
        raise ValueError(f"total must be a non-negative whole number or None, got {total!r}")
    return int(total)
