"""The notebook display without a kernel: ``NotebookSink`` drawing into a recorded output, and
``in_notebook``'s test of the process it runs in."""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import types
from collections.abc import Iterator
from typing import Any

import pytest

from mpprogress._core.tracker import BaseProgressTracker
from mpprogress.adapters.notebook import NotebookProgressTracker, NotebookSink
from mpprogress.adapters.notebook._kernel import in_notebook
from mpprogress.testing import FakeClock


class RecordedOutput:
    """Stands in for an IPython display handle: keeps every bundle it was given."""

    made: list[RecordedOutput] = []

    def __init__(self, data: dict[str, str]) -> None:
        self.bundles = [data]
        self.lock = threading.Lock()
        RecordedOutput.made.append(self)

    def update(self, data: dict[str, str]) -> None:
        with self.lock:
            self.bundles.append(data)

    @property
    def text(self) -> str:
        return self.bundles[-1]["text/plain"]


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_final_output_keeps_exact_counts_and_summary() -> None:
    tracker = BaseProgressTracker()
    sink = NotebookSink(tracker, output=RecordedOutput)
    output = RecordedOutput.made[-1]
    with tracker.operation("Indexing") as op:
        with op.phase("files", total=1234) as phase:
            for _ in range(1234):
                phase.update(1)
        with op.phase("pages", total=10) as phase:
            phase.update(7)
    sink.close()
    text = output.text
    assert "1,234/1,234" in text and "7/10" in text
    # 7 of 10 pages: the operation is incomplete, in the vocabulary's words and symbols (issue 25)
    assert "Operation Incomplete" in text and "◐ Incomplete Indexing — 1 of 2 phases succeeded (1 incomplete)" in text
    html = output.bundles[-1]["text/html"]
    shown = re.sub("<[^>]+>", "", html)  # the HTML's text, without its colour spans
    assert "<pre" in html and "1,234/1,234" in shown
    assert "Operation Incomplete" in shown and "◐ pages  incomplete" in shown and "✔ files" in shown
    tracker.close()


def test_redraws_live_only_when_something_changed() -> None:
    clock = FakeClock()  # elapsed time, rate and spinner stand still: only the count can change
    tracker = BaseProgressTracker(get_time=clock)
    sink = NotebookSink(tracker, output=RecordedOutput, max_rate=50, get_time=clock)
    output = RecordedOutput.made[-1]
    with tracker.operation("Live") as op, op.phase("step", total=5) as phase:
        phase.update(3)
        wait_for(lambda: "3/5" in output.text)
        drawn = len(output.bundles)
        time.sleep(0.2)  # ten ticks with nothing new: no new output message
        assert len(output.bundles) == drawn
        phase.update(2)
    sink.close()
    assert "5/5" in output.text
    tracker.close()


def test_closing_with_work_running_leaves_its_last_state() -> None:
    tracker = BaseProgressTracker()
    sink = NotebookSink(tracker, output=RecordedOutput)
    output = RecordedOutput.made[-1]
    op = tracker.start_operation("unfinished", "Unfinished")
    phase = op.start_phase("half", "half", total=4)
    phase.update(2)
    sink.close()
    assert "2/4" in output.text
    sink.close()  # idempotent
    tracker.close()


def test_log_records_show_above_the_frame_cleaned() -> None:
    recorded = BaseProgressTracker()
    sink = NotebookSink(recorded, output=RecordedOutput)
    out = RecordedOutput.made[-1]
    logger = logging.getLogger("tests.notebook")
    handler = sink.logging_handler()
    logger.addHandler(handler)
    try:
        with recorded.operation("With logs") as op, op.phase("p", total=1) as phase:
            logger.warning("fetched \x1b[31mpage\x1b[0m %d", 3)
            phase.update(1)
    finally:
        logger.removeHandler(handler)
    sink.close()
    text = out.text
    assert "fetched [31mpage[0m 3" in text  # the escape character itself is removed
    assert "\x1b" not in text
    assert text.index("fetched") < text.index("● With logs")
    recorded.close()


def test_in_notebook_only_for_a_kernel_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not in_notebook()
    assert "IPython" not in sys.modules  # the check imports nothing

    class ZMQInteractiveShell:
        pass

    class TerminalInteractiveShell:
        pass

    fake = types.ModuleType("IPython")
    fake.get_ipython = ZMQInteractiveShell  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert in_notebook()

    class HostedShell(ZMQInteractiveShell):
        pass

    fake.get_ipython = HostedShell  # type: ignore[attr-defined]
    assert in_notebook()
    fake.get_ipython = TerminalInteractiveShell  # type: ignore[attr-defined]
    assert not in_notebook()
    fake.get_ipython = lambda: None  # type: ignore[attr-defined]
    assert not in_notebook()


def test_session_picks_the_notebook_display_in_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    import mpprogress
    from mpprogress.adapters import notebook
    from mpprogress.adapters.notebook import _kernel as notebook_kernel

    monkeypatch.setattr(notebook_kernel, "in_notebook", lambda: True)
    monkeypatch.setattr(notebook, "ipython_output", RecordedOutput)
    with mpprogress.session() as tracker:
        output = RecordedOutput.made[-1]
        with tracker.operation("In a kernel") as op, op.phase("items", total=3) as phase:
            phase.update(3)
    assert "3/3" in output.text
    assert "Operation Succeeded" in output.text


def test_notebook_tracker_owns_its_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    from mpprogress.adapters import notebook

    monkeypatch.setattr(notebook, "ipython_output", RecordedOutput)
    with NotebookProgressTracker() as tracker:
        output = RecordedOutput.made[-1]
        with tracker.operation("Own") as op, op.phase("items", total=2) as phase:
            phase.update(2)
    assert "2/2" in output.text


@pytest.fixture
def remote_phase() -> Iterator[tuple[Any, Any, RecordedOutput]]:
    """A notebook display of a tracker holding a worker's phase at 40/100: (op, phase, output)."""
    from mpprogress._base.events import Worker

    tracker = BaseProgressTracker()
    sink = NotebookSink(tracker, output=RecordedOutput, max_rate=50, width=140)
    op = tracker.start_operation("op", "Op")
    remote = op.start_phase("remote", "Remote", total=100, worker=Worker("box", 11))
    remote.update(40)
    yield op, remote, RecordedOutput.made[-1]
    sink.close()
    tracker.close()


def test_stalled_and_resumed_rows_show_as_the_console_shows_them(remote_phase: Any) -> None:
    op, remote, output = remote_phase
    resumed = op.start_phase("resumed", "Resumed", total=1000)
    resumed.resumed_from = 400  # as a tracker resuming an earlier run's journal sets it
    resumed.current = 400
    remote.stalled = True  # as the aggregator's applier flags it while its worker is silent
    resumed.update(1)  # an event: the frame is redrawn
    wait_for(lambda: "stalled — no news from its worker" in output.text and "resumed at 400/1,000" in output.text)
    line = next(line for line in output.text.splitlines() if "Remote" in line)
    assert line.lstrip().startswith("? Remote  stalled — no news from its worker") and "eta" not in line
    assert "40/100" in line
    assert "401/1,000" in next(line for line in output.text.splitlines() if "Resumed" in line)
    remote.stalled = False  # heard from again
    remote.update(1)
    wait_for(lambda: "stalled" not in output.text)


def test_a_silent_stall_is_drawn_without_any_event(remote_phase: Any) -> None:
    _, remote, output = remote_phase
    wait_for(lambda: "40/100" in output.text)
    remote.stalled = True  # the applier sends no event for a stall: only the periodic redraw shows it
    wait_for(lambda: "stalled — no news from its worker" in output.text)
