"""The client's link against a hand-driven receiver: resend, acknowledgement, resync, cancel.

The link's clock is a fake one: resends and heartbeats happen when the test moves it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import zmq

from mpprogress._remote import wire
from mpprogress._remote.link import ClientLink
from mpprogress._remote.outbox import ClientOutbox
from mpprogress._remote.transport import ClientConfig
from mpprogress.testing import FakeClock
from tests.integration.conftest import wait_for

HELLO = wire.Hello(0, "client", 4242, "host")


class Receiver:
    """A ROUTER that records what arrives and answers what the test tells it to."""

    def __init__(self) -> None:
        self.sock = zmq.Context.instance().socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:*")
        self.address = self.sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self.peer = b""

    def receive(self, timeout: float = 10.0) -> wire.Message:
        assert self.sock.poll(int(timeout * 1000)), "nothing arrived"
        self.peer, frame = self.sock.recv_multipart()
        return wire.decode(frame)

    def reply(self, message: wire.Message) -> None:
        self.sock.send_multipart([self.peer, wire.encode(message)])

    def close(self) -> None:
        self.sock.close()


class CancelRecord(ClientOutbox):
    """The real outbox, also recording the cancellations it is handed."""

    def __init__(self) -> None:
        super().__init__(HELLO)
        self.cancels: list[wire.Cancel] = []

    def cancel_received(self, message: wire.Cancel) -> None:
        self.cancels.append(message)
        super().cancel_received(message)


@pytest.fixture
def link() -> Iterator[tuple[ClientLink, Receiver, FakeClock, CancelRecord]]:
    receiver = Receiver()
    clock = FakeClock()
    outbox = CancelRecord()
    config = ClientConfig(flush_interval=0.01, resend_interval=0.5, heartbeat_interval=1.0, linger_ms=0)
    link = ClientLink(receiver.address, outbox, config, get_time=clock)
    yield link, receiver, clock, outbox
    link.close()
    receiver.close()


def test_unacknowledged_messages_are_resent_when_the_clock_says_so(
    link: tuple[ClientLink, Receiver, FakeClock, CancelRecord],
) -> None:
    client, receiver, clock, _ = link
    assert receiver.receive() == wire.Hello(1, "client", 4242, "host")
    client.send(wire.OperationStart(0, "op", "Op", None))
    assert receiver.receive() == wire.OperationStart(2, "op", "Op", None)
    clock.advance(0.6)  # past resend_interval: the same frames again, same seqs
    assert {receiver.receive(), receiver.receive()} == {wire.Hello(1, "client", 4242, "host"),
                                                       wire.OperationStart(2, "op", "Op", None)}
    receiver.reply(wire.Ack(0, (1, 2)))
    assert client.wait_delivered(10.0)
    clock.advance(1.1)  # silent past heartbeat_interval
    assert receiver.receive() == wire.Heartbeat(3)


def test_a_resync_sends_the_hello_and_the_outbox_again_and_a_cancel_reaches_the_outbox(
    link: tuple[ClientLink, Receiver, FakeClock, CancelRecord],
) -> None:
    client, receiver, _, outbox = link
    assert isinstance(receiver.receive(), wire.Hello)
    receiver.reply(wire.Ack(0, (1,)))
    assert client.wait_delivered(10.0)
    receiver.reply(wire.Resync(0))
    assert receiver.receive() == wire.Hello(2, "client", 4242, "host")
    receiver.reply(wire.Cancel(0, "op", None))
    receiver.reply(wire.Ack(0, (2,)))
    assert client.wait_delivered(10.0)
    assert outbox.cancels == [wire.Cancel(0, "op", None)] and outbox.was_cancelled("op")


# --- delivery waits last as long as the receiver is alive (issue 11) ---------------------------


@contextmanager
def linked(**config: float) -> Iterator[tuple[ClientLink, Receiver]]:
    """A link on the real clock (its heartbeats and flushes run) and its receiver."""
    receiver = Receiver()
    link = ClientLink(receiver.address, ClientOutbox(HELLO), ClientConfig(linger_ms=0, **config))  # type: ignore[arg-type]
    try:
        yield link, receiver
    finally:
        link.close()
        receiver.close()


@pytest.fixture
def live_link() -> Iterator[tuple[ClientLink, Receiver]]:
    with linked() as pair:
        yield pair


def in_thread(call: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Run ``call`` on another thread; the list gets what it returned."""
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(call()))
    thread.start()
    return thread, result


def wait_in_thread(link: ClientLink, timeout: float, cap: float | None = None) -> tuple[threading.Thread, list[object]]:
    return in_thread(lambda: link.wait_delivered(timeout, cap, warn=False))


def introduce_in_thread(link: ClientLink, timeout: float) -> tuple[threading.Thread, list[object]]:
    """``wait_introduced`` on another thread; the list gets ``True`` once it returned."""
    return in_thread(lambda: link.wait_introduced(timeout) or True)


@pytest.mark.parametrize("start", [wait_in_thread, introduce_in_thread], ids=["delivery", "introduction"])
def test_a_busy_receiver_that_answers_late_is_waited_for(
    live_link: tuple[ClientLink, Receiver], start: Callable[[ClientLink, float], tuple[threading.Thread, list[object]]],
) -> None:
    """A parent with hundreds of workers acknowledged after more than the delivery timeout; the
    worker gave up, closed with linger 0, and its final states were lost (issue 11).  The
    introduction (a first phase start waits until the parent has it) follows the same rule."""
    link, receiver = live_link
    hello = receiver.receive()
    assert wait_for(lambda: link._reach.connected)  # the link's thread has seen the handshake
    waiting, result = start(link, 0.2)
    time.sleep(1.0)  # five times the timeout without an answer, while the connection is up
    assert waiting.is_alive() and result == []
    receiver.reply(wire.Ack(0, (hello.seq,)))
    waiting.join(20)
    assert result == [True]


def test_a_receiver_that_is_gone_is_given_up_on(live_link: tuple[ClientLink, Receiver]) -> None:
    link, receiver = live_link
    receiver.receive()
    receiver.close()  # the parent died: the connection drops
    waiting, result = wait_in_thread(link, timeout=0.3)
    waiting.join(20)
    assert result == [False]
    started = time.monotonic()
    again, result = wait_in_thread(link, timeout=60.0)  # later waits: 0.1 s until it shows life
    again.join(60)
    assert result == [False] and time.monotonic() - started < 30


def test_a_wait_for_a_live_receiver_that_never_answers_ends_at_the_cap(live_link: tuple[ClientLink, Receiver]) -> None:
    link, receiver = live_link
    receiver.receive()
    waiting, result = wait_in_thread(link, timeout=0.3, cap=1.0)
    waiting.join(20)
    assert result == [False]


def test_the_introduction_ends_at_its_cap_when_a_live_receiver_never_answers() -> None:
    """A receiver that hangs still completes handshakes: the wait must not follow it for ever."""
    with linked(introduction_cap=1.0) as (link, receiver):
        receiver.receive()
        assert wait_for(lambda: link._reach.connected)
        started = time.monotonic()
        waiting, returned = introduce_in_thread(link, timeout=0.2)
        time.sleep(0.5)  # past the timeout, within the cap: still waiting
        assert waiting.is_alive()
        waiting.join(20)
        assert returned == [True] and 0.9 <= time.monotonic() - started < 10


def test_a_resync_ends_the_introduction_at_once() -> None:
    """A receiver that dropped the hello (it refused the client) answers RESYNC: no use waiting."""
    with linked(introduction_cap=120.0) as (link, receiver):
        receiver.receive()
        waiting, returned = introduce_in_thread(link, timeout=120.0)  # only the RESYNC can end it
        time.sleep(0.3)
        assert waiting.is_alive()
        receiver.reply(wire.Resync(0))
        waiting.join(60)
        assert returned == [True]
        assert isinstance(receiver.receive(), wire.Hello)  # and the link introduces itself again


def test_the_introduction_does_not_wait_for_a_link_that_stopped() -> None:
    with linked(introduction_cap=120.0) as (link, receiver):
        receiver.receive()
        link.close()  # the link's thread is gone: nothing will ever be acknowledged
        started = time.monotonic()
        link.wait_introduced(60.0)
        assert time.monotonic() - started < 20  # not the 60 s it would wait for a receiver seen alive


def test_the_introduction_gives_up_on_a_receiver_that_is_gone(live_link: tuple[ClientLink, Receiver]) -> None:
    link, receiver = live_link
    receiver.receive()
    receiver.close()  # the parent died before answering: the connection drops
    started = time.monotonic()
    waiting, returned = introduce_in_thread(link, timeout=0.3)
    waiting.join(20)
    assert returned == [True] and time.monotonic() - started < 10


def test_a_link_with_a_phase_open_wakes_about_once_per_flush_interval() -> None:
    # The poll timeout is rounded up to whole milliseconds: rounded down, the last fraction of
    # a millisecond before each flush was spent in polls that return at once (hundreds a second).
    from mpprogress._core.tracker import BaseProgressTracker
    from mpprogress._remote.aggregator import Aggregator
    from mpprogress._remote.client import ClientTracker

    with Aggregator(BaseProgressTracker()) as aggregator, ClientTracker(aggregator.address) as client:
        op = client.start_operation("op", "op")
        with op.phase("open", total=None) as phase:
            link = client._link
            passes = [0]
            watch = link._watch_receiver

            def counted() -> None:
                passes[0] += 1
                watch()

            link._watch_receiver = counted  # type: ignore[method-assign]  # called once per pass
            held = time.monotonic()
            while time.monotonic() - held < 1.0:
                phase.update(1)
                time.sleep(0.01)
            held = time.monotonic() - held
            seen = passes[0]
    flushes = held / client.config.flush_interval
    assert seen <= 2 * flushes + 5, f"{seen} passes in {held:.2f} s ({flushes:.0f} flush intervals)"


def test_a_message_resent_once_waits_twice_as_long_before_the_next_resend(
    link: tuple[ClientLink, Receiver, FakeClock, CancelRecord],
) -> None:
    _, receiver, clock, _ = link
    hello = wire.Hello(1, "client", 4242, "host")
    assert receiver.receive() == hello
    clock.advance(0.6)
    assert receiver.receive() == hello  # the first resend after resend_interval
    clock.advance(0.6)  # a busy receiver, not a lost frame: no second resend yet
    assert receiver.sock.poll(300) == 0, "resent again after one interval"
    clock.advance(0.5)  # 1.1 s after the first resend: due
    assert receiver.receive() == hello


def test_a_phase_open_but_unchanged_wakes_the_link_less_and_less_and_a_change_still_arrives() -> None:
    # Issue 26: under load a worker lives long; a flush every 50 ms that finds nothing changed is
    # wasted.  Each such flush doubles the wait before the next, up to the idle poll (0.25 s).
    from mpprogress._core.tracker import BaseProgressTracker
    from mpprogress._remote.aggregator import Aggregator
    from mpprogress._remote.client import ClientTracker

    parent = BaseProgressTracker()
    parent.start_operation("op", "op")
    with Aggregator(parent) as aggregator, ClientTracker(aggregator.address) as client:
        with client.get_operation("op").phase("open", total=None) as phase:
            link = client._link
            passes = [0]
            watch = link._watch_receiver

            def counted() -> None:
                passes[0] += 1
                watch()

            link._watch_receiver = counted  # type: ignore[method-assign]  # called once per pass
            time.sleep(1.0)  # 20 flush intervals with nothing changed
            seen = passes[0]
            phase.update(7)  # the next flush sends it, however long the wait had grown
            remote = parent.get_operation("op")
            assert remote is not None
            assert wait_for(lambda: any(p.current == 7 for p in remote.phases.values()))
    assert seen <= 10, f"{seen} passes in 1 s with nothing changed (20 flush intervals)"


def test_the_introduction_wait_sleeps_until_something_changes_not_every_50_ms(monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 26: under load the wait lasts long; each re-check wakes the worker's main thread.
    from mpprogress._remote import link as link_module

    looks = [0]
    time_left = link_module._time_left

    def counted(*args: float | bool) -> float:
        looks[0] += 1
        return time_left(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(link_module, "_time_left", counted)
    with linked(introduction_cap=1.0) as (link, receiver):
        receiver.receive()
        assert wait_for(lambda: link._reach.connected)  # a live receiver that never answers
        waiting, returned = introduce_in_thread(link, timeout=5.0)
        waiting.join(20)
        assert returned == [True]
    assert looks[0] <= 8, f"{looks[0]} looks in a 1 s wait"
