"""Progress from inside Ray tasks and actors: a local ``ray.init(num_cpus=2)``.

The session listens on TCP with CURVE required; the keys reach Ray's worker processes only
through the runtime environment ``integrations.ray.runtime_env`` builds (its setup hook).
One Ray instance and one session serve the module (starting Ray takes ~10 s here).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

ray = pytest.importorskip("ray")

import mpprogress  # noqa: E402
from mpprogress.integrations.carry import WorkerSettings  # noqa: E402
from mpprogress.integrations.ray import init  # noqa: E402
from mpprogress.security import CurveServerKeys, generate_keys  # noqa: E402
from mpprogress.testing import RecordingCallback  # noqa: E402
from tests.integration.conftest import wait_for  # noqa: E402
from tests.integration.netns import ROOT  # noqa: E402

pytestmark = pytest.mark.processes


@ray.remote
def count_items(operation_id: str, number: int, items: int) -> int:
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"task {number}", total=items) as phase:
        for _ in range(items):
            phase.update(1)
    return number


@ray.remote
class Crawler:
    def crawl(self, operation_id: str, items: int) -> None:
        op = mpprogress.get_tracker().get_operation(operation_id)
        with op.phase("actor crawl", total=items) as phase:
            for _ in range(items):
                phase.update(1)
                time.sleep(0.01)


@pytest.fixture(scope="module")
def reporting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, RecordingCallback]]:
    keys = generate_keys(tmp_path_factory.mktemp("ray") / "keys", ("ray",))
    events = RecordingCallback()
    with mpprogress.session("tcp://127.0.0.1:0", console=False, sinks=[events],
                            security=CurveServerKeys.load(keys)) as tracker:
        init(WorkerSettings.capture(curve_dir=keys), num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
        try:
            yield tracker, events
        finally:
            ray.shutdown()


def _finished(events: RecordingCallback, prefix: str) -> list[dict[str, Any]]:
    return [e.data for e in events.of_type("phase_finished") if e.data["title"].startswith(prefix)]


def test_a_hundred_tasks_exact(reporting: Any) -> None:
    tracker, events = reporting
    with tracker.operation("ray job") as op:
        results = ray.get([count_items.remote(op.operation_id, n, 300) for n in range(100)], timeout=120)
    assert sorted(results) == list(range(100))
    assert wait_for(lambda: len(_finished(events, "task ")) == 100, 30)
    assert all((p["current"], p["success"]) == (300, True) for p in _finished(events, "task "))


def test_an_actor_killed_mid_phase_is_lost(reporting: Any) -> None:
    tracker, events = reporting
    with tracker.operation("ray actor") as op:
        crawler = Crawler.remote()  # type: ignore[attr-defined]
        crawler.crawl.remote(op.operation_id, 100_000)
        assert wait_for(lambda: any(e.data["title"] == "actor crawl" and e.data["current"] > 0
                                    for e in events.of_type("progress_update")), 60)
        ray.kill(crawler)
        assert wait_for(lambda: _finished(events, "actor crawl"), 15)
    phase, = _finished(events, "actor crawl")
    assert (phase["success"], phase["reason"]) == (False, "lost"), phase
    assert 0 < phase["current"] < 100_000


def test_the_ray_example_runs() -> None:
    import subprocess
    import sys

    from tests.integration.netns import clean_env

    done = subprocess.run([sys.executable, "examples/ray_progress.py", "--tasks", "4", "--items", "50"],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=180)
    assert done.stdout.splitlines()[-1] == "RESULT tasks=4 items=200/200 actor=300/300", done.stderr[-2000:]
