"""mpprogress: one honest progress display for threads, asyncio tasks and processes.

Importing this package imports neither zmq nor rich and starts nothing; the adapters that need
them are loaded on first use of their names.
"""

from __future__ import annotations

import importlib
from typing import Any

from .current import get_tracker, set_tracker, track
from .events import ProgressCallback, ProgressEventSerializer, Sink
from .noop import NoOpProgressTracker
from .port import (
    PhaseFinishedError,
    ProgressCancelled,
    ProgressError,
    ProgressOperation,
    ProgressPhase,
    ProgressTracker,
)
from .snapshot import OperationSnapshot, PhaseSnapshot, TrackerSnapshot
from .tracker import BaseProgressOperation, BaseProgressPhase, BaseProgressTracker

__version__ = "0.1.0"

# Public names whose modules import third-party libraries: loaded lazily.
_LAZY: dict[str, str] = {
    "ConsoleProgressTracker": ".adapters.console",
    "ConsoleProgressAdapter": ".adapters.console",
    "ConsoleSink": ".adapters.console",
    "LoggingProgressTracker": ".adapters.logs",
    "LoggingSink": ".adapters.logs",
    "WebSocketProgressTracker": ".adapters.web",
    "EventStream": ".adapters.web",
    "create_progress_tracker": ".config",
    "session": ".remote.session",
    "connect": ".remote.session",
    "ConsoleConfig": ".adapters.console",
    "ConfigError": ".config",
    "TrackerWithSinks": ".adapters",
    "ClientTracker": ".remote.client",
    "ClientConfig": ".remote.client",
    "ForwardingLogHandler": ".remote.client",
    "Aggregator": ".remote.aggregator",
    "AggregatorConfig": ".remote.aggregator",
}

__all__ = [
    "Aggregator",
    "AggregatorConfig",
    "BaseProgressOperation",
    "BaseProgressPhase",
    "BaseProgressTracker",
    "ClientConfig",
    "ClientTracker",
    "ConfigError",
    "ConsoleConfig",
    "ConsoleProgressAdapter",
    "ConsoleProgressTracker",
    "ConsoleSink",
    "EventStream",
    "ForwardingLogHandler",
    "LoggingProgressTracker",
    "LoggingSink",
    "NoOpProgressTracker",
    "OperationSnapshot",
    "PhaseFinishedError",
    "PhaseSnapshot",
    "ProgressCallback",
    "ProgressCancelled",
    "ProgressError",
    "ProgressEventSerializer",
    "ProgressOperation",
    "ProgressPhase",
    "ProgressTracker",
    "Sink",
    "TrackerSnapshot",
    "TrackerWithSinks",
    "WebSocketProgressTracker",
    "connect",
    "create_progress_tracker",
    "get_tracker",
    "session",
    "set_tracker",
    "track",
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
