"""The client's link to an aggregator: the reliability protocol on top of one DEALER socket.

One thread per client owns the socket (ZeroMQ sockets are not thread-safe).  Other threads
hand it messages (``send``, ``send_log``) and wait for delivery (``wait_delivered``); the link
never blocks them and never blocks on the socket.  What to send and what the aggregator has is
kept by the client's ``Outbox`` (private to the client); the link asks it on its own thread.

The protocol (both ends; the aggregator's side is in ``aggregator``/``applier``):

- **Sequence numbers.** Every frame a link sends carries ``seq``, one more than the previous
  frame's, whatever its kind.  The aggregator ignores a phase state older than the newest one
  it applied to that phase, so a reordered or repeated state can never move a count back.
- **Absolute, coalesced state.** Every ``flush_interval`` the link sends the absolute state
  (``current``, ``total``, message, new metadata) of the phases that changed in ``STATE``
  frames; a phase's start carries its first state.  A flush that found nothing changed doubles
  the wait before the next (at most 0.25 s; a change restores ``flush_interval``).  With no
  phase open nothing can change: the link wakes for frames and sends, and every 0.25 s.
  States are not acknowledged: the next change supersedes a lost one, a phase's final state
  travels in its reliable ``PHASE_FINISH``, and a state the socket refused is sent again.
- **Reliable messages and acknowledgements.** ``HELLO``, operation and phase starts and
  finishes, and ``BYE`` are kept until the aggregator acknowledges their ``seq`` in an ``ACK``
  (it acknowledges per receive pass, many seqs per frame; a phase start after the first may
  wait up to 0.2 s to go with the next acknowledgement, mostly its finish's).  Each is handed to the outbox as
  ``acked`` then: a phase whose finish was acknowledged is forgotten; a phase whose start was
  acknowledged has its state sent again (states sent before the start arrived were dropped).
- **Resend.** An unacknowledged message is sent again (same frame, same ``seq``) after
  ``resend_interval``, each wait twice the last, at most 8x (``sendqueue.due``); the aggregator
  acknowledges a repeat without applying it again.
- **Resync.** An aggregator that does not know the sender (it restarted, or the routing id
  changed) answers ``RESYNC`` (at most once a second per sender).  The link forgets what awaited
  an acknowledgement and puts in front of its queue a new ``HELLO`` and the outbox's
  ``resync_messages``: every start of the client's own operations and live phases, the finishes
  not yet acknowledged, with fresh seqs; every live phase's state is sent again at the next flush.
- **Heartbeats.** After ``heartbeat_interval`` without sending, the link sends ``HEARTBEAT``
  (answered with an ``ACK``); a client on another host that stays silent is lost.
- **Cancellation.** A ``CANCEL`` goes to the outbox (``cancel_received``), which flags it.
- **Orphans.** No life for ``orphan_grace`` and the session's process gone (``pids``: zombies and
  reused pids too): the outbox cancels all it knows.  A relay's workers have no session pid.
- **Moves.** While the connection is down, a client whose address came from a file connects
  to the one announced there now, if it moved (``follow``); then ``RESYNC``.
- **Logs.** ``LOG`` records travel in order, never resent; past 1,000 waiting, new ones are dropped.
- **Introduction.** A client's first phase start waits once (``wait_introduced``) until the
  aggregator acknowledged it and the hello, so the parent knows the worker even if it ends
  right after with ``os._exit``: while the receiver shows life (below), at most
  ``introduction_cap``, giving up ``introduction_timeout`` after it last did, and at once if it
  answers ``RESYNC`` (it dropped the hello).  Later starts are not waited for: ``os._exit`` right
  after one may lose it, and always loses the counts since the last flush and the finishes (``lost``).
- **Delivery on close.** ``wait_delivered(timeout)`` returns once nothing is queued and nothing
  awaits an acknowledgement.  The client calls it when its last open phase finishes, on
  ``close()`` and at exit, so a worker killed right after its task has delivered its final
  states.  It waits as long as the receiver shows life (``reachability``: a completed ZMTP
  handshake, checked by heartbeats every second, or a frame from it; not a bare connect: a
  forked worker holds its dead session's listening ipc socket), up to ``delivery_cap``: a busy
  parent with hundreds of workers is slow, not gone.  It gives up ``timeout`` seconds after
  the receiver last showed life (dead: the connection drops at once; hung: the heartbeats drop
  it within 3 s), at once when waiting is futile (``reachability.Standing``: the handshake or
  the hello was refused, ``RESYNC`` answers everything, nobody ever listened); after that,
  0.1 s per wait until an ``ACK`` acknowledges something again (a parent that is gone, or one
  that answers and never acknowledges, holds a worker up once, not per phase).  Giving up, a
  refusal, or reports stuck ``timeout`` s with no connection: one warning per process.
- **Sends never block.** A frame the socket will not take at once (``zmq.Again``: its queue is
  full, or nobody listens) is dropped and counted (``frames_dropped``); states are marked
  unsent; a refused reliable message is retried on the next pass before anything queued after
  it: reliable messages arrive in order (a phase's start before its children's).
- **Time.** ``get_time`` (monotonic seconds) decides flushes, heartbeats, resends (tests: fake).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable

import zmq

from .._core.wakepipe import WakePipe
from . import wire
from .follow import AddressFollower
from .outbox import Outbox
from .pids import process_alive, process_start
from .reachability import Reachability, Standing, warn_undelivered
from .sendqueue import SendQueue
from .transport import AddressError, ClientConfig, SocketSecurity, client_socket, connect_socket, readable

__all__ = ["ClientLink", "Outbox"]

_log = logging.getLogger("mpprogress.remote")

_IDLE_POLL = 0.25  # no phase open: resends (0.5 s) and heartbeats (1 s) are all that falls due


def _time_left(started: float, grace: float, cap: float, connected: bool, alive_at: float) -> float:
    """What is left of a wait begun at ``started`` that gives up ``grace`` seconds after the
    receiver last showed life (now, if ``connected``; else ``alive_at``), ``cap`` after it began."""
    now = time.monotonic()
    return min(max(now if connected else alive_at, started) + grace, started + cap) - now


class ClientLink:
    """Owns a DEALER socket and the one thread that touches it (see the module docstring).

    Args:
        address: the aggregator's address.
        outbox: the client's outbox, asked on the link's thread.
        config: timing and queue settings.
        security: applied to the socket before it connects.
        session_pid: the pid of the session (on this host) whose worker this is, if it is one.
        follow: where to look for the receiver's new address while the connection is down.
        get_time: the clock that decides flushes, heartbeats and resends.

    Raises:
        AddressError: the address cannot be connected.
    """

    def __init__(
        self,
        address: str,
        outbox: Outbox,
        config: ClientConfig,
        security: SocketSecurity | None = None,
        *,
        session_pid: int | None = None,
        follow: AddressFollower | None = None,
        get_time: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address
        self.config = config
        self.frames_sent = self.frames_dropped = self.bad_frames = 0
        self._outbox = outbox
        self._get_time = get_time
        self._sock = client_socket(config, security)
        self._reach = Reachability(self._sock, keyed=security is not None)
        try:
            connect_socket(self._sock, address)
        except AddressError:
            self._reach.close()
            self._sock.close(linger=0)
            raise
        self._alive_at = time.monotonic()  # when the receiver last showed life (or the link started)
        self._waker = WakePipe()
        self._cond = threading.Condition()
        self._out = SendQueue(outbox.hello())  # the hello always goes first; guarded by _cond
        self._seq = 0
        self._sent_at = 0.0
        self._unresponsive = False  # a wait gave up; cleared only by an ACK that acknowledges something
        self._standing = Standing(self._reach, config.delivery_timeout)  # when waiting is futile
        self._session = None if session_pid is None else (session_pid, process_start(session_pid))  # till gone
        self._follow = follow
        self._introduced = self._resynced = self._stopping = False
        self._thread = threading.Thread(target=self._run, name="mpprogress-client", daemon=True)
        self._thread.start()

    # --- called from any thread ---------------------------------------------------------------

    def send(self, message: wire.Message) -> None:
        """Queue a reliable message (its seq is assigned when sent) and wake the link."""
        with self._cond:
            self._out.put(message)
        self._waker.wake()

    def send_log(self, record: wire.LogRecord) -> None:
        """Queue a log record, in order with the other messages but never resent.

        Best effort: past 1,000 records waiting to be sent, new ones are dropped and counted.
        """
        with self._cond:
            self._out.put_log(record)
        self._waker.wake()

    def wait_delivered(
        self, timeout: float, cap: float | None = None, *, warn: bool = True, final: bool = False
    ) -> bool:
        """Wait until every reliable message was acknowledged, as long as the receiver shows life.

        Args:
            timeout: give up this long after the receiver last showed life (0.1 s once a wait
                has given up, until it acknowledges something again); at once if it is futile.
            cap: give up after this long in any case (``config.delivery_cap`` by default).
            warn: on giving up, print the process's one warning about undelivered reports.
            final: the client closes (its last wait): where nobody has listened yet, wait until
                ``delivery_timeout`` after the link started (a relay starting alongside its
                worker); any other wait gives up at once then, and costs the work nothing.

        Returns:
            Whether everything was acknowledged.
        """
        if threading.current_thread() is self._thread or not self._thread.is_alive():
            return False
        started, cap = time.monotonic(), self.config.delivery_cap if cap is None else cap
        with self._cond:
            while not self._out.settled:
                # A wait gave up before: 0.1 s, until the receiver acknowledges something again
                # (being connected is not enough: a receiver may answer and never acknowledge).
                alive = self._reach.connected and self._standing.refused is None  # refused: no life
                left = (started + 0.1 - time.monotonic() if self._unresponsive
                        else _time_left(started, timeout, cap, alive, self._alive_at))
                if left <= 0 or self._standing.futile:
                    self._unresponsive = True
                    break
                if self._standing.nobody_listened(final):  # later waits are not shortened
                    break
                # An acknowledgement or a refusal wakes this wait; the receiver showing life
                # moves the deadline, looked at again at least every 0.2 s.
                self._cond.wait(min(left, 0.2))
            else:
                return True
        if warn:
            warn_undelivered(self.address, self._standing.cause())
        return False

    def wait_introduced(self, timeout: float) -> None:
        """Once: wait until all sent so far was acknowledged, at most ``timeout`` s past the receiver's
        last sign of life ("Introduction" above); judges nothing for later waits."""
        if self._introduced or threading.current_thread() is self._thread:
            return
        self._introduced = True
        started = time.monotonic()
        with self._cond:  # nobody to be seen by (refused, nothing listens, the hello dropped, no link)
            while not (self._out.settled or self._reach.unreachable or self._resynced or self._standing.refused) \
                    and self._thread.is_alive():
                left = _time_left(started, timeout, self.config.introduction_cap, self._reach.connected, self._alive_at)
                if left <= 0:
                    return
                self._cond.wait(min(left, 0.25))  # woken by an ACK, a RESYNC, a connection event

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread (it closes the socket with linger 0) and release the wake pipe."""
        self._stopping = True
        self._waker.wake()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self._waker.close()

    # --- the link's thread --------------------------------------------------------------------

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._sock, zmq.POLLIN)
        poller.register(self._waker.fd, zmq.POLLIN)
        monitor = self._reach.monitor
        if monitor is not None:
            poller.register(monitor, zmq.POLLIN)
        next_flush, every = self._get_time(), self.config.flush_interval
        try:
            while not self._stopping:
                timeout = min(max(0.0, next_flush - self._get_time()), every)
                if not self._outbox.active():  # hundreds of waiting workers: few wake-ups
                    timeout = _IDLE_POLL
                ready = dict(poller.poll(math.ceil(timeout * 1000.0)))  # rounded down, it would spin
                if self._waker.fd in ready:
                    self._waker.drain()
                if monitor in ready:  # the connection changed: waiters look again (they sleep long)
                    refused = self._reach.pump()
                    with self._cond:
                        self._cond.notify_all()
                    if refused:  # final: say so now
                        warn_undelivered(self.address, self._standing.cause())
                self._watch_receiver()
                now = self._get_time()
                if self._sock in ready:  # level-triggered: a frame after the poll wakes the next one
                    self._receive(now)
                self._send_queued(now)
                if now >= next_flush:  # a flush with nothing changed: the next one twice as late
                    every = self.config.flush_interval if self._send_states(now) else min(2 * every, _IDLE_POLL)
                    self._resend(now)
                    if now - self._sent_at >= self.config.heartbeat_interval:
                        self._send_frame(wire.encode(wire.Heartbeat(self._next_seq())), now)
                    next_flush = now + every
        except Exception:  # never let the link die silently: the worker must keep working
            _log.exception("mpprogress client link to %s stopped", self.address)
        finally:
            self._reach.close()
            self._sock.close(linger=0)  # whatever mattered was acknowledged or given up on
            with self._cond:
                self._cond.notify_all()  # a waiter stops waiting for a thread that is gone

    def _watch_receiver(self) -> None:
        """Note that the receiver is alive; warn if reports are stuck with no connection."""
        mono = time.monotonic()
        if self._reach.connected and self._standing.refused is None:
            self._alive_at = mono
        elif mono - self._alive_at >= self.config.delivery_timeout and not self._out.settled:
            warn_undelivered(self.address, self._standing.cause())
        if self._follow is not None and not self._reach.connected:  # see "Moves" above
            self.address = self._follow.follow(self._sock, self.address)
        session = self._session
        if session is not None and mono - self._alive_at >= self.config.orphan_grace and not process_alive(*session):
            self._session = None
            self._outbox.orphaned()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _send_frame(self, frame: bytes, now: float) -> bool:
        try:
            self._sock.send(frame, zmq.NOBLOCK)
        except zmq.ZMQError:  # zmq.Again: queue full; anything else: the socket is unusable
            self.frames_dropped += 1
            return False
        self.frames_sent += 1
        self._sent_at = now
        return True

    def _send_queued(self, now: float) -> None:
        with self._cond:
            refused = self._out.refused()
        for early in refused:  # in order or not at all (``sendqueue``)
            if not self._send_frame(early.frame, now):
                with self._cond:
                    self._out.refuse(early)
                return
            early.refused, early.sent_at = False, now
        while True:
            with self._cond:
                taken = self._out.take(self._seq + 1, now)
                if taken is None:
                    if self._out.settled:
                        self._cond.notify_all()  # what was left were log records
                    return
                self._seq += 1
            frame, pending = taken
            if not self._send_frame(frame, now) and pending is not None:
                with self._cond:
                    self._out.refuse(pending)
                return

    def _send_states(self, now: float) -> bool:
        states = self._outbox.changed_states()
        if not states:
            return False
        frames = wire.encode_state(states, self._next_seq)
        if not all([self._send_frame(frame, now) for frame in frames]):
            self._outbox.unsent(states)
        return True

    def _resend(self, now: float) -> None:
        with self._cond:
            due = self._out.due(now, self.config.resend_interval)
        for pending in due:
            pending.sent_at, pending.resends = now, pending.resends + 1
            if not self._send_frame(pending.frame, now):
                return

    def _receive(self, now: float) -> None:
        while True:
            try:
                if not readable(self._sock):
                    return
                frame = self._sock.recv(zmq.NOBLOCK)
                if self._sock.getsockopt(zmq.RCVMORE):  # never sent by an aggregator
                    while self._sock.getsockopt(zmq.RCVMORE):
                        self._sock.recv(zmq.NOBLOCK)
                    raise wire.ProtocolError("multipart")
                message = wire.decode(frame)
            except zmq.Again:
                return
            except (wire.ProtocolError, zmq.ZMQError):
                self.bad_frames += 1
                continue
            if not isinstance(message, wire.Refused):
                self._alive_at = time.monotonic()
            self._apply(message, now)

    def _apply(self, message: wire.Message, now: float) -> None:
        if isinstance(message, wire.Ack):
            with self._cond:
                done = self._out.acknowledge(message.acked)
                if done:  # the receiver works: waits are full ones again
                    self._unresponsive = False
                    self._standing.acknowledged()
                if self._out.settled:
                    self._cond.notify_all()
            for acked in done:
                self._outbox.acked(acked)
        elif isinstance(message, wire.Cancel):
            self._outbox.cancel_received(message)
        elif isinstance(message, wire.Resumed):
            self._outbox.resumed(message)
        elif isinstance(message, wire.Resync):
            rebuild = [self._outbox.hello(), *self._outbox.resync_messages()]
            with self._cond:
                self._out.restart(rebuild)
                self._resynced = True  # the receiver did not know this client: introductions end
                self._standing.resyncs += 1
                self._cond.notify_all()
            self._send_queued(now)
        elif isinstance(message, wire.Refused):  # no life from now; the hello is resent and may be let in
            with self._cond:
                self._standing.refused = message.reason
                self._cond.notify_all()
            if self._standing.futile:
                warn_undelivered(self.address, self._standing.cause())
