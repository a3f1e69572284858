"""A process writing a journal as fast as it can, to be SIGKILLed by ``test_journal_crash.py``.

Prints ``ready`` once its run is in the file, then ``<phase_id> <time>`` after each phase the
journal was handed the finish of (``time.time()``, so the killer can compare it to its own).
"""

from __future__ import annotations

import logging
import sys
import time

from mpprogress._core.tracker import BaseProgressTracker
from mpprogress.adapters.journal import JournalSink


def main(path: str) -> None:
    tracker = BaseProgressTracker()
    sink = JournalSink(path)
    tracker.add_callback(sink)
    logger = logging.getLogger("journal_child")
    logger.addHandler(sink.logging_handler())
    print("ready", flush=True)
    with tracker.operation("crash") as op:
        number = 0
        while True:
            with op.phase(f"p{number}", total=200) as phase:
                for _ in range(200):
                    phase.update(1)
            if number % 10 == 0:
                logger.warning("phase %d done", number)
            print(f"{phase.phase_id} {time.time():.6f}", flush=True)
            number += 1
            time.sleep(0.001)


if __name__ == "__main__":
    main(sys.argv[1])
