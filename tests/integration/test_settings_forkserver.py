"""The settings a session exports reach forkserver children, and an ended session's do not."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.processes

SCRIPT = textwrap.dedent(
    """
    import multiprocessing
    import os
    import mpprogress
    from mpprogress._remote.settings import ADDRESS_ENV, inherited_setting

    def address(_):
        return inherited_setting(ADDRESS_ENV)

    if __name__ == "__main__":
        context = multiprocessing.get_context("forkserver")
        with mpprogress.session(console=False):
            with context.Pool(1) as pool:  # the forkserver starts here, inside the first session
                print("first", pool.map(address, [0])[0] == address(0))
        with context.Pool(1) as pool:
            print("between", pool.map(address, [0])[0])
        os.environ[ADDRESS_ENV] = "tcp://relay.example:5555"  # the application's own choice, later
        with context.Pool(1) as pool:
            print("set", pool.map(address, [0])[0], address(0))
        del os.environ[ADDRESS_ENV]
        with mpprogress.session(console=False):
            with context.Pool(1) as pool:
                print("second", pool.map(address, [0])[0] == address(0))
    """
)


def test_forkserver_children_follow_the_current_session(tmp_path: pathlib.Path) -> None:
    script = tmp_path / "forkserver_settings.py"  # a file: forkserver children import its functions
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:4] == [
        "first True",
        "between None",
        "set tcp://relay.example:5555 tcp://relay.example:5555",
        "second True",
    ], result.stdout
