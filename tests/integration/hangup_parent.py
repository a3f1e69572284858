"""A session drawing its live display on its controlling terminal, for ``test_hangup.py``.

Usage: python hangup_parent.py OUT_DIR START_METHOD.  Writes OUT_DIR/address (the session's
address), then OUT_DIR/ready once both pool workers run; each worker loops until cancelled and
writes OUT_DIR/worker-N with what it saw when it stopped.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from signal_parent import work  # the same worker (this script's directory is on sys.path)

import mpprogress


def main(out_dir: str, method: str) -> None:
    with mpprogress.session() as tracker, tracker.operation("hung up") as op:  # the display: the terminal
        Path(out_dir, "address").write_text(os.environ["MPPROGRESS_ADDRESS"])
        with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context(method)) as pool:
            futures = [pool.submit(work, op.operation_id, index, out_dir) for index in range(2)]
            while not all(Path(out_dir, f"started-{index}").exists() for index in range(2)):
                time.sleep(0.02)
            Path(out_dir, "ready").touch()
            for future in futures:
                future.result()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
