"""The seed's section-5 tests, verbatim but for imports, against the local tracker."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from mpprogress import BaseProgressTracker as ConsoleProgressTracker  # the local tracker stands in


class TestConcurrentProgress:
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

        with ThreadPoolExecutor(max_workers=3) as executor:
            futures = [
                executor.submit(run_operation, "Alpha", 3),
                executor.submit(run_operation, "Beta", 2),
                executor.submit(run_operation, "Gamma", 4),
            ]
            for future in futures:
                future.result()

        assert len(results) == 3
        assert "Completed Alpha" in results
        assert "Completed Beta" in results
        assert "Completed Gamma" in results

    def test_nested_progress_context_managers(self):
        """Test deeply nested progress contexts"""
        tracker = ConsoleProgressTracker()

        with tracker.operation("Main Process") as main_op:
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
                    raise ValueError("Something went wrong!")

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

        event_types = [event["type"] for event in events]
        assert "operation_started" in event_types
        assert "phase_started" in event_types
        assert "progress_update" in event_types
        assert "phase_finished" in event_types
        assert "operation_finished" in event_types

        progress_events = [e for e in events if e["type"] == "progress_update"]
        assert len(progress_events) == 3
        assert progress_events[-1]["data"]["current"] == 3
