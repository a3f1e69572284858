"""Run as a program: an aggregator with a slow sink, and processes that send it thousands of
acknowledged frames and then disconnect at once (linger 0) while their frames still wait.

Prints ``applied N`` and ``survived``; a libzmq abort ends the program with SIGABRT instead.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

import zmq

from mpprogress._core.tracker import BaseProgressTracker
from mpprogress._remote import wire
from mpprogress._remote.aggregator import Aggregator

SENDERS, FRAMES = 3, 4000


def flood(address: str) -> None:
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(address)
    sock.send(wire.encode(wire.Hello(1, f"flood-{os.getpid()}", os.getpid(), "elsewhere")))
    for k in range(FRAMES):
        sock.send(wire.encode(wire.PhaseStart(2 + k, k + 1, f"p{os.getpid()}-{k}", "op", None, "t", None, 5)))
    time.sleep(0.3)  # the frames reach the aggregator's queue, then the sender vanishes
    sock.close(linger=0)
    context.term()


def main() -> None:
    tracker = BaseProgressTracker(max_update_rate=None)
    tracker.start_operation("op", "flooded")
    tracker.add_callback(lambda **_: time.sleep(0.0005))  # a slow sink: the queue fills up
    with Aggregator(tracker) as aggregator:
        senders = [multiprocessing.Process(target=flood, args=(aggregator.address,)) for _ in range(SENDERS)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        deadline = time.monotonic() + 60
        while aggregator.stats().frames < SENDERS * (FRAMES + 1) and time.monotonic() < deadline:
            time.sleep(0.05)
        print("applied", aggregator.stats().frames, flush=True)
    print("survived", flush=True)


if __name__ == "__main__":
    sys.exit(main())
