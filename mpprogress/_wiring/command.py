"""Wiring of ``mpprogress run -- COMMAND``: a session around one command and everything it starts.

The session (aggregator + display on standard error, optionally a journal) listens on
``--bind``; the command runs with ``MPPROGRESS_ADDRESS`` in its environment (the address other
hosts reach when the bind is a wildcard), and with ``--curve DIR`` the ``MPPROGRESS_CURVE_DIR``
/ ``MPPROGRESS_CURVE_CLIENT`` a worker needs (on loopback TCP without it, the session's
``MPPROGRESS_SERVER_KEY``, also announced with ``--announce``).  Every process the command starts, on this node or
on others (``srun``, ``mpirun``, ``ssh``: whatever passes the environment on), reports to it.
The exit status is the command's (128 + N when a signal N ended it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from .._remote.announce import announce, reachable_address
from .._remote.settings import ADDRESS_ENV, CURVE_CLIENT_ENV, CURVE_DIR_ENV, SERVER_KEY_ENV
from .processes import session

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["EXIT_NOT_STARTED", "RunConfig", "curve_client_name", "run_command"]

EXIT_NOT_STARTED = 2
"""Exit status when the session or the command cannot start (a refused bind, bad keys, no command)."""
_STOP_GRACE = 5.0  # seconds the command has to exit after the session passed it SIGINT/SIGTERM


@dataclass(frozen=True)
class RunConfig:
    """What ``run_command`` starts.

    Args:
        command: the program and its arguments.
        bind: where the session listens (a private ``ipc://`` path by default: this node only).
        curve_dir: a directory made by ``mpprogress keys``: the session requires CURVE and the
            command gets the client settings.
        journal: an SQLite file to record the run in.
        announce: a file to write the address into (for workers started with
            ``MPPROGRESS_ADDRESS_FILE``).
        display: whether to draw the display (on standard error).
        stderr: where errors go (``sys.stderr`` when ``None``).
    """

    command: Sequence[str]
    bind: str | None = None
    curve_dir: str | None = None
    journal: str | None = None
    announce: str | None = None
    display: bool = True
    stderr: TextIO | None = field(default=None, compare=False)


def curve_client_name(root: Path) -> str:
    """The client key pair a worker gets from ``root`` (made by ``mpprogress keys``): the first
    allow-listed name whose secret key is there."""
    allowed = sorted(key.stem for key in (root / "clients").glob("*.key"))
    usable = [name for name in allowed if (root / f"{name}.key_secret").exists()]
    return (usable or allowed or ["client"])[0]


def _client_settings(curve_dir: str) -> dict[str, str]:
    """The variables a worker needs to reach a CURVE session made with ``curve_dir``'s keys."""
    root = Path(curve_dir).resolve()
    return {CURVE_DIR_ENV: str(root), CURVE_CLIENT_ENV: os.environ.get(CURVE_CLIENT_ENV) or curve_client_name(root)}


def _status(code: int) -> int:
    return 128 - code if code < 0 else code  # -N: ended by signal N, as a shell reports it


def run_command(config: RunConfig) -> int:
    """Run ``config.command`` inside a session until it exits (call from the main thread).

    Returns:
        The command's exit status; ``EXIT_NOT_STARTED`` (2) when the session refuses the
        address or the keys, or the command cannot be started; 130 / 143 when this process
        was interrupted (the command is passed the signal and given 5 s to exit).
    """
    err = config.stderr if config.stderr is not None else sys.stderr
    if not config.command:
        err.write("mpprogress run: error: no command given (mpprogress run [OPTIONS] -- COMMAND ...)\n")
        return EXIT_NOT_STARTED
    try:
        security = None
        if config.curve_dir is not None:
            from .._remote.security import CurveServerKeys

            security = CurveServerKeys.load(config.curve_dir)
        console: bool | Console = False
        if config.display:
            from ..adapters.console import terminal_console

            console = terminal_console(stderr=True)  # the command's standard output stays its own
        with session(config.bind, console=console, security=security, journal=config.journal):
            return _run_in_session(config)
    except (OSError, ValueError) as exc:  # a refused bind or unreadable keys (ProgressErrors are ValueErrors)
        err.write(f"mpprogress run: error: {exc}\n")
        return EXIT_NOT_STARTED


def _run_in_session(config: RunConfig) -> int:
    address = reachable_address(os.environ[ADDRESS_ENV])
    env = {**os.environ, ADDRESS_ENV: address}
    if config.curve_dir is not None:
        env.update(_client_settings(config.curve_dir))
    if config.announce is not None:
        announce(config.announce, address, os.environ.get(SERVER_KEY_ENV))  # the session's loopback key, if any
    try:
        child = subprocess.Popen(list(config.command), env=env)
    except OSError as exc:
        raise OSError(f"cannot start {config.command[0]!r}: {exc.strerror or exc}") from exc
    try:
        return _status(child.wait())
    except BaseException as exc:  # SIGINT / SIGTERM here: pass it on, then let the session clean up
        child.send_signal(signal.SIGINT if isinstance(exc, KeyboardInterrupt) else signal.SIGTERM)
        try:
            child.wait(_STOP_GRACE)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
