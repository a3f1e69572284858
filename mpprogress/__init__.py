"""mpprogress: one honest progress display for threads, asyncio tasks and processes.

Importing this package imports neither zmq nor rich and starts nothing; the adapters that need
them are loaded on first use of their names.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._base.errors import DuplicateIdError, PhaseDepthError
from ._base.events import EventSink, ProgressCallback, ProgressEvent, ProgressEventSerializer, Sink
from ._base.port import (
    PhaseFinishedError,
    ProgressCancelled,
    ProgressError,
    ProgressOperation,
    ProgressPhase,
    ProgressTracker,
)
from ._base.snapshot import OperationSnapshot, PhaseSnapshot, TrackerSnapshot
from ._core.current import set_tracker
from ._core.noop import NoOpProgressTracker
from ._core.tracker import BaseProgressOperation, BaseProgressPhase, BaseProgressTracker
from ._wiring import connect, get_tracker, session, track

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)

# Public names whose modules import third-party libraries: loaded lazily.  Some are kept only so
# that code written against earlier versions still works; they are not in ``__all__``.
_LAZY: dict[str, str] = {
    "ConsoleProgressTracker": ".adapters.console",
    "ConsoleProgressAdapter": ".adapters.console",
    "ConsoleSink": ".adapters.console",
    "LoggingProgressTracker": ".adapters.logs",
    "LoggingSink": ".adapters.logs",
    "WebSocketProgressTracker": ".adapters.web",
    "EventStream": ".adapters.web",
    "create_progress_tracker": "._config",
    "ConsoleConfig": ".adapters.console",
    "ConfigError": "._config",
    "TrackerWithSinks": ".adapters",
    "ClientTracker": "._remote.client",
    "JournalSink": ".adapters.journal",
    "OpenTelemetrySink": ".adapters.otel",
    "tqdm": "._frontends.tqdm",
    "trange": "._frontends.tqdm",
    "process_map": "._frontends.maps",
    "thread_map": "._frontends.maps",
    "patch_tqdm": "._frontends.patch",
    "shared_operation": "._frontends.placement",
    "ClientConfig": "._remote.client",
    "ForwardingLogHandler": "._remote.client",
    "Aggregator": "._remote.aggregator",
    "AggregatorConfig": "._remote.aggregator",
    "dashboard_url": "._wiring.dashboard",
}

__all__ = [
    "AggregatorConfig",
    "BaseProgressOperation",
    "BaseProgressPhase",
    "BaseProgressTracker",
    "ClientConfig",
    "ConfigError",
    "ConsoleConfig",
    "ConsoleProgressAdapter",
    "ConsoleProgressTracker",
    "ConsoleSink",
    "DuplicateIdError",
    "EventSink",
    "EventStream",
    "ForwardingLogHandler",
    "JournalSink",
    "LoggingProgressTracker",
    "LoggingSink",
    "NoOpProgressTracker",
    "OpenTelemetrySink",
    "OperationSnapshot",
    "PhaseDepthError",
    "PhaseFinishedError",
    "PhaseSnapshot",
    "ProgressCallback",
    "ProgressCancelled",
    "ProgressError",
    "ProgressEvent",
    "ProgressEventSerializer",
    "ProgressOperation",
    "ProgressPhase",
    "ProgressTracker",
    "Sink",
    "TrackerSnapshot",
    "WebSocketProgressTracker",
    "__version__",
    "connect",
    "create_progress_tracker",
    "dashboard_url",
    "get_tracker",
    "patch_tqdm",
    "process_map",
    "session",
    "set_tracker",
    "shared_operation",
    "thread_map",
    "tqdm",
    "track",
    "trange",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mpprogress' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(globals()))
