"""The journal's SQLite schema, its version, and opening a journal file (standard library only).

One file holds any number of runs (``runs``), each with its operations, phases, progress samples
and log records.  The schema's version is ``PRAGMA user_version``: a file written by a newer
mpprogress is refused with ``JournalVersionError``; an older one is migrated in one transaction
by the steps in ``Schema.migrations`` (there are none yet: version 1 is the first).

For resume (``journal_resume.py``): ``operation_key`` and ``phase_key`` are ids that stay the
same from one run to the next (the ids users gave, else titles: ``resume.stable_key``,
``resume.phase_key``), each phase row keeps its last state (``current``, ``total``, ``message``,
``updated_at``), ``done_items`` holds the item keys done (``phase.track(items, key=...)``), and
``runs.resumed_from`` names the run a run continued.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..._base.errors import ProgressError
from ..._base.resume import phase_key, stable_key

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "JournalError",
    "JournalVersionError",
    "Schema",
    "describe_failure",
    "journal_error",
    "open_journal",
    "phase_key",
    "stable_key",
]

SCHEMA_VERSION: Final = 1

_CREATE_V1: Final = (
    """CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY,
        started_at REAL NOT NULL,
        ended_at REAL,                    -- NULL until the sink closed cleanly
        last_seen REAL,                   -- the writer's last commit: where an unclean run ends
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        argv TEXT NOT NULL,               -- JSON list
        version TEXT NOT NULL,            -- the mpprogress that wrote the run
        resumed_from INTEGER REFERENCES runs(run_id),
        dropped_logs INTEGER NOT NULL DEFAULT 0,
        write_errors INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE operations (
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        operation_id TEXT NOT NULL,
        operation_key TEXT NOT NULL,      -- the same in every run (resume)
        title TEXT NOT NULL,
        description TEXT,
        host TEXT,
        pid INTEGER,
        started_at REAL NOT NULL,
        finished_at REAL,
        success INTEGER,
        reason TEXT,
        duration REAL,
        PRIMARY KEY (run_id, operation_id)
    )""",
    """CREATE TABLE phases (
        phase_row INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        operation_id TEXT NOT NULL,
        phase_id TEXT NOT NULL,
        parent_phase_id TEXT,
        phase_key TEXT NOT NULL,          -- the same in every run (resume)
        title TEXT NOT NULL,
        description TEXT,
        host TEXT,
        pid INTEGER,
        started_at REAL NOT NULL,
        finished_at REAL,
        success INTEGER,
        reason TEXT,
        duration REAL,
        current NUMERIC NOT NULL DEFAULT 0,   -- the last state written
        total INTEGER,
        message TEXT,
        updated_at REAL,
        UNIQUE (run_id, phase_id)
    )""",
    "CREATE INDEX phases_by_key ON phases (operation_id, phase_key)",
    """CREATE TABLE samples (
        phase_row INTEGER NOT NULL REFERENCES phases(phase_row),
        at REAL NOT NULL,
        current NUMERIC NOT NULL,
        PRIMARY KEY (phase_row, at)
    ) WITHOUT ROWID""",
    """CREATE TABLE logs (
        run_id INTEGER NOT NULL REFERENCES runs(run_id),
        at REAL NOT NULL,
        level INTEGER NOT NULL,
        logger TEXT NOT NULL,
        message TEXT NOT NULL,
        host TEXT,
        pid INTEGER
    )""",
    "CREATE INDEX logs_by_run ON logs (run_id, at)",
    """CREATE TABLE done_items (
        phase_row INTEGER NOT NULL REFERENCES phases(phase_row),
        item_key TEXT NOT NULL,
        PRIMARY KEY (phase_row, item_key)
    ) WITHOUT ROWID""",
)


class JournalError(ProgressError):
    """A file that cannot be used as a journal (not one, or unreadable)."""


class JournalVersionError(JournalError):
    """A journal written by a schema version this mpprogress cannot read or migrate."""


_DAMAGED: Final = frozenset(
    {"SQLITE_CORRUPT", "SQLITE_CORRUPT_VTAB", "SQLITE_CORRUPT_SEQUENCE", "SQLITE_CORRUPT_INDEX"}
)


# SQLite's own text for a primary result code: what Python 3.10 gives, without the code's name.
_NAME_BY_TEXT: Final = {
    "database or disk is full": "SQLITE_FULL",
    "disk I/O error": "SQLITE_IOERR",
    "attempt to write a readonly database": "SQLITE_READONLY",
    "database disk image is malformed": "SQLITE_CORRUPT",
    "file is not a database": "SQLITE_NOTADB",
}


def _error_name(exc: sqlite3.Error) -> str:
    """SQLite's name for the error (``SQLITE_FULL``...): from Python 3.11 on the exception says it,
    on 3.10 it is known by SQLite's own message for its code."""
    return getattr(exc, "sqlite_errorname", None) or _NAME_BY_TEXT.get(str(exc), "")


def describe_failure(exc: sqlite3.Error) -> str:
    """What went wrong, in a user's words: a full disk, an I/O error, a damaged file..."""
    name = _error_name(exc)
    if name == "SQLITE_FULL":
        return "the disk is full"
    if name.startswith("SQLITE_IOERR"):
        return f"the disk failed to read or write ({exc}; is it full?)"
    if name.startswith("SQLITE_READONLY"):
        return f"it may not be written here ({exc})"
    if name in _DAMAGED:
        return f"the file is damaged ({exc})"
    return str(exc)


def journal_error(target: Path, exc: sqlite3.Error, doing: str) -> JournalError:
    """The ``JournalError`` for ``exc`` met while ``doing`` (open, read, write) the journal at
    ``target``: "not a journal" only for a file that is not one, else what went wrong."""
    name = _error_name(exc)
    if name == "SQLITE_NOTADB":
        return JournalError(f"{target} is not a journal: {exc}")
    if name in _DAMAGED:
        return JournalError(
            f"journal {target} is damaged ({exc}): it cannot be used; move it aside to start afresh "
            f"(the sqlite3 shell's .recover may save its rows)"
        )
    return JournalError(f"cannot {doing} journal {target}: {describe_failure(exc)}")


@dataclass(frozen=True)
class Schema:
    """A schema version: how to create it, and how to reach it from each older version.

    Args:
        version: the ``PRAGMA user_version`` of a file in this schema.
        create: the statements creating it in an empty file.
        migrations: ``migrations[v]`` upgrades a file of version ``v`` to ``v + 1``; every
            version from 1 to ``version - 1`` needs one, else such a file is refused.
    """

    version: int
    create: tuple[str, ...]
    migrations: dict[int, tuple[str, ...]]


SCHEMA: Final = Schema(version=SCHEMA_VERSION, create=_CREATE_V1, migrations={})
"""The schema this mpprogress writes."""


def open_journal(path: str | Path, *, readonly: bool = False, schema: Schema = SCHEMA) -> sqlite3.Connection:
    """Open (or create) a journal in WAL mode, checked against ``schema`` and migrated to it.

    Args:
        path: the journal's file; created when missing (unless ``readonly``).
        readonly: open for reading only (the report): the file must exist, and an older
            version is refused instead of migrated.
        schema: the schema expected (tests give another one to try migrations).

    Returns:
        A connection in autocommit mode (callers use explicit ``BEGIN``), usable from any one
        thread at a time.

    Raises:
        JournalVersionError: the file was written by a newer version, or is an older one that
            cannot be migrated (or ``readonly``).
        JournalError: the file is not an SQLite database, or holds tables that are not a journal.
    """
    target = Path(path)
    if readonly and not target.exists():
        raise JournalError(f"no journal at {target}")
    try:
        conn = _connect(target, readonly)
    except sqlite3.DatabaseError as exc:
        raise journal_error(target, exc, "open") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        if not readonly:
            # WAL + NORMAL: a commit survives the process being killed (not a power cut); NORMAL
            # first, so that a new file's switch to WAL is not synced as FULL would (half the time).
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA journal_mode = WAL")
        _ensure_schema(conn, target, readonly, schema)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise journal_error(target, exc, "open") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _connect(target: Path, readonly: bool) -> sqlite3.Connection:
    if not readonly:
        return sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    # A reader that may write (query_only) tidies the -wal/-shm files away when it is the last
    # to close, and checkpoints what a killed writer left; where it may not, a read-only one.
    # Without write access to the directory (a read-only mount, another user's files) a
    # read-only connection cannot create the -shm file WAL reading needs: a file with no
    # write-ahead log left is then read as immutable, which is exact (no writer exists).
    modes = ["mode=rw", "mode=ro"]
    wal = Path(f"{target}-wal")
    if not (wal.exists() and wal.stat().st_size > 0):
        modes.append("immutable=1")
    failure: sqlite3.DatabaseError | None = None
    for mode in modes:
        conn = sqlite3.connect(f"{target.resolve().as_uri()}?{mode}", uri=True, isolation_level=None,
                               check_same_thread=False)
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.DatabaseError as exc:
            conn.close()
            if not isinstance(exc, sqlite3.OperationalError):
                raise
            failure = failure or exc
    assert failure is not None
    if wal.exists():
        raise sqlite3.OperationalError(
            f"{failure}: its write-ahead log {wal.name} cannot be read without write access to "
            f"{target.parent} (copy the journal and its -wal file to a writable directory)"
        )
    raise failure


def _ensure_schema(conn: sqlite3.Connection, target: Path, readonly: bool, schema: Schema) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > schema.version:
        raise JournalVersionError(
            f"journal {target} was written by a newer mpprogress (schema version {version}; this one "
            f"reads up to {schema.version}): upgrade mpprogress, or write to another file"
        )
    if version == schema.version:
        return
    if version == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables:
            raise JournalError(f"{target} is an SQLite database but not an mpprogress journal")
        if readonly:
            raise JournalError(f"{target} is empty: no journal was written there")
        _apply(conn, schema.create, schema.version)
        return
    missing = [step for step in range(version, schema.version) if step not in schema.migrations]
    if readonly or missing:
        how = "open it once for writing (a JournalSink) to migrate it" if not missing else "no migration exists"
        raise JournalVersionError(
            f"journal {target} has schema version {version}, older than this mpprogress's "
            f"{schema.version}: {how}"
        )
    _apply(conn, tuple(sql for step in range(version, schema.version) for sql in schema.migrations[step]),
           schema.version)


def _apply(conn: sqlite3.Connection, statements: tuple[str, ...], version: int) -> None:
    """Run ``statements`` and set the version in one transaction (all or nothing)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if int(conn.execute("PRAGMA user_version").fetchone()[0]) < version:  # another process may have won
            for sql in statements:
                conn.execute(sql)
            conn.execute(f"PRAGMA user_version = {int(version)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
