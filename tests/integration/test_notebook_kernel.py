"""The notebook display in a real Jupyter kernel: notebooks executed headlessly by nbclient.

Each test writes a kernelspec for this venv's Python into a temporary ``JUPYTER_PATH`` and runs
a small notebook whose session draws with ``NotebookSink``; the saved cell outputs (what a
re-opened notebook shows) are checked for the exact final counts.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import sys
import threading
import time
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.processes

METHODS = ["fork", "spawn", "forkserver"]
HERE = pathlib.Path(__file__).parent
KERNEL = "mpprogress-test"

POOL_CELL = """\
import multiprocessing, sys
from concurrent.futures import ProcessPoolExecutor
sys.path.insert(0, {here!r})
import mpprogress
from notebook_work import count

with mpprogress.session(forward_logs=True) as tracker:
    with tracker.operation("pool run") as op:
        with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context({method!r})) as pool:
            done = sorted(pool.map(count, [op.operation_id] * 4, range(4)))
print("done", done)
"""

MP_POOL_CELL = """\
import multiprocessing, sys
sys.path.insert(0, {here!r})
import mpprogress
from notebook_work import count

with mpprogress.session(forward_logs=True) as tracker:
    with tracker.operation("pool run") as op:
        with multiprocessing.get_context({method!r}).Pool(4) as pool:
            done = sorted(pool.starmap(count, [(op.operation_id, n) for n in range(4)]))
            pool.close()  # let the workers exit on their own (the block's exit would terminate them)
            pool.join()
print("done", done)
"""

INTERRUPT_CELL = """\
import multiprocessing, sys
from concurrent.futures import ProcessPoolExecutor
sys.path.insert(0, {here!r})
import mpprogress
from notebook_work import slow

with mpprogress.session() as tracker:
    with tracker.operation("interrupted run") as op:
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context({method!r})) as pool:
            list(pool.map(slow, [op.operation_id] * 2, range(2), [{marker!r}] * 2))
"""

FLOOD_CELL = """\
import time
import mpprogress

with mpprogress.session() as tracker:
    with tracker.operation("flood") as op:
        with op.phase("updates", total=3000) as phase:
            for _ in range(3000):
                phase.update(1)
                time.sleep(0.001)
"""

CONSOLE_TRACKER_CELL = """\
import logging
from mpprogress import ConsoleProgressTracker

tracker = ConsoleProgressTracker()
log = logging.getLogger("cell")
log.addHandler(tracker.logging_handler())
with tracker.operation("console tracker") as op:
    with op.phase("rows", total=500) as phase:
        for _ in range(500):
            phase.update(1)
    log.warning("rows done")
tracker.console.print("after the display")
"""


class CountingClient(nbclient.NotebookClient):  # type: ignore[misc]
    """Counts the output messages the kernel sent for the cells."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.output_messages = 0

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        if msg["msg_type"] in ("display_data", "update_display_data", "stream"):
            self.output_messages += 1
        return super().process_message(msg, cell, cell_index)


@pytest.fixture
def kernel_path(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    """A kernelspec for this Python in a temporary ``JUPYTER_PATH``; the notebooks' directory."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    # CI runs this module a second time with the kernel in a venv holding ipykernel 6.
    python = os.environ.get("MPPROGRESS_TEST_KERNEL_PYTHON") or sys.executable
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": KERNEL, "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    return tmp_path


def run_notebook(path: pathlib.Path, source: str, **options: Any) -> tuple[Any, CountingClient]:
    """Execute a one-cell notebook in ``path``, save it there, and read the saved copy back."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    client = CountingClient(
        notebook, kernel_name=KERNEL, timeout=120, resources={"metadata": {"path": str(path)}}, **options
    )
    client.execute()
    saved = path / "run.ipynb"
    nbformat.write(notebook, saved)
    return nbformat.read(saved, as_version=4), client


def display_text(notebook: Any) -> str:
    """The plain text of the cell's one display output (the progress display)."""
    displays = [out for out in notebook.cells[0].outputs if out.output_type == "display_data"]
    assert len(displays) == 1, notebook.cells[0].outputs
    data = displays[0].data
    assert "text/html" in data and "HBox" not in data["text/plain"]
    return str(data["text/plain"])


@pytest.mark.parametrize("cell", [POOL_CELL, MP_POOL_CELL], ids=["executor", "pool"])
@pytest.mark.parametrize("method", METHODS)
def test_pool_run_leaves_exact_final_counts(kernel_path: pathlib.Path, method: str, cell: str) -> None:
    notebook, _ = run_notebook(kernel_path, cell.format(here=str(HERE), method=method))
    text = display_text(notebook)
    for n in range(4):
        assert re.search(rf"✔ task {n} .*250/250", text), text
        assert f"worker {n} done" in text  # forwarded log records, above the frame
    assert text.index("worker") < text.index("● pool run")
    assert "Succeeded pool run" in text
    streams = "".join(out.text for out in notebook.cells[0].outputs if out.output_type == "stream")
    assert "done [0, 1, 2, 3]" in streams


@pytest.mark.parametrize("method", METHODS)
def test_kernel_interrupt_leaves_cancelled_phases(kernel_path: pathlib.Path, method: str) -> None:
    marker = str(kernel_path / "started")
    notebook = nbformat.v4.new_notebook()
    source = INTERRUPT_CELL.format(here=str(HERE), method=method, marker=marker)
    notebook.cells.append(nbformat.v4.new_code_cell(source))
    client = nbclient.NotebookClient(
        notebook, kernel_name=KERNEL, timeout=120, allow_errors=True, resources={"metadata": {"path": str(kernel_path)}}
    )

    def interrupt_when_started() -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if all(os.path.exists(f"{marker}-{n}") for n in range(2)):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        # What "interrupt the kernel" does: SIGINT to the kernel's process group.
        os.killpg(client.km.provisioner.pgid, signal.SIGINT)

    threading.Thread(target=interrupt_when_started, daemon=True).start()
    client.execute()
    saved = kernel_path / "interrupted.ipynb"
    nbformat.write(notebook, saved)
    text = display_text(nbformat.read(saved, as_version=4))
    errors = [out for out in notebook.cells[0].outputs if out.output_type == "error"]
    assert errors and errors[0].ename == "KeyboardInterrupt"
    assert "Operation Interrupted" in text, text
    for n in range(2):
        assert re.search(rf"⊗ slow {n}  interrupted .* [\d,]+/6,000", text), text
        assert not re.search(rf"slow {n} .*6,000/6,000", text), text


def test_thousands_of_updates_stay_within_bounded_messages(kernel_path: pathlib.Path) -> None:
    notebook, client = run_notebook(kernel_path, FLOOD_CELL)
    text = display_text(notebook)
    assert "3,000/3,000" in text
    # ~3 s of updates at most 4 redraws a second, plus the first and last: far below 3000, yet
    # live (redrawn while the cell ran, not only at its end).
    assert 4 <= client.output_messages <= 60, client.output_messages


@pytest.mark.parametrize(
    "path",
    [HERE / "notebooks" / "pool_example.ipynb", HERE.parents[1] / "examples" / "notebook_pool.ipynb"],
    ids=["tests", "examples"],
)
def test_example_notebook_runs(kernel_path: pathlib.Path, path: pathlib.Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, kernel_name=KERNEL, timeout=120, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    outputs = notebook.cells[2].outputs
    text = "".join(out.data["text/plain"] for out in outputs if out.output_type == "display_data")
    for n in range(4):
        assert re.search(rf"✔ task {n} .*250/250", text), text
    assert any("[0, 1, 2, 3]" in out.data.get("text/plain", "") for out in outputs if "data" in out)


def test_console_tracker_shows_the_notebook_display(kernel_path: pathlib.Path) -> None:
    notebook, _ = run_notebook(kernel_path, CONSOLE_TRACKER_CELL)
    displays = [out.data for out in notebook.cells[0].outputs if out.output_type == "display_data"]
    # The progress display (one output updated in place, HTML and text, no widget junk), then
    # what the cell printed through the tracker's console after it.
    assert len(displays) == 2, displays
    text = str(displays[0]["text/plain"])
    assert "text/html" in displays[0] and "HBox" not in text
    assert re.search(r"✔ rows .*500/500", text), text
    assert "rows done" in text and text.index("rows done") < text.index("● console tracker")
    assert displays[1]["text/plain"] == "after the display\n"


def test_the_kernel_is_the_one_asked_for(kernel_path: pathlib.Path) -> None:
    notebook, _ = run_notebook(kernel_path, "import ipykernel, sys\nprint(ipykernel.__version__, sys.executable)")
    printed = "".join(out.text for out in notebook.cells[0].outputs if out.output_type == "stream")
    version, executable = printed.split()
    assert executable == (os.environ.get("MPPROGRESS_TEST_KERNEL_PYTHON") or sys.executable)
    wanted = os.environ.get("MPPROGRESS_TEST_IPYKERNEL")  # a major version CI asks for
    if wanted:
        assert version.split(".")[0] == wanted, version
