"""``rich.progress``-style front end: ``from mpprogress.rich import Progress, track``.

The same calls as ``rich.progress.Progress`` (``add_task``, ``update``, ``advance``...), drawn on
mpprogress's one display and usable inside worker processes.  See ``frontends/rich.py``.
"""

from __future__ import annotations

from ._frontends.rich import Progress, Task, TaskID, track

__all__ = ["Progress", "Task", "TaskID", "track"]
