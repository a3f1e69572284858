"""Giving memory back to the system after many clients went at once.

CPython frees the objects of a lost client's phases, but the C allocator keeps the pages for
later, so a relay that a flood of hostile connections swelled to hundreds of megabytes would stay
that size for good.  After the aggregator has finished many phases of lost clients, it runs a
full collection and asks glibc to return its free pages (``malloc_trim``); elsewhere it only
collects.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

__all__ = ["RELEASE_AFTER", "give_back_memory"]

RELEASE_AFTER = 1_000
"""Phases of lost clients finished since the last release that make the next one worthwhile."""


def give_back_memory() -> bool:
    """Collect garbage and return the allocator's free pages to the system where it can.

    Returns:
        Whether the allocator was asked to return pages (glibc on Linux).
    """
    gc.collect()
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # musl and others have no malloc_trim
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim(0)
    return True
