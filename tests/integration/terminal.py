"""Run a command with its standard error on a pseudo-terminal (the live display draws there)
and its standard output on a pipe (``script.py > out.csv``)."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _read_all(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the last writer closed the terminal
            return
        if not chunk:
            return
        into.append(chunk)


def run_on_terminal(
    command: Sequence[str], env: Mapping[str, str], columns: int = 100, lines: int = 30
) -> tuple[int, str, str, str]:
    """Run ``command`` to its end, without colour.

    Returns:
        (exit status, standard output, what the terminal received, that without escape codes).
    """
    leader, follower = pty.openpty()
    screen: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(leader, screen), daemon=True)
    reader.start()
    try:
        child = subprocess.Popen(
            list(command), cwd=ROOT, stdout=subprocess.PIPE, stderr=follower, stdin=subprocess.DEVNULL, text=True,
            env={**env, "COLUMNS": str(columns), "LINES": str(lines), "TERM": "xterm", "NO_COLOR": "1"},
        )
        os.close(follower)
        out, _ = child.communicate(timeout=120)
        reader.join(timeout=30)
    finally:
        os.close(leader)
    drawn = b"".join(screen).decode("utf-8", "replace")
    return child.returncode, out, drawn, _ESCAPES.sub("", drawn)
