"""The address file a relay announces itself in, and the address other hosts should use."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from mpprogress._remote.announce import ADDRESS_FILE_ENV, announce, announced_address, reachable_address


def test_an_announcement_replaces_the_last_one_whole(tmp_path: Path) -> None:
    board = tmp_path / "relay.address"
    assert announced_address(board) is None  # nothing announced yet
    announce(board, "tcp://10.0.0.1:5555")
    announce(board, "tcp://10.0.0.2:6000")
    assert announced_address(board) == "tcp://10.0.0.2:6000"
    assert [p.name for p in tmp_path.iterdir()] == ["relay.address"]  # no temporary file left
    assert board.stat().st_mode & 0o777 == 0o644


def test_workers_read_the_file_their_environment_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = tmp_path / "relay.address"
    board.write_text("tcp://10.0.0.1:5555\n")
    monkeypatch.setenv(ADDRESS_FILE_ENV, str(board))
    assert announced_address() == "tcp://10.0.0.1:5555"
    board.write_text("")
    assert announced_address() is None
    monkeypatch.delenv(ADDRESS_FILE_ENV)
    assert announced_address() is None


def test_a_wildcard_bind_is_announced_under_this_host_s_name() -> None:
    assert reachable_address("tcp://10.0.0.1:5555") == "tcp://10.0.0.1:5555"
    assert reachable_address("ipc:///tmp/x/progress.sock") == "ipc:///tmp/x/progress.sock"
    for wildcard in ("tcp://0.0.0.0:5555", "tcp://*:5555"):
        assert reachable_address(wildcard) == f"tcp://{socket.getfqdn()}:5555"
