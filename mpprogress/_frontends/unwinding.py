"""Why a loop over a bar ended early: ``break``, or an exception unwinding through it.

A generator learns only that it was closed (``GeneratorExit``), never why.  When an exception
leaves the body of ``for x in bar:``, CPython adds the loop's frame to the exception's traceback
*before* it drops the loop's iterator; ``break`` and ``return`` drop it with a plain ``POP_TOP``.
So when the frame that closed the generator is at another instruction, a traceback object for
that frame at that very instruction, if one exists, is the exception on its way out.  Finding
it walks the garbage collector's referrers (a scan of the tracked objects), which is done only
for a loop that did not end by ``break``, ``return`` or exhaustion.  On CPython 3.12 and later the
traceback leads to the exception, whose type becomes the reason; on 3.11 only that an exception
ended the loop is known.
"""

from __future__ import annotations

import dis
import gc
from types import FrameType, TracebackType

from .._base.port import failure_reason

__all__ = ["UNWOUND", "exception_reason", "unwinding_reason"]

UNWOUND = "error"
"""The reason when an exception ended a loop but its type cannot be known."""

_NORMAL = {dis.opmap[name] for name in ("POP_TOP", "RETURN_VALUE", "RETURN_CONST", "END_FOR") if name in dis.opmap}


def exception_reason(exc: BaseException) -> str:
    """A failed bar's reason: ``interrupted``/``cancelled`` as the port names them, else the
    exception's type (``ValueError``)."""
    reason = failure_reason(exc)
    return type(exc).__name__ if reason == "error" else reason


def unwinding_reason(frame: FrameType | None) -> str | None:
    """The reason a loop in ``frame`` (the frame that closed its generator) failed, or ``None``
    when it ended by ``break``, ``return`` or an explicit ``close()``."""
    if frame is None:
        return None
    code, lasti = frame.f_code.co_code, frame.f_lasti
    if 0 <= lasti < len(code) and code[lasti] in _NORMAL:
        return None
    for ref in gc.get_referrers(frame):
        if isinstance(ref, TracebackType) and ref.tb_frame is frame and ref.tb_lasti == lasti:
            for holder in gc.get_referrers(ref):
                if isinstance(holder, BaseException) and holder.__traceback__ is ref:
                    return exception_reason(holder)
            return UNWOUND
    return None
