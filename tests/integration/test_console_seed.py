"""The seed's section-5 tests with ConsoleProgressTracker, the ticket's manual test, the examples."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from rich.console import Console

from mpprogress import ConsoleProgressAdapter
from mpprogress.adapters.console import ConsoleProgressTracker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class TestConcurrentProgress:
    """Seed section 5, verbatim except the import path."""

    def test_concurrent_operations(self):
        """Test multiple operations running simultaneously"""
        tracker = ConsoleProgressTracker()
        results = []

        def run_operation(op_name: str, phase_count: int):
            """Simulate a multi-phase operation"""
            with tracker.operation(f"Operation {op_name}") as op:
                for phase_num in range(phase_count):
                    phase_name = f"Phase {phase_num + 1}"
                    with op.phase(phase_name, total=10) as phase:
                        for i in range(10):
                            phase.update(1, f"Step {i+1}")
                            time.sleep(0.01)  # Simulate work

                results.append(f"Completed {op_name}")

        # Run multiple operations in parallel
        with ThreadPoolExecutor(max_workers=3) as executor:
            futures = [
                executor.submit(run_operation, "Alpha", 3),
                executor.submit(run_operation, "Beta", 2),
                executor.submit(run_operation, "Gamma", 4)
            ]

            # Wait for completion
            for future in futures:
                future.result()

        # Verify all operations completed
        assert len(results) == 3
        assert "Completed Alpha" in results
        assert "Completed Beta" in results
        assert "Completed Gamma" in results

    def test_nested_progress_context_managers(self):
        """Test deeply nested progress contexts"""
        tracker = ConsoleProgressTracker()

        with tracker.operation("Main Process") as main_op:

            # Nested sub-operations
            with main_op.phase("Initialization", total=3) as init_phase:
                init_phase.update(1, "Loading config")
                init_phase.update(1, "Connecting to services")
                init_phase.update(1, "Validating credentials")

            with main_op.phase("Data Processing", total=100) as data_phase:
                for batch in range(10):
                    for item in range(10):
                        data_phase.update(1, f"Processing batch {batch+1}, item {item+1}")
                        time.sleep(0.001)

            with main_op.phase("Cleanup", total=2) as cleanup_phase:
                cleanup_phase.update(1, "Saving results")
                cleanup_phase.update(1, "Closing connections")

        # Operation should complete successfully
        operation = tracker.get_operation(main_op.operation_id)
        assert operation.success is True

    def test_error_handling_in_progress(self):
        """Test progress tracking handles errors gracefully"""
        tracker = ConsoleProgressTracker()

        with pytest.raises(ValueError):
            with tracker.operation("Error Test") as op:
                with op.phase("Normal Phase", total=5) as phase:
                    phase.update(2, "Processing")
                    phase.update(2, "Almost done")
                    # Simulate error
                    raise ValueError("Something went wrong!")

        # Operation should be marked as failed
        operation = tracker.get_operation(op.operation_id)
        assert operation.success is False

    def test_progress_callbacks(self):
        """Test progress event callbacks"""
        tracker = ConsoleProgressTracker()
        events = []

        def capture_events(event_type: str, **data):
            events.append({"type": event_type, "data": data})

        tracker.add_callback(capture_events)

        with tracker.operation("Callback Test") as op:
            with op.phase("Test Phase", total=3) as phase:
                phase.update(1, "Step 1")
                phase.update(1, "Step 2")
                phase.update(1, "Step 3")

        # Verify events were captured
        event_types = [event["type"] for event in events]
        assert "operation_started" in event_types
        assert "phase_started" in event_types
        assert "progress_update" in event_types
        assert "phase_finished" in event_types
        assert "operation_finished" in event_types

        # Verify progress updates
        progress_events = [e for e in events if e["type"] == "progress_update"]
        assert len(progress_events) == 3
        assert progress_events[-1]["data"]["current"] == 3


def terminal() -> Console:
    return Console(file=io.StringIO(), force_terminal=True, color_system=None, width=140, height=40)


def test_ticket_manual_test_on_a_terminal() -> None:
    console = terminal()
    progress = ConsoleProgressAdapter(console)
    progress.start_phase("Link Discovery", total=100)
    for i in range(100):
        progress.update(1, message=f"Found link {i}")
    assert progress.sink.is_live
    deadline = time.monotonic() + 10
    while "Found link 99" not in console.file.getvalue():  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the display never showed the last update"
        time.sleep(0.01)
    progress.close()  # the operation never finished: its last frame stays on the screen
    text = console.file.getvalue()  # type: ignore[attr-defined]
    last = text[text.rindex("Link Discovery") :]
    assert "100/100" in last and "100%" in last
    assert text.rindex("\x1b[?25h") > text.rindex("Link Discovery")


def test_seed_demo_on_a_terminal_prints_one_summary_per_operation() -> None:
    console = terminal()
    with ConsoleProgressTracker(console, refresh_rate=50) as progress:
        with progress.operation("AI Company Research", "Analyzing Stripe using 4-phase scraping") as op:
            for title, total in (("Link Discovery", 100), ("LLM Page Selection", 50), ("AI Analysis", 1)):
                with op.phase(title, total=total, description="demo") as phase:
                    for i in range(total):
                        phase.update(1, f"{title} #{i + 1}")
    text = console.file.getvalue()  # type: ignore[attr-defined]
    summary = text[text.rindex("Operation Succeeded") :]
    assert "✔ Succeeded AI Company Research" in summary
    for row in ("Link Discovery", "100/100"), ("LLM Page Selection", "50/50"), ("AI Analysis", "1/1"):
        line = next(line for line in summary.splitlines() if row[0] in line)
        assert "✔" in line and row[1] in line


@pytest.mark.parametrize("script", ["console_showcase.py", "logging_sink.py"])
def test_examples_run(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--fast"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    if script == "console_showcase.py":
        for needle in ("⚠ Researching Stripe › Embeddings (worker pid 4242): lost — worker died at 20/50",  # noqa: RUF001
                       "⊘ Researching Stripe › AI Analysis: cancelled at 12/30",  # noqa: RUF001
                       "✘ Researching Stripe › LLM Page Selection: failed (RuntimeError: model quota exceeded) "  # noqa: RUF001
                       "at 25/40",
                       "✔ Researching Stripe › Content Extraction › batch 3: succeeded 20/20",  # noqa: RUF001
                       "✔ Researching Stripe › Content Extraction: succeeded 60/60 in"):  # noqa: RUF001
            assert needle in done.stderr  # the display draws on stderr
        assert "\x1b" not in done.stderr  # not a terminal: plain lines only
        assert done.stdout == "a print() while the display is live lands above it\n"  # only what it printed
    else:
        assert "phase failed (TimeoutError: site stopped answering): Content Extraction" in done.stdout
        assert '"outcome": "failed"' in done.stdout
        assert '"type": "operation_finished"' in done.stdout
