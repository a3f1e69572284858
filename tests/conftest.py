"""Test tiers: the tests that start processes (workers, relays, the demo, examples) are ``slow``.

``python -m pytest -q -m "not slow"`` runs the fast tier in seconds; CI runs everything.
"""

from __future__ import annotations

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
