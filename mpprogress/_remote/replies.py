"""What an aggregator sends back to its clients: acknowledgements, batched per receive pass,
and single replies (``RESYNC``, ``CANCEL``).

An acknowledgement nobody waits for (a phase start after the client's first: the client waits
only for its introduction and, with no phase open, for delivery) is held up to ``LAZY_ACK``
seconds and goes with the next one that client needs, mostly its phase's finish: one ``ACK``
frame instead of two per short phase, a wake-up less in the worker.  Held far less than a
client's resend interval (0.5 s), it never causes a resend.

Used on the aggregator's thread only (it owns the socket).  Sends never block: a reply the
socket will not take at once is dropped and counted (``send_failed``); the client resends
what matters.  The socket is a ``ROUTER_MANDATORY`` one (``transport.bind_server``): a reply
to a connection that is gone fails (``EHOSTUNREACH``, not counted: nobody is left to miss it),
which is how ``connected`` tells whether a routing id still names a connection.
"""

from __future__ import annotations

import time
from collections import Counter

import zmq

from . import wire

__all__ = ["LAZY_ACK", "Replies"]

LAZY_ACK = 0.2
"""Seconds an acknowledgement nobody waits for may be held for the client's next one."""


class Replies:
    """Replies on the aggregator's ROUTER socket.

    Args:
        sock: the ROUTER socket (used on its owner's thread only).
        drops: where failed sends are counted.
    """

    def __init__(self, sock: zmq.Socket[bytes], drops: Counter[str]) -> None:
        self._sock = sock
        self._drops = drops
        self._acks: dict[bytes, list[int]] = {}  # routing id -> seqs applied, not yet acknowledged
        self._urgent: set[bytes] = set()  # routing ids with a seq some wait may depend on
        self._held: dict[bytes, float] = {}  # routing id -> when its oldest held seq is due

    def ack(self, routing_id: bytes, seq: int, *, lazy: bool = False) -> None:
        """Acknowledge ``seq`` of the client behind ``routing_id`` at the next ``flush``; a
        ``lazy`` one may wait up to ``LAZY_ACK`` seconds for that client's next one."""
        self._acks.setdefault(routing_id, []).append(seq)
        if not lazy:
            self._urgent.add(routing_id)
        elif routing_id not in self._held:
            self._held[routing_id] = time.monotonic() + LAZY_ACK

    def flush(self, *, everything: bool = False) -> None:
        """One acknowledgement per client for everything applied since the last flush (sends
        cost), but for clients with only held seqs not yet due (all of them: ``everything``)."""
        if not self._acks:
            return
        now = time.monotonic()
        due = list(self._acks) if everything else [
            routing_id for routing_id in self._acks
            if routing_id in self._urgent or self._held.get(routing_id, now) <= now
        ]
        for routing_id in due:
            seqs = self._acks.pop(routing_id)
            self._urgent.discard(routing_id)
            self._held.pop(routing_id, None)
            for start in range(0, len(seqs), wire.MAX_BATCH):
                self.send(routing_id, wire.Ack(0, tuple(seqs[start : start + wire.MAX_BATCH])))

    def held_until(self) -> float | None:
        """When the first held acknowledgement falls due (``time.monotonic``), if one is held."""
        return min(self._held.values()) if self._held else None

    def send(self, routing_id: bytes, message: wire.Message) -> bool:
        """Send one message to the client behind ``routing_id``, if the socket takes it now.

        Returns:
            Whether the connection still exists (a full queue drops the message, counted,
            but the connection is there).
        """
        try:
            self._sock.send_multipart([routing_id, wire.encode(message)], zmq.NOBLOCK)
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:
                return False
            self._drops["send_failed"] += 1
        return True

    def connected(self, routing_id: bytes) -> bool:
        """Whether ZeroMQ still has a connection under ``routing_id`` (it gets an empty ``ACK``)."""
        return self.send(routing_id, _PROBE)


_PROBE = wire.Ack(0, ())  # acknowledges nothing: harmless to a client that is still there
