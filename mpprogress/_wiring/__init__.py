"""The one place that composes a tracker, its sinks and a transport (this package alone).

The local tracker core holds state, ``adapters/`` turn events into output, ``remote/`` moves
state between processes; only this package knows which parts go together for each way of
running: ``get_tracker()`` (the session's tracker, a worker's client, or a silent local one),
``session()`` (tracker + sinks + aggregator, its address exported to children), ``connect()``,
``track()`` and ``display_if_silent()``, the demo's and the relay's output
(``output_session``, ``run_relay``) and ``build_tracker()`` for configuration files.

By job: ``local`` (one process), ``processes`` (sessions and workers), ``outputs`` (the demo's
and the relay's display or JSON lines).  Third-party libraries (rich, zmq) are imported only
inside the functions that need them, so ``import mpprogress`` stays light.
"""

from __future__ import annotations

from .local import build_tracker, display_if_silent, get_tracker, track
from .outputs import Output, output_session, run_relay
from .processes import connect, session, worker_client

__all__ = [
    "Output",
    "build_tracker",
    "connect",
    "display_if_silent",
    "get_tracker",
    "output_session",
    "run_relay",
    "session",
    "track",
    "worker_client",
]
