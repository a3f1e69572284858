"""The aggregator's settings: its timing (pacing, liveness: when a silent worker is stalled,
when it is lost) and the quotas that bound what one client, and all of them, may hold open."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["AggregatorConfig"]


@dataclass(frozen=True)
class AggregatorConfig:
    """Timing settings of the aggregator.

    Args:
        poll_interval: longest the thread sleeps while no frame comes (it also wakes at once
            for a cancellation or ``close()``, and for each liveness check).
        batch_interval: shortest time between a pass that read states or logs and the next
            pass: frames arriving meanwhile wait (in ZeroMQ's queue) and are applied together,
            so that 32 workers sending 20 times a second cost at most 200 wake-ups a second,
            not 640.  A pass of only hellos, starts, finishes and heartbeats is not followed
            by a wait: their senders wait for the acknowledgement (a short task's finish).
        liveness_interval: seconds between two liveness checks.
        stall_timeout: silence after which a client's open phases show as stalled (in doubt,
            not final: a long GIL-holding call, a stopped process or a network link down for a
            while; a worker sends a heartbeat every second when it has nothing else to say).
        lost_timeout: silence after which a client on another host is lost (final: its open
            phases finish as ``lost``).  A client on this host is lost as soon as its process
            is gone, whatever this says.
        local_lost_timeout: silence after which a client on this host whose process still
            exists is lost anyway; ``None`` (the default): never, it stays stalled.
        max_clients: clients tracked at once; hellos beyond are dropped.
        max_phases_per_client: phases one client may have open at once; starts beyond are
            dropped and counted (``too_many_phases``).
        max_operations_per_client: operations of its own one client may have open at once;
            starts beyond are dropped and counted (``too_many_operations``), as are its phases.
        max_phases: phases all clients together may have open at once (about 3 KB each);
            starts beyond are dropped and counted (``too_many_phases_total``).
        max_operations: the same for the clients' own operations (``too_many_operations_total``).
            These quotas bound what clients hold open, not all memory: finished and lost phases
            stay in the tracker like local ones (``max_finished_phases`` per open operation),
            and frames a peer sends faster than they are applied wait in ZeroMQ's queue, which
            is not bounded (see ``transport.bind_server``); a peer that may connect at all
            (same user for ``ipc://``, any local user for loopback TCP, an allowed CURVE key)
            can still make the parent grow.
        max_logger_names: distinct logger names created for worker records; records under
            further new names are re-emitted through the ``mpprogress.worker`` logger.
    """

    poll_interval: float = 0.25
    batch_interval: float = 0.005
    liveness_interval: float = 0.25
    stall_timeout: float = 5.0
    lost_timeout: float = 60.0
    local_lost_timeout: float | None = None
    max_clients: int = 4096
    max_phases_per_client: int = 10_000
    max_operations_per_client: int = 1000
    max_phases: int = 50_000
    max_operations: int = 10_000
    max_logger_names: int = 1000
