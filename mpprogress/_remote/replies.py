"""What an aggregator sends back to its clients: acknowledgements, batched per receive pass,
and single replies (``RESYNC``, ``CANCEL``).

Used on the aggregator's thread only (it owns the socket).  Sends never block: a reply the
socket will not take at once is dropped and counted (``send_failed``); the client resends
what matters.  The socket is a ``ROUTER_MANDATORY`` one (``transport.bind_server``): a reply
to a connection that is gone fails (``EHOSTUNREACH``, not counted: nobody is left to miss it),
which is how ``connected`` tells whether a routing id still names a connection.
"""

from __future__ import annotations

from collections import Counter

import zmq

from . import wire

__all__ = ["Replies"]


class Replies:
    """Replies on the aggregator's ROUTER socket.

    Args:
        sock: the ROUTER socket (used on its owner's thread only).
        drops: where failed sends are counted.
    """

    def __init__(self, sock: zmq.Socket[bytes], drops: Counter[str]) -> None:
        self._sock = sock
        self._drops = drops
        self._acks: dict[bytes, list[int]] = {}  # routing id -> seqs applied in this pass

    def ack(self, routing_id: bytes, seq: int) -> None:
        """Acknowledge ``seq`` of the client behind ``routing_id`` at the next ``flush``."""
        self._acks.setdefault(routing_id, []).append(seq)

    def flush(self) -> None:
        """One acknowledgement per client for everything applied since the last flush (sends cost)."""
        acks, self._acks = self._acks, {}
        for routing_id, seqs in acks.items():
            for start in range(0, len(seqs), wire.MAX_BATCH):
                self.send(routing_id, wire.Ack(0, tuple(seqs[start : start + wire.MAX_BATCH])))

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
