"""Following a receiver that moved: a client that found it through an address file looks again.

A relay restarted on another port or host announces its new address in the same file
(``announce``).  A client whose address came from that file reads it again while its connection
is down, at most once a second, and when another address is announced there it connects to that
one instead.  The new receiver does not know the client and answers ``RESYNC``: the client's
state is rebuilt there as after a restart (protocol: ``link``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable

import zmq

from .addresses import check_tcp_address
from .announce import announced_address, announced_key
from .transport import AddressError, connect_socket

__all__ = ["AddressFollower"]

_log = logging.getLogger("mpprogress.remote")


class AddressFollower:
    """Moves a client's socket to the address announced now in ``path``.

    Args:
        path: the address file.
        interval: shortest time between two reads of it.
        get_time: monotonic seconds.
    """

    def __init__(self, path: str, interval: float = 1.0, get_time: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._interval = interval
        self._get_time = get_time
        self._next_read = get_time() + interval
        self._refused: str | None = None  # an announced address ZeroMQ would not take

    def moved(self, current: str) -> str | None:
        """The address announced now, if it is not ``current`` (the file is read at most once per
        ``interval``; ``None`` between reads, while the file is missing or empty, and while it
        holds an address already refused)."""
        now = self._get_time()
        if now < self._next_read:
            return None
        self._next_read = now + self._interval
        address = announced_address(self.path)
        return address if address and address not in (current, self._refused) else None

    def follow(self, sock: zmq.Socket[bytes], current: str) -> str:
        """Connect ``sock`` to the address announced now if it moved; return where it is connected.

        It disconnects from ``current`` first (a DEALER shares its messages among all its
        peers).  An address that cannot be used is logged once and skipped until the file
        announces another one; ``sock`` stays with ``current``.
        """
        moved = self.moved(current)
        if moved is None:
            return current
        try:
            check_tcp_address(moved, bind=False)
        except AddressError as exc:
            self._refuse(moved, exc)
            return current
        with contextlib.suppress(zmq.ZMQError):
            sock.disconnect(current)
        announced = announced_key(self.path)
        if announced is not None and announced[0] == moved and sock.getsockopt(zmq.MECHANISM) == zmq.CURVE:
            with contextlib.suppress(zmq.ZMQError):  # the relay's new key (loopback TCP): the next connection uses it
                sock.curve_serverkey = announced[1].encode()
        try:
            connect_socket(sock, moved)
        except AddressError as exc:
            with contextlib.suppress(AddressError):
                connect_socket(sock, current)
            self._refuse(moved, exc)
            return current
        _log.info("mpprogress: the receiver moved from %s to %s (announced in %s)", current, moved, self.path)
        return moved

    def _refuse(self, address: str, error: AddressError) -> None:
        """Say once why ``address`` cannot be followed, and skip it from now on."""
        self._refused = address
        _log.warning("mpprogress: cannot follow the receiver to %r (announced in %s): %s", address, self.path, error)
