"""The command line refuses bad input with one line and exit status 2, never a traceback.

Each case runs the real command (``python -m mpprogress ...``) in a subprocess and checks its
whole standard error, its exit status and that nothing was started.  Also here: an unknown
option shows the subcommand's usage, and the display, like ``--format json``, ends as a SIGPIPE
death would (141) when its reader goes away.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mpprogress._cli import EXIT_BROKEN_PIPE

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mpprogress", *args],
        cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
    )


def _refused(result: subprocess.CompletedProcess[str], line: str) -> None:
    assert (result.returncode, result.stderr) == (2, line + "\n"), result.stderr
    assert result.stdout == ""


def _garbage(path: Path) -> Path:
    path.write_bytes(bytes(range(256)) * 16)
    return path


def _foreign(path: Path) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    return path


@pytest.mark.parametrize(
    ("journal", "reason"),
    [
        ("/nonexistent/x.db", "--journal /nonexistent/x.db: there is no directory /nonexistent"),
        ("{tmp}", "--journal {tmp}: is a directory, not a journal file"),
        ("/proc/x.db", "cannot open journal /proc/x.db: unable to open database file"),
        ("", "--journal needs a file path, got an empty one"),
        ("garbage.db", "garbage.db is not a journal: file is not a database"),
        ("foreign.db", "foreign.db is an SQLite database but not an mpprogress journal"),
    ],
    ids=["missing-directory", "a-directory", "proc", "empty", "garbage", "foreign-sqlite"],
)
def test_demo_refuses_a_journal_it_cannot_open_in_one_line(tmp_path: Path, journal: str, reason: str) -> None:
    _garbage(tmp_path / "garbage.db")
    _foreign(tmp_path / "foreign.db")
    journal, reason = journal.format(tmp=tmp_path), reason.format(tmp=tmp_path)
    result = _cli("demo", "--companies", "1", "--pages", "60", "--journal", journal, cwd=tmp_path)
    _refused(result, f"mpprogress demo: error: {reason}")
    assert (tmp_path / "foreign.db").stat().st_size > 0  # left as it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.db", "garbage.db"]


@pytest.mark.parametrize("subcommand", ["relay", "run"])
def test_relay_and_run_refuse_a_journal_they_cannot_open_in_one_line(tmp_path: Path, subcommand: str) -> None:
    ran = tmp_path / "ran"
    command = ["--", sys.executable, "-c", f"open({str(ran)!r}, 'w')"] if subcommand == "run" else []
    result = _cli(subcommand, "--journal", str(_garbage(tmp_path / "garbage.db")), *command)
    _refused(result, f"mpprogress {subcommand}: error: {tmp_path}/garbage.db is not a journal: file is not a database")
    result = _cli(subcommand, "--journal", str(tmp_path), *command)
    _refused(result, f"mpprogress {subcommand}: error: --journal {tmp_path}: is a directory, not a journal file")
    assert not ran.exists()  # the command never started


def test_dashboard_refuses_a_directory(tmp_path: Path) -> None:
    result = _cli("dashboard", "--http", "127.0.0.1:0", str(tmp_path))
    _refused(result, f"mpprogress dashboard: error: {tmp_path} is a directory, not a journal file")


@pytest.mark.parametrize("subcommand", ["relay", "dashboard"])
def test_an_http_port_out_of_range_is_named(tmp_path: Path, subcommand: str) -> None:
    pytest.importorskip("aiohttp")
    where = [str(tmp_path / "run.db")] if subcommand == "dashboard" else []
    result = _cli(subcommand, "--http", "127.0.0.1:99999", *where)
    _refused(result, f"mpprogress {subcommand}: error: cannot serve the dashboard on 127.0.0.1:99999: "
                     "port 99999 is out of range (0 to 65535)")


def test_an_unknown_option_shows_the_subcommands_usage() -> None:
    result = _cli("demo", "--bogus")
    assert result.returncode == 2
    assert result.stderr.startswith("usage: mpprogress demo [-h] [--workers WORKERS]")
    assert result.stderr.endswith("\nmpprogress demo: error: unrecognized arguments: --bogus\n")
    result = _cli("--bogus", "demo")  # before the subcommand it is the top level's
    assert result.returncode == 2
    assert result.stderr.endswith("\nmpprogress: error: unrecognized arguments: --bogus\n")


@pytest.mark.parametrize("reader", ["pipe", "socket"])
def test_output_into_a_reader_that_left_exits_as_json_does(reader: str) -> None:
    # The demo's results go to standard output (its display to standard error): a reader that
    # left before them (`demo | true`) ends the command quietly with 141, as `yes | true` does.
    # Rich's console, left alone, exits 1 when it meets the broken pipe before the command's own
    # guard does; on a socket, where nothing else watches, it always did.
    if reader == "socket":
        ours, theirs = socket.socketpair()
        stdout = theirs.detach()
    else:
        read_end, stdout = os.pipe()
        ours = None
    proc = subprocess.Popen(
        [sys.executable, "-m", "mpprogress", "demo", "--companies", "2", "--pages", "60"],
        cwd=ROOT, env=_env(), stdout=stdout, stderr=subprocess.PIPE, text=True,
    )
    os.close(stdout)
    if ours is not None:
        ours.close()  # the reader leaves at once
    else:
        os.close(read_end)
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == EXIT_BROKEN_PIPE, err[-2000:]
    assert "Traceback" not in err and "Error" not in err, err[-2000:]
