"""Who may see the dashboard and change anything through it (standard library only).

- Where it listens: ``parse_bind("127.0.0.1:0")``; loopback binds are open to this machine's
  users, any other bind needs a secret token (``new_token``), compared in constant time.
- Which ``Host`` header is accepted (``host_allowed``): an IP literal, ``localhost``, this
  machine's names and the names given.  A DNS-rebinding page reaches the server under its own
  domain name, so refusing other names keeps it out.
- A state-changing request (cancel) must come from the page itself: the ``Origin`` (when sent)
  names this server, and the CSRF header carries the per-server secret the page received over
  its authenticated event stream.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import socket
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

__all__ = [
    "CSRF_HEADER",
    "Access",
    "BindAddress",
    "host_allowed",
    "is_loopback",
    "new_token",
    "parse_bind",
    "peer_uid",
    "same_secret",
]

CSRF_HEADER: Final = "X-MPProgress-CSRF"
"""The header a state-changing request carries the page's CSRF secret in (a custom header also
means a cross-site form or ``fetch`` cannot send it without a CORS preflight we never grant)."""


@dataclass(frozen=True)
class BindAddress:
    """Where the server listens: ``host`` (an IP or a name) and ``port`` (0 picks a free one)."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Whether only this machine can connect."""
        return is_loopback(self.host)


def parse_bind(text: str) -> BindAddress:
    """``"127.0.0.1:8765"``, ``"[::1]:0"``, ``"localhost:0"`` or ``":8765"`` (loopback) as an address.

    Raises:
        ValueError: no port, or a port outside 0-65535.
    """
    host, sep, port = text.strip().rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT for the dashboard, got {text!r}")
    if int(port) > 65535:
        raise ValueError(f"port {port} is out of range (0 to 65535)")
    host = host.strip("[]") or "127.0.0.1"
    return BindAddress(host, int(port))


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an IP literal or ``localhost``) reaches only this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A fresh secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def same_secret(given: str | None, expected: str) -> bool:
    """Whether ``given`` is ``expected``, in time that does not depend on where they differ."""
    if not given:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _machine_names() -> set[str]:
    names = {"localhost"}
    for name in (socket.gethostname(), socket.getfqdn()):
        if name:
            names.add(name.lower())
    return names


def host_allowed(host_header: str | None, extra_names: Iterable[str] = ()) -> bool:
    """Whether a request's ``Host`` names this server (see the module's note on rebinding)."""
    if not host_header:
        return False
    host = urlsplit("//" + host_header).hostname
    if host is None:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return host.lower() in _machine_names() | {name.lower() for name in extra_names}


@dataclass(frozen=True)
class Access:
    """The secrets of one running server.

    Args:
        token: what a request must present (``?token=``, the cookie it sets, or
            ``Authorization: Bearer``); ``None`` on a loopback bind without one.
        csrf: what a state-changing request must carry in ``CSRF_HEADER``.
        cookie: the cookie's name (it carries the port: cookies do not tell ports apart).
        names: host names accepted besides IP literals and this machine's names.
    """

    token: str | None
    csrf: str = field(default_factory=new_token)
    cookie: str = "mpprogress"
    names: tuple[str, ...] = ()

    def authenticated(self, query: Mapping[str, str], cookies: Mapping[str, str], authorization: str | None) -> bool:
        """Whether a request presents the token (always, when there is none)."""
        if self.token is None:
            return True
        bearer = authorization[7:] if authorization and authorization.startswith("Bearer ") else None
        return any(same_secret(given, self.token) for given in (query.get("token"), cookies.get(self.cookie), bearer))

    def may_change(self, headers: Mapping[str, str], host_header: str | None) -> bool:
        """Whether a state-changing request comes from this server's own page."""
        origin = headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != (host_header or ""):
            return False
        if headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return False
        return same_secret(headers.get(CSRF_HEADER), self.csrf)


def peer_uid(local: tuple[Any, ...], peer: tuple[Any, ...]) -> int | None:
    """The user id owning the other end of a loopback TCP connection (Linux's ``/proc/net/tcp``).

    ``local`` is this end's ``getsockname()``, ``peer`` its ``getpeername()``; ``None`` when it
    cannot be told (not Linux, not loopback, the peer already gone).
    """
    try:
        wanted_local, wanted_remote = _proc_address(peer), _proc_address(local)
    except (ValueError, IndexError):
        return None
    table = "/proc/net/tcp6" if ":" in str(peer[0]) else "/proc/net/tcp"
    try:
        with open(table, encoding="ascii") as lines:
            next(lines, None)
            for line in lines:
                fields = line.split()
                if len(fields) > 7 and fields[1] == wanted_local and fields[2] == wanted_remote:
                    return int(fields[7])
    except (OSError, ValueError):
        return None
    return None


def _proc_address(address: tuple[Any, ...]) -> str:
    """``(host, port, ...)`` as ``/proc/net/tcp`` writes it: the address's bytes in host order, hex."""
    packed = ipaddress.ip_address(str(address[0]).split("%")[0]).packed
    words = [packed[i:i + 4] for i in range(0, len(packed), 4)]
    text = "".join(int.from_bytes(word, sys.byteorder).to_bytes(4, "big").hex().upper() for word in words)
    return f"{text}:{int(address[1]):04X}"
