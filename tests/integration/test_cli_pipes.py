"""The command line behind a pipe whose reader goes away (``mpprogress demo --format json | head``).

Like ``yes | head``: the command stops promptly and quietly (no traceback, no "removing progress
callback" line) with the status a SIGPIPE death reports (141), after cleaning up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from mpprogress._cli import EXIT_BROKEN_PIPE

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "mpprogress", *args],
        cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _close_after(proc: subprocess.Popen[str], lines: int) -> tuple[int, str]:
    """Read ``lines`` lines of the command's stdout, close it (the reader leaves), wait."""
    assert proc.stdout is not None and proc.stderr is not None
    for _ in range(lines):
        assert proc.stdout.readline()
    proc.stdout.close()
    try:
        status = proc.wait(timeout=60)
    finally:
        proc.kill()
    return status, proc.stderr.read()


def test_demo_json_into_a_reader_that_leaves_exits_quietly() -> None:
    status, err = _close_after(_start("demo", "--format", "json", "--companies", "2", "--workers", "2"), 2)
    assert status == EXIT_BROKEN_PIPE == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err and "removing progress callback" not in err


def test_relay_json_into_a_reader_that_leaves_stops(tmp_path: Path) -> None:
    address = f"ipc://{tmp_path}/relay.sock"
    relay = _start("relay", "--bind", address, "--format", "json")
    worker = textwrap.dedent(
        f"""
        import mpprogress
        with mpprogress.connect({address!r}) as tracker:
            with tracker.operation("piped") as op:
                with op.phase("items", total=50) as phase:
                    for _ in range(50):
                        phase.update(1)
        """
    )
    subprocess.run([sys.executable, "-c", worker], cwd=ROOT, env=_env(), check=True, timeout=60)
    status, err = _close_after(relay, 1)
    assert status == EXIT_BROKEN_PIPE
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert "frames applied=" in err  # it still said what it received, on stderr
