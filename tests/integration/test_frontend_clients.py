"""Real libraries built on tqdm, imported here at the top, before ``patch_tqdm()``, as scripts do:
pqdm (threads and processes), tqdm-joblib with joblib, and mpire.  Inside
``patch_tqdm()`` their bars are the session's phases with exact counts, their results are the
same as without it, tqdm draws nothing itself, an item that raises fails its bar, and a piped
program's standard output holds only its own data.

Needs the optional ``clients`` extra (``pip install 'mpprogress[clients]'``); skipped without it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from multiprocessing.context import BaseContext
from pathlib import Path

import pytest

joblib = pytest.importorskip("joblib")
mpire = pytest.importorskip("mpire")
pqdm_processes = pytest.importorskip("pqdm.processes")
pqdm_threads = pytest.importorskip("pqdm.threads")
tqdm_joblib = pytest.importorskip("tqdm_joblib")

from mpprogress._frontends.patch import patch_tqdm  # noqa: E402
from tests.integration import frontend_clients_work as work  # noqa: E402
from tests.integration.conftest import Recorded  # noqa: E402

pytestmark = pytest.mark.processes
ROOT = Path(__file__).resolve().parents[2]
N = 200
EXPECTED = [x * x for x in range(N)]
TQDM_DRAWING = re.compile(r"\d+%\||it/s]|\d+/\d+ \[")  # what a bar tqdm drew itself looks like


def bars(recorded: Recorded) -> dict[str, tuple[int, int | None, bool | None, str | None]]:
    """Every phase of the session: title -> (current, total, success, reason)."""
    return {
        p.title: (p.current, p.total, p.success, p.reason)
        for op in recorded.tracker.snapshot().operations
        for p in op.all_phases()
    }


def assert_tqdm_drew_nothing(capfd: pytest.CaptureFixture[str]) -> None:
    out, err = capfd.readouterr()
    assert not TQDM_DRAWING.search(out) and not TQDM_DRAWING.search(err), (out, err)


def test_pqdm_threads(recorded_session: Recorded, capfd: pytest.CaptureFixture[str]) -> None:
    plain = pqdm_threads.pqdm(range(N), work.square, n_jobs=4, disable=True)
    capfd.readouterr()
    with patch_tqdm():
        results = pqdm_threads.pqdm(range(N), work.square, n_jobs=4, desc="threads")
    assert results == plain == EXPECTED
    assert bars(recorded_session) == {
        f"{stage} | threads": (N, N, True, None)
        for stage in ("QUEUEING TASKS", "PROCESSING TASKS", "COLLECTING RESULTS")
    }
    assert_tqdm_drew_nothing(capfd)


def test_pqdm_processes(recorded_session: Recorded, mp_context: BaseContext, capfd: pytest.CaptureFixture[str]) -> None:
    with patch_tqdm():
        results = pqdm_processes.pqdm(range(N), work.square, n_jobs=4, desc="processes", mp_context=mp_context)
    assert results == EXPECTED
    assert bars(recorded_session) == {
        f"{stage} | processes": (N, N, True, None)
        for stage in ("QUEUEING TASKS", "PROCESSING TASKS", "COLLECTING RESULTS")
    }
    assert_tqdm_drew_nothing(capfd)


def test_pqdm_an_item_that_raises_fails_the_collecting_bar(recorded_session: Recorded) -> None:
    with patch_tqdm(), pytest.raises(ValueError, match=f"item {work.FAIL_AT}"):
        pqdm_threads.pqdm(range(N), work.square_or_fail, n_jobs=4, desc="failing", exception_behaviour="immediate")
    current, total, success, reason = bars(recorded_session)["COLLECTING RESULTS | failing"]
    assert (current, total, success) == (work.FAIL_AT, N, False)
    # the exception where Python tells it (see _frontends/unwinding.py), else "error"
    assert reason in ("error", f"ValueError: item {work.FAIL_AT}")


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_tqdm_joblib(recorded_session: Recorded, backend: str, capfd: pytest.CaptureFixture[str]) -> None:
    plain = joblib.Parallel(n_jobs=2, backend=backend)(joblib.delayed(work.square)(x) for x in range(N))
    with patch_tqdm(), tqdm_joblib.tqdm_joblib(desc="joblib", total=N):
        results = joblib.Parallel(n_jobs=2, backend=backend)(joblib.delayed(work.square)(x) for x in range(N))
    assert results == plain == EXPECTED
    assert bars(recorded_session) == {"joblib": (N, N, True, None)}
    assert_tqdm_drew_nothing(capfd)


def test_tqdm_joblib_an_item_that_raises_fails_the_bar(recorded_session: Recorded) -> None:
    with patch_tqdm(), pytest.raises(ValueError, match=f"item {work.FAIL_AT}"):
        with tqdm_joblib.tqdm_joblib(desc="joblib failing", total=N):
            joblib.Parallel(n_jobs=2)(joblib.delayed(work.square_or_fail)(x) for x in range(N))
    current, total, success, reason = bars(recorded_session)["joblib failing"]
    assert (total, success, reason) == (N, False, f"ValueError: item {work.FAIL_AT}") and current < N


def test_mpire(recorded_session: Recorded, mp_context: BaseContext, capfd: pytest.CaptureFixture[str]) -> None:
    method = mp_context.get_start_method()
    with mpire.WorkerPool(n_jobs=4, start_method=method) as pool:
        plain = pool.map(work.square, range(N))
    with patch_tqdm(), mpire.WorkerPool(n_jobs=4, start_method=method) as pool:
        results = pool.map(work.square, range(N), progress_bar=True, progress_bar_options={"desc": "mpire"})
    assert results == plain == EXPECTED
    assert bars(recorded_session) == {"mpire": (N, N, True, None)}  # and no row for its option-check bar
    assert_tqdm_drew_nothing(capfd)


def test_mpire_an_item_that_raises_fails_the_bar(recorded_session: Recorded) -> None:
    with patch_tqdm(), pytest.raises(ValueError, match=f"item {work.FAIL_AT}"):
        with mpire.WorkerPool(n_jobs=4, start_method="fork") as pool:
            pool.map(work.square_or_fail, range(N), progress_bar=True, progress_bar_options={"desc": "mpire failing"})
    found = bars(recorded_session)
    assert list(found) == ["mpire failing"]
    current, total, success, reason = found["mpire failing"]
    assert (total, success, reason) == (N, False, "incomplete") and current < N


def _display_on_stdout() -> bool:
    """Whether this version's session still draws its display on stdout (issue 24 item 2 is a
    change to the console adapters, made apart from the front ends)."""
    probe = "import mpprogress\nwith mpprogress.session():\n    list(mpprogress.track(range(3), 'probe'))\n"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    return "probe" in done.stdout


@pytest.mark.xfail(
    condition=_display_on_stdout(), strict=True,
    reason="the session's display is still drawn on stdout (issue 24 item 2: the console adapters' change)",
)
def test_a_piped_programs_stdout_holds_only_its_data(tmp_path: Path) -> None:
    script = ROOT / "tests" / "integration" / "frontend_clients_pipe.py"
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    )
    assert done.returncode == 0, done.stderr
    expected = "".join(f"{x},{x * x}\n" for x in range(50)) + "".join(f"{x},{x * x}\n" for x in range(30))
    assert done.stdout == expected
    assert "COLLECTING RESULTS | pipe" in done.stderr  # the display, on stderr
    assert not TQDM_DRAWING.search(done.stderr.replace("\r", "\n"))
