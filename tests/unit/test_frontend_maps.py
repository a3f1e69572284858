"""``thread_map`` (a row per thread), in one process."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mpprogress._frontends.maps import thread_map
from mpprogress._frontends.tqdm import tqdm as ours


def test_thread_map_keeps_order_and_shows_a_row_per_thread(frontend_tracker: Any) -> None:
    seen: set[int] = set()

    def double(x: int) -> int:
        seen.add(threading.get_ident())
        return 2 * x

    assert thread_map(double, range(100), max_workers=3, chunksize=4, desc="doubling") == [2 * x for x in range(100)]
    (op,) = frontend_tracker.snapshot().operations
    overall, *rows = op.phases
    assert (op.title, op.success, overall.title, overall.current, overall.total) == (
        "doubling", True, "doubling", 100, 100,
    )
    assert len(rows) == len(seen) and all(row.title.startswith("thread ") for row in rows)
    assert sum(row.current for row in rows) == 100 and all(row.success for row in rows)
    assert rows[0].message is not None  # the item each thread is on


def test_thread_map_zips_iterables_and_nests_bars_in_its_operation(frontend_tracker: Any) -> None:
    def add(a: int, b: int) -> int:
        return sum(1 for _ in ours(range(a + b), desc=f"sum {a}+{b}"))

    assert thread_map(add, [1, 2, 3], [10, 20], max_workers=2) == [11, 22]
    (op,) = frontend_tracker.snapshot().operations
    assert op.title == "add"
    assert sorted(p.title for p in op.phases if p.title.startswith("sum")) == ["sum 1+10", "sum 2+20"]


def test_a_failing_item_fails_the_map_and_cancels_the_rest(frontend_tracker: Any) -> None:
    started = threading.Event()

    def work(x: int) -> int:
        if x == 5:
            raise ValueError("bad item")
        started.set()
        return x

    with pytest.raises(ValueError, match="bad item"):
        thread_map(work, range(50), max_workers=2, desc="failing")
    (op,) = frontend_tracker.snapshot().operations
    overall = op.phases[0]
    assert (op.success, overall.success, overall.reason, op.cancelled) == (False, False, "ValueError: bad item", True)
    assert overall.current < 50


def test_thread_map_disabled_is_a_plain_map(frontend_tracker: Any) -> None:
    assert thread_map(str, range(3), disable=True) == ["0", "1", "2"]
    assert frontend_tracker.snapshot().operations == ()
