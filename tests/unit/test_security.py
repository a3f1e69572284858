"""Bind policy, ipc collision detection and CURVE keys, with real ZeroMQ sockets."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
import zmq

from mpprogress._remote.security import (
    CurveClientKeys,
    CurveServerKeys,
    InsecureBindError,
    check_bind_address,
    generate_keys,
    ipc_in_use,
    is_loopback_address,
)


@pytest.mark.parametrize(
    "address",
    ["ipc:///tmp/x/relay.sock", "tcp://127.0.0.1:5555", "tcp://127.1.2.3:1", "tcp://localhost:9", "tcp://[::1]:7"],
)
def test_local_addresses_may_bind_without_curve(address: str) -> None:
    check_bind_address(address, curve=False)


@pytest.mark.parametrize("address", ["tcp://*:5555", "tcp://0.0.0.0:5555", "tcp://10.0.0.5:1", "tcp://eth0:1",
                                     "tcp://[::]:5"])
def test_network_addresses_need_curve(address: str) -> None:
    assert not is_loopback_address(address)
    with pytest.raises(InsecureBindError, match="CURVE"):
        check_bind_address(address, curve=False)
    check_bind_address(address, curve=True)


def test_unknown_transports_are_refused() -> None:
    with pytest.raises(InsecureBindError, match="transport"):
        check_bind_address("epgm://eth0;239.0.0.1:5555", curve=True)


def test_a_live_ipc_listener_is_detected_and_a_stale_file_is_not(tmp_path: Path) -> None:
    address = f"ipc://{tmp_path}/relay.sock"
    assert not ipc_in_use(address)
    ctx = zmq.Context()
    try:
        sock = ctx.socket(zmq.ROUTER)
        sock.bind(address)
        assert ipc_in_use(address)
        sock.close(linger=0)
        deadline = time.monotonic() + 10
        while ipc_in_use(address) and time.monotonic() < deadline:  # the I/O thread unbinds asynchronously
            time.sleep(0.01)
        assert not ipc_in_use(address)
        (tmp_path / "stale.sock").write_text("")
        assert not ipc_in_use(f"ipc://{tmp_path}/stale.sock")
    finally:
        ctx.term()


def test_generated_keys_are_private_and_never_overwritten(tmp_path: Path) -> None:
    root = generate_keys(tmp_path / "keys", clients=("alice", "bob"))
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(root / "server.key_secret").st_mode) == 0o600
    assert sorted(p.name for p in (root / "clients").iterdir()) == ["alice.key", "bob.key"]
    with pytest.raises(FileExistsError):
        generate_keys(root)
    server = CurveServerKeys.load(root)
    alice = CurveClientKeys.load(root, "alice")
    assert alice.server_public == server.public


def _curve_exchange(root: Path, client_keys: CurveClientKeys | None) -> bytes | None:
    """Send one frame from a client to a CURVE relay socket; return what the relay got, if anything."""
    ctx = zmq.Context()
    server = CurveServerKeys.load(root)
    auth = server.authenticator(ctx)
    try:
        router = ctx.socket(zmq.ROUTER)
        server.apply(router)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        dealer = ctx.socket(zmq.DEALER)
        if client_keys is not None:
            client_keys.apply(dealer)
        dealer.connect(f"tcp://127.0.0.1:{port}")
        dealer.send(b"hello")  # queued on the connecting pipe; delivered only if the handshake passes
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)
        got = None
        if poller.poll(1500):
            got = router.recv_multipart()[-1]
        for sock in (dealer, router):
            sock.close(linger=0)
        return got
    finally:
        auth.stop()
        ctx.term()


def test_curve_accepts_an_allowed_client_and_rejects_others(tmp_path: Path) -> None:
    root = generate_keys(tmp_path / "keys", clients=("worker",))
    assert _curve_exchange(root, CurveClientKeys.load(root, "worker")) == b"hello"
    stranger_root = generate_keys(tmp_path / "other", clients=("stranger",))
    stranger = CurveClientKeys.load(stranger_root, "stranger")
    wrong_client = CurveClientKeys(stranger.public, stranger.secret, CurveServerKeys.load(root).public)
    assert _curve_exchange(root, wrong_client) is None  # not on the allow-list
    assert _curve_exchange(root, None) is None  # no CURVE at all
