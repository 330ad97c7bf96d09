"""The pure pieces of the drone service: modes, config checking, the command exchange, link quality, alerts."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drones import CommandRequest, CommandResult, LinkError, memory_pair
from drones.alerts import Condition, Episodes
from drones.commands import BadCommand, Exchange, Step, Target, plan
from drones.modes import custom_mode_of, mode_name
from drones.tlog import record
from drones.vehicle import LinkQuality
from edge.config import ConfigError, parse
from edge.scene import AlertRecord, Marker, Severity, Shape

ARDUPILOT, PX4, QUAD, PLANE = 3, 12, 2, 1


@pytest.mark.parametrize(
    ("autopilot", "mav_type", "custom", "name"),
    [
        (ARDUPILOT, QUAD, 0, "STABILIZE"),
        (ARDUPILOT, QUAD, 4, "GUIDED"),
        (ARDUPILOT, QUAD, 6, "RTL"),
        (ARDUPILOT, QUAD, 9, "LAND"),
        (ARDUPILOT, QUAD, 16, "POSHOLD"),
        (ARDUPILOT, QUAD, 21, "SMART_RTL"),
        (ARDUPILOT, PLANE, 10, "AUTO"),  # ArduPlane numbers its modes differently
        (ARDUPILOT, PLANE, 11, "RTL"),
        (PX4, QUAD, 3 << 16, "POSCTL"),
        (PX4, QUAD, 3 << 16 | 1 << 24, "POSCTL.ORBIT"),
        (PX4, QUAD, 4 << 16 | 4 << 24, "AUTO.MISSION"),
        (PX4, QUAD, 4 << 16 | 5 << 24, "AUTO.RTL"),
        (PX4, QUAD, 4 << 16 | 2 << 24, "AUTO.TAKEOFF"),
        (PX4, QUAD, 6 << 16, "OFFBOARD"),
    ],
)
def test_modes_by_name_both_ways(autopilot: int, mav_type: int, custom: int, name: str) -> None:
    assert mode_name(autopilot, mav_type, 1, custom) == name
    assert custom_mode_of(autopilot, mav_type, name.lower()) == custom


def test_modes_without_the_custom_flag_or_unknown() -> None:
    assert mode_name(ARDUPILOT, QUAD, 0, 4) is None
    assert mode_name(ARDUPILOT, QUAD, 1, 99) == "MODE_99"
    assert mode_name(PX4, QUAD, 1, 4 << 16 | 77 << 24) == "AUTO.SUB_77"
    assert custom_mode_of(ARDUPILOT, QUAD, "ORBIT") is None and custom_mode_of(8, QUAD, "GUIDED") is None


def test_config_reports_endpoint_problems_by_path() -> None:
    text = """
[drones]
enabled = true
battery_low_pct = 10.0

[[drones.endpoints]]
name = "veh"
kind = "udp-listen"
port = 14550

[[drones.endpoints]]
name = "gcs"
kind = "udp-connect"
port = 70000

[[drones.endpoints]]
name = "veh"
kind = "serial"
rate_msgs_per_s = -1
prot = 1
"""
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert err.value.problems == [
        "drones.endpoints[1].port: expected a whole number <= 65535 (got 70000)",
        "drones.endpoints[2].rate_msgs_per_s: expected a number > 0.0 (got -1)",
        "drones.endpoints[2].prot: unknown option (known here: allow_msgids_in, allow_msgids_out, allow_sysids_in, "
        "allow_sysids_out, baud, block_msgids_in, block_msgids_out, block_sysids_in, block_sysids_out, device, host, "
        "kind, name, peer_timeout_s, port, rate_burst_s, rate_bytes_per_s, rate_msgs_per_s)",
    ]


def test_config_semantic_problems_by_path() -> None:
    text = """
[drones]
battery_low_pct = 10.0

[[drones.endpoints]]
name = "veh"
kind = "tcp-client"
port = 0
block_msgids_out = ["ATTITUDE", "NO_SUCH_MESSAGE", 30]

[[drones.endpoints]]
name = "veh"
kind = "serial"
"""
    with pytest.raises(ConfigError) as err:
        parse(text)
    assert err.value.problems == [
        "drones.endpoints[0].port: a tcp-client endpoint needs the peer's port",
        "drones.endpoints[0].block_msgids_out: unknown MAVLink message 'NO_SUCH_MESSAGE'",
        "drones.endpoints[1].name: 'veh' is already endpoint 0",
        "drones.endpoints[1].device: a serial endpoint needs a device",
        "drones.battery_critical_pct: must not be above battery_low_pct",
    ]
    assert parse('[drones]\n[[drones.endpoints]]\nname = "a"\nkind = "udp-listen"\n').drones.endpoints[0].port == 14550


def arducopter(**kw: Any) -> Target:
    values: dict[str, Any] = {
        "sysid": 1,
        "compid": 1,
        "autopilot": ARDUPILOT,
        "mav_type": QUAD,
        "custom_mode": 0,
        "armed": False,
        "home_alt_msl_m": 30.0,
        "alt_rel_m": 0.0,
        "alt_msl_m": 30.0,
    }
    return Target(**{**values, **kw})


def test_plans() -> None:
    takeoff = CommandRequest(command="takeoff", alt_m=20)
    assert [s.command for s in plan(takeoff, arducopter())] == [176, 400, 22]
    assert [s.command for s in plan(takeoff, arducopter(custom_mode=4, armed=True))] == [22], "already guided, armed"
    px4 = plan(takeoff, arducopter(autopilot=PX4))
    assert [s.command for s in px4] == [22, 400], "PX4: takeoff mode first, then arm"
    assert px4[0].message(0).param7 == 50.0, "PX4 takes an AMSL altitude: home 30 m + 20 m"
    mode = plan(CommandRequest(command="mode", mode="AUTO.RTL"), arducopter(autopilot=PX4))[0].message(0)
    assert (mode.param1, mode.param2, mode.param3) == (1.0, 4.0, 5.0)
    with pytest.raises(BadCommand, match="the vehicle's altitude is not known"):
        plan(CommandRequest(command="goto", lat=1, lon=2), arducopter(alt_rel_m=None))


def step(mode: int | None = None) -> Step:
    return Step("arm", 400, lambda c: mavlink.MAVLink_command_long_message(1, 1, 400, c, 1, 0, 0, 0, 0, 0, 0), mode)


def test_exchange_retries_then_times_out() -> None:
    ex = Exchange(step(), timeout_s=1.0, retries=2)
    sent = [ex.next_message(0.0).confirmation]
    while (result := ex.on_timeout()) is None:
        sent.append(ex.next_message(ex.deadline).confirmation)
    assert (sent, result, ex.attempts) == ([0, 1, 2], CommandResult.TIMEOUT, 3)


def test_exchange_in_progress_extends_and_stops_retrying() -> None:
    ex = Exchange(step(), timeout_s=1.0, retries=5)
    ex.next_message(0.0)
    assert ex.on_ack(5, 0.5) is None and ex.deadline == 5.5
    assert ex.on_timeout() is CommandResult.IN_PROGRESS
    assert Exchange(step(), timeout_s=1, retries=0).on_ack(9, 0) is CommandResult.FAILED, "unknown MAV_RESULT"
    assert Exchange(step(mode=4), timeout_s=1, retries=0).on_mode(4) is CommandResult.ACCEPTED
    assert Exchange(step(mode=4), timeout_s=1, retries=0).on_mode(0) is None


def test_link_quality_counts_gaps_and_ignores_late_frames() -> None:
    q = LinkQuality()
    for seq in (250, 251, 253, 254, 0, 1, 1, 200, 2):  # a wrap, a repeat, a late frame
        q.note(1, seq)
    assert (q.received, q.lost) == (7, 2)  # 252 and 255 missing; 1 again and 200 are not counted
    q.note(2, 77)  # another component numbers its own frames
    assert (q.received, q.lost) == (8, 2)
    assert q.loss_pct(100.0) == 20.0
    for i in range(10):
        q.note(1, 3 + i)
    assert q.loss_pct(111.0) == 0.0, "the old gaps fell out of the 10 s window"


@given(st.lists(st.integers(0, 255), max_size=300))
def test_link_quality_never_counts_more_than_it_saw(seqs: list[int]) -> None:
    q = LinkQuality()
    for seq in seqs:
        q.note(1, seq)
    assert q.received <= len(seqs) and q.lost <= 127 * max(0, q.received - 1)
    pct = q.loss_pct(0.0)
    assert pct is None or 0.0 <= pct <= 100.0


def marker(shape: Shape, points: list[tuple[float, float]], radius_m: float | None = None) -> Marker:
    return Marker(id="marker:n:1", origin="n", ts=1.0, shape=shape, points=points, radius_m=radius_m)


def test_episodes_raise_once_clear_once_and_adopt_after_restart() -> None:
    book = Episodes("kit")
    low = Condition("battery-low", True, Severity.WARNING, "drone 1: battery low")
    (alert,) = book.update(1, "vehicle:kit:1", [low], 10.0, None)
    assert alert.id == "drone:kit:1:battery-low:10000" and alert.entity_id == "vehicle:kit:1"
    assert book.update(1, "vehicle:kit:1", [low], 11.0, None) == [], "one alert per episode"
    again = Episodes("kit")
    assert again.adopt([AlertRecord(alert=alert)]) == 1 and again.open_keys(1) == {"battery-low"}
    (clear,) = again.update(1, "vehicle:kit:1", [], 12.0, None)  # no longer listed: cleared
    assert (clear.alert_id, clear.by) == (alert.id, "vehicle:kit:1")
    assert Episodes("other").adopt([AlertRecord(alert=alert)]) == 0, "another node's alerts are its own"


def test_tlog_record_format() -> None:
    assert record(1.5, b"\xfd\x01") == struct.pack(">Q", 1_500_000) + b"\xfd\x01"


async def test_memory_pair_carries_bytes_until_cut() -> None:
    a, b = memory_pair()
    assert a.send(b"ping") and await b.read() == b"ping"
    a.cut()
    with pytest.raises(LinkError, match="cut"):
        await b.read()
    assert not b.send(b"late") and b.dropped == 1


def test_episodes_revert_what_the_journal_refused() -> None:
    book = Episodes("kit")
    low = Condition("battery-low", True, Severity.WARNING, "drone 1: battery low")
    raised = book.update(1, "vehicle:kit:1", [low], 10.0, None)
    book.revert(raised)
    (again,) = book.update(1, "vehicle:kit:1", [low], 11.0, None)
    assert again.id == "drone:kit:1:battery-low:11000", "raised again on the next tick"
    cleared = book.update(1, "vehicle:kit:1", [], 12.0, None)
    book.revert(cleared)
    assert book.open_keys(1) == {"battery-low"}
    (clear,) = book.update(1, "vehicle:kit:1", [], 13.0, None)
    assert clear.alert_id == again.id
