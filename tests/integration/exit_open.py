"""A script that exits with work open: ``python tests/integration/exit_open.py HOW``.

HOW is ``raise`` (an uncaught exception), ``exit`` (``sys.exit(3)``), ``end`` (the end of the
script), ``thread`` (the end of the script while a thread still works), ``fork`` (a forked
child exits normally while the parent's work is open; the parent then finishes it) or
``tqdm`` (issue 24's reproduction: a bar left open, then ``SystemExit(3)``).
"""

from __future__ import annotations

import os
import sys
import threading

from mpprogress import tqdm
from mpprogress.adapters.console import ConsoleConfig, ConsoleProgressTracker

how = sys.argv[1]
if how == "tqdm":
    bar = tqdm(total=3, desc="download")
    bar.update(1)
    raise SystemExit(3)

tracker = ConsoleProgressTracker(config=ConsoleConfig(show_summary=False), max_update_rate=None)
op = tracker.start_operation("import", "Import")
reading = op.start_phase("read", "Reading", 2)
reading.update(2)  # its work is done, but nobody finished it
parsing = op.start_phase("parse", "Parsing", 10)
parsing.update(4)
rows = parsing.start_phase("rows", "Rows", 5)
rows.update(1)



def finish_all() -> None:
    rows.update(4)
    parsing.finish_phase("rows")
    parsing.update(6)
    op.finish_phase("parse")
    op.finish_phase("read")
    tracker.finish_operation("import")


if how == "raise":
    raise ValueError("boom")
if how == "exit":
    sys.exit(3)
if how == "thread":
    go = threading.Event()

    def work() -> None:  # a non-daemon thread: the interpreter waits for it before exit hooks
        go.wait()
        finish_all()

    threading.Thread(target=work).start()
    go.set()
if how == "fork":

    def said(*, event_type: str, **data: object) -> None:  # a callback that knows nothing of fork
        if event_type.endswith("_finished"):
            print(event_type, data.get("reason"), flush=True)

    tracker.add_callback(said)
    child = os.fork()
    if child == 0:
        sys.exit(0)  # runs the exit hooks in the child: they must leave the parent's work alone
    os.waitpid(child, 0)
    finish_all()
