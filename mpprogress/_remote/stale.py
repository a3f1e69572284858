"""Private socket directories that killed sessions and relays left behind (SIGKILL leaves its
``mpprogress-XXXXXXXX/progress.sock``): removed when the next one makes its own directory."""

from __future__ import annotations

import os
import socket
import stat
import tempfile
import time

__all__ = ["remove_stale_private_dirs"]


def remove_stale_private_dirs(
    prefix: str, socket_name: str, *, directory: str | None = None, min_age: float = 5.0,
) -> list[str]:
    """Remove the private socket directories that killed processes (SIGKILL) left behind.

    A directory is removed only when all of this holds: its name starts with ``prefix``; it is
    a real directory of this user with mode 0700, older than ``min_age`` seconds; it holds
    nothing but one socket file named ``socket_name``; and no process listens on that socket
    (not among this network namespace's bound sockets, and connecting is refused).

    Args:
        prefix: the ``mkdtemp`` prefix of the directories (``"mpprogress-"``).
        socket_name: the socket file's name inside them (``"progress.sock"``).
        directory: where to look; the temporary directory by default.
        min_age: seconds a directory must have existed (one being set up is left alone).

    Returns:
        The directories removed.
    """
    root = directory if directory is not None else tempfile.gettempdir()
    bound = _bound_unix_paths()
    removed: list[str] = []
    try:
        entries = [entry for entry in os.scandir(root) if entry.name.startswith(prefix)]
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
                    or stat.S_IMODE(info.st_mode) != 0o700 or now - info.st_mtime < min_age
                    or os.listdir(entry.path) != [socket_name]):
                continue
            path = os.path.join(entry.path, socket_name)
            if not stat.S_ISSOCK(os.lstat(path).st_mode) or path in bound or _accepts(path):
                continue
            os.unlink(path)
            os.rmdir(entry.path)
        except OSError:
            continue  # gone meanwhile, or not ours to remove: left as it is
        removed.append(entry.path)
    return removed


def _bound_unix_paths() -> frozenset[str]:
    """The paths of this network namespace's bound Unix sockets (empty where unknown)."""
    try:
        with open("/proc/net/unix", encoding="utf-8", errors="replace") as table:
            return frozenset(fields[7] for line in table if len(fields := line.split()) >= 8)
    except OSError:
        return frozenset()


def _accepts(path: str) -> bool:
    """Whether a process accepts connections on the Unix socket at ``path`` (when unsure: yes)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        return False  # the listener is gone
    except OSError:
        return True
    finally:
        probe.close()
    return True
