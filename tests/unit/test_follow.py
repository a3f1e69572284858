"""A client that found its receiver in an address file follows it to where it is announced now."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import zmq

from mpprogress._remote.announce import ADDRESS_FILE_ENV, announce
from mpprogress._remote.follow import AddressFollower
from mpprogress._remote.settings import ADDRESS_ENV, inherited_address


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_file_is_read_at_most_once_a_second_and_only_a_new_address_counts(tmp_path: Path) -> None:
    board, clock = tmp_path / "relay.address", Clock()
    announce(board, "tcp://127.0.0.1:5001")
    follower = AddressFollower(str(board), get_time=clock)
    assert follower.moved("tcp://127.0.0.1:5001") is None  # not yet a second
    clock.now += 1.0
    assert follower.moved("tcp://127.0.0.1:5001") is None  # read: the same address
    announce(board, "tcp://127.0.0.1:5002")
    clock.now += 0.5
    assert follower.moved("tcp://127.0.0.1:5001") is None  # read half a second ago
    clock.now += 0.5
    assert follower.moved("tcp://127.0.0.1:5001") == "tcp://127.0.0.1:5002"
    board.unlink()
    clock.now += 1.0
    assert follower.moved("tcp://127.0.0.1:5001") is None  # no file (yet): stay


def test_only_an_address_read_from_the_file_is_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    board = tmp_path / "relay.address"
    monkeypatch.delenv(ADDRESS_ENV, raising=False)
    monkeypatch.setenv(ADDRESS_FILE_ENV, str(board))
    assert inherited_address() == (None, None)  # nothing announced yet
    announce(board, "tcp://127.0.0.1:5001")
    assert inherited_address() == ("tcp://127.0.0.1:5001", str(board))
    monkeypatch.setenv(ADDRESS_ENV, "tcp://127.0.0.1:9999")  # given outright: kept, not followed
    assert inherited_address() == ("tcp://127.0.0.1:9999", None)


def test_the_socket_moves_and_an_unusable_address_leaves_it_where_it_was(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    board, clock = tmp_path / "relay.address", Clock()
    context = zmq.Context.instance()
    old, new = context.socket(zmq.ROUTER), context.socket(zmq.ROUTER)
    client = context.socket(zmq.DEALER)
    try:
        old_port = old.bind_to_random_port("tcp://127.0.0.1")
        new_port = new.bind_to_random_port("tcp://127.0.0.1")
        current = f"tcp://127.0.0.1:{old_port}"
        client.connect(current)
        follower = AddressFollower(str(board), get_time=clock)
        announce(board, "tcp://127.0.0.1:99999")  # a port out of range: refused
        clock.now += 1.0
        with caplog.at_level(logging.WARNING, logger="mpprogress.remote"):
            assert follower.follow(client, current) == current
            clock.now += 1.0
            assert follower.follow(client, current) == current  # skipped: said once
        assert [r.getMessage() for r in caplog.records if "cannot follow" in r.getMessage()] == [
            f"mpprogress: cannot follow the receiver to 'tcp://127.0.0.1:99999' (announced in {board}): "
            "progress address 'tcp://127.0.0.1:99999': port 99999 is not a port number (1 to 65535)"
        ]
        client.send(b"still here")
        assert old.poll(5000) and old.recv_multipart()[1] == b"still here"
        announce(board, f"tcp://127.0.0.1:{new_port}")
        clock.now += 1.0
        assert follower.follow(client, current) == f"tcp://127.0.0.1:{new_port}"
        for k in range(4):  # every frame goes to the new receiver, none to the old one
            client.send(b"%d" % k)
        got = []
        while len(got) < 4 and new.poll(5000):
            got.append(new.recv_multipart()[1])
        assert got == [b"0", b"1", b"2", b"3"]
        assert not old.poll(200)
    finally:
        for sock in (client, old, new):
            sock.close(linger=0)
