"""Progress from inside cluster engines' tasks: ``integrations.dask`` and ``integrations.ray``.

Each module is the one home of its engine's library (``mpprogress[dask]``, ``mpprogress[ray]``)
and is imported only when used; ``integrations.carry`` is what both hand to every worker: the
session's or relay's address and the CURVE client keys, as values (workers on other machines
cannot read the driver's key files).  Task code calls ``mpprogress.get_tracker()`` as everywhere.
"""

from __future__ import annotations

__all__: list[str] = []
