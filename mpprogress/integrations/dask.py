"""Progress from inside Dask distributed tasks (``pip install mpprogress[dask]``).

On the driver, inside ``mpprogress.session()`` (or with a relay's address)::

    report_to(client)                       # every current and future worker reports here

registers a ``WorkerPlugin`` carrying the address and the CURVE client keys
(``carry.WorkerSettings``): each worker process, the ones a nanny restarts included, exports
them, and task code calls ``mpprogress.get_tracker()`` as anywhere else.  ``task_phase`` opens
a task's phase for this try of the task: its row says "(attempt N)" from the second try on
(``task_attempt``: the tries are counted in the scheduler's metadata of that task, which every
try reaches whatever its worker or host, and which Dask drops with the task), so a task re-run
after its worker died, or retried after an error (``retries=``), shows the old try lost or
failed (a dead worker's process is gone: the session marks it so) and the new one as
"attempt 2", never one row counted twice.
``completed`` yields futures as they finish and counts each task once in an overall phase: the
operation's total of tasks done is right whatever the retries.  This module is the only one
that imports ``distributed``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from distributed import Client, Future, as_completed, get_worker
from distributed.diagnostics.plugin import WorkerPlugin
from distributed.utils import sync
from distributed.worker import thread_state  # type: ignore[attr-defined]

from .._base.port import ProgressOperation, ProgressPhase, failure_reason
from .._wiring import get_tracker
from .carry import WorkerSettings

__all__ = ["LOST_GRACE", "PLUGIN_NAME", "ProgressPlugin", "completed", "report_to", "task_attempt", "task_phase"]

LOST_GRACE = 10.0
"""Longest ``completed`` waits, once every task is done, for attempts whose worker died to be
marked lost (usually a fraction of a second)."""
PLUGIN_NAME = "mpprogress"
"""The name ``report_to`` registers its plugin under (registering again replaces it)."""


class ProgressPlugin(WorkerPlugin):
    """Makes a worker process report to the session or relay in ``settings``.

    Args:
        settings: the address and keys to export in each worker (``WorkerSettings.capture()``).
    """

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings

    def setup(self, worker: Any) -> None:
        """Export the settings in this worker process (before any task runs)."""
        self.settings.install()


def report_to(client: Client, settings: WorkerSettings | None = None) -> ProgressPlugin:
    """Make every current and future worker of ``client`` report to this session (or ``settings``).

    Args:
        client: the ``distributed.Client``.
        settings: where to report; by default ``WorkerSettings.capture()``: this process's
            session address (as other hosts reach it) and ``MPPROGRESS_CURVE_DIR``'s keys.

    Returns:
        The registered plugin.
    """
    plugin = ProgressPlugin(settings or WorkerSettings.capture())
    client.register_plugin(plugin, name=PLUGIN_NAME)
    return plugin


_ATTEMPTS = "mpprogress-attempt"
"""Where ``task_attempt`` counts a task's tries: ``client.get_metadata([key, _ATTEMPTS])``."""


def task_attempt() -> tuple[str, int]:
    """The running task's key and which try of it this is (1 for the first, N for the Nth).

    Each call counts one try, in the scheduler's metadata of the task (under
    ``"mpprogress-attempt"``): two round trips to the scheduler.  Dask's own numbers do not say it (a run id is
    scheduler-wide, new for every execution of any task); the scheduler forgets the count with
    the task.  Call it once per try (``task_phase`` does).
    """
    worker = get_worker()
    key = thread_state.key
    path = [key, _ATTEMPTS]
    tries = sync(worker.loop, worker.scheduler.get_metadata, keys=path, default=0)
    attempt = (tries if isinstance(tries, int) else 0) + 1
    sync(worker.loop, worker.scheduler.set_metadata, keys=path, value=attempt)
    return str(key), attempt


def _run_id() -> int:
    """The scheduler's id for this execution of the running task (unique among all executions)."""
    state = get_worker().state.tasks.get(thread_state.key)
    return int(state.run_id) if state is not None else 0


@contextmanager
def task_phase(operation_id: str, total: int | None = None, title: str | None = None) -> Iterator[ProgressPhase]:
    """Inside a task: a phase of operation ``operation_id`` for this attempt of this task.

    Its id is derived from the task's key and this execution; its title is ``title`` (the key
    when not given), followed by "(attempt N)" when this is the task's Nth try, N > 1
    (``task_attempt``).  It finishes like ``op.phase()``: failed with the reason when the block
    raises.
    """
    key, attempt = task_attempt()
    phase_id = f"dask-{hashlib.sha1(key.encode()).hexdigest()[:20]}-{_run_id()}"
    name = title or key
    label = name if attempt == 1 else f"{name} (attempt {attempt})"
    op = get_tracker().get_operation(operation_id)
    assert op is not None  # a worker's view is never None; a session's operation exists
    phase = op.start_phase(phase_id, label, total, description=key)
    try:
        yield phase
    except BaseException as exc:
        op.finish_phase(phase_id, success=False, reason=failure_reason(exc))
        raise
    op.finish_phase(phase_id, success=True)


def completed(
    futures: Iterable[Future[Any]], operation: ProgressOperation, phase: ProgressPhase, *, grace: float = LOST_GRACE
) -> Iterator[Future[Any]]:
    """Yield ``futures`` as they finish, adding 1 to ``phase`` for each (each task once,
    however often it was attempted).

    Once all are done, every attempt that finished has said so (a task returns after its
    phase's finish was acknowledged), so a phase of ``operation`` still open is an attempt
    whose worker died: the session marks it lost within a second; this waits for that (at most
    ``grace`` seconds), so that leaving the operation does not close it as finished.
    """
    for future in as_completed(futures):  # type: ignore[no-untyped-call]
        phase.update(1, message=str(future.key))
        yield future
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if all(row.completed_at is not None for row in list(operation.phases.values()) if row is not phase):
            return
        time.sleep(0.05)
