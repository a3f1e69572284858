"""What a cluster engine carries to its workers so that ``get_tracker()`` reaches the display.

``WorkerSettings.capture()`` runs on the driver: it takes the address (the current session's,
as other hosts reach it, or a relay's) and reads the CURVE client keys into memory.  The value
is small, frozen and picklable; an engine ships it to each worker process, where ``install()``
writes the keys into a private directory (0700, secret 0600) and exports ``MPPROGRESS_ADDRESS``
and ``MPPROGRESS_CURVE_DIR`` / ``MPPROGRESS_CURVE_CLIENT`` (or ``MPPROGRESS_SERVER_KEY``) for the
process and its children, so the worker's first ``get_tracker()`` connects with them.  No third-party import here.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .._core.current import current_tracker, replace_tracker
from .._remote.announce import ADDRESS_FILE_ENV, announced_address, reachable_address
from .._remote.client import ClientTracker
from .._remote.settings import (
    ADDRESS_ENV,
    CURVE_CLIENT_ENV,
    CURVE_DIR_ENV,
    SERVER_KEY_ENV,
    export_settings,
    inherited_setting,
    server_key,
)
from .._wiring.command import curve_client_name

__all__ = ["WorkerSettings"]

_SERVER = "server"


@dataclass(frozen=True)
class WorkerSettings:
    """The address and CURVE client keys a worker needs (see the module docstring).

    Args:
        address: the session's or relay's address, as the workers' hosts reach it.
        client_name: the client key pair's name (``MPPROGRESS_CURVE_CLIENT``).
        keys: file name -> contents of the key files a worker needs (``server.key``,
            ``<client>.key_secret``); empty without CURVE.
        server_key: the public key of a session or relay on loopback TCP without ``--curve``
            (``MPPROGRESS_SERVER_KEY``): each worker makes a key pair of its own to reach it.
    """

    address: str
    client_name: str = "client"
    keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    server_key: str | None = None

    @classmethod
    def capture(
        cls, address: str | None = None, *, curve_dir: str | os.PathLike[str] | None = None, client: str | None = None
    ) -> WorkerSettings:
        """The settings of this process's session (or the given ones), keys read into memory.

        Args:
            address: where workers report; by default this process's ``MPPROGRESS_ADDRESS``
                (set by ``mpprogress.session()`` or ``mpprogress run``) or its announced address.
            curve_dir: a directory made by ``mpprogress keys``; ``MPPROGRESS_CURVE_DIR`` by default.
            client: the client key pair to give the workers; ``MPPROGRESS_CURVE_CLIENT``, else the
                first one with a secret key in ``curve_dir``.

        Raises:
            ValueError: no address is known, or the keys cannot be read.
        """
        address = address or inherited_setting(ADDRESS_ENV) or announced_address()
        if not address:
            raise ValueError(f"no progress address: open mpprogress.session(), pass one, or set {ADDRESS_ENV}")
        directory = curve_dir or os.environ.get(CURVE_DIR_ENV)
        if not directory:
            return cls(reachable_address(address), server_key=server_key(address, os.environ.get(ADDRESS_FILE_ENV)))
        root = Path(directory)
        name = client or os.environ.get(CURVE_CLIENT_ENV) or curve_client_name(root)
        try:
            keys = {f"{_SERVER}.key": (root / f"{_SERVER}.key").read_bytes(),
                    f"{name}.key_secret": (root / f"{name}.key_secret").read_bytes()}
        except OSError as exc:
            raise ValueError(f"cannot read CURVE client keys {name!r} from {root}: {exc}") from exc
        return cls(reachable_address(address), name, keys)

    def environment(self, key_dir: str | None = None) -> dict[str, str]:
        """The variables to export (``key_dir``: where ``install`` wrote the keys)."""
        env = {ADDRESS_ENV: self.address}
        if self.server_key is not None:
            env[SERVER_KEY_ENV] = self.server_key
        if key_dir is not None:
            env.update({CURVE_DIR_ENV: key_dir, CURVE_CLIENT_ENV: self.client_name})
        return env

    def install(self) -> None:
        """In a worker process: write the keys privately and export the settings (idempotent).

        The key directory is removed when the process exits.  A client this process already
        made for another address (a worker that served an earlier session) is closed, so the
        next ``get_tracker()`` connects here.
        """
        if inherited_setting(ADDRESS_ENV) == self.address and (not self.keys or os.environ.get(CURVE_DIR_ENV)):
            return
        previous = current_tracker()
        if isinstance(previous, ClientTracker) and previous.address != self.address:
            replace_tracker(None)
            previous.close()
        key_dir = None
        if self.keys:
            key_dir = tempfile.mkdtemp(prefix="mpprogress-keys-")  # 0700
            for name, content in self.keys.items():
                path = Path(key_dir) / name
                path.write_bytes(content)
                os.chmod(path, 0o600)
            atexit.register(shutil.rmtree, key_dir, True)
        export_settings(dict(self.environment(key_dir)))

