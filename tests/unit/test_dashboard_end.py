"""How a dashboard says a run ended: workers that exited, and the last push of a stopping server."""

from __future__ import annotations

import http.client
import io
import json
import socket

import pytest

pytest.importorskip("aiohttp")

from mpprogress import BaseProgressTracker
from mpprogress._base.events import OperationStarted, PhaseFinished, PhaseStarted, Worker
from mpprogress._core.departures import Departure, Departures
from mpprogress._dashboard.hub import run_outcome
from mpprogress._dashboard.live import WorkerBook, process_exists
from mpprogress._dashboard.model import State
from mpprogress._wiring.dashboard import open_dashboard
from mpprogress.testing import FakeClock


def test_a_worker_whose_process_is_gone_is_exited_unless_it_left_phases_open() -> None:
    here = socket.gethostname()
    running = {11, 12, 13}
    clock = FakeClock()
    book = WorkerBook(get_time=clock, exists=lambda pid: pid in running)
    book.apply([OperationStarted("op", "Run"),
                PhaseStarted("op", "a", worker=Worker(here, 11)), PhaseFinished("op", "a"),
                PhaseStarted("op", "b", worker=Worker(here, 12)),  # left open
                PhaseStarted("op", "c", worker=Worker("elsewhere", 13)), PhaseFinished("op", "c")])
    clock.advance(2)
    book.check_exits()
    assert {row["pid"]: row["state"] for row in book.rows().values()} == {11: "alive", 12: "alive", 13: "alive"}
    running.clear()  # every process gone
    clock.advance(2)
    book.check_exits()
    # 11 ended its phases, then its process: exited; 12 left "b" open: it ends as lost, and so
    # does the worker; 13's pid means nothing on this host
    assert {row["pid"]: row["state"] for row in book.rows().values()} == {11: "exited", 12: "alive", 13: "alive"}
    book.apply([PhaseFinished("op", "b", success=False, reason="lost")])
    clock.advance(2)
    book.check_exits()
    assert {row["pid"]: row["state"] for row in book.rows().values()} == {11: "exited", 12: "lost", 13: "alive"}


def test_how_a_worker_of_any_host_left_is_final_and_one_with_phases_running_shows_alive() -> None:
    clock = FakeClock()
    book = WorkerBook(get_time=clock, exists=lambda pid: True)
    far, near, back = Worker("far", 1), Worker("near", 1), Worker("far", 2)
    book.apply([OperationStarted("op", "Run"),
                PhaseStarted("op", "a", worker=far), PhaseFinished("op", "a"),
                PhaseStarted("op", "b", worker=near), PhaseFinished("op", "b"),
                PhaseStarted("op", "c", worker=back)])  # its finish is still on its way
    book.leave([Departure(far, "exited"), Departure(near, "lost"), Departure(back, "exited"),
                Departure(Worker("never seen", 9), "lost")])
    states = {(row["host"], row["pid"]): row["state"] for row in book.rows().values()}
    assert states == {("far", 1): "exited", ("near", 1): "lost", ("far", 2): "alive"}
    book.apply([PhaseFinished("op", "c")])
    book.leave([Departure(near, "exited")])  # lost is for good
    states = {(row["host"], row["pid"]): row["state"] for row in book.rows().values()}
    assert states == {("far", 1): "exited", ("near", 1): "lost", ("far", 2): "exited"}


def test_departures_are_read_once_each_and_bounded() -> None:
    log = Departures(keep=2)
    seen, gone = log.since(0)
    assert (seen, gone) == (0, [])
    for pid in range(5):
        log.add(Worker("h", pid), "exited")
    seen, gone = log.since(1)  # a reader that fell behind misses the oldest kept no longer
    assert (seen, [d.worker.pid for d in gone]) == (5, [3, 4])
    log.add(Worker("h", 5), "lost")
    assert log.since(seen) == (6, [Departure(Worker("h", 5), "lost")])


@pytest.mark.processes
def test_process_exists_tells_a_running_process_from_a_gone_one() -> None:
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert process_exists(1) and not process_exists(child.pid)


def test_the_outcome_of_a_run_is_the_worst_of_its_operations() -> None:
    def state(*rows: tuple[bool, str | None]) -> State:
        return State(operations={str(n): {"finished": done, "outcome": outcome} for n, (done, outcome) in
                                 enumerate(rows)})

    assert run_outcome(state()) == "finished"
    assert run_outcome(state((True, "finished"), (True, "failed"))) == "failed"
    assert run_outcome(state((True, "failed"), (True, "cancelled"))) == "cancelled"
    assert run_outcome(state((True, "cancelled"), (False, None))) == "interrupted"


def test_a_closing_dashboard_pushes_the_final_state_then_how_the_run_ended() -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    dashboard = open_dashboard(tracker, "127.0.0.1:0", out=io.StringIO())
    conn = http.client.HTTPConnection("127.0.0.1", dashboard.server.port, timeout=20)
    conn.request("GET", "/api/events")
    response = conn.getresponse()
    lines: list[str] = []
    while not lines or not lines[-1].startswith("data: "):
        lines.append(response.fp.readline().decode().rstrip("\n"))
    op = tracker.start_operation("op", "Cancelled run")
    op.start_phase("p", "fetch", total=10).update(7)
    op.cancel()
    dashboard.close()  # within a tick of the last change: the page must still get it
    rest = []
    while True:  # the stream's lines until the server closed it
        try:
            line = response.fp.readline()
        except OSError:
            break
        if not line:
            break
        rest.append(line.decode().rstrip("\r\n"))
    conn.close()
    events = [(lines_[0][7:], json.loads(lines_[-1][6:])) for lines_ in _events(rest)]
    assert [name for name, _ in events][-1] == "end"
    final: dict[str, dict[str, object]] = {}
    for _, data in events[:-1]:
        final.update(data.get("phases", {}))
    assert final["p"]["current"] == 7
    assert events[-1][1]["outcome"] == "interrupted" and events[-1][1]["source"] == "session"
    tracker.close()


def _events(lines: list[str]) -> list[list[str]]:
    """``[event line, data line]`` pairs, in order (the chunked encoding's size lines skipped)."""
    pairs: list[list[str]] = []
    for line in lines:
        if line.startswith("event: "):
            pairs.append([line])
        elif line.startswith("data: ") and pairs and len(pairs[-1]) == 1:
            pairs[-1].append(line)
    return pairs
