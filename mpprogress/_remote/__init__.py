"""The multiprocess side: the wire codec, worker clients and the parent-side aggregator.

By job:

- ``messages``, ``wire``: the message dataclasses and the msgpack codec (pure; no zmq);
- ``settings``: what a session exports to its children (``MPPROGRESS_ADDRESS``...);
- ``transport``, ``addresses``, ``security``: sockets, addresses, CURVE keys;
- worker side: ``client`` (``ClientTracker``, the port), ``client_phases``, ``outbox`` (what
  the client has to send), ``link`` (the reliability protocol: acks, resend, resync),
  ``reachability`` (what the client knows of its connection; its one warning);
- parent side: ``aggregator`` (the poll loop), ``replies`` (acks and other replies),
  ``registry`` (clients, identity and liveness), ``applier`` (decoded messages -> the local
  tracker), ``cancels``; ``relay`` (the CLI relay).

Importing this package imports nothing else; zmq is imported only by the modules that use it.
"""

from __future__ import annotations

__all__: list[str] = []
