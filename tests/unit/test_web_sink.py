"""JSON events for the web: the seed's WebSocket tracker and the SSE stream."""

from __future__ import annotations

import asyncio
import json
import threading

from mpprogress.adapters.web import EventStream, WebSocketProgressTracker, sse_message


class RecordingHandler:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def emit(self, event: str, data: str) -> None:
        self.sent.append((event, json.loads(data)))


def test_websocket_tracker_emits_every_event_as_seed_json() -> None:
    handler = RecordingHandler()
    tracker = WebSocketProgressTracker(handler)
    with tracker.operation("Web") as op, op.phase("P", total=2) as phase:
        phase.update(2, "done <b>")
    assert {name for name, _ in handler.sent} == {"progress_update"}
    types = [payload["type"] for _, payload in handler.sent]
    assert types == ["operation_started", "phase_started", "progress_update", "phase_finished", "operation_finished"]
    update = handler.sent[2][1]["data"]
    assert (update["current"], update["total"], update["message"]) == (2, 2, "done <b>")
    tracker.close()
    tracker.start_operation("after", "After close")
    assert len(handler.sent) == 5


def test_websocket_handler_can_be_attached_later() -> None:
    tracker = WebSocketProgressTracker()
    tracker.start_operation("a", "A")
    handler = RecordingHandler()
    tracker.websocket_handler = handler
    tracker.start_operation("b", "B")
    assert [p["data"]["operation_id"] for _, p in handler.sent] == ["b"]


def test_sse_message_framing() -> None:
    text = sse_message("phase_started", title="line\nbreak")
    assert text.startswith("event: phase_started\ndata: ")
    assert text.endswith("\n\n")
    assert text.count("\n") == 3  # the payload itself never contains a newline
    assert json.loads(text.split("data: ", 1)[1])["data"]["title"] == "line\nbreak"


def test_event_stream_fans_out_to_readers_in_order_and_ends_on_close() -> None:
    from mpprogress import BaseProgressTracker

    tracker = BaseProgressTracker(max_update_rate=None)
    stream = EventStream()
    tracker.add_callback(stream)
    first, second = stream.subscribe(), stream.subscribe()
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.extend(first))
    reader.start()
    with tracker.operation("Op") as op, op.phase("P", total=3) as phase:
        for _ in range(3):
            phase.update(1)
    stream.close()
    reader.join(10)
    assert not reader.is_alive()
    names = [m.split("\n", 1)[0] for m in received]
    assert names == ["event: operation_started", "event: phase_started"] + ["event: progress_update"] * 3 + [
        "event: phase_finished", "event: operation_finished"]
    assert second.get(timeout=1) == received[0]


def test_a_slow_reader_loses_the_oldest_messages_and_counts_them() -> None:
    stream = EventStream(max_buffered=3)
    slow = stream.subscribe()
    for i in range(10):
        stream(event_type="progress_update", current=i)
    assert slow.dropped == 7
    currents = [json.loads(slow.get(timeout=1).split("data: ", 1)[1])["data"]["current"] for _ in range(3)]
    assert currents == [7, 8, 9]


def test_async_iteration() -> None:
    stream = EventStream()
    subscription = stream.subscribe()

    async def main() -> list[str]:
        stream(event_type="operation_started", title="x")
        stream(event_type="operation_finished", success=True)
        got = []
        async for message in subscription:
            got.append(message.split("\n", 1)[0])
            if len(got) == 2:
                subscription.close()
        return got

    assert asyncio.run(main()) == ["event: operation_started", "event: operation_finished"]
