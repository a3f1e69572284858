"""The dashboard's Workers table for workers of another host: one that said goodbye is
``exited``, one killed is ``lost`` (this host's pid check cannot see them).

"Another host" is a real worker process in a pid namespace of its own (``unshare --pid``): its
``host_identity`` differs from the session's, as a worker on another machine's does, so the
session judges it by what it hears (its goodbye, its silence), never by its pid.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("aiohttp")

import mpprogress
from mpprogress._remote.aggregator_config import AggregatorConfig
from tests.integration.conftest import wait_for
from tests.integration.netns import ROOT

pytestmark = pytest.mark.processes

WORKER = """
import sys, time
import mpprogress
op = mpprogress.get_tracker().get_operation("op")
with op.phase(sys.argv[1], total=3) as phase:
    phase.update(3)
print("done", flush=True)
if sys.argv[1] == "hangs":
    time.sleep(600)  # until killed; its phase has ended: only its silence can say it is gone
"""


def _unshare_unavailable() -> str | None:
    if shutil.which("unshare") is None:
        return "`unshare` (util-linux) is not installed"
    probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, text=True, timeout=30)
    return None if probe.returncode == 0 else f"`unshare --pid` is not permitted here: {probe.stderr.strip()}"


def _elsewhere(title: str) -> subprocess.Popen[str]:
    """A worker in a pid namespace of its own (``--kill-child``: killing the process kills it)."""
    return subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", sys.executable, "-c", WORKER, title],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)


def _workers(url: str) -> dict[str, dict[str, Any]]:
    """The dashboard's Workers table by the title of the phase each ran (``/api/state``)."""
    address = url.split("//", 1)[1].split("/", 1)[0]
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=20)
    try:
        conn.request("GET", "/api/state")
        state = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    rows: dict[str, dict[str, Any]] = {}
    for phase in state["phases"].values():
        if phase.get("worker") in state["workers"]:
            rows[phase["title"]] = state["workers"][phase["worker"]]
    return rows


def test_a_worker_of_another_host_that_said_goodbye_is_exited_and_a_killed_one_lost() -> None:
    reason = _unshare_unavailable()
    if reason is not None:
        pytest.skip(reason)
    config = AggregatorConfig(stall_timeout=1.0, lost_timeout=3.0)
    with mpprogress.session(dashboard="127.0.0.1:0", console=False, config=config) as tracker:
        url = mpprogress.dashboard_url() or ""
        tracker.start_operation("op", "Two hosts")
        leaves, hangs = _elsewhere("leaves"), _elsewhere("hangs")
        try:
            assert hangs.stdout is not None and hangs.stdout.readline() == "done\n"
            assert leaves.wait(60) == 0
            assert wait_for(lambda: {title: row["state"] for title, row in _workers(url).items()}
                            == {"leaves": "exited", "hangs": "alive"}, timeout=30), _workers(url)
            rows = _workers(url)
            assert socket.gethostname() not in (rows["leaves"]["host"], rows["hangs"]["host"])  # not this host
            assert rows["leaves"]["running"] == rows["hangs"]["running"] == 0
            hangs.kill()  # its pid namespace goes with it
            hangs.wait(30)
            assert wait_for(lambda: {title: row["state"] for title, row in _workers(url).items()}
                            == {"leaves": "exited", "hangs": "lost"}, timeout=30), _workers(url)
        finally:
            for worker in (leaves, hangs):
                worker.kill()
                worker.wait(30)
        tracker.finish_operation("op")
