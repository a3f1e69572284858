"""Where sockets bind and connect: address checks, private ``ipc://`` paths, socket files.

No zmq here (``transport`` applies what these decide to sockets).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass

from .._base.port import ProgressError
from .stale import remove_stale_private_dirs

__all__ = ["IPC_NAME", "AddressError", "IpcFile", "check_tcp_address", "private_ipc_address", "remove_private_dir"]

IPC_NAME = "progress.sock"
_PRIVATE_PREFIX = "mpprogress-"


class AddressError(ProgressError, ValueError):
    """ZeroMQ cannot bind or connect this address (a ``ValueError`` too, as it always was)."""


def check_tcp_address(address: str, *, bind: bool) -> bool:
    """Refuse a ``tcp://`` address ZeroMQ would misread; say whether its host is IPv6.

    ZeroMQ takes a port modulo 65536 (``:99999`` listens on 34463) and needs its IPv6 option
    for a bracketed host (``tcp://[::1]:5555`` fails with "No such device" without it).  Other
    transports pass unchecked.

    Args:
        address: the endpoint.
        bind: whether it will be bound (then port ``0`` or ``*`` picks a free port).

    Returns:
        Whether the host is a bracketed IPv6 address (the socket needs ``zmq.IPV6``).

    Raises:
        AddressError: the port is missing, not a number, or outside 1..65535.
    """
    if not address.startswith("tcp://"):
        return False
    endpoint = address[len("tcp://") :].rsplit(";", 1)[-1]  # connect's "source;destination" form
    host, colon, port = endpoint.rpartition(":")
    if not colon or not host or host.startswith("[") != host.endswith("]"):
        raise AddressError(f"progress address {address!r} needs a host and a port (tcp://HOST:PORT)")
    free = bind and port in ("0", "*")
    if not free and not (port.isdigit() and 1 <= int(port) <= 65535):
        raise AddressError(f"progress address {address!r}: port {port} is not a port number (1 to 65535)")
    return host.startswith("[")


def private_ipc_address() -> tuple[str, str]:
    """An ``ipc://`` address inside a new private (0700) temporary directory.

    Returns:
        The address and the directory, to be removed with ``remove_private_dir``.
    """
    remove_stale_private_dirs(_PRIVATE_PREFIX, IPC_NAME)  # what SIGKILLed sessions and relays left
    directory = tempfile.mkdtemp(prefix=_PRIVATE_PREFIX)
    os.chmod(directory, 0o700)
    return f"ipc://{os.path.join(directory, IPC_NAME)}", directory


@dataclass(frozen=True)
class IpcFile:
    """The socket file a listening socket created for its ``ipc://`` address.

    ZeroMQ removes it only when its context ends, which a process that exits without ending
    it (the relay) never sees, so the file stays behind; the socket's owner removes it on close.
    """

    path: str
    device: int
    inode: int

    @classmethod
    def of(cls, address: str) -> IpcFile | None:
        """The file just bound at ``address`` (``None`` for other transports or no file)."""
        if not address.startswith("ipc://"):
            return None
        path = address[len("ipc://") :]
        try:
            info = os.stat(path)
        except OSError:  # an abstract socket (ipc://@name) has no file
            return None
        return cls(path, info.st_dev, info.st_ino)

    def remove(self) -> None:
        """Remove the file if it is still this one (not another program's since). Idempotent."""
        with contextlib.suppress(OSError):
            info = os.stat(self.path)
            if (info.st_dev, info.st_ino) == (self.device, self.inode) and stat.S_ISSOCK(info.st_mode):
                os.unlink(self.path)


def remove_private_dir(directory: str | None) -> None:
    """Remove a directory made by ``private_ipc_address`` (missing is fine)."""
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
