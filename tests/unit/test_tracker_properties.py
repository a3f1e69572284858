"""Property tests: any sequence of calls leaves the tracker exact and its event stream coherent."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mpprogress import BaseProgressTracker, PhaseFinishedError
from mpprogress.testing import FakeClock, RecordingCallback

action = st.one_of(
    st.tuples(st.just("update"), st.integers(0, 3), st.integers(0, 50)),
    st.tuples(st.just("set_progress"), st.integers(0, 3), st.integers(0, 500)),
    st.tuples(st.just("set_total"), st.integers(0, 3), st.one_of(st.none(), st.integers(0, 500))),
    st.tuples(st.just("finish"), st.integers(0, 3), st.booleans()),
    st.tuples(st.just("tick"), st.integers(0, 3), st.integers(0, 300)),
)


@settings(max_examples=150, deadline=None)
@given(actions=st.lists(action, max_size=120), burst=st.integers(1, 4))
def test_any_call_sequence_keeps_exact_state_and_a_coherent_stream(actions: list, burst: int) -> None:
    clock = FakeClock()
    tracker = BaseProgressTracker(get_time=clock, max_update_rate=10.0, update_burst=burst, auto_flush=False)
    events = RecordingCallback()
    tracker.add_callback(events)
    op = tracker.start_operation("op", "Op")
    phases = [op.start_phase(f"p{i}", f"P{i}") for i in range(4)]
    model = {f"p{i}": {"current": 0, "total": None, "finished": False} for i in range(4)}
    for name, index, value in actions:
        phase, state = phases[index], model[f"p{index}"]
        if name == "tick":
            clock.advance(value / 1000)
            tracker.flush()
            continue
        if state["finished"]:
            if name != "finish":
                try:
                    getattr(phase, name)(value)
                except PhaseFinishedError:
                    continue
                raise AssertionError("a finished phase accepted an update")
            op.finish_phase(phase.phase_id, value)  # finishing twice does nothing
            continue
        if name == "update":
            phase.update(value)
            state["current"] += value
        elif name == "set_progress":
            phase.set_progress(value)
            state["current"] = value
        elif name == "set_total":
            phase.set_total(value)
            state["total"] = value
        else:
            op.finish_phase(phase.phase_id, value)
            state["finished"] = True
    tracker.finish_operation("op")

    for phase_id, state in model.items():
        stream = [e for e in events.events if e.data.get("phase_id") == phase_id]
        types = [e.type for e in stream]
        assert types[0] == "phase_started"
        assert types[-1] == "phase_finished"
        assert types.count("phase_finished") == 1
        finished = stream[-1].data
        assert (finished["current"], finished["total"]) == (state["current"], state["total"])
        updates = [e.data for e in stream if e.type == "progress_update"]
        if updates:  # the last reported state is the final state
            assert (updates[-1]["current"], updates[-1]["total"]) == (state["current"], state["total"])
        else:
            assert (state["current"], state["total"]) == (0, None)
    assert events.types[-1] == "operation_finished"
