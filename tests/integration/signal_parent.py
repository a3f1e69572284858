"""A session's parent for the signal tests: a pool of workers that loop until cancelled.

Usage: python signal_parent.py START_METHOD OUT_DIR [SIGNUM].  Prints ``address <addr>`` and, once
both workers run, ``ready``; each worker writes OUT_DIR/worker-N with what it saw when it stopped.
With SIGNUM, a thread of the parent sends that signal to itself once ready (``pthread_kill``): the
main thread, waiting for the pool, is not interrupted, as when a signal lands on another thread
or just before the main thread starts waiting.
The display draws on OUT_DIR/display (a forced terminal), so the test can check the cursor.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console

import mpprogress


def work(operation_id: str, index: int, out_dir: str) -> None:
    op = mpprogress.get_tracker().get_operation(operation_id)
    with op.phase(f"worker {index}", total=10_000) as phase:
        Path(out_dir, f"started-{index}").touch()
        deadline = time.monotonic() + 60
        while not phase.cancelled and time.monotonic() < deadline:
            phase.update(1)
            time.sleep(0.01)
        Path(out_dir, f"worker-{index}").write_text("cancelled" if phase.cancelled else "timed out")


def say(line: str) -> None:
    """To the real stdout: the live display redirects ``sys.stdout`` into itself."""
    assert sys.__stdout__ is not None
    sys.__stdout__.write(line + "\n")
    sys.__stdout__.flush()


def signal_this_thread(signum: int) -> None:
    time.sleep(0.5)  # the main thread is waiting for the pool by now
    signal.pthread_kill(threading.get_ident(), signum)


def main() -> None:
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # the test asks for stacks if it hangs
    method, out_dir = sys.argv[1], sys.argv[2]
    self_signal = int(sys.argv[3]) if len(sys.argv) > 3 else None
    context = multiprocessing.get_context(method)
    with open(Path(out_dir, "display"), "w") as display:
        console = Console(file=display, force_terminal=True, width=100)
        with mpprogress.session(console=console) as tracker, tracker.operation("signalled") as op:
            say(f"address {os.environ['MPPROGRESS_ADDRESS']}")
            with ProcessPoolExecutor(2, mp_context=context) as pool:
                futures = [pool.submit(work, op.operation_id, i, out_dir) for i in range(2)]
                while not all(Path(out_dir, f"started-{i}").exists() for i in range(2)):
                    time.sleep(0.02)
                say("ready")
                if self_signal is not None:
                    threading.Thread(target=signal_this_thread, args=(self_signal,)).start()
                for future in futures:
                    future.result()


if __name__ == "__main__":
    main()
