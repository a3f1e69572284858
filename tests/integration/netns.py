"""Real hosts on one machine: Linux network namespaces joined by veth links to one bridge.

``Network`` builds a small LAN the tests own: a "switch" namespace holding a bridge, and one
namespace per host, each linked to the bridge by a veth pair (``eth0`` inside the host,
``10.231.0.N/24``).  A host's processes run with ``ip netns exec HOST unshare --pid --fork``:
their own network stack and their own pid namespace, so an aggregator sees them as another
machine (``host_identity`` differs: no pid check, heartbeats only).  ``link_down(host)`` cuts
the cable at the switch (the host's packets go nowhere, as when a switch port or a host's NIC
fails); ``link_up`` plugs it back.

Every network gets a unique name prefix, and ``close()`` (the ``network`` fixture calls it,
however the test ended) kills the processes it started and deletes its namespaces, which
deletes their veth links and the bridge with them.  Where namespaces cannot be made (not Linux,
no ``ip``, not root, a container without the capability) ``unavailable()`` says why, and the
fixture skips with that reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

import pytest

__all__ = ["Host", "Network", "Process", "network", "unavailable"]

ROOT = Path(__file__).resolve().parents[2]
SUBNET = "10.231.0"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=30)


def unavailable() -> str | None:
    """Why this machine cannot build namespaces for the tests, or ``None`` when it can."""
    if not sys.platform.startswith("linux"):
        return "network namespaces are Linux only"
    for tool in ("ip", "unshare"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (iproute2 / util-linux)"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN)"
    probe = f"mppprobe{uuid.uuid4().hex[:6]}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` is not permitted here: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


class Process:
    """A process started in a host, its stdout and stderr lines collected as they come."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        self.popen = subprocess.Popen(
            list(argv), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:
            lines.append(line)

    def wait(self, timeout: float = 60.0) -> int:
        """Wait for the exit status (and the last of its output)."""
        code = self.popen.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def kill(self) -> None:
        """SIGKILL (``unshare --kill-child`` passes it on to the program). Idempotent."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)


class Host:
    """One namespace on the network: its name, its address, the processes started in it."""

    def __init__(self, network: Network, name: str, namespace: str, address: str, port: str) -> None:
        self.network = network
        self.name = name
        self.namespace = namespace
        self.address = address
        self.switch_port = port  # the veth end on the bridge: down means the cable is cut
        self.processes: list[Process] = []

    def run(self, argv: Sequence[str], env: dict[str, str] | None = None, *, own_pids: bool = True) -> Process:
        """Start ``argv`` in this host (in a pid namespace of its own unless ``own_pids`` is false)."""
        prefix = ["ip", "netns", "exec", self.namespace]
        if own_pids:
            prefix += ["unshare", "--pid", "--fork", "--kill-child"]
        process = Process([*prefix, *argv], env if env is not None else clean_env())
        self.processes.append(process)
        return process

    def python(self, *args: str, env: dict[str, str] | None = None) -> Process:
        """``python ARGS...`` with this interpreter, in this host."""
        return self.run([sys.executable, *args], env)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any ``MPPROGRESS_`` setting, the checkout importable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MPPROGRESS_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


class Network:
    """A bridge in a switch namespace and hosts linked to it (see the module docstring)."""

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.switch = f"mpp{self.tag}sw"
        self.hosts: list[Host] = []
        self._namespaces: list[str] = []

    def start(self) -> None:
        """Make the switch (separate from ``__init__`` so that ``close`` undoes a half-made one)."""
        self._add_namespace(self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")

    def _add_namespace(self, name: str) -> None:
        _ip("netns", "add", name)
        self._namespaces.append(name)
        _ip("-n", name, "link", "set", "lo", "up")

    def add_host(self, name: str) -> Host:
        """A new host ``name`` at the next address of the subnet, linked to the switch."""
        number = len(self.hosts) + 1
        namespace = f"mpp{self.tag}{name}"
        self._add_namespace(namespace)
        inside, port = f"v{self.tag}{number}h", f"v{self.tag}{number}s"
        # Made in the host's namespace, then one end moved to the switch: nothing is ever
        # created in the machine's own namespace.
        _ip("-n", namespace, "link", "add", inside, "type", "veth", "peer", "name", port)
        _ip("-n", namespace, "link", "set", port, "netns", self.switch)
        _ip("-n", namespace, "link", "set", inside, "name", "eth0")
        address = f"{SUBNET}.{number}"
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", self.switch, "link", "set", port, "master", "br0")
        _ip("-n", self.switch, "link", "set", port, "up")
        host = Host(self, name, namespace, address, port)
        self.hosts.append(host)
        return host

    def link_down(self, host: Host) -> None:
        """Cut ``host``'s cable at the switch: nothing it sends arrives, nothing reaches it."""
        _ip("-n", self.switch, "link", "set", host.switch_port, "down")

    def link_up(self, host: Host) -> None:
        """Plug ``host``'s cable back in."""
        _ip("-n", self.switch, "link", "set", host.switch_port, "up")

    def close(self) -> None:
        """Kill every process started here and delete every namespace. Idempotent."""
        for host in self.hosts:
            for process in host.processes:
                with contextlib.suppress(OSError, subprocess.TimeoutExpired):
                    process.kill()
        for namespace in reversed(self._namespaces):
            _ip("netns", "del", namespace, check=False)
        self._namespaces.clear()


@pytest.fixture
def network() -> Iterator[Network]:
    """A fresh ``Network`` for one test, removed afterwards; skips where namespaces cannot be made."""
    reason = unavailable()
    if reason is not None:
        pytest.skip(f"no network namespaces: {reason}")
    net = Network()
    try:
        net.start()
        yield net
    finally:
        net.close()
