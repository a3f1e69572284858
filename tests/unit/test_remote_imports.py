"""Importing the remote side starts nothing and registers nothing (fork hooks come on first use)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import os
import threading
hooks = []
os.register_at_fork = lambda **kw: hooks.extend(getattr(f, "__module__", "") for f in kw.values())
import mpprogress._remote.aggregator, mpprogress._remote.client, mpprogress._remote.link, mpprogress._remote.transport
print(sum(module.startswith("mpprogress") for module in hooks), threading.active_count())
"""


def test_importing_the_remote_side_registers_no_fork_hook_and_starts_no_thread() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "1"]
