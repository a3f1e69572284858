"""Where a worker's phase resumes: the ``RESUMED`` replies to its ``PHASE_START`` (parent side).

When the session resumes an earlier run (``session(journal=..., resume=True)``), the parent's
tracker gives each phase it starts its resume point (``resume.py``), remote phases included; the
worker's phase must start at the same count and skip the same item keys.  The worker cannot read
the journal (it may be on another host, or the journal may be locked), so the parent tells it:
every ``PHASE_START`` applied is answered with ``RESUMED`` frames (one when the phase starts
afresh), and the worker's phase start waits for them (bounded, ``client_phases``).

The item keys done travel in as many frames as they need (each under ``MAX_FRAME``), at most
``MAX_RESUME_FRAMES`` per phase: the aggregator's socket queues 1,000 frames per worker and a
reply it cannot queue is dropped.  Keys beyond are not sent, and the count sent is lowered by
their number, so the worker redoes those items and its count still ends exact (at least once).
"""

from __future__ import annotations

from typing import Final

from .._core.phases import BaseProgressPhase
from .messages import MAX_KEYS_BYTES, Resumed

__all__ = ["MAX_RESUME_FRAMES", "resume_replies"]

MAX_RESUME_FRAMES: Final = 500
"""``RESUMED`` frames sent for one phase at most (about 45,000 keys of 40 bytes)."""
_KEYS_PER_FRAME: Final = 120  # under the decoder's array limit
_KEY_BYTES_PER_FRAME: Final = 2 * MAX_KEYS_BYTES - 400  # room for the envelope and numbers


def resume_replies(handle: int, phase: BaseProgressPhase) -> list[Resumed]:
    """The ``RESUMED`` frames telling a worker where its phase ``handle`` (here ``phase``) resumes."""
    point = phase.resumed
    if point is None:
        return [Resumed(0, handle, None, None, False, 0)]
    keys = sorted(phase._done_keys()) if point.done_keys and not point.finished else []
    chunks: list[list[str]] = []
    size = _KEY_BYTES_PER_FRAME
    for key in keys:
        length = len(key.encode("utf-8")) + 2
        if size + length > _KEY_BYTES_PER_FRAME or len(chunks[-1]) >= _KEYS_PER_FRAME:
            if len(chunks) == MAX_RESUME_FRAMES:
                break
            chunks.append([])
            size = 0
        chunks[-1].append(key)
        size += length
    sent = sum(len(chunk) for chunk in chunks)
    current = point.current - (len(keys) - sent)  # keys not sent: those items are done again
    total = phase.total
    return [Resumed(0, handle, current, total, point.finished, sent, tuple(chunk)) for chunk in chunks or [[]]]
