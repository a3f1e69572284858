"""Journal failures are said, never swallowed: a disk that fills during a run, a file damaged or
deleted from outside, a disk full at open; and a journal that may be read but not written (a
read-only mount) can still be reported.

A full disk is a real one (a small tmpfs), a read-only journal a real read-only bind mount;
both need ``mount`` (root in this project's CI), else these tests are skipped.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._report import load_run
from mpprogress.adapters.journal import JournalError, JournalSink

ROOT = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("journal_failures_child.py")


def _mount(*args: str) -> None:
    result = subprocess.run(["mount", *args], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"mount is not permitted here: {result.stderr.strip()}")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 160 KiB tmpfs: room for a journal's first writes, not for a 600-phase run."""
    where = tmp_path / "disk"
    where.mkdir()
    _mount("-t", "tmpfs", "-o", "size=160k", "tmpfs", str(where))
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def read_only_view(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A directory and a read-only bind mount of it."""
    source, view = tmp_path / "rw", tmp_path / "ro"
    source.mkdir()
    view.mkdir()
    _mount("--bind", str(source), str(view))
    try:
        _mount("-o", "remount,bind,ro", str(view))
        yield source, view
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def _run_child(journal: Path, method: str, phases: int, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, str(CHILD), str(journal), method, str(phases), *extra], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)


def _journal_a_run(path: Path, phases: int = 5) -> JournalSink:
    sink = JournalSink(path)
    tracker = BaseProgressTracker()
    tracker.add_callback(sink)
    with tracker.operation("op", operation_id="op") as op:
        for index in range(phases):
            with op.phase(f"phase {index}", total=3) as phase:
                phase.update(3)
    return sink


@pytest.mark.processes
@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_a_disk_that_fills_during_a_run_is_said_on_stderr(small_disk: Path, method: str) -> None:
    journal = small_disk / "run.db"
    result = _run_child(journal, method, 600)
    assert result.returncode == 0, result.stderr  # the work was done: the exit status is the job's
    assert result.stdout.split() == ["finished", "600"]
    prefix = f"mpprogress: warning: journal {journal}"
    warnings = [line for line in result.stderr.splitlines() if line.startswith(prefix)]
    assert warnings, result.stderr
    assert "the disk is full" in warnings[0]
    final = warnings[-1]
    assert "this run was not recorded in full (the disk is full); not written: " in final, warnings
    assert final.endswith("the run stays marked as not closed")
    lost = int(final.split("not written: ")[1].split(" phase finishes")[0])
    with sqlite3.connect(f"{journal.as_uri()}?mode=ro", uri=True) as conn:
        written = conn.execute("SELECT count(*) FROM phases WHERE finished_at IS NOT NULL").fetchone()[0]
        (ended,) = conn.execute("SELECT ended_at FROM runs").fetchone()
    assert ended is None
    assert written + lost == 600  # what the warning says was lost is exactly what the file misses


def test_a_disk_full_at_open_says_so(small_disk: Path) -> None:
    filler = os.open(small_disk / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(filler, b"\0" * 4096):
            pass
    except OSError:
        pass  # full
    finally:
        os.close(filler)
    with pytest.raises(JournalError) as raised:
        JournalSink(small_disk / "new.db")
    assert "not a journal" not in str(raised.value)
    assert f"cannot open journal {small_disk / 'new.db'}: the disk" in str(raised.value)


def test_a_write_ahead_log_truncated_during_the_run_is_said_and_resume_says_damaged(
    tmp_path: Path, capfd: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "run.db"
    sink = JournalSink(path)
    tracker = BaseProgressTracker()
    tracker.add_callback(sink)
    with tracker.operation("op", operation_id="op") as op:
        for index in range(100):
            with op.phase(f"phase {index}", total=3) as phase:
                phase.update(3)
            if index == 50:
                assert sink.flush()
                os.truncate(f"{path}-wal", 1000)  # damaged from outside
    sink.close()
    err = capfd.readouterr().err
    assert f"mpprogress: warning: journal {path}: the run was written, but the file cannot be read back" in err
    assert "it was damaged from outside; a run resuming from it fails" in err
    assert sink.failure is not None
    with pytest.raises(JournalError, match=r"is damaged \(database disk image is malformed\).*move it aside"):
        JournalSink(path, resume=True)


def test_a_journal_deleted_during_the_run_is_said(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "run.db"
    sink = JournalSink(path)
    tracker = BaseProgressTracker()
    tracker.add_callback(sink)
    with tracker.operation("op", operation_id="op") as op:
        with op.phase("before", total=1) as phase:
            phase.update(1)
        assert sink.flush()
        path.unlink()
        with op.phase("after", total=1) as phase:
            phase.update(1)
    sink.close()
    err = capfd.readouterr().err
    assert (f"mpprogress: warning: journal {path}: this run was not recorded in full (the file was deleted "
            "during the run); not written: 1 phase finishes, 1 phase starts, 1 operation finishes") in err
    assert sink.failure == "the file was deleted during the run"


def test_a_healthy_run_says_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    sink = _journal_a_run(tmp_path / "run.db")
    sink.close()
    assert sink.failure is None
    assert capfd.readouterr().err == ""


def test_the_report_reads_a_journal_on_a_read_only_mount(read_only_view: tuple[Path, Path]) -> None:
    source, view = read_only_view
    _journal_a_run(source / "run.db").close()
    with pytest.raises(OSError):
        (view / f"probe-{uuid.uuid4().hex}").touch()  # it really is read-only
    figures = load_run(view / "run.db")
    assert [(p.title, p.current) for p in figures.phases] == [(f"phase {i}", 3) for i in range(5)]
    assert sorted(os.listdir(view)) == ["run.db"]


def test_a_relative_path_stays_the_same_file_when_the_process_changes_directory(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    sink = JournalSink("run.db")
    tracker = BaseProgressTracker()
    tracker.add_callback(sink)
    with tracker.operation("op", operation_id="op") as op:
        with op.phase("before", total=1) as phase:
            phase.update(1)
        assert sink.flush()
        monkeypatch.chdir("/")  # "run.db" names no file here: the journal is still tmp_path's
        with op.phase("after", total=1) as phase:
            phase.update(1)
        assert sink.flush()
    sink.close()
    assert sink.failure is None and capfd.readouterr().err == ""
    assert [p.title for p in load_run(tmp_path / "run.db").phases] == ["before", "after"]
