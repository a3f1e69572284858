"""Whether a process on this host is (still) the one we mean: alive, not a zombie, not a new
process that was given the same pid.  No zmq here.

Linux answers from ``/proc/PID/stat`` (its state, and its start time in clock ticks since
boot); elsewhere ``kill(pid, 0)`` is all there is, and a zombie or a reused pid counts as alive.
"""

from __future__ import annotations

import os

__all__ = ["process_alive", "process_start"]


def _stat_fields(pid: int) -> list[bytes] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), if readable."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()
    except (OSError, ValueError, OverflowError):
        return None


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot), or ``None`` where unknown."""
    return _start(_stat_fields(pid))


def _start(fields: list[bytes] | None) -> int | None:
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def process_alive(pid: int, started: int | None = None) -> bool:
    """Whether process ``pid`` exists on this host, is not a zombie, and (given ``started``, its
    ``process_start`` when it was known alive) is still that process and not a later one.

    Never raises: a pid no process can have (``ValueError``, ``OverflowError``) is not alive.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except (OSError, ValueError, OverflowError):
        return False
    fields = _stat_fields(pid)
    if not fields:
        return True  # no /proc (macOS): kill(pid, 0) is all we know
    if fields[0] in (b"Z", b"X"):
        return False
    return started is None or _start(fields) in (started, None)  # one read of /proc per check
