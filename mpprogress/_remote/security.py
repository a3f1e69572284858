"""Who may bind where, and CURVE keys for relays reached over a network.

Rules (DESIGN.md): ``ipc://`` in a private directory by default; ``tcp://`` on a loopback
address on request; any other interface only with CURVE (server key plus allow-listed client
keys checked through ZAP).  Key files are ZeroMQ's own certificate format
(``zmq.auth.create_certificates``), so standard tools read them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._base.port import ProgressError

if TYPE_CHECKING:
    import zmq
    from zmq.auth.thread import ThreadAuthenticator

__all__ = [
    "ZAP_DOMAIN",
    "CurveClientKeys",
    "CurveServerKeys",
    "InsecureBindError",
    "IpcAddressInUseError",
    "check_bind_address",
    "generate_keys",
    "ipc_in_use",
    "is_loopback_address",
]

ZAP_DOMAIN = "mpprogress"
"""The ZAP domain every receiving socket sets (an empty domain lets libzmq skip ZAP entirely)."""
SERVER_NAME = "server"
CLIENTS_DIR = "clients"


class InsecureBindError(ProgressError, ValueError):
    """Binding this address without CURVE would expose the relay to the network.

    A ``ValueError`` too, as it was before ``ProgressError`` became the common base.
    """


class IpcAddressInUseError(ProgressError, OSError):
    """Another live process already listens on this ``ipc://`` path.

    An ``OSError`` too, as it was before ``ProgressError`` became the common base.
    """


def _tcp_host(address: str) -> str:
    rest = address[len("tcp://") :]
    if rest.startswith("["):  # tcp://[::1]:5555
        return rest[1 : rest.index("]")]
    return rest.rsplit(":", 1)[0]


def is_loopback_address(address: str) -> bool:
    """Whether a ``tcp://HOST:PORT`` address only listens on this machine.

    ``localhost``, 127.0.0.0/8 and ::1 are loopback; ``*``, ``0.0.0.0`` and every other
    interface or host name are not.
    """
    if not address.startswith("tcp://"):
        return False
    host = _tcp_host(address)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind_address(address: str, *, curve: bool) -> None:
    """Refuse a bind that would accept unauthenticated peers from the network.

    Args:
        address: the ZeroMQ endpoint to bind (``ipc://``, ``tcp://``...).
        curve: whether the socket is configured as a CURVE server.

    Raises:
        InsecureBindError: a TCP address on a non-loopback interface without CURVE, an
            abstract ``ipc://@name`` socket without CURVE, or a transport this project does
            not serve.
    """
    if address.startswith("ipc://@") and not curve:
        raise InsecureBindError(
            f"refusing to bind {address} without CURVE: an abstract socket has no file permissions, so any "
            "local user can connect to it. Bind a path in a private directory (the default), or use --curve DIR."
        )
    if address.startswith(("ipc://", "inproc://")):
        return
    if address.startswith("tcp://"):
        if curve or is_loopback_address(address):
            return
        raise InsecureBindError(
            f"refusing to bind {address} without CURVE: it would accept connections from the network. "
            "Bind tcp://127.0.0.1:PORT, or create keys with `mpprogress keys DIR` and pass --curve DIR."
        )
    raise InsecureBindError(f"unsupported transport in {address!r}: use ipc:// or tcp://")


def ipc_in_use(address: str) -> bool:
    """Whether a live process accepts connections on this ``ipc://`` path.

    ZeroMQ silently replaces the socket file of an existing ``ipc://`` endpoint on bind, which
    would steal a running relay's clients; checking first makes the second bind an error.
    """
    path = address[len("ipc://") :]
    if not os.path.exists(path):
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError:
        return False  # a stale file left by a dead process
    finally:
        probe.close()
    return True


@dataclass(frozen=True)
class CurveServerKeys:
    """A relay's CURVE key pair and the directory of allowed client public keys."""

    public: bytes
    secret: bytes
    allowed_clients_dir: Path

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> CurveServerKeys:
        """Load the keys ``generate_keys`` wrote into ``directory``."""
        import zmq.auth

        root = Path(directory)
        public, secret = zmq.auth.load_certificate(root / f"{SERVER_NAME}.key_secret")
        if secret is None:
            raise ValueError(f"{root / (SERVER_NAME + '.key_secret')} holds no secret key")
        return cls(public, secret, root / CLIENTS_DIR)

    def apply(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` a CURVE server in the ``ZAP_DOMAIN`` (call before bind)."""
        sock.zap_domain = ZAP_DOMAIN.encode()
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_server = True

    def start(self, context: zmq.Context[zmq.Socket[bytes]]) -> Callable[[], None]:
        """Start the ZAP handler on ``context`` (before the socket binds).

        Returns:
            The function that stops it; the aggregator calls it when it closes.
        """
        return self.authenticator(context).stop

    def authenticator(self, context: zmq.Context[zmq.Socket[bytes]]) -> ThreadAuthenticator:
        """Start a ZAP handler on ``context`` that lets in only the allow-listed client keys.

        The caller stops it (``.stop()``) when the relay closes; ``start`` does both for an
        aggregator.
        """
        import zmq
        from zmq.auth.thread import ThreadAuthenticator

        auth = ThreadAuthenticator(context)
        # The ZAP endpoint of a handler stopped just before (a relay restarted in the same
        # process) is released by ZeroMQ's reaper thread, a moment after its socket closed.
        deadline = time.monotonic() + 5.0
        while True:
            try:
                auth.start()
                break
            except zmq.ZMQError as exc:
                if auth.zap_socket is not None:
                    auth.zap_socket.close(linger=0)
                if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        auth.configure_curve(domain=ZAP_DOMAIN, location=str(self.allowed_clients_dir))
        return auth


@dataclass(frozen=True)
class CurveClientKeys:
    """A worker's CURVE key pair and the relay's public key it expects."""

    public: bytes
    secret: bytes
    server_public: bytes

    @classmethod
    def load(cls, directory: str | os.PathLike[str], name: str = "client") -> CurveClientKeys:
        """Load client ``name``'s keys and the server's public key from ``directory``."""
        import zmq.auth

        root = Path(directory)
        public, secret = zmq.auth.load_certificate(root / f"{name}.key_secret")
        server_public, _ = zmq.auth.load_certificate(root / f"{SERVER_NAME}.key")
        if secret is None:
            raise ValueError(f"{root / (name + '.key_secret')} holds no secret key")
        return cls(public, secret, server_public)

    def apply(self, sock: zmq.Socket[bytes]) -> None:
        """Make ``sock`` a CURVE client of the relay (call before connect)."""
        sock.curve_secretkey = self.secret
        sock.curve_publickey = self.public
        sock.curve_serverkey = self.server_public


def generate_keys(directory: str | os.PathLike[str], clients: tuple[str, ...] = ("client",)) -> Path:
    """Create a relay key pair and client key pairs whose public keys the relay allows.

    Layout: ``server.key`` / ``server.key_secret``, ``<client>.key`` / ``<client>.key_secret``,
    and ``clients/<client>.key`` (the allow-list the relay reads).  Secret files are 0600 and
    the directory 0700.  Existing files are never overwritten.

    Args:
        directory: where to write; created if missing.
        clients: names of the client key pairs to create.

    Returns:
        The directory.

    Raises:
        FileExistsError: a key file of that name already exists.
    """
    import zmq.auth

    root = Path(directory)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    allowed = root / CLIENTS_DIR
    allowed.mkdir(mode=0o700, exist_ok=True)
    for name in (SERVER_NAME, *clients):
        for suffix in (".key", ".key_secret"):
            if (root / f"{name}{suffix}").exists():
                raise FileExistsError(f"{root / (name + suffix)} already exists; not overwriting keys")
    zmq.auth.create_certificates(root, SERVER_NAME)
    for name in clients:
        public_file, _ = zmq.auth.create_certificates(root, name)
        (allowed / f"{name}.key").write_bytes(Path(public_file).read_bytes())
    for secret_file in root.glob("*.key_secret"):
        os.chmod(secret_file, 0o600)
    return root
