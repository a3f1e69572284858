"""The job never pays for the dashboard's visitors: a session under a 256-file limit runs its
process pool to exact counts while 300 half-sent requests from 60 addresses hammer its dashboard."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.conftest import START_METHODS, wait_for
from tests.unit.test_dashboard_gate import closed_by_server, half_request

pytest.importorskip("aiohttp")

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("start_method", START_METHODS)
def test_a_job_runs_its_pool_to_exact_counts_while_its_dashboard_is_flooded(start_method: str) -> None:
    job = subprocess.Popen([sys.executable, "-m", "tests.integration.dashboard_flood_job", start_method], cwd=ROOT,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    socks = []
    try:
        assert job.stdout is not None and job.stdin is not None
        port = int(job.stdout.readline())
        # 5 from each of 60 loopback addresses: more than the job's 256 open files in all
        socks = [half_request(port, f"127.0.0.{2 + n % 60}") for n in range(300)]
        # the default cap under a 256-file limit: an eighth
        assert wait_for(lambda: sum(not closed_by_server(sock) for sock in socks) <= 32, timeout=60)
        job.stdin.write("go\n")
        job.stdin.flush()
        out, err = job.communicate(timeout=120)
    finally:
        for sock in socks:
            sock.close()
        if job.poll() is None:
            job.kill()
            job.wait()
    assert job.returncode == 0, err
    assert out.strip() == "phases 8 items 800 returned 800", (out, err)


class Flood:
    """Half-sent requests opened without pause from 60 addresses, the newest 400 kept open."""

    def __init__(self, port: int) -> None:
        import threading

        self.port, self.opened, self.socks = port, 0, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            try:
                self.socks.append(half_request(self.port, f"127.0.0.{2 + self.opened % 60}"))
            except OSError:  # the server cannot take more: try again
                continue
            self.opened += 1
            if len(self.socks) > 400:
                self.socks.pop(0).close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(30)
        for sock in self.socks:
            sock.close()


def test_a_relays_workers_are_heard_while_its_dashboard_is_flooded() -> None:
    import json
    import resource
    import threading

    from tests.integration.test_relay import _env, _free_port

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    http, zmq_port = _free_port(), _free_port()
    relay = subprocess.Popen([sys.executable, "-m", "mpprogress", "relay", "--bind", f"tcp://127.0.0.1:{zmq_port}",
                              "--format", "json", "--http", f"127.0.0.1:{http}"], cwd=ROOT, env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=low_limit)
    out: list[str] = []
    err: list[str] = []
    for stream, lines in ((relay.stdout, out), (relay.stderr, err)):
        threading.Thread(target=lambda s=stream, acc=lines: acc.extend(s), daemon=True).start()
    flood = None
    try:
        assert wait_for(lambda: any("mpprogress dashboard: http://" in line for line in err), timeout=60), err
        flood = Flood(http)
        assert wait_for(lambda: flood.opened >= 300, timeout=60)  # more than the relay's 256 files, and on
        worker = subprocess.run([sys.executable, "-m", "tests.integration.relay_worker", "flooded", "--phases", "3",
                                 "--items", "1000"], cwd=ROOT, env=_env(MPPROGRESS_ADDRESS=f"tcp://127.0.0.1:{zmq_port}"),
                                capture_output=True, text=True, timeout=120)
        assert flood.opened >= 300 and flood._thread.is_alive()
        assert worker.returncode == 0 and worker.stdout == "done\n", worker.stderr
        assert "not delivered" not in worker.stderr and "warning" not in worker.stderr, worker.stderr

        def finished() -> list[dict[str, object]]:
            events = [json.loads(line) for line in list(out) if line.strip()]
            return [e for e in events if e["type"] == "phase_finished"]

        assert wait_for(lambda: len(finished()) == 3, timeout=30)
        assert sorted((e["data"]["current"], e["data"]["success"]) for e in finished()) == [(1000, True)] * 3  # type: ignore[index]
    finally:
        if flood is not None:
            flood.close()
        relay.terminate()
        relay.wait(30)
