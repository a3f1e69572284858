"""Progress as structured log records: the standard library's logging, then JSON lines.

Run ``python examples/logging_sink.py`` (``--fast`` skips the pauses).  The first half uses a
plain ``logging`` format that reads the event's fields from each record (``%(current)s``...);
the second half writes one JSON object per event, ready for a log shipper.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from mpprogress._base.port import ProgressTracker
from mpprogress.adapters.logs import LoggingProgressTracker

__all__ = ["main"]


class WithProgressFields(logging.Formatter):
    """Appends the structured fields the logging sink puts on each record."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "progress", None)
        if not fields:
            return line
        keys = ("operation_id", "phase_id", "current", "total", "percentage", "rate", "success", "duration")
        shown = {k: fields[k] for k in keys if fields.get(k) is not None}
        return f"{line}  {shown}"


def scrape(tracker: ProgressTracker, pause: float) -> None:
    with tracker.operation("Researching Stripe", "4-phase scraping", operation_id="stripe") as op:
        with op.phase("Link Discovery", total=50) as phase:
            for n in range(50):
                time.sleep(pause)
                phase.update(1, f"Found link #{n + 1}")
        try:
            with op.phase("Content Extraction", total=20) as phase:
                for n in range(8):
                    time.sleep(pause)
                    phase.update(1, f"page {n + 1}")
                raise TimeoutError("site stopped answering")
        except TimeoutError:
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run both halves of the example.

    Args:
        argv: command-line arguments (``--fast``); ``sys.argv[1:]`` by default.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="no pauses (for tests)")
    args = parser.parse_args(argv)
    pause = 0.0 if args.fast else 0.05

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(WithProgressFields("%(asctime)s %(levelname)-7s %(message)s"))
    logger = logging.getLogger("example.progress")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addHandler(handler)

    print("--- standard logging, one record per event (progress at most every 0.5 s per phase)")
    with LoggingProgressTracker(logger, min_interval=0.5) as tracker:
        scrape(tracker, pause)

    print("--- JSON lines")
    handler.setFormatter(logging.Formatter("%(message)s"))
    with LoggingProgressTracker(logger, json_lines=True, min_interval=0.5) as tracker:
        scrape(tracker, pause)
    logger.removeHandler(handler)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
