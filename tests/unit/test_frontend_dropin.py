"""The tqdm front end as a drop-in: ``patch_tqdm`` whatever the import order, bars closed in any
order, failures where an exception ends a bar, and the attributes client code reads."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import io
import math
import sys
import threading
from typing import Any

import pytest

import mpprogress
from mpprogress._base.snapshot import PhaseSnapshot
from mpprogress._frontends.patch import patch_tqdm
from mpprogress._frontends.tqdm import TqdmKeyError, tqdm

tqdm_std = pytest.importorskip("tqdm.std")
import tqdm.asyncio as tqdm_asyncio  # noqa: E402  # bound at import time, before any patch, as libraries do
import tqdm.contrib.concurrent as tqdm_concurrent  # noqa: E402
from tqdm.auto import tqdm as bound_auto  # noqa: E402


class UserBar(tqdm_std.tqdm):  # a subclass user code made before the patch
    def update(self, n: float = 1) -> bool | None:
        self.calls = getattr(self, "calls", 0) + 1
        return super().update(n)


def phases(tracker: mpprogress.BaseProgressTracker) -> dict[str, PhaseSnapshot]:
    return {p.title: p for op in tracker.snapshot().operations for p in op.all_phases()}


def family_state() -> dict[type, dict[str, Any]]:
    classes = [tqdm_std.tqdm, tqdm_asyncio.tqdm_asyncio, UserBar]
    for module_name, class_name in (("tqdm.rich", "tqdm_rich"), ("tqdm.notebook", "tqdm_notebook")):
        with contextlib.suppress(Exception):
            classes.append(getattr(importlib.import_module(module_name), class_name))
    return {cls: dict(vars(cls)) for cls in classes}


# --- 1. the patch reaches every bar, whenever its module was imported ------------------------


def test_classes_bound_before_the_patch_report_and_are_restored_exactly(frontend_tracker: Any) -> None:
    before = family_state()
    with patch_tqdm():
        assert sum(bound_auto(range(12), desc="auto")) == 66
        bar = UserBar(total=3, desc="user")
        for _ in range(3):
            bar.update()
        bar.close()
        assert bar.calls == 3
        assert tqdm_concurrent.thread_map(str, range(5), desc="contrib", max_workers=2) == list("01234")
    assert family_state() == before
    found = phases(frontend_tracker)
    assert {t: (p.current, p.total, p.success) for t, p in found.items()} == {
        "auto": (12, 12, True), "user": (3, 3, True), "contrib": (5, 5, True),
    }
    out = io.StringIO()  # tqdm draws again, on its own
    with tqdm_std.tqdm(range(3), file=out, desc="plain") as plain:
        list(plain)
    assert "plain: 100%" in out.getvalue() and "plain" not in phases(frontend_tracker)


def test_a_module_first_imported_inside_the_block_gets_tqdm_back(frontend_tracker: Any) -> None:
    sys.modules.pop("tqdm.contrib.itertools", None)
    with patch_tqdm():
        itertools_module = importlib.import_module("tqdm.contrib.itertools")
        assert list(itertools_module.product(range(2), range(2))) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    out = io.StringIO()
    list(itertools_module.product(range(2), range(3), file=out))
    assert "6/6" in out.getvalue()
    assert [(p.current, p.total) for p in phases(frontend_tracker).values()] == [(4, 4)]


def test_nested_patches_restore_at_the_outermost_and_close_what_is_left_open(frontend_tracker: Any) -> None:
    before = family_state()
    with patch_tqdm():
        with patch_tqdm():
            pass
        left = tqdm_std.tqdm(total=5, desc="left open")  # still patched after the inner patch
        left.update(2)
    assert family_state() == before
    phase = phases(frontend_tracker)["left open"]
    assert (phase.current, phase.success, phase.reason) == (2, False, "patch ended")
    del left
    gc.collect()  # tqdm's own __del__ meets a closed bar: nothing happens


def test_unknown_keywords_raise_tqdms_own_error_under_the_patch(frontend_tracker: Any) -> None:
    with pytest.raises(TqdmKeyError, match="bogus"):
        tqdm(total=1, bogus=1)
    with patch_tqdm(), pytest.raises(tqdm_std.TqdmKeyError, match="bogus"):
        bound_auto(total=1, bogus=1)
    assert phases(frontend_tracker) == {}


# --- 3. a bar's counts and outcome never depend on when another bar closes ------------------------


def test_bars_closed_out_of_order_keep_their_counts_and_outcomes(frontend_tracker: Any) -> None:
    first = tqdm(total=10, desc="first")
    second = tqdm(total=10, desc="second")  # nested under first: it is open
    first.update(10)
    first.close()
    second.update(10)
    assert phases(frontend_tracker)["first"].finished is False  # waits for the bar under it
    second.close()
    found = phases(frontend_tracker)
    assert {t: (p.current, p.finished, p.success) for t, p in found.items()} == {
        "first": (10, True, True), "second": (10, True, True),
    }
    (op,) = frontend_tracker.snapshot().operations
    assert op.finished and op.success


def test_a_leaked_bar_collected_later_does_not_end_the_bars_opened_after_it(frontend_tracker: Any) -> None:
    leaked = tqdm(total=4, desc="leaked")
    leaked.update(1)
    after = tqdm(total=6, desc="after")
    del leaked
    gc.collect()
    for _ in range(6):
        after.update()
    after.close()
    found = phases(frontend_tracker)
    assert (found["after"].current, found["after"].success) == (6, True)
    assert (found["leaked"].current, found["leaked"].finished) == (1, True)


def test_bars_closed_out_of_order_in_threads_count_exactly(frontend_tracker: Any) -> None:
    outer = tqdm(total=4, desc="outer")
    inner = [tqdm(total=25, desc=f"chunk {i}") for i in range(4)]  # each nested under the last
    outer.close()

    def work(bar: tqdm[Any]) -> None:
        for _ in range(25):
            bar.update()
        bar.close()

    threads = [threading.Thread(target=work, args=(bar,)) for bar in inner]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = phases(frontend_tracker)
    assert [(found[f"chunk {i}"].current, found[f"chunk {i}"].success) for i in range(4)] == [(25, True)] * 4


# --- 4. failures shown as failures ------------------------------------------------------------


def test_a_bar_closed_in_finally_while_an_exception_propagates_fails(frontend_tracker: Any) -> None:
    with pytest.raises(ValueError):
        bar = tqdm(total=5, desc="finally")
        try:
            bar.update(2)
            raise ValueError("boom")
        finally:
            bar.close()
    phase = phases(frontend_tracker)["finally"]
    assert (phase.current, phase.success, phase.reason) == (2, False, "ValueError: boom")


def test_a_bar_made_and_closed_inside_an_except_block_succeeds(frontend_tracker: Any) -> None:
    try:
        raise KeyError("handled")
    except KeyError:
        with tqdm(total=2, desc="retry") as bar:
            bar.update(2)
        bar.close()
    phase = phases(frontend_tracker)["retry"]
    assert (phase.current, phase.success) == (2, True)


def test_a_loop_whose_body_raises_fails_and_break_does_not(frontend_tracker: Any) -> None:
    def consume() -> None:
        for item in tqdm(range(10), desc="raising"):
            if item == 3:
                raise ValueError("body")

    with pytest.raises(ValueError):
        consume()
    for item in tqdm(range(10), desc="breaking"):
        if item == 3:
            break
    iterator = iter(tqdm(range(10), desc="closed"))
    next(iterator)
    iterator.close()  # an explicit close is a normal end
    found = phases(frontend_tracker)
    expected = "error" if sys.version_info < (3, 12) else found["raising"].reason  # 3.12+: the type
    assert (found["raising"].current, found["raising"].success, found["raising"].reason) == (3, False, expected)
    assert expected in ("error", "ValueError: body")
    assert (found["breaking"].current, found["breaking"].success) == (3, True)
    assert (found["closed"].current, found["closed"].success) == (0, True)  # as tqdm: counted on resuming


# --- 5. attributes and behaviours client code relies on ---------------------------------------


def test_fp_pos_ordering_lock_and_len_are_tqdms(frontend_tracker: Any) -> None:
    assert "_lock" in vars(tqdm) or hasattr(tqdm, "_lock")  # before any get_lock(), as tqdm's
    first, second = tqdm(total=1), tqdm(total=1, file=sys.stdout)
    assert (first.fp, second.fp) == (sys.stderr, sys.stdout)
    assert (first.pos, second.pos) == (0, 1)
    assert first < second and second >= first and sorted([second, first]) == [first, second]
    with pytest.raises(TypeError):
        len(tqdm(x for x in range(3)))  # tqdm: no length known
    assert len(tqdm(range(4))) == 4
    first.close()
    second.close()
    third = tqdm(total=1)
    assert third.pos == 0  # the freed position
    third.close()


def test_totals_postfix_and_reset_as_tqdm_keeps_them(frontend_tracker: Any) -> None:
    class Note:
        def __str__(self) -> str:
            return "note"

    note = Note()
    bar = tqdm(total=0, desc="generator", postfix=note)  # tqdm.contrib passes total=0 for generators
    assert bar.postfix is note
    bar.update(9)
    bar.refresh()
    assert (bar.total, phases(frontend_tracker)["generator"].total) == (0, None)  # 9 of unknown, not 9/0
    assert phases(frontend_tracker)["generator"].current == 9
    bar.reset(total=math.inf)
    assert bar.total is None
    bar.update(3)
    bar.close()
    phase = phases(frontend_tracker)["generator"]
    assert (phase.total, phase.current) == (None, 3)


def test_write_without_stdout_does_nothing(frontend_tracker: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    tqdm.write("nowhere")


def test_a_bar_drawn_into_a_redirected_stderr_is_no_row(frontend_tracker: Any) -> None:
    with contextlib.redirect_stderr(io.StringIO()):
        check = tqdm(total=200, desc="option check")  # mpire's throw-away bar
    check.update(5)
    assert check.n == 5
    del check
    gc.collect()
    assert phases(frontend_tracker) == {}


def test_send_and_gather_with_return_exceptions(frontend_tracker: Any) -> None:
    def echo() -> Any:
        received = None
        while True:
            received = yield received

    generator = echo()
    bar = tqdm(generator, total=3, desc="send")
    next(generator)
    assert bar.send(7) == 7
    bar.close()

    async def fail(i: int) -> int:
        if i == 1:
            raise ValueError(i)
        return i * 2

    async def main() -> list[Any]:
        return await tqdm.gather(*(fail(i) for i in range(3)), desc="gather", return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] == 0 and isinstance(results[1], ValueError) and results[2] == 4
    gathered = phases(frontend_tracker)["gather"]
    assert (gathered.current, gathered.finished, gathered.success) == (3, True, True)


def test_bars_made_in_many_threads_at_once_all_open(frontend_tracker: Any) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)
    interval = sys.getswitchinterval()

    def make() -> None:
        start.wait()
        try:
            for _ in range(60):
                held = [tqdm(total=1, desc="t") for _ in range(12)]
                for bar in held:
                    bar.update()
                    bar.close()
        except BaseException as exc:  # a bar that could not be made
            errors.append(exc)

    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the set changes mid-scan
    try:
        threads = [threading.Thread(target=make) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert len(tqdm._instances) == 0
