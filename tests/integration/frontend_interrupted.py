"""``process_map`` with no session, interrupted: usage ``python frontend_interrupted.py METHOD OUT_DIR``.

Prints ``ready`` once two items run; the test then sends SIGINT.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from pathlib import Path

from mpprogress._frontends.maps import process_map
from tests.integration.frontend_workers import slow_item


def announce(out_dir: str) -> None:
    while len(list(Path(out_dir).glob("item-*"))) < 2:
        time.sleep(0.02)
    assert sys.__stdout__ is not None
    sys.__stdout__.write("ready\n")
    sys.__stdout__.flush()


def main() -> None:
    method, out_dir = sys.argv[1], sys.argv[2]
    threading.Thread(target=announce, args=(out_dir,), daemon=True).start()
    items = 300  # 75 s on two workers if nothing stopped them
    process_map(slow_item, range(items), [out_dir] * items, max_workers=2,
                mp_context=multiprocessing.get_context(method), desc="interrupted")


if __name__ == "__main__":
    main()
