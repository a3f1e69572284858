"""A client's outbox, as its link sees it: changed states, resync, acknowledgements, cancellations."""

from __future__ import annotations

import itertools

from mpprogress._remote import wire
from mpprogress._remote.client_phases import ClientOperation, ClientPhase
from mpprogress._remote.outbox import ClientOutbox

HELLO = wire.Hello(0, "client", 4242, "host")


class Owner:
    """The smallest ``PhaseOwner``: records phases in the outbox, as ``ClientTracker`` does."""

    def __init__(self, outbox: ClientOutbox) -> None:
        self.outbox = outbox
        self.sent: list[wire.Message] = []
        self._handles = itertools.count(1)

    @property
    def _lock(self) -> object:
        return self.outbox.lock

    def _start_phase(self, container: ClientOperation | ClientPhase, phase_id: str, title: str,
                     total: int | None, description: str | None) -> ClientPhase:
        phase = ClientPhase(phase_id, title, total, description, container=container, handle=next(self._handles))
        container.phases[phase_id] = phase
        self.sent.append(self.outbox.phase_started(phase))
        return phase

    def _finish_phase(self, phase: ClientPhase, success: bool, reason: str | None) -> None:
        phase._finished = True
        finish = wire.PhaseFinish(0, phase.handle, phase.current, phase.total, phase.last_message, success, reason)
        self.outbox.phase_finished(finish)
        self.sent.append(finish)

    def operation(self, operation_id: str, owned: bool = True) -> ClientOperation:
        op = ClientOperation(operation_id, operation_id.upper(), None, client=self, owned=owned)  # type: ignore[arg-type]
        self.outbox.operations[operation_id] = op
        return op


def make() -> tuple[ClientOutbox, Owner]:
    outbox = ClientOutbox(HELLO)
    return outbox, Owner(outbox)


def test_only_changed_phases_are_reported_and_unsent_ones_again() -> None:
    outbox, owner = make()
    op = owner.operation("op")
    a = op.start_phase("a", "A", total=10)
    b = op.start_phase("b", "B")
    assert outbox.changed_states() == []  # their starts carry their first states
    a.update(0, "zero")
    b.set_total(4)
    assert outbox.changed_states() == [wire.PhaseState(1, 0, 10, "zero"), wire.PhaseState(2, 0, 4, None)]
    assert outbox.changed_states() == []
    a.update(3, "three", url="u")
    states = outbox.changed_states()
    assert states == [wire.PhaseState(1, 3, 10, "three", {"url": "u"})]
    outbox.unsent(states)  # the socket refused them
    assert outbox.changed_states() == [wire.PhaseState(1, 3, 10, "three")]  # the metadata went with the first
    b.update(1)
    op.finish_phase("a")
    assert outbox.changed_states() == [wire.PhaseState(2, 1, 4, None)]  # finished: its finish carries it
    assert outbox.hello() == HELLO


def test_a_resync_sends_everything_not_yet_acknowledged_in_an_order_the_aggregator_can_apply() -> None:
    outbox, owner = make()
    own = owner.operation("own")
    outer = own.start_phase("outer", "Outer", total=2)
    inner = outer.start_phase("inner", "Inner")
    view = owner.operation("parents", owned=False)
    view.start_phase("done", "Done").update(1)
    view.finish_phase("done")
    own._finished, own.success = True, False
    outbox.changed_states()
    messages = outbox.resync_messages()
    assert messages == [
        wire.OperationStart(0, "own", "OWN", None),
        wire.PhaseStart(0, 1, "outer", "own", None, "Outer", None, 2),
        wire.PhaseStart(0, 2, "inner", "own", 1, "Inner", None, None),
        wire.PhaseStart(0, 3, "done", "parents", None, "Done", None, None),
        wire.PhaseFinish(0, 3, 1, None, None, True, None),
        wire.OperationFinish(0, "own", False),
    ]
    assert [s.handle for s in outbox.changed_states()] == [1, 2]  # every open phase's state again
    assert inner.finished is False


def test_acknowledgements_let_the_outbox_forget() -> None:
    outbox, owner = make()
    own = owner.operation("own")
    phase = own.start_phase("p", "P", total=1)
    start = owner.sent[0]
    phase.set_progress(0, "early")
    assert outbox.changed_states() == [wire.PhaseState(1, 0, 1, "early")]
    outbox.acked(start)  # states sent before the start was applied were dropped: send again
    assert outbox.changed_states() == [wire.PhaseState(1, 0, 1, "early")]
    phase.update(1)
    own.finish_phase("p")
    outbox.acked(owner.sent[-1])
    own._finished = True
    outbox.acked(wire.OperationFinish(0, "own", True))
    assert outbox.resync_messages() == [] and outbox.operations == {}


def test_a_phase_unchanged_since_its_start_is_not_sent_again_when_the_start_is_acknowledged() -> None:
    """The start carries the phase's first state (0, total, no message): a short task's phase
    sends no state frame of its own, and its finish is not held up behind one."""
    outbox, owner = make()
    own = owner.operation("own")
    phase = own.start_phase("p", "P", total=5)
    assert outbox.changed_states() == []  # before the acknowledgement
    outbox.acked(owner.sent[0])
    assert outbox.changed_states() == []
    phase.update(1)
    assert outbox.changed_states() == [wire.PhaseState(1, 1, 5, None)]


def test_cancellations_set_flags_and_are_remembered_for_operations_not_seen_yet() -> None:
    outbox, owner = make()
    op = owner.operation("op", owned=False)
    phase = op.start_phase("p", "P")
    outbox.cancel_received(wire.Cancel(0, "op", 1))
    assert phase.cancelled and not op.cancelled
    outbox.cancel_received(wire.Cancel(0, "op", None))
    assert op.cancelled
    for n in range(1100):
        outbox.cancel_received(wire.Cancel(0, f"later-{n}", None))
    assert outbox.was_cancelled("later-1099") and not outbox.was_cancelled("later-0")  # the newest 1024


def test_idle_views_of_the_parents_operations_are_forgotten_past_256() -> None:
    outbox, owner = make()
    owner.operation("mine")
    busy = owner.operation("busy", owned=False)
    busy.start_phase("open", "Open")
    for n in range(300):
        owner.operation(f"view-{n}", owned=False)
    outbox.forget_idle_views()
    assert set(outbox.operations) == {"mine", "busy"}
