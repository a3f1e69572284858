"""What a client knows of its connection to the aggregator, and the one warning a worker gives
when its reports cannot be delivered.

``Reachability`` reads the ZeroMQ socket monitor of the client's socket (on the link's thread,
which owns the socket): whether the connection is up (its ZMTP handshake completed, and it was
not dropped since: the receiving *process* is alive, its I/O thread answers the handshake and
heartbeats even while its aggregator thread is busy), and if not, the likely cause.

A connection whose handshake has not completed is no sign of life: connecting succeeds as
soon as some process holds the listening socket, and a worker forked by a session inherits
the session's ipc listening socket, so after the session was killed the worker can still
connect (to itself, in effect) although nobody will ever answer.

``warn_undelivered`` prints one line on standard error, at most once per process, naming the
cause; the same line goes to the ``mpprogress`` logger as a warning when logging is configured
(unconfigured, logging's last resort would print it a second time).  The causes:

- *refused*: the handshake failed; under CURVE that is a worker without keys
  (``MPPROGRESS_CURVE_DIR``) facing a CURVE relay, a key not on the relay's allow-list, or
  keys facing a relay without CURVE.  ZeroMQ gives up on such a connection, so it is final.
- *wrong server key*: with CURVE keys, every handshake fails without detail (the server cannot
  decrypt a hello made for another key).
- *nothing listens*: connecting is refused (no session or relay at that address).
- *refused by the receiver*: it answered the hello with ``REFUSED`` (no room for another
  worker, or another live connection holds this worker's id); the hello is resent, and the
  worker is let in once a slot frees.
- *the receiver does not take this worker*: it answers ``RESYNC`` to everything and
  acknowledges nothing.
- *timed out*: connected, but the receiver acknowledged nothing in time.

``Standing`` keeps what the link learnt of the receiver's attitude, so that a wait for
acknowledgements ends at once when it is futile.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time

import zmq

from .._base.forksafe import PerProcess
from .settings import ADDRESS_ENV, CURVE_CLIENT_ENV, CURVE_DIR_ENV
from .transport import close_monitor, open_monitor, recv_monitor_event

__all__ = ["Reachability", "Standing", "warn_undelivered"]

_EVENTS = (
    zmq.EVENT_CONNECTED | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | zmq.EVENT_CONNECT_RETRIED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)

NOTHING_LISTENS = f"nothing listens there (is the session or relay running, and {ADDRESS_ENV} right?)"
TIMED_OUT = "timed out: connected, but the receiver acknowledged nothing in time"
NOT_ALLOWED = (
    f"refused: this worker's CURVE key is not on the relay's allow-list (check {CURVE_CLIENT_ENV}, or "
    "add its public key to the relay's clients/ directory)"
)
NEEDS_KEYS = (
    f"refused: the relay requires CURVE keys (set {CURVE_DIR_ENV} to the directory made by `mpprogress keys` "
    f"and {CURVE_CLIENT_ENV} to a client name in it)"
)
NO_CURVE_THERE = f"refused: this worker has CURVE keys ({CURVE_DIR_ENV}) but the receiver does not use CURVE"
WRONG_SERVER_KEY = (
    f"refused: every CURVE handshake fails: the relay's public key in {CURVE_DIR_ENV} (server.key) is "
    "probably not this relay's (copy the relay's key directory again)"
)
_FAILED_HANDSHAKES = 3  # failures without detail in a row, with keys: the server key is wrong
HANDSHAKE_FAILED = "refused: the handshake failed (not an mpprogress receiver, or mismatched CURVE keys)"
REFUSED_BY_RECEIVER = {
    "too_many_clients": "refused: the receiver has no room for another worker (too many clients connected)",
    "hijack": "refused: another live connection to the receiver uses this worker's client id",
}
RESYNC_LOOP = "refused: the receiver answers RESYNC to everything and acknowledges nothing"
_MAY_FREE = "too_many_clients"  # a refusal that may pass: a slot frees as a worker leaves
_MAX_RESYNCS = 3  # RESYNCs without an ACK in between: the receiver does not take this client


class Reachability:
    """The state of a client socket's connection, from its monitor (use on the socket's thread).

    Args:
        sock: the client's socket, before it connects.
        keyed: whether the socket uses CURVE keys (to name the cause of a refusal).
    """

    def __init__(self, sock: zmq.Socket[bytes], *, keyed: bool) -> None:
        self.connected = False
        """Whether the connection is up now."""
        self.refusal: str | None = None
        """Why the receiver refused the last handshake (final: ZeroMQ stops trying), if it did."""
        self.ever_connected = False
        """Whether a connection was ever made (not yet a sign of life: see the module docstring)."""
        self._keyed = keyed
        self._retrying = False  # a connect attempt was refused since the connection was last up
        self._pending = False  # connected, handshake not completed yet (no sign of life)
        self._failures = 0  # handshakes failed without detail since the last one that succeeded
        self._sock = sock
        self.monitor = open_monitor(sock, _EVENTS)
        """The monitor socket, to poll for events (``None`` if ZeroMQ refused one)."""

    def pump(self) -> bool:
        """Take in the events that came; whether the receiver has just refused the handshake."""
        refused = False
        while self.monitor is not None:
            try:
                kind, value = recv_monitor_event(self.monitor, zmq.NOBLOCK)
            except zmq.ZMQError:  # Again: nothing more; anything else: stop watching
                return refused
            if kind == zmq.EVENT_CONNECTED:  # someone holds the listening socket: maybe nobody alive
                self._pending = self.ever_connected = True
            elif kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self.connected, self.refusal, self._retrying, self._pending = True, None, False, False
                self._failures = 0
            elif kind == zmq.EVENT_DISCONNECTED:
                self.connected = self._pending = False
            elif kind == zmq.EVENT_CONNECT_RETRIED:
                self.connected, self._retrying, self._pending = False, True, False
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self.connected, self.refusal, refused = False, NOT_ALLOWED, True
            elif kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
                mismatch = value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                self.refusal = (NO_CURVE_THERE if self._keyed else NEEDS_KEYS) if mismatch else HANDSHAKE_FAILED
                self.connected, refused = False, True
            else:  # no detail: often a passing failure (the receiver closing); ZeroMQ tries again
                self.connected, self._retrying, self._pending = False, True, False
                self._failures += 1  # with keys, again and again: the server cannot read our hello
                if self._keyed and self._failures == _FAILED_HANDSHAKES and self.refusal is None:
                    self.refusal, refused = WRONG_SERVER_KEY, True
        return refused

    @property
    def unreachable(self) -> bool:
        """Whether the receiver refused the handshake, or connecting to it is refused now."""
        return self.refusal is not None or (self._retrying and not self.connected and not self._pending)

    def cause(self) -> str:
        """The likely reason nothing is acknowledged now (see the module docstring)."""
        if self.refusal is not None:
            return self.refusal
        if not self.connected and self._retrying and not self._pending:
            return NOTHING_LISTENS
        return TIMED_OUT

    def close(self) -> None:
        """Stop monitoring (before the socket closes). Idempotent."""
        monitor, self.monitor = self.monitor, None
        close_monitor(self._sock, monitor)


class Standing:
    """How the receiver treats this client, as far as waiting for it goes (on the link's
    thread; read under the link's condition by waiting threads).

    Args:
        reach: the client socket's connection state.
        grace: how long after the link started a receiver that nobody ever saw listening is
            still waited for (a relay starting alongside its first worker).
    """

    def __init__(self, reach: Reachability, grace: float) -> None:
        self.reach = reach
        self._nobody_after = time.monotonic() + grace
        self.refused: str | None = None
        """Why the receiver refused the hello (``REFUSED``), until an ``ACK`` acknowledges something."""
        self.resyncs = 0
        """``RESYNC``s since the last ``ACK`` that acknowledged something."""

    def acknowledged(self) -> None:
        """An ``ACK`` acknowledged something: the receiver takes this client."""
        self.refused, self.resyncs = None, 0

    @property
    def futile(self) -> bool:
        """Whether waiting for acknowledgements is pointless now: the receiver refused the
        handshake, or the hello for good (no room only counts as no life: a slot may free),
        or answers ``RESYNC`` again and again and acknowledges nothing."""
        return self.reach.refusal is not None or self.refused not in (None, _MAY_FREE) or self.resyncs >= _MAX_RESYNCS

    def nobody_listened(self, final: bool) -> bool:
        """Whether no connection was ever made and connecting is refused now (nobody ever
        listened there); for the ``final`` wait, only ``grace`` seconds after the link started."""
        return (not self.reach.ever_connected and self.reach.unreachable
                and (not final or time.monotonic() >= self._nobody_after))

    def cause(self) -> str:
        """Why nothing is acknowledged, for the warning."""
        if self.refused is not None:
            return REFUSED_BY_RECEIVER.get(self.refused, f"refused by the receiver ({self.refused})")
        return RESYNC_LOOP if self.resyncs >= _MAX_RESYNCS else self.reach.cause()


class _Warning:
    """This process's one warning: whether it was given, and the lock its giving holds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.given = False


_warning: PerProcess[_Warning] = PerProcess(_Warning)  # a forked child may give its own


def warn_undelivered(address: str, cause: str) -> None:
    """Say once per process, on standard error (and to the ``mpprogress`` logger if logging is
    configured), that progress reports to ``address`` are not delivered, and why.

    Thread-safe: a second caller waits until the first has given the warning (the link's
    thread may be giving it while the main thread leaves the interpreter).
    """
    warning = _warning.get()
    with warning.lock:
        if warning.given:
            return
        line = f"mpprogress: warning: progress reports to {address} are not delivered: {cause}"
        with contextlib.suppress(Exception):  # a closed or missing stderr: the log record remains
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        logger = logging.getLogger("mpprogress")
        if logger.hasHandlers():
            logger.warning(line)
        warning.given = True
