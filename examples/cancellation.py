"""Cancelling work from another thread: ``op.cancel()``, seen by the workers in their phases.

Two worker threads each work through a phase: "Download" checks ``phase.raise_if_cancelled()``
between items, "Convert" checks ``phase.cancelled`` and stops quietly.  Each gets stuck on a
slow item after a while (a request that hangs); the main thread then cancels the operation.
The tracker emits ``cancel_requested``; a callback turns that into an ``Event`` that cuts the
slow items short, the workers stop, and both phases finish as cancelled with exact counts.

Run it:  python examples/cancellation.py [--items 100] [--stuck-after 40]
Last line (for scripts and tests):
    RESULT download=cancelled:40/100 convert=cancelled:30/100 op=failed
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

import mpprogress


class AbortOnCancel:
    """A callback that sets an ``Event`` when the tracker reports ``cancel_requested``."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, *, event_type: str, **data: Any) -> None:
        if event_type == "cancel_requested":
            self.event.set()


def slow_item(number: int, stuck_at: int, abort: threading.Event) -> None:
    """A few milliseconds of pretend I/O; item ``stuck_at`` hangs until aborted."""
    abort.wait(60.0 if number == stuck_at else 0.002)


def download(phase: mpprogress.ProgressPhase, items: int, stuck_at: int, abort: threading.Event) -> None:
    """Stop by exception: ``raise_if_cancelled()`` ends the phase as cancelled."""
    for number in range(1, items + 1):
        phase.raise_if_cancelled()
        slow_item(number, stuck_at, abort)
        phase.raise_if_cancelled()  # an aborted item is not counted
        phase.update(1, message=f"file {number}")


def convert(phase: mpprogress.ProgressPhase, items: int, stuck_at: int, abort: threading.Event) -> None:
    """Stop by checking: leaving the block normally still finishes a cancelled phase as cancelled."""
    for number in range(1, items + 1):
        slow_item(number, stuck_at, abort)
        if phase.cancelled:
            break
        phase.update(1, message=f"image {number}")


def run_phase(op: mpprogress.ProgressOperation, title: str, worker: Any, *args: Any) -> None:
    """A worker thread's body: its own phase, ended by the cancellation it expects."""
    with suppress(mpprogress.ProgressCancelled), op.phase(title, total=args[0]) as phase:
        worker(phase, *args)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the workers never reached their slow item")
        time.sleep(0.01)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--stuck-after", type=int, default=40, help="items Download does before it hangs")
    args = parser.parse_args(argv)
    # title -> (worker, items done before the one that hangs)
    plan = {"Download": (download, args.stuck_after), "Convert": (convert, args.stuck_after * 3 // 4)}

    abort = AbortOnCancel()
    with mpprogress.ConsoleProgressTracker() as tracker:
        tracker.add_callback(abort)
        with tracker.operation("Importing photos", "cancelled from the main thread") as op:
            threads = [
                threading.Thread(target=run_phase, args=(op, title, worker, args.items, done + 1, abort.event))
                for title, (worker, done) in plan.items()
            ]
            for thread in threads:
                thread.start()

            def all_stuck() -> bool:
                current = {phase.title: phase.current for phase in tracker.snapshot().get(op.operation_id).phases}
                return all(current.get(title) == done for title, (_, done) in plan.items())

            wait_until(all_stuck)
            op.cancel()  # from the main thread: the workers see it in their phases
            for thread in threads:
                thread.join()
        operation = tracker.snapshot().get(op.operation_id)

    phases = {phase.title: phase for phase in operation.phases}
    rows = " ".join(
        f"{title.lower()}={phases[title].reason or 'ok'}:{phases[title].current:g}/{phases[title].total}"
        for title in plan
    )
    print(f"RESULT {rows} op={'ok' if operation.success else 'failed'}")


if __name__ == "__main__":
    main()
