"""A record of each run in an SQLite file: ``JournalSink``.

``tracker.add_callback(JournalSink("runs/scrape.db"))`` (or ``session(sinks=(sink,))``) writes
every operation and phase start and finish, the outcome and reason of each (failed, cancelled,
lost, interrupted...), a progress sample of each phase about once a second plus its final state,
and, through ``sink.logging_handler()``, log records.  ``mpprogress report`` reads it back.

How it never slows the tracker: ``handle()`` only takes the time and appends to a list under a
short lock; one writer thread (``mpprogress-journal``) writes what gathered every
``flush_interval`` in one transaction.  Nothing is ever waited for by ``handle()``:

- starts and finishes are never dropped: they wait in a list with no bound (its size is bounded
  in practice by the phases the tracker holds, about 200 bytes each, while the writer cannot
  write: a journal locked by another process for longer than its busy timeout, a full disk);
- progress samples are not queued at all: only the latest state of each phase is kept, so
  memory is bounded by the running phases, and a sample is written when its phase's last one is
  at least ``sample_interval`` old;
- log records are bounded (``max_pending_logs``): past that they are dropped and counted
  (``dropped_logs``, also written in the run's row).

Crash safety: the file is in WAL mode with ``synchronous=NORMAL``, so a transaction committed
before the process is killed (even SIGKILL) is in the file, and the file is never corrupt; the
run's ``ended_at`` stays NULL unless ``close()`` ran (also called at interpreter exit).

Failures are said on standard error, whatever the logging configuration (with
``forward_logs=True`` the journal is itself a logging handler, and a journal that cannot write
cannot record why), as ``mpprogress: warning: journal PATH: ...`` lines: the first failed write
(a full disk, a damaged file), the file deleted or replaced during the run (the writer stops:
what it would write is lost), and at ``close()`` what was not recorded, after reading the run
back from the file with a fresh connection (a write-ahead log truncated from outside shows only
there).  ``failure`` says the same to the program; the process's exit status stays its own.
"""

from __future__ import annotations

import atexit
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..._base.events import EVENT_TYPES, CancelRequested, EventSink, ProgressEvent, ProgressUpdate
from ..._base.forksafe import reinit_after_fork
from ..._base.resume import ResumePoint
from ..._base.text import strip_controls
from ._health import check_identity, identity, read_back, unwritten, warn
from ._resume import Chain, DoneKeys, load_chain
from ._schema import JournalError, describe_failure, journal_error, open_journal
from ._writer import JournalWriter, LogEntry, Pending, start_run, worker_of

__all__ = ["JournalConfig", "JournalLogHandler", "JournalSink"]

_log = logging.getLogger("mpprogress.journal")
_LOG_LIMIT = 4000  # characters of a log record kept (its traceback included)


@dataclass(frozen=True)
class JournalConfig:
    """How a ``JournalSink`` writes.

    Args:
        sample_interval: seconds between two progress samples of one phase.
        flush_interval: seconds between two writes (a finish is in the file at most about this
            long after it happened, while the disk keeps up).
        max_pending_logs: log records waiting to be written; more are dropped and counted.
        close_timeout: seconds ``close()`` waits for the writer to finish.
    """

    sample_interval: float = 1.0
    flush_interval: float = 0.2
    max_pending_logs: int = 10_000
    close_timeout: float = 10.0


class JournalSink(EventSink):
    """Writes a run's events into an SQLite journal (one row in ``runs`` per sink).

    Args:
        path: the journal file; created (with its schema) when missing, shared with earlier runs
            otherwise.
        config: timing and bounds.
        get_time: the clock stamping events (seconds since the epoch).
        argv: the command line recorded for the run; ``sys.argv`` by default.
        resume: continue the latest earlier run in the file (``journal_resume.py``): a tracker
            given this sink (``BaseProgressTracker(journal=sink)``, ``session(journal=...,
            resume=True)``) starts each phase where that run left it.

    Item keys done (``phase.track(items, key=...)``) are recorded whenever the sink is a
    tracker's ``journal``, resuming or not, so that a later run can resume this one.

    Raises:
        JournalError: ``path`` cannot be opened as a journal (``JournalVersionError`` when a
            newer mpprogress wrote it).
    """

    def __init__(
        self, path: str | Path, *, config: JournalConfig | None = None,
        get_time: Callable[[], float] = time.time, argv: Sequence[str] | None = None, resume: bool = False,
    ) -> None:
        self.path = Path(path)
        self._file = self.path.absolute()  # the same file if the process changes directory
        self._config = config or JournalConfig()
        self._get_time = get_time
        conn = open_journal(self.path)
        try:
            chain = load_chain(conn) if resume else Chain()
            self.run_id = start_run(conn, get_time(), argv, chain.previous)
            self._identity = identity(self._file)
        except (sqlite3.Error, OSError) as exc:
            conn.close()
            if isinstance(exc, OSError):
                raise JournalError(f"cannot write to journal {self.path}: {exc}") from exc
            raise journal_error(self.path, exc, "resume from" if resume else "write to") from exc
        self.resumed_run = chain.previous
        """The run this one continues (``resume=True``), or ``None``."""
        self._chain = chain
        self._resumed: dict[tuple[str, str], ResumePoint] = {}
        self._item_keys = DoneKeys(open_journal(self.path), chain.runs) if chain.runs else None
        self._writer = JournalWriter(conn, self.run_id, self._config.sample_interval, self._resumed)
        self._conn = conn
        self._lock = threading.Lock()
        self._events: list[tuple[float, Pending]] = []
        self._samples: dict[str, tuple[float, ProgressUpdate]] = {}
        self._keys: dict[str, list[str]] = {}  # item keys done, by phase id
        self._pending_logs = 0
        self.dropped_logs = 0
        """Log records dropped because ``max_pending_logs`` were waiting."""
        self.write_errors = 0
        """Writes that failed (and were tried again with the next one)."""
        self.failure: str | None = None
        """Why the journal is not (or was not) recording the run in full, or ``None``: a write
        failing now (a full disk), the file deleted, replaced or damaged, the writer stopped."""
        self._closed = False
        self._pid = os.getpid()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._passes = threading.Condition()
        self._started = self._done = 0
        self._thread = threading.Thread(target=self._run, name="mpprogress-journal", daemon=True)
        self._thread.start()
        reinit_after_fork(self)  # a forked child must never touch this connection
        atexit.register(self.close)

    # --- the tracker's side: never waits -----------------------------------------------------

    def handle(self, event: ProgressEvent) -> None:
        """Queue ``event`` for the writer (a progress update replaces its phase's previous one)."""
        if self._closed or isinstance(event, CancelRequested) or event.type not in EVENT_TYPES:
            return
        now = self._get_time()
        if isinstance(event, ProgressUpdate):
            with self._lock:
                self._samples[event.phase_id] = (now, event)
        else:
            with self._lock:
                self._events.append((now, event))

    def record_log(self, record: logging.LogRecord) -> None:
        """Queue a log record (dropped and counted when ``max_pending_logs`` are waiting)."""
        if self._closed:
            return
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        host, pid = worker_of(record)
        entry = LogEntry(
            record.created, record.levelno, record.name,
            strip_controls(message[:_LOG_LIMIT], keep_lines=True), host, record.process if pid is None else pid,
        )
        with self._lock:
            if self._pending_logs >= self._config.max_pending_logs:
                self.dropped_logs += 1
                return
            self._pending_logs += 1
            self._events.append((entry.at, entry))

    # --- resuming (``resume.ResumeSource``) ---------------------------------------------------

    @property
    def resuming(self) -> bool:
        """Whether this run continues an earlier one (``resume=True`` and the file had a run)."""
        return self.resumed_run is not None

    def resume_point(self, operation_key: str, phase_key: str) -> ResumePoint | None:
        """Where the phase with these stable keys stood in the run resumed, or ``None``."""
        point = self._chain.points.get((operation_key, phase_key))
        if point is not None:
            self._resumed[operation_key, phase_key] = point
        return point

    def done_keys(self, operation_key: str, phase_key: str) -> frozenset[str]:
        """The item keys the runs resumed recorded done in the phase with these stable keys."""
        reader = self._item_keys
        return frozenset() if reader is None else reader.read(operation_key, phase_key)

    def record_done(self, phase_id: str, keys: Sequence[str]) -> None:
        """Queue item keys of phase ``phase_id`` as done (written with the next batch)."""
        if self._closed:
            return
        with self._lock:
            pending = self._keys.get(phase_id)
            if pending is None:
                self._keys[phase_id] = list(keys)
            else:
                pending.extend(keys)

    @property
    def samples_written(self) -> int:
        """Progress samples written so far (final states included)."""
        return self._writer.samples_written

    def logging_handler(self, level: int = logging.NOTSET) -> JournalLogHandler:
        """A ``logging.Handler`` writing records into this journal (add it to a logger)."""
        return JournalLogHandler(self, level)

    # --- waiting for the writer ----------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until what was handed in before this call is written (samples not yet due aside).

        Returns:
            Whether the writer got there within ``timeout`` seconds.
        """
        if self._closed or not self._thread.is_alive():
            return False
        with self._passes:
            target = self._started + 1  # a write that began before this call may have missed it
            self._wake.set()
            return self._passes.wait_for(lambda: self._done >= target or not self._thread.is_alive(), timeout)

    def close(self) -> None:
        """Write what is pending, mark the run as closed cleanly and close the file. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        if os.getpid() != self._pid:
            return
        self._stop.set()
        self._wake.set()
        self._thread.join(self._config.close_timeout)
        if self._thread.is_alive():
            self._warn(f"not written within {self._config.close_timeout:.0f} s; the run stays marked as not closed")
            return
        if self.failure is None:
            self.failure = read_back(self._file, self.run_id, self._identity)
            if self.failure is not None:
                self._warn(f"the run was written, but {self.failure}")
            return
        with self._lock:
            lost = unwritten(self._events)
        self._warn(f"this run was not recorded in full ({self.failure}){lost}; the run stays marked as not closed")

    def _warn(self, text: str) -> None:
        warn(self.path, text)

    def __enter__(self) -> JournalSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _reinit_after_fork(self) -> None:
        self._closed = True
        self._lock = threading.Lock()
        self._events, self._samples, self._keys = [], {}, {}

    # --- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                self._wake.wait(self._config.flush_interval)
                self._wake.clear()
                stopping = self._stop.is_set()
                self._write(force=stopping)
                if stopping:
                    self._writer.end_run(self._get_time(), self.dropped_logs, self.write_errors)
                    return
        except Exception as exc:  # the run stays marked as not closed; the tracker goes on
            self._closed = True  # nothing would write what is handed in from now on
            if self.failure is None:
                self.failure = describe_failure(exc) if isinstance(exc, sqlite3.Error) else str(exc)
            if not self._stop.is_set():  # else close() says what was lost
                self._warn(f"stopped writing ({self.failure}): what the run does from now on is not recorded")
            _log.debug("the journal %s stopped writing", self.path, exc_info=True)
        finally:
            self._conn.close()
            if self._item_keys is not None:
                self._item_keys.close()
            with self._passes:
                self._passes.notify_all()

    def _write(self, force: bool) -> None:
        with self._passes:
            self._started += 1
        with self._lock:
            events, self._events = self._events, []
            samples, self._samples = self._samples, {}
            keys, self._keys = self._keys, {}
            self._pending_logs = 0
        later: dict[str, tuple[float, ProgressUpdate]] = {}
        waiting: dict[str, list[str]] = {}
        if events or samples or keys or force:
            try:
                check_identity(self._file, self._identity)  # else the writes go to a file no one reads
            except JournalError as exc:
                with self._lock:
                    self._events[:0] = events
                self.failure = str(exc)
                raise
            try:
                later, waiting = self._writer.write(events, samples, self._get_time(), force=force, keys=keys)
            except sqlite3.Error as exc:
                self.write_errors += 1
                if self.failure is None and not force:
                    self._warn(f"writing failed ({describe_failure(exc)}); retrying: until a write works, the "
                               "run is not recorded")
                self.failure = describe_failure(exc)
                later, waiting = samples, keys
                with self._lock:
                    self._events[:0] = events
                    self._pending_logs += sum(isinstance(entry, LogEntry) for _, entry in events)
                if force:
                    raise
            else:
                if self.failure is not None:
                    self._warn(f"writing works again after {self.write_errors} failed attempts; nothing was lost")
                    self.failure = None
        if later or waiting:
            with self._lock:
                for phase_id, sample in later.items():
                    self._samples.setdefault(phase_id, sample)  # a newer one came meanwhile: it wins
                for phase_id, names in waiting.items():
                    self._keys[phase_id] = names + self._keys.get(phase_id, [])
        with self._passes:
            self._done += 1
            self._passes.notify_all()


class JournalLogHandler(logging.Handler):
    """Writes log records into a journal (``JournalSink.logging_handler()``)."""

    def __init__(self, sink: JournalSink, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        """Queue ``record`` in the journal."""
        try:
            self._sink.record_log(record)
        except Exception:
            self.handleError(record)

    def __repr__(self) -> str:
        return f"<JournalLogHandler {self._sink.path} ({logging.getLevelName(self.level)})>"

