"""The floor under N concurrent worker processes: what ZeroMQ alone costs, beside mpprogress and tqdm.

Run: ``python benchmarks/bench_floor.py`` (defaults: 256 workers, 5 phases x 2,000 updates each,
3 interleaved rounds, ``fork``; about a minute).  ``--workers``, ``--rounds``, ``--method``;
``--gate`` starts every worker and waits until all of them wait at a barrier, then releases them
together (the wall then counts from the release): the parent's main thread is not forking while
the workers report, which shows what the fork loop (``os.fork`` holds the GIL) costs.

Every variant does the same counting in N processes started at once, each run in a fresh
interpreter, rounds interleaved; the table gives the best wall time of each and its ratio to
tqdm+lock's:

- ``bare``: the counting alone (no progress at all): what forking N processes costs here.
- ``tqdm+lock``: one tqdm bar per phase sharing a multiprocessing lock (as ``bench_scale``).
- ``zmq floor``: the least any ZeroMQ reporter can do.  Each worker makes a context (ZeroMQ's
  I/O thread) and a DEALER connected to the parent's ROUTER over ipc, and sends from its own
  thread one small msgpack frame per phase start, per 500 updates and per phase finish, then a
  last frame it waits to hear acknowledged; the parent has one thread that reads and answers.
  No reliability, no coalescing thread, no display, no events.
- ``zmq + thread``: the same frames sent by a second thread of the worker that wakes every
  50 ms, as mpprogress's link thread does (the worker's own thread only counts).
- ``zmq + thread + acks``: the same, plus mpprogress's acknowledgement waits: the worker's
  thread waits until the parent acknowledged its first phase start (the introduction) and each
  phase finish (nothing open: delivered before the worker goes on), as a mpprogress worker does.
  The difference from ``zmq + thread`` is what those guarantees cost in the transport.
- ``mpprogress``: ``session()`` with the Rich display on a forced terminal on /dev/null, each
  worker ``get_tracker().get_operation(...)`` and ``op.phase(...)``.

Columns: wall (best round) and ratio to tqdm+lock; the parent's and the workers' CPU seconds
(in that round; the workers' from ``RUSAGE_CHILDREN``, the zmq variants' include no display and
no events); the context switches (voluntary and not) and minor page faults per worker (copy-on-write
after fork, first touches); p99 latency from a
frame's send in the worker to its receipt in the parent (zmq variants; for mpprogress, from an
``update`` to the parent's event); the last column, the p99 of how late a parent thread sleeping
5 ms at a time wakes during the run (medians of the rounds): on 2 cores with N runnable
processes, no thread of the parent, the aggregator's and the display's included, gets a core
sooner than that, which bounds any update-to-screen latency from below.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import msgpack
import zmq
from rich.console import Console
from tqdm import tqdm

import mpprogress

VARIANTS = ["bare", "tqdm+lock", "zmq floor", "zmq + thread", "zmq + thread + acks", "mpprogress"]
SEND_EVERY = 500


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- workers ----------------------------------------------------------------------------------


def bare_worker(phases: int, updates: int) -> None:
    count = 0
    for _ in range(phases):
        for _ in range(updates):
            count += 1


def tqdm_worker(lock: Any, position: int, phases: int, updates: int) -> None:
    tqdm.set_lock(lock)
    with open(os.devnull, "w") as devnull:
        for _ in range(phases):
            with tqdm(total=updates, position=position % 40, file=devnull) as bar:
                for _ in range(updates):
                    bar.update(1)


def _frames(phases: int, updates: int, send: Any) -> None:
    """The counting, calling ``send(kind, phase, count)`` where a reporter would send a frame."""
    for phase in range(phases):
        send(0, phase, 0)
        count = 0
        for _ in range(updates):
            count += 1
            if count % SEND_EVERY == 0:
                send(1, phase, count)
        send(2, phase, count)


def _dealer(address: str) -> tuple[zmq.Context[Any], zmq.Socket[bytes]]:
    """A worker's own context (its I/O thread) and a DEALER connected to the parent."""
    context: zmq.Context[Any] = zmq.Context()
    sock: zmq.Socket[bytes] = context.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 2000)
    sock.connect(address)
    return context, sock


def zmq_worker(address: str, phases: int, updates: int) -> None:
    context, sock = _dealer(address)
    pack = msgpack.packb
    _frames(phases, updates, lambda kind, phase, count: sock.send(pack((kind, phase, count, time.time()))))
    sock.send(pack((3, 0, 0, time.time())))
    sock.recv()  # the acknowledgement of the last frame
    sock.close()
    context.term()


def zmq_thread_worker(address: str, phases: int, updates: int) -> None:
    context, sock = _dealer(address)
    pending: list[bytes] = []
    lock = threading.Lock()
    done = threading.Event()

    def link() -> None:  # owns the socket: wakes every 50 ms and sends what came
        while True:
            finished = done.wait(0.05)
            with lock:
                frames, pending[:] = list(pending), []
            for frame in frames:
                sock.send(frame)
            if finished:
                sock.send(msgpack.packb((3, 0, 0, time.time())))
                sock.recv()
                return

    thread = threading.Thread(target=link)
    thread.start()

    def send(kind: int, phase: int, count: int) -> None:
        with lock:
            pending.append(msgpack.packb((kind, phase, count, time.time())))

    _frames(phases, updates, send)
    done.set()
    thread.join()
    sock.close()
    context.term()


def zmq_acks_worker(address: str, phases: int, updates: int) -> None:
    context, sock = _dealer(address)
    pending: list[bytes] = []
    lock = threading.Condition()
    acked = [0]  # how many acknowledgements arrived
    done = threading.Event()
    wake_r, wake_w = os.pipe()

    def link() -> None:  # owns the socket: wakes every 50 ms, or at once for a start or finish
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(wake_r, zmq.POLLIN)
        while True:
            ready = dict(poller.poll(50))
            if wake_r in ready:
                os.read(wake_r, 4096)
            while sock.poll(0):
                sock.recv()
                with lock:
                    acked[0] += 1
                    lock.notify_all()
            with lock:
                frames, pending[:] = list(pending), []
            for frame in frames:
                sock.send(frame)
            if done.is_set() and not frames:
                sock.send(msgpack.packb((3, 0, 0, time.time())))
                sock.recv()
                return

    thread = threading.Thread(target=link)
    thread.start()
    waits = [0]

    def send(kind: int, phase: int, count: int) -> None:
        with lock:
            pending.append(msgpack.packb((kind, phase, count, time.time())))
        if kind != 1:
            os.write(wake_w, b"\0")
        if (kind == 0 and phase == 0) or kind == 2:  # introduction; delivered before going on
            waits[0] += 1
            with lock:
                lock.wait_for(lambda: acked[0] >= waits[0])

    _frames(phases, updates, send)
    done.set()
    os.write(wake_w, b"\0")
    thread.join()
    sock.close()
    context.term()


def mpprogress_worker(operation_id: str, phases: int, updates: int) -> None:
    op = mpprogress.get_tracker().get_operation(operation_id)
    for k in range(phases):
        with op.phase(f"{os.getpid()}-{k}", total=updates) as phase:
            update = phase.update
            for count in range(1, updates + 1):
                if count % SEND_EVERY == 0:
                    update(1, f"{time.time():.6f}")
                else:
                    update(1)


# --- one run ----------------------------------------------------------------------------------


class _Receiver:
    """The parent's end of the zmq variants: reads every frame, acknowledges the last ones."""

    def __init__(self, workers: int, *, acks: bool = False) -> None:
        self._acks = acks
        self.address = f"ipc://{tempfile.mkdtemp()}/floor.sock"
        self.latencies: list[float] = []
        self._workers = workers
        self._sock = zmq.Context.instance().socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.RCVHWM, 0)
        self._sock.bind(self.address)
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        ended = 0
        while ended < self._workers:
            routing_id, frame = self._sock.recv_multipart()
            kind, phase, count, sent = msgpack.unpackb(frame)
            self.latencies.append(time.time() - sent)
            if kind == 3:
                self._sock.send_multipart([routing_id, b"ack"])
                ended += 1
            elif self._acks and (kind == 2 or (kind == 0 and count == 0 and phase == 0)):
                self._sock.send_multipart([routing_id, b"ack"])

    def join(self) -> None:
        self._thread.join()
        self._sock.close(linger=0)


class _Stamps:
    """A sink: latency from a worker's stamped update to the parent's event."""

    def __init__(self) -> None:
        self.latencies: list[float] = []

    def __call__(self, *, event_type: str, **data: Any) -> None:
        if event_type == "progress_update" and data.get("message"):
            self.latencies.append(time.time() - float(data["message"]))


def _gated(ready: Any, go: Any, target: Any, *args: Any) -> None:
    ready.wait()  # every worker started (and imported, under spawn)...
    go.wait()  # ...then the parent releases them all at once
    target(*args)


_released: list[float] = []  # with --gate: when the workers were released


def _start_all(context: Any, target: Any, argsets: list[tuple[Any, ...]], gate: bool = False) -> None:
    ready, go = (context.Barrier(len(argsets) + 1), context.Event()) if gate else (None, None)
    procs = [context.Process(target=_gated, args=(ready, go, target, *args)) if gate else
             context.Process(target=target, args=args) for args in argsets]
    for proc in procs:
        proc.start()
    if ready is not None and go is not None:  # all started: the parent's main thread forks no more
        ready.wait()
        _released.append(time.perf_counter())
        go.set()
    for proc in procs:
        proc.join()
    assert [proc.exitcode for proc in procs] == [0] * len(procs)


class _Oversleep:
    """A thread of the parent that sleeps 5 ms again and again: how late it wakes is how long
    any thread of the parent (the aggregator, the display) waits for a core during the run."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            before = time.perf_counter()
            time.sleep(0.005)
            self.delays.append(time.perf_counter() - before - 0.005)

    def p99_ms(self) -> float:
        self._stop.set()
        self._thread.join()
        return statistics.quantiles(self.delays, n=100)[98] * 1e3


def run_one(variant: str, method: str, workers: int, phases: int, updates: int, gate: bool = False) -> dict[str, Any]:
    context = mp.get_context(method)
    oversleep = _Oversleep()
    started, cpu = time.perf_counter(), _cpu()
    latencies: list[float] = []
    if variant == "bare":
        _start_all(context, bare_worker, [(phases, updates)] * workers, gate)
    elif variant == "tqdm+lock":
        lock = context.RLock()
        _start_all(context, tqdm_worker, [(lock, k, phases, updates) for k in range(workers)], gate)
    elif variant.startswith("zmq"):
        receiver = _Receiver(workers, acks=variant == "zmq + thread + acks")
        target = {"zmq floor": zmq_worker, "zmq + thread": zmq_thread_worker}.get(variant, zmq_acks_worker)
        _start_all(context, target, [(receiver.address, phases, updates)] * workers, gate)
        receiver.join()
        latencies = receiver.latencies
    else:
        stamps = _Stamps()
        console = Console(file=open(os.devnull, "w"), force_terminal=True, width=120, height=40)  # noqa: SIM115
        with mpprogress.session(console=console, sinks=(stamps,)) as tracker, tracker.operation("floor") as op:
            _start_all(context, mpprogress_worker, [(op.operation_id, phases, updates)] * workers, gate)
        latencies = stamps.latencies
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "wall": time.perf_counter() - (_released[0] if _released else started), "parent_cpu": _cpu() - cpu,
        "workers_cpu": children.ru_utime + children.ru_stime,
        "switches": (children.ru_nvcsw + children.ru_nivcsw) / workers, "faults": children.ru_minflt / workers,
        "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1e3 if len(latencies) > 1 else None,
        "wake_p99_ms": oversleep.p99_ms(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=256)
    parser.add_argument("--phases", type=int, default=5)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--method", choices=["fork", "spawn", "forkserver"], default="fork")
    parser.add_argument("--gate", action="store_true",
                        help="start every worker first, then release them together (wall from the release)")
    parser.add_argument("--variants", nargs="+", default=VARIANTS, choices=VARIANTS)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        result = run_one(args.one, args.method, args.workers, args.phases, args.updates, args.gate)
        with open(args.out, "w") as out:
            json.dump(result, out)
        return
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in args.variants}
    print(f"{args.method}; {args.workers} workers at once, each {args.phases} phases x {args.updates} updates; "
          f"{os.cpu_count()} CPUs; {args.rounds} interleaved rounds"
          + ("; workers started first, then released together" if args.gate else ""), flush=True)
    for _ in range(args.rounds):
        for variant in args.variants:
            with tempfile.NamedTemporaryFile("r", suffix=".json") as out:
                subprocess.run([sys.executable, __file__, "--one", variant, "--out", out.name, "--method", args.method,
                                "--workers", str(args.workers), "--phases", str(args.phases),
                                "--updates", str(args.updates), *(["--gate"] if args.gate else [])], check=True)
                runs[variant].append(json.load(out))
    tqdm_wall = min(r["wall"] for r in runs["tqdm+lock"]) if "tqdm+lock" in runs else None
    print("| variant | wall s (best) | x tqdm+lock | parent CPU s | workers' CPU s "
          "| context switches / worker | page faults / worker | p99 send->parent ms | p99 parent wake-up delay ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for variant, results in runs.items():
        best = min(results, key=lambda r: r["wall"])
        ratio = f"{best['wall'] / tqdm_wall:.2f}x" if tqdm_wall else "-"
        p99 = f"{statistics.median(r['p99_ms'] for r in results):.0f}" if best["p99_ms"] is not None else "-"
        wake = statistics.median(r["wake_p99_ms"] for r in results)
        print(f"| {variant} | {best['wall']:.2f} | {ratio} | {best['parent_cpu']:.2f} "
              f"| {best['workers_cpu']:.2f} | {best['switches']:.0f} | {best['faults']:.0f} | {p99} | {wake:.0f} |")


if __name__ == "__main__":
    main()
