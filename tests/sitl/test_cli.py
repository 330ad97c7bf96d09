"""``python -m sim.sitl`` in a subprocess: one port per vehicle, and the self-flying incident fleet."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sim.sitl import Decoder, Mode


def listen(address: tuple[str, int], done: Callable[[list[Any]], bool], limit_s: float = 20.0) -> list[Any]:
    """Read a TCP endpoint until ``done(messages)`` (bounded)."""
    decoder = Decoder()
    got: list[Any] = []
    deadline = time.monotonic() + limit_s
    with socket.create_connection(address, timeout=2) as sock:
        while not done(got):
            assert time.monotonic() < deadline, f"gave up after {limit_s} s: {len(got)} messages"
            data = sock.recv(65536)
            assert data, "the SITL closed the connection"
            got.extend(decoder.feed(data))
    return got


def heartbeats(messages: list[Any]) -> dict[int, Any]:
    """The last HEARTBEAT per sysid."""
    return {m.get_srcSystem(): m for m in messages if m.get_type() == "HEARTBEAT"}


def test_own_ports_put_each_vehicle_on_its_own_port(sitl) -> None:
    with sitl("--tcp", "0", "--vehicles", "2", "--sysid", "5", "--own-ports", "--speedup", "4") as s:
        assert len(s.tcp_all) == 2 and s.tcp_all[0][1] != s.tcp_all[1][1]
        for sysid, address in zip((5, 6), s.tcp_all, strict=True):
            got = listen(address, lambda ms: len([m for m in ms if m.get_type() == "HEARTBEAT"]) >= 2)
            assert set(heartbeats(got)) == {sysid}


def test_fleet_flies_two_patrols_and_a_tethered_overwatch_by_itself(sitl) -> None:
    def flying(messages: list[Any]) -> bool:
        beats = heartbeats(messages)
        armed = all(b.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED for b in beats.values())
        return len(beats) == 3 and armed and [beats[s].custom_mode for s in (1, 2, 3)] == [3, 3, 4]

    with sitl("--fleet", "--tcp", "0", "--speedup", "10") as s:
        got = listen(s.tcp, flying)
    beats = heartbeats(got)
    assert [Mode(beats[s].custom_mode) for s in (1, 2, 3)] == [Mode.AUTO, Mode.AUTO, Mode.GUIDED]
    named = {m.name for m in got if m.get_type() == "NAMED_VALUE_FLOAT" and m.get_srcSystem() == 3}
    assert named == {"TETH_LEN", "TETH_TENS", "TETH_PWR", "TETH_V", "TETH_MAX"}
    assert {m.get_srcSystem() for m in got if m.get_type() == "WINCH_STATUS"} == {3}
