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
