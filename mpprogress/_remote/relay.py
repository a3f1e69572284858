"""The standalone relay: ``mpprogress relay`` renders whatever connects, until interrupted.

One local tracker, one aggregator bound on ``--bind`` (a private ``ipc://`` path by default,
printed on standard error so users can ``export MPPROGRESS_ADDRESS=...``, with the
``MPPROGRESS_CURVE_DIR`` / ``MPPROGRESS_CURVE_CLIENT`` lines under ``--curve``, and on loopback TCP
without ``--curve`` the ``MPPROGRESS_SERVER_KEY`` line of the key pair made for this run), and one sink, which
the caller makes (``wiring.run_relay``: the Rich display, or one JSON event per line on standard
output with ``--format json``).  SIGINT and
SIGTERM stop it: the aggregator closes, the sink flushes, and a status line with the frames
applied and the frames dropped per reason goes to standard error.  If the aggregator's thread
dies (``Aggregator.failure``), the relay stops too, says so on standard error and exits with
``EXIT_FAILED`` (1) rather than going on showing nothing.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

from .._base.events import Sink
from .._base.forksafe import add_parent_only_handler
from .._base.text import clean_line
from .._core.stopping import StopSignals
from .._core.tracker import BaseProgressTracker
from .aggregator import Aggregator, AggregatorConfig, AggregatorStats
from .announce import announce, reachable_address
from .security import (
    CurveServerKeys,
    InsecureBindError,
    IpcAddressInUseError,
    check_bind_address,
    ipc_in_use,
    loopback_keys,
)
from .settings import ADDRESS_ENV, CURVE_CLIENT_ENV, CURVE_DIR_ENV, SERVER_KEY_ENV

__all__ = ["EXIT_FAILED", "EXIT_REFUSED", "RelayConfig", "format_status", "serve"]

EXIT_FAILED = 1
"""Exit status when the relay's aggregator stopped while it ran (progress after it was lost)."""
EXIT_REFUSED = 2
"""Exit status when the relay refuses to start (insecure bind, address in use, bad keys)."""


@dataclass(frozen=True)
class RelayConfig:
    """What ``run_relay`` listens on and how it shows what arrives.

    Args:
        bind: the address to listen on; a private ``ipc://`` path when ``None``.
        output: ``"display"`` (Rich) or ``"json"`` (one event per line on ``stdout``).
        curve_dir: a directory made by ``mpprogress keys``: the relay becomes a CURVE server
            that lets in only the allow-listed client keys.
        stdout: where JSON lines go (``sys.stdout`` when ``None``).
        stderr: where the address and the status line go (``sys.stderr`` when ``None``).
        aggregator: the aggregator's settings, e.g. when a silent worker shows as stalled and
            when it is lost (``AggregatorConfig.stall_timeout``, ``lost_timeout``).
        announce: a file to write the address workers should use into (``announce``), for
            workers started with ``MPPROGRESS_ADDRESS_FILE``.
        key_file: on loopback TCP without ``curve_dir``, where the relay keeps the key pair its
            workers authenticate it with (``security.kept_keys``), so that a restarted relay is
            the same to them; a new pair for each run when ``None``.
    """

    bind: str | None = None
    output: Literal["display", "json"] = "display"
    curve_dir: str | None = None
    stdout: TextIO | None = None
    stderr: TextIO | None = None
    aggregator: AggregatorConfig | None = None
    announce: str | None = None
    key_file: str | None = None


def format_status(stats: AggregatorStats) -> str:
    """The relay's one-line status: frames applied, drops per reason, clients, lost clients."""
    drops = ", ".join(f"{reason}={count}" for reason, count in sorted(stats.dropped.items())) or "none"
    return (
        f"mpprogress relay: frames applied={stats.frames} dropped={stats.total_dropped} ({drops}) "
        f"clients={stats.clients} lost={stats.lost}"
    )


_BREAKS = re.compile("[\u2028\u2029\x0b\x0c\x85]+")  # line breaks clean_line leaves


class _OneLine(logging.Filter):
    """Makes every record one line, and names the worker a forwarded record came from, so that
    no worker can print a line of its own (``mpprogress: warning: ...``) or flood the screen."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = clean_line(_BREAKS.sub(" ", record.getMessage()), limit=2000)
        record.msg, record.args = (f"[worker {record.process}] {text}" if record.pathname == "(worker)" else text), ()
        return True


@contextmanager
def _log_lines(sink: Sink, err: TextIO) -> Iterator[None]:
    """While the relay runs, log records (its own, and its workers' forwarded ones) are shown one
    line each: above the display through its handler, else on ``err``."""
    make_handler = getattr(sink, "logging_handler", None)
    handler: logging.Handler = make_handler() if callable(make_handler) else logging.StreamHandler(err)
    handler.addFilter(_OneLine())
    undo = add_parent_only_handler(logging.getLogger(), handler)
    try:
        yield
    finally:
        undo()


def _refuse(err: TextIO, message: str, status: int = EXIT_REFUSED) -> int:
    err.write(f"mpprogress relay: error: {message}\n")
    err.flush()
    return status


def _curve_hint(keys: Path, allowed: Path) -> str:
    """The lines a worker's shell needs besides the address to reach a CURVE relay."""
    names = sorted(key.stem for key in allowed.glob("*.key"))
    usable = [name for name in names if (keys / f"{name}.key_secret").exists()] or names or ["client"]
    hint = f"export {CURVE_DIR_ENV}={keys.resolve()}\nexport {CURVE_CLIENT_ENV}={usable[0]}\n"
    if len(names) > 1:
        hint += f"# allowed clients: {', '.join(names)}\n"
    return hint


def serve(config: RelayConfig, make_sink: Callable[[BaseProgressTracker], Sink]) -> int:
    """Run the relay in this process until SIGINT or SIGTERM (call it from the main thread).

    Args:
        config: where to listen and with which keys.
        make_sink: subscribes the relay's output to its tracker and returns it (closed at the
            end); called only once the address and keys were accepted.

    Returns:
        0 after a clean stop; ``EXIT_FAILED`` (1) when the aggregator's thread died (the relay
        stops at once, within 0.2 s); ``EXIT_REFUSED`` (2) when the address is refused (a
        non-loopback TCP bind without CURVE, an ``ipc://`` path a live process listens on) or
        the keys cannot be read.
    """
    err = config.stderr if config.stderr is not None else sys.stderr
    security = None
    if config.curve_dir is not None:
        try:
            security = CurveServerKeys.load(config.curve_dir)
        except (OSError, ValueError) as exc:
            return _refuse(err, f"cannot load CURVE keys from {config.curve_dir}: {exc}")
        allowed = security.allowed_clients_dir
        if allowed is None or not any(allowed.glob("*.key")):  # read once, at the start
            return _refuse(err, f"no client key is allowed in {security.allowed_clients_dir}: every worker would be "
                                "refused (put a worker's public key NAME.key there)")
    if config.bind is not None:
        try:
            check_bind_address(config.bind, curve=security is not None)
        except InsecureBindError as exc:
            return _refuse(err, str(exc))
        if config.bind.startswith("ipc://") and ipc_in_use(config.bind):
            return _refuse(err, f"another relay already listens on {config.bind}")
    try:  # loopback TCP: the workers check who we are
        own_keys = loopback_keys(config.bind, config.key_file) if security is None else None
    except (OSError, ValueError) as exc:
        return _refuse(err, f"cannot use the key file {config.key_file}: {exc}")
    server_key = own_keys.public.decode() if own_keys is not None else None

    with StopSignals() as stop:  # SIGINT and SIGTERM end the loop below
        tracker = BaseProgressTracker()
        sink = make_sink(tracker)
        aggregator = None
        try:
            try:
                aggregator = Aggregator(tracker, config.bind, config=config.aggregator, security=security or own_keys)
            except (InsecureBindError, IpcAddressInUseError, ValueError) as exc:
                return _refuse(err, str(exc))
            if config.announce is not None:  # before "listening on": whoever reads that finds the file
                try:
                    announce(config.announce, reachable_address(aggregator.address), server_key)
                except OSError as exc:
                    return _refuse(err, f"cannot announce the address in {config.announce}: {exc}")
            err.write(
                f"mpprogress relay: listening on {aggregator.address}"
                f"{' (CURVE)' if security is not None else ''}\n"
                f"export {ADDRESS_ENV}={aggregator.address}\n"
                + (f"export {SERVER_KEY_ENV}='{server_key}'\n" if server_key is not None else "")
            )
            if security is not None and security.allowed_clients_dir is not None and config.curve_dir is not None:
                err.write(_curve_hint(Path(config.curve_dir), security.allowed_clients_dir))
            err.flush()
            with _log_lines(sink, err):
                while not stop.wait(0.2) and aggregator.failure is None:
                    pass
        finally:
            try:
                if aggregator is not None:
                    aggregator.close()
                tracker.close()
            finally:
                sink.close()
    err.write(format_status(aggregator.stats()) + "\n")
    err.flush()
    if aggregator.failure is not None:
        return _refuse(err, f"the aggregator stopped ({aggregator.failure!r}); progress sent after it was lost",
                       EXIT_FAILED)
    return 0

