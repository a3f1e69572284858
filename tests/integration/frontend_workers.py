"""Worker functions for the front-end tests (importable, so they work under spawn/forkserver)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from mpprogress._frontends.rich import Progress
from mpprogress._frontends.tqdm import tqdm

__all__ = ["die_on", "library_loop", "rich_tasks", "slow_item", "square", "tqdm_loop", "write_line"]


def tqdm_loop(index: int) -> int:
    """A bar of ``100 + index`` items, as tqdm-using worker code has it."""
    for _ in tqdm(range(100 + index), desc=f"item {index}"):
        pass
    return index * 2


def square(x: int) -> int:
    return x * x


def write_line(index: int) -> int:
    tqdm.write(f"line {index}")
    return index


def rich_tasks(index: int) -> int:
    """A ``rich.progress``-style task of 50 steps."""
    with Progress() as progress:
        task = progress.add_task(f"download {index}", total=50)
        for _ in range(50):
            progress.advance(task)
    return index


def die_on(index: int, victim: int) -> int:
    """The ``victim`` item kills its worker, as a crash would."""
    if index == victim:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return index


def slow_item(index: int, out_dir: str) -> int:
    """Half a second per item; each item that runs leaves a file."""
    Path(out_dir, f"item-{index}").touch()
    time.sleep(0.5)
    return index


def library_loop(items: int) -> int:
    """Library code that imports tqdm itself, at call time."""
    from tqdm.auto import tqdm as library_tqdm

    return sum(1 for _ in library_tqdm(range(items), desc="library"))
