"""Test tiers: the tests that start processes (workers, relays, the demo, examples) are ``slow``.

``python -m pytest -q -m "not slow"`` runs the fast tier in seconds; CI runs everything.
"""

from __future__ import annotations

import signal

import pytest

# Modules whose tests start real processes; everything in them is marked ``slow``.
SLOW_MODULES = frozenset(
    {
        "test_demo.py",
        "test_examples.py",
        "test_multiprocess_aggregator.py",
        "test_multiprocess_client.py",
        "test_multiprocess_examples.py",
        "test_multiprocess_faults.py",
        "test_multiprocess_pools.py",
        "test_relay.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.name in SLOW_MODULES or item.get_closest_marker("processes"):
            item.add_marker(pytest.mark.slow)


def pytest_configure(config: pytest.Config) -> None:
    # A run started in the background (``cmd &`` in a script, some CI runners) inherits SIGINT
    # ignored, and so would every process the tests start: the Ctrl-C tests need the disposition
    # a program started from a terminal has.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A worker a failed test left running would hold the run at exit: multiprocessing joins its
    # children there, without a timeout.  Say which were left, and end them.
    import multiprocessing

    left = multiprocessing.active_children()
    for child in left:
        child.kill()
        child.join(10)
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"ended {len(left)} worker process(es) a test left running: "
                                + ", ".join(f"{child.name} (pid {child.pid})" for child in left))
