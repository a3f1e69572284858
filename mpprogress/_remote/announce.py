"""Announcing where a relay listens: an address file that workers on any host read.

A relay or a ``mpprogress run`` session started with ``--announce FILE`` writes the address
workers should connect to into ``FILE`` (atomically: a reader sees the old address or the new
one, never half of one), and writes it again when it is restarted, on whatever port or host.  A
worker whose environment has ``MPPROGRESS_ADDRESS_FILE=FILE`` (and no ``MPPROGRESS_ADDRESS``)
reads it when it first connects, and again while the connection is down (``follow``: at most
once a second), so a running worker follows its relay to a new port or host.  On a
cluster ``FILE`` lives on the shared file system the job's nodes already see (the job's working
directory).  No zmq here.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from pathlib import Path

__all__ = ["ADDRESS_FILE_ENV", "announce", "announced_address", "announced_key", "reachable_address"]

ADDRESS_FILE_ENV = "MPPROGRESS_ADDRESS_FILE"
"""A file holding the aggregator's address (``--announce``), read when ``MPPROGRESS_ADDRESS`` is unset."""

_WILDCARDS = ("*", "0.0.0.0", "::", "[::]")


def reachable_address(bound: str) -> str:
    """The address other hosts use for a socket bound to ``bound``.

    A wildcard bind (``tcp://0.0.0.0:5555``, ``tcp://*:5555``) listens on every interface,
    which is no address to connect to: this host's fully qualified name takes its place.
    """
    if not bound.startswith("tcp://"):
        return bound
    host, _, port = bound[len("tcp://") :].rpartition(":")
    if host not in _WILDCARDS:
        return bound
    name = socket.getfqdn()
    try:
        if ipaddress.ip_address(name).version == 6:
            name = f"[{name}]"
    except ValueError:
        pass
    return f"tcp://{name}:{port}"


def announce(path: str | os.PathLike[str], address: str, server_key: str | None = None) -> None:
    """Write ``address`` (one line), and the receiver's CURVE public key if it has one made for
    loopback TCP (a second line), to ``path``, replacing what was there in one step."""
    target = Path(path)
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(address + "\n" + (f"{server_key}\n" if server_key else ""))
        os.chmod(temporary, 0o644)  # an address and a public key are no secret; other users' workers may read them
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def announced_address(path: str | os.PathLike[str] | None = None) -> str | None:
    """The address announced in ``path`` (``MPPROGRESS_ADDRESS_FILE`` by default), if any.

    Returns:
        The address, or ``None`` when no file is named, it does not exist (yet) or it is empty.
    """
    path = path if path is not None else os.environ.get(ADDRESS_FILE_ENV)
    if not path:
        return None
    lines = _lines(path)
    return lines[0] if lines else None


def announced_key(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """The address announced in ``path`` and the receiver's public key announced with it, if any."""
    lines = _lines(path)
    return (lines[0], lines[1]) if len(lines) > 1 else None


def _lines(path: str | os.PathLike[str]) -> list[str]:
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return []
    return [line.strip() for line in text.splitlines()[:2]]

