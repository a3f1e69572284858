"""Progress from inside Ray tasks and actors (``pip install mpprogress[ray]``).

On the driver, inside ``mpprogress.session()`` (or with a relay's address)::

    ray.init(runtime_env=mpprogress.integrations.ray.runtime_env())

The runtime environment carries the address in ``env_vars`` and, through a
``worker_process_setup_hook``, the CURVE client keys (``carry.WorkerSettings``): every worker
process Ray starts for the job, on any node, exports them before it runs a task, and task and
actor code calls ``mpprogress.get_tracker()`` as anywhere else.  A worker or actor that dies
(``ray.kill``, a crash, a lost node) has its open phases marked lost by the session.  This
module is the only one that imports ``ray``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ray

from .._remote.settings import ADDRESS_ENV
from .carry import WorkerSettings

__all__ = ["init", "runtime_env"]


def runtime_env(settings: WorkerSettings | None = None, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A Ray ``runtime_env`` whose worker processes report to this session (or ``settings``).

    Args:
        settings: where to report; by default ``WorkerSettings.capture()``: this process's
            session address (as other nodes reach it) and ``MPPROGRESS_CURVE_DIR``'s keys.
        base: a runtime environment of your own to extend (its ``env_vars`` are kept; its own
            ``worker_process_setup_hook`` is replaced).

    Returns:
        The runtime environment, for ``ray.init(runtime_env=...)`` or ``.options(runtime_env=...)``.
    """
    settings = settings or WorkerSettings.capture()
    env = dict(base or {})
    env["env_vars"] = {**dict(env.get("env_vars") or {}), ADDRESS_ENV: settings.address}
    env["worker_process_setup_hook"] = settings.install
    return env


def init(settings: WorkerSettings | None = None, **kwargs: Any) -> Any:
    """``ray.init(**kwargs)`` with ``runtime_env`` extended by ``runtime_env(settings)``.

    Returns:
        What ``ray.init`` returns.
    """
    kwargs["runtime_env"] = runtime_env(settings, kwargs.get("runtime_env"))
    return ray.init(**kwargs)
