"""After a SIGKILL of a session, its private socket directory stays; the next start removes
it (``remove_stale_private_dirs``), while a live session's directory and anything that is not
such a directory are left alone."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mpprogress
from mpprogress._remote.addresses import IPC_NAME
from mpprogress._remote.stale import remove_stale_private_dirs

ROOT = Path(__file__).resolve().parents[2]


def _listened(path: Path) -> bool:
    """Whether a process still accepts connections on the Unix socket at ``path``."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return False
    finally:
        probe.close()
    return True


@pytest.fixture
def temp_root() -> Iterator[Path]:
    """A short temporary directory of its own (a Unix socket path has at most 107 bytes)."""
    root = Path(tempfile.mkdtemp(prefix="sj"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.processes
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_killed_sessions_directory_is_removed_at_the_next_start(
    method: str, temp_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env.update(PYTHONPATH=str(ROOT), TMPDIR=str(temp_root))
    killed = subprocess.Popen([sys.executable, str(Path(__file__).with_name("signal_parent.py")), method,
                               str(tmp_path)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    assert killed.stdout is not None
    try:
        left = Path(killed.stdout.readline().split()[1][len("ipc://"):]).parent
        assert killed.stdout.readline().strip() == "ready"
    finally:
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(10)
    assert left.parent == temp_root and (left / IPC_NAME).exists()  # what SIGKILL leaves
    deadline = time.monotonic() + 60  # the killed processes' sockets close as the kernel reaps them
    while _listened(left / IPC_NAME) and time.monotonic() < deadline:
        time.sleep(0.1)

    other = temp_root / "mpprogress-notours"  # a look-alike holding something else: kept
    other.mkdir(mode=0o700)
    (other / IPC_NAME).write_text("not a socket")
    monkeypatch.setattr(tempfile, "tempdir", str(temp_root))
    old = left.stat().st_mtime - 60  # made a minute ago: not one being set up right now
    os.utime(left, (old, old))
    with mpprogress.session(console=False):  # making its own directory removes the stale one
        live = Path(os.environ["MPPROGRESS_ADDRESS"][len("ipc://"):]).parent
        assert live.parent == temp_root
        assert not left.exists()
        assert live.exists() and other.exists()
        assert remove_stale_private_dirs("mpprogress-", IPC_NAME, directory=str(temp_root), min_age=0) == []
