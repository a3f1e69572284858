"""``Progress`` and ``track`` with the calls scripts make on ``rich.progress``, reporting to mpprogress.

``rich.progress.Progress`` draws its own live display, so inside worker processes each worker
would fight for the terminal.  This ``Progress`` draws nothing itself: each task is a phase, so
tasks of every thread, asyncio task and worker process land on the one display (a session's, or
a display of its own where nothing else shows them, as ``mpprogress.track`` does).

A ``Progress`` places its tasks like a tqdm bar (``placement``): under a bar open in the same
thread or task, else in the operation named by ``operation=`` or ``MPPROGRESS_OPERATION``, else in
an operation of its own titled ``title`` (the script's name by default), from ``start()`` (or the
first task) to ``stop()``.  A task's description is its phase's title; a later description is
shown as the phase's message.

Accepted and ignored (the display draws every row): the columns, ``console``, ``auto_refresh``,
``refresh_per_second``, ``speed_estimate_period``, ``transient``, ``redirect_stdout``,
``redirect_stderr``, ``expand``, ``visible``, ``refresh``; a task's ``**fields`` are kept on
``task.fields`` only.  ``start_task``/``stop_task`` set the task's own times (its phase's clock
starts with the task).  Not provided: ``open``, ``wrap_file``, ``live``, ``get_renderable``.
``rich`` itself is not imported here: ``console.print`` renders with the display's own console in
the process that draws it, and as plain text (markup removed) elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from operator import length_hint
from typing import IO, Any, BinaryIO, NewType, TypeVar

from .._base.port import ProgressError, ProgressOperation, ProgressPhase, ProgressTracker, failure_reason
from . import rich_files
from .placement import Placement, phase_total, script_title
from .rich_console import ProgressConsole

__all__ = ["Progress", "ProgressConsole", "Task", "TaskID", "track"]

T = TypeVar("T")
TaskID = NewType("TaskID", int)
_log = logging.getLogger(__name__)
_Refused = (ProgressError, ArithmeticError, TypeError, ValueError)


class Task:
    """What ``progress.tasks`` lists: the figures ``rich.progress.Task`` has."""

    def __init__(
        self, task_id: TaskID, description: str, total: float | None, completed: float, visible: bool,
        fields: dict[str, Any], get_time: Callable[[], float],
    ) -> None:
        self.id = task_id
        self.description = description
        self.total = total
        self.completed = completed
        self.visible = visible
        self.fields = fields
        self.get_time = get_time
        self.start_time: float | None = None
        self.stop_time: float | None = None
        self.finished_time: float | None = None
        self.finished_speed: float | None = None

    @property
    def started(self) -> bool:
        """Whether the task was started."""
        return self.start_time is not None

    @property
    def finished(self) -> bool:
        """Whether the task reached its total."""
        return self.finished_time is not None

    @property
    def remaining(self) -> float | None:
        """What is left to do, if the total is known."""
        return None if self.total is None else self.total - self.completed

    @property
    def elapsed(self) -> float | None:
        """Seconds since the task started (to its stop, if stopped)."""
        if self.start_time is None:
            return None
        return (self.stop_time if self.stop_time is not None else self.get_time()) - self.start_time

    @property
    def percentage(self) -> float:
        """Completion in percent, 0 to 100."""
        if not self.total:
            return 0.0
        return min(100.0, max(0.0, self.completed / self.total * 100.0))

    @property
    def speed(self) -> float | None:
        """Average steps per second since the start."""
        elapsed = self.elapsed
        return self.completed / elapsed if elapsed and self.completed else None

    @property
    def time_remaining(self) -> float | None:
        """Estimated seconds to go."""
        speed, remaining = self.speed, self.remaining
        if self.finished:
            return 0.0
        return None if not speed or remaining is None else remaining / speed


class Progress:
    """``rich.progress.Progress``'s calls; each task is a phase of the one display.

    Args:
        *columns: accepted and ignored.
        get_time: the clock of the tasks' own times (``task.elapsed``).
        disable: tasks are counted but are no phases.
        title: extension: the title of the operation of its own (the script's name by default).
        operation: extension: the operation (or its id) the tasks join.
        tracker: extension: the tracker to report to instead of ``get_tracker()``.
        **options: ``rich.progress.Progress``'s other arguments: accepted and ignored.
    """

    def __init__(
        self,
        *columns: Any,
        get_time: Callable[[], float] | None = None,
        disable: bool = False,
        title: str | None = None,
        operation: ProgressOperation | str | None = None,
        tracker: ProgressTracker | None = None,
        **options: Any,
    ) -> None:
        self.get_time = get_time or time.monotonic
        self.disable = disable
        self.console = ProgressConsole()
        self.columns = columns
        self._title, self._operation, self._tracker = title, operation, tracker
        self._lock = threading.RLock()
        self._tasks: dict[TaskID, Task] = {}
        self._phases: dict[TaskID, ProgressPhase] = {}
        self._placement: Placement | None = None
        self._next_id = 0

    def open(self, file: Any, mode: str = "r", buffering: int = -1, encoding: str | None = None,
             errors: str | None = None, newline: str | None = None, **options: Any) -> IO[Any]:
        """Open ``file`` for reading; reads advance a task (``total``, ``task_id``, ``description``)."""
        return rich_files.open_reader(self, file, mode, buffering, encoding, errors, newline, **options)

    def wrap_file(self, file: BinaryIO, total: int | None = None, **options: Any) -> rich_files.Reader:
        """Reads of the open binary ``file`` advance a task (``task_id``, ``description``)."""
        return rich_files.wrap_reader(self, file, total, **options)

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", **options: Any) -> None:
        """Print above the display (``progress.console.print``)."""
        self.console.print(*objects, sep=sep, end=end, **options)

    def log(self, *objects: Any, sep: str = " ", end: str = "\n", **options: Any) -> None:
        """Print above the display (``progress.console.log``)."""
        self.console.log(*objects, sep=sep, end=end, **options)

    @classmethod
    def get_default_columns(cls) -> tuple[Any, ...]:
        """No columns: the display draws its own."""
        return ()

    # --- starting and stopping --------------------------------------------------------------

    def start(self) -> None:
        """Open the operation the tasks go to (done by the first task otherwise)."""
        with self._lock:
            self._where()

    def stop(self) -> None:
        """Finish every task's phase, and the operation of its own, if it has one."""
        self._stop(True, None)

    def _stop(self, success: bool, reason: str | None) -> None:
        with self._lock:
            phases, self._phases = self._phases, {}
            placement, self._placement = self._placement, None
        if placement is None:
            return
        try:
            for phase in phases.values():
                with contextlib.suppress(*_Refused):
                    placement.finish(phase, success, reason)
        finally:
            placement.close(success)

    def __enter__(self) -> Progress:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._stop(exc is None, None if exc is None else failure_reason(exc))

    def _where(self) -> Placement | None:
        """Where tasks go (decided once per start); ``None`` when disabled or unavailable."""
        if self._placement is None and not self.disable:
            try:
                self._placement = Placement.resolve(
                    self._title or script_title(), operation=self._operation, tracker=self._tracker
                )
            except Exception:  # rich never fails to add a task: tasks then only count
                _log.debug("mpprogress: Progress has no operation", exc_info=True)
        return self._placement

    # --- tasks --------------------------------------------------------------------------------

    @property
    def tasks(self) -> list[Task]:
        """The tasks, in the order they were added."""
        with self._lock:
            return list(self._tasks.values())

    @property
    def task_ids(self) -> list[TaskID]:
        """The ids of the tasks."""
        with self._lock:
            return list(self._tasks)

    @property
    def finished(self) -> bool:
        """Whether every task reached its total."""
        with self._lock:
            return all(task.finished for task in self._tasks.values())

    def add_task(
        self, description: str, start: bool = True, total: float | None = 100.0, completed: float = 0,
        visible: bool = True, **fields: Any,
    ) -> TaskID:
        """Add a task (a phase titled ``description``) and return its id."""
        with self._lock:
            task_id = TaskID(self._next_id)
            self._next_id += 1
            task = Task(task_id, description, total, completed, visible, fields, self.get_time)
            if start:
                task.start_time = self.get_time()
            self._tasks[task_id] = task
            placement = self._where()
            if placement is not None:
                try:
                    self._phases[task_id] = phase = placement.start(description, phase_total(total))
                    if completed:
                        phase.set_progress(max(completed, 0))
                except Exception:
                    _log.debug("mpprogress: task %r has no phase", description, exc_info=True)
        return task_id

    def update(
        self, task_id: TaskID, *, total: float | None = None, completed: float | None = None,
        advance: float | None = None, description: str | None = None, visible: bool | None = None,
        refresh: bool = False, **fields: Any,
    ) -> None:
        """Change a task: its total, its count (absolute or by ``advance``), its description."""
        with self._lock:
            task = self._tasks[task_id]
            phase = self._phases.get(task_id)
            if total is not None and total != task.total:
                task.total = total
                task.finished_time = None
                if phase is not None:
                    with contextlib.suppress(*_Refused):
                        phase.set_total(phase_total(total))
            if advance is not None:
                task.completed += advance
            if completed is not None:
                task.completed = completed
            if description is not None:
                task.description = description
            if visible is not None:
                task.visible = visible
            task.fields.update(fields)
            self._settle(task, phase, message=description is not None)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        """Add ``advance`` to a task's count."""
        with self._lock:
            task = self._tasks[task_id]
            task.completed += advance
            self._note_finished(task)
            phase = self._phases.get(task_id)
            if phase is not None:
                with contextlib.suppress(*_Refused):
                    if advance >= 0:
                        phase.update(advance)
                    else:
                        phase.set_progress(max(task.completed, 0))

    def _settle(self, task: Task, phase: ProgressPhase | None, message: bool = False) -> None:
        """Hand the task's count (and description, if it changed) to its phase."""
        self._note_finished(task)
        if phase is None:
            return
        text = task.description if message and task.description != phase.title else None
        with contextlib.suppress(*_Refused):
            phase.set_progress(max(task.completed, 0), text)

    def _note_finished(self, task: Task) -> None:
        if task.total is not None and task.completed >= task.total and task.finished_time is None:
            task.finished_time = task.elapsed or 0.0
            task.finished_speed = task.speed

    def start_task(self, task_id: TaskID) -> None:
        """Start a task's clock (``task.elapsed``)."""
        with self._lock:
            task = self._tasks[task_id]
            if task.start_time is None:
                task.start_time = self.get_time()

    def stop_task(self, task_id: TaskID) -> None:
        """Stop a task's clock; its phase stays open and can still be updated."""
        with self._lock:
            task = self._tasks[task_id]
            now = self.get_time()
            if task.start_time is None:
                task.start_time = now
            task.stop_time = now

    def reset(
        self, task_id: TaskID, *, start: bool = True, total: float | None = None, completed: float = 0,
        visible: bool | None = None, description: str | None = None, **fields: Any,
    ) -> None:
        """Start a task over: its count back to ``completed``, its clock reset."""
        with self._lock:
            task = self._tasks[task_id]
            task.start_time = self.get_time() if start else None
            task.stop_time = task.finished_time = task.finished_speed = None
            self.update(task_id, total=total, completed=completed, visible=visible, description=description, **fields)

    def remove_task(self, task_id: TaskID) -> None:
        """Remove a task: its phase finishes as it stands."""
        with self._lock:
            del self._tasks[task_id]
            phase = self._phases.pop(task_id, None)
            placement = self._placement
        if phase is not None and placement is not None:
            with contextlib.suppress(*_Refused):
                placement.finish(phase)

    def refresh(self) -> None:
        """Accepted: the display refreshes itself."""

    def track(
        self, sequence: Iterable[T], total: float | None = None, completed: float = 0, task_id: TaskID | None = None,
        description: str = "Working...", update_period: float = 0.1,
    ) -> Iterator[T]:
        """Yield the items of ``sequence``, advancing a task (a new one unless ``task_id``) by one each."""
        if total is None:
            total = float(length_hint(sequence)) or None
        if task_id is None:
            task_id = self.add_task(description, total=total, completed=completed)
        else:
            self.update(task_id, total=total, completed=completed)
        advance = self.advance
        for value in sequence:
            yield value
            advance(task_id, 1)


def track(
    sequence: Iterable[T], description: str = "Working...", total: float | None = None, completed: float = 0,
    update_period: float = 0.1, disable: bool = False, **options: Any,
) -> Iterator[T]:
    """``rich.progress.track``: yield the items of ``sequence`` as one task of a new ``Progress``."""
    with Progress(disable=disable, title=description) as progress:
        yield from progress.track(sequence, total=total, completed=completed, description=description)
