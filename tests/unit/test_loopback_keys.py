"""Keys made for loopback TCP (issue 28 item 4): who gets them, how a worker finds the receiver's
public key, and the key file a relay keeps across restarts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import zmq

from mpprogress._remote.announce import announce, announced_address, announced_key
from mpprogress._remote.security import CurveClientKeys, kept_keys, loopback_keys
from mpprogress._remote.settings import ADDRESS_ENV, SERVER_KEY_ENV, env_client_security, export_settings, server_key


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:0", "tcp://localhost:5555", "tcp://[::1]:7"])
def test_loopback_tcp_gets_keys_that_let_any_client_key_in(address: str) -> None:
    keys = loopback_keys(address)
    assert keys is not None and keys.allowed_clients_dir is None
    assert zmq.curve_public(keys.secret) == keys.public
    assert loopback_keys(address).public != keys.public  # a new pair each time


@pytest.mark.parametrize("address", [None, "ipc:///tmp/x.sock", "tcp://0.0.0.0:5555", "tcp://10.1.2.3:5"])
def test_ipc_and_network_addresses_get_none(address: str | None) -> None:
    assert loopback_keys(address) is None


def test_a_worker_key_pair_is_its_own_and_a_bad_public_key_is_refused() -> None:
    public, _ = zmq.curve_keypair()
    one, two = CurveClientKeys.ephemeral(public.decode()), CurveClientKeys.ephemeral(public)
    assert one.server_public == two.server_public == public and one.public != two.public
    for bad in ("", "short", "x" * 39, "~" * 40, "é" * 40):
        with pytest.raises(ValueError, match="not a CURVE public key"):
            CurveClientKeys.ephemeral(bad)


def test_the_key_file_is_made_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "relay.key"
    first = kept_keys(path)
    assert path.stat().st_mode & 0o777 == 0o600
    again = kept_keys(path)
    assert (again.public, again.secret) == (first.public, first.secret)
    os.chmod(path, 0o644)
    with pytest.raises(ValueError, match="other users"):
        kept_keys(path)
    os.chmod(path, 0o600)
    path.write_bytes(b"not a key\n")
    with pytest.raises(ValueError, match="no CURVE secret key"):
        kept_keys(path)


def test_the_announce_file_carries_the_key_on_a_second_line(tmp_path: Path) -> None:
    path = tmp_path / "addr"
    announce(path, "tcp://127.0.0.1:5555")
    assert announced_address(path) == "tcp://127.0.0.1:5555" and announced_key(path) is None
    announce(path, "tcp://127.0.0.1:5556", "K" * 40)
    assert announced_address(path) == "tcp://127.0.0.1:5556"
    assert announced_key(path) == ("tcp://127.0.0.1:5556", "K" * 40)


def test_a_worker_uses_the_exported_key_for_its_receiver_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPPROGRESS_CURVE_DIR", raising=False)
    public = zmq.curve_keypair()[0].decode()
    address = "tcp://127.0.0.1:5555"
    restore = export_settings({ADDRESS_ENV: address, SERVER_KEY_ENV: public})
    try:
        assert server_key(address) == public
        assert server_key("tcp://127.0.0.1:6666") is None  # exported for another receiver
        keys = env_client_security(address)
        assert keys is not None and keys.server_public == public.encode()
        assert env_client_security("ipc:///tmp/x.sock") is None
    finally:
        restore()
    restore = export_settings({ADDRESS_ENV: None, SERVER_KEY_ENV: None})
    try:
        path = tmp_path / "addr"
        announce(path, address, public)
        assert server_key(address, str(path)) == public
        assert server_key("tcp://127.0.0.1:6666", str(path)) is None
        assert env_client_security(address) is None  # no key anywhere: plaintext (a warning says so)
    finally:
        restore()
    restore = export_settings({ADDRESS_ENV: address, SERVER_KEY_ENV: "garbage"})
    try:
        with pytest.raises(ValueError, match=f"{SERVER_KEY_ENV} is unusable"):
            env_client_security(address)
    finally:
        restore()
