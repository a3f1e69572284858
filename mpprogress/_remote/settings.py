"""The settings a session exports to its children, and how a child reads them back.

A session sets ``MPPROGRESS_ADDRESS`` (and ``MPPROGRESS_FORWARD_LOGS``) for the processes it
starts; a worker's ``get_tracker()`` connects to that address.  No zmq here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .announce import ADDRESS_FILE_ENV, announced_address, announced_key

if TYPE_CHECKING:
    from .security import CurveClientKeys

__all__ = [
    "ADDRESS_ENV",
    "CURVE_CLIENT_ENV",
    "CURVE_DIR_ENV",
    "FORWARD_LOGS_ENV",
    "RESUME_ENV",
    "SERVER_KEY_ENV",
    "SESSION_PID_ENV",
    "env_client_security",
    "export_settings",
    "inherited_address",
    "inherited_setting",
    "server_key",
    "session_pid",
]

ADDRESS_ENV = "MPPROGRESS_ADDRESS"
"""The aggregator's address, exported by a session to every child process."""
FORWARD_LOGS_ENV = "MPPROGRESS_FORWARD_LOGS"
"""``1`` when a session wants its workers' ``logging`` records."""
RESUME_ENV = "MPPROGRESS_RESUME"
"""``1`` when a session resumes an earlier run: a worker's phase start then waits for where it resumes."""
SESSION_PID_ENV = "MPPROGRESS_SESSION_PID"
"""``PID HOST`` of the session (``HOST``: ``transport.host_identity()``): a worker whose receiver
shows no life for ``ClientConfig.orphan_grace`` while that process is gone on its host cancels
its operations (a relay exports none: its workers are never cancelled this way)."""
CURVE_DIR_ENV = "MPPROGRESS_CURVE_DIR"
"""Directory of keys made by ``mpprogress keys``: set it in a worker to reach a CURVE relay."""
CURVE_CLIENT_ENV = "MPPROGRESS_CURVE_CLIENT"
"""Name of the client key pair in ``MPPROGRESS_CURVE_DIR`` (``client`` by default)."""
SERVER_KEY_ENV = "MPPROGRESS_SERVER_KEY"
"""The CURVE public key (Z85) of a session or relay on loopback TCP without ``--curve``: a worker
makes a key pair of its own and talks only to the holder of that key (``security.loopback_keys``)."""


def inherited_setting(name: str) -> str | None:
    """A setting a session exported to its children (``MPPROGRESS_ADDRESS``...), or ``None``.

    Read first from the ``multiprocessing`` record of this process, which a child created by
    ``multiprocessing`` receives from its parent at creation under every start method, then
    from the environment (plain subprocesses).  The environment alone is not enough: the
    ``forkserver`` server process keeps the environment of the moment it started, so its
    children would connect to the address of an earlier session, or to none.
    """
    from multiprocessing import process

    value = process.current_process()._config.get(name)  # type: ignore[attr-defined]
    if isinstance(value, _Environment):
        return value.get()
    if value is not None:
        return value or None
    return os.environ.get(name) or None


def inherited_address() -> tuple[str | None, str | None]:
    """Where a worker reports, and the address file to follow if the address came from one.

    ``MPPROGRESS_ADDRESS`` (``inherited_setting``) when set; else the address announced in the
    file ``MPPROGRESS_ADDRESS_FILE`` names, with that file's path (a running client follows the
    relay there when it moves: ``follow``); else ``(None, None)``.
    """
    address = inherited_setting(ADDRESS_ENV)
    if address:
        return address, None
    path = os.environ.get(ADDRESS_FILE_ENV)
    announced = announced_address(path) if path else None
    return (announced, path) if announced else (None, None)


def session_pid(address: str, host: str) -> int | None:
    """The pid of the session whose worker connects to ``address`` on host ``host``, if known.

    ``None`` unless the session exported its pid for this very address (an explicit client of
    a relay, inside a session's child, is no worker of that session) on this very host.
    """
    exported = inherited_setting(SESSION_PID_ENV)
    if exported is None or inherited_setting(ADDRESS_ENV) != address:
        return None
    pid, _, its_host = exported.partition(" ")
    return int(pid) if pid.isdigit() and its_host == host else None


class _Environment:
    """A record entry that defers to the environment: this process's, or, pickled for a child
    (``spawn``, ``forkserver``), the value this process's environment holds at that moment.

    What a session leaves in the record when it ends: a forkserver started during the session
    keeps the environment of its start, so its later children must not fall back to theirs.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def get(self) -> str | None:
        return os.environ.get(self.name) or None

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        return str, (os.environ.get(self.name, ""),)


def export_settings(settings: dict[str, str | None]) -> Callable[[], None]:
    """Set settings for children (environment and multiprocessing record); ``None`` unsets.

    Returns:
        A function that puts back what was there before.
    """
    from multiprocessing import process

    config: dict[str, Any] = process.current_process()._config  # type: ignore[attr-defined]
    saved = {name: (os.environ.get(name), config.get(name)) for name in settings}
    for name, value in settings.items():
        _put(os.environ, name, value)
        _put(config, name, value)

    def restore() -> None:
        for name, (env_value, config_value) in saved.items():
            _put(os.environ, name, env_value)
            # Never just removed: a forkserver started meanwhile keeps the environment of its
            # start, and its later children would read this (ended) session's address from it.
            _put(config, name, config_value if config_value is not None else _Environment(name))

    return restore


def _put(mapping: MutableMapping[str, Any], name: str, value: str | _Environment | None) -> None:
    if value is None:
        mapping.pop(name, None)
    else:
        mapping[name] = value


def server_key(address: str, address_file: str | None = None) -> str | None:
    """The receiver's public key for a worker reporting to ``address``, if it was given one.

    ``MPPROGRESS_SERVER_KEY`` when ``MPPROGRESS_ADDRESS`` is unset or is ``address`` (a key
    exported for another receiver is not this one's), else the key announced in
    ``address_file`` with that address.
    """
    exported = inherited_setting(SERVER_KEY_ENV)
    if exported and inherited_setting(ADDRESS_ENV) in (None, address):
        return exported
    if address_file is not None:
        announced = announced_key(address_file)
        if announced is not None and announced[0] == address:
            return announced[1]
    return None


def env_client_security(address: str | None = None, address_file: str | None = None) -> CurveClientKeys | None:
    """CURVE client keys for a worker reporting to ``address``, if it should use any.

    The keys named by ``MPPROGRESS_CURVE_DIR`` / ``MPPROGRESS_CURVE_CLIENT``, if set; else, for
    a ``tcp://`` address whose receiver's public key is known (``server_key``), a new key pair
    of this worker's own (``CurveClientKeys.ephemeral``); else ``None``.

    Raises:
        ValueError: the keys cannot be read, or the public key is no key.
    """
    from .security import CurveClientKeys

    directory = os.environ.get(CURVE_DIR_ENV)
    if not directory:
        key = server_key(address, address_file) if address and address.startswith("tcp://") else None
        if key is None:
            return None
        try:
            return CurveClientKeys.ephemeral(key)
        except ValueError as exc:
            raise ValueError(f"{SERVER_KEY_ENV} is unusable: {exc}") from exc

    name = os.environ.get(CURVE_CLIENT_ENV) or "client"
    try:
        return CurveClientKeys.load(directory, name)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot load CURVE client keys {name!r} from {directory}: {exc}") from exc
