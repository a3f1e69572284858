"""Work items for the client-library tests (importable by spawned workers)."""

from __future__ import annotations

FAIL_AT = 137


def square(x: int) -> int:
    """``x * x``."""
    return x * x


def square_or_fail(x: int) -> int:
    """``x * x``, except that item ``FAIL_AT`` raises ``ValueError``."""
    if x == FAIL_AT:
        raise ValueError(f"item {x}")
    return x * x
