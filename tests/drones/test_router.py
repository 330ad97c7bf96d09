"""The pure MAVLink router: routes learned from traffic, filters, rate limits, de-duplication."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drones import Endpoint, EndpointStats, Filter, MavFrame, MavFramer, RateLimit, Router, UnknownEndpoint, encode
from drones.dialect import MAVLINK_MSG_ID
from drones.ratelimit import Priority, RateLimiter

T0 = 1_000.0
ATTITUDE = MAVLINK_MSG_ID["ATTITUDE"]
COMMAND_LONG = MAVLINK_MSG_ID["COMMAND_LONG"]


def frame(msg: Any, sysid: int, compid: int, seq: int = 0) -> MavFrame:
    return MavFrame.parse(encode(msg, seq, sysid, compid))


def heartbeat(sysid: int, compid: int = 1, seq: int = 0) -> MavFrame:
    return frame(mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 4, 3), sysid, compid, seq)


def attitude(sysid: int, seq: int = 0, time_ms: int = 0) -> MavFrame:
    return frame(mavlink.MAVLink_attitude_message(time_ms, 0.1, 0.2, 0.3, 0.0, 0.0, 0.0), sysid, 1, seq)


def position(sysid: int, seq: int = 0) -> MavFrame:
    msg = mavlink.MAVLink_global_position_int_message(0, 367_000_000, 1_191_600_000, 80_000, 30_000, 0, 0, 0, 0)
    return frame(msg, sysid, 1, seq)


def command(target_system: int, target_component: int, seq: int = 0, source: tuple[int, int] = (255, 190)) -> MavFrame:
    msg = mavlink.MAVLink_command_long_message(target_system, target_component, 400, 0, 1, 0, 0, 0, 0, 0, 0)
    return frame(msg, *source, seq)


def command_ack(seq: int = 0) -> MavFrame:
    return frame(mavlink.MAVLink_command_ack_message(400, 0), 1, 1, seq)


def fleet(**kw: Any) -> Router:
    """Two vehicles on their own links and a ground station, each heard once at T0."""
    router = Router([Endpoint("veh1"), Endpoint("veh2"), Endpoint("gcs")], **kw)
    router.route(heartbeat(1), "veh1", T0)
    router.route(heartbeat(2), "veh2", T0)
    router.route(heartbeat(255, 190), "gcs", T0)
    return router


def test_broadcasts_go_to_every_other_endpoint() -> None:
    router = Router([Endpoint("veh1"), Endpoint("veh2"), Endpoint("gcs")])
    assert router.route(heartbeat(1), "veh1", T0) == ["veh2", "gcs"]
    assert router.route(heartbeat(255, 190), "gcs", T0) == ["veh1", "veh2"]
    assert router.route(command(0, 0), "gcs", T0) == ["veh1", "veh2"]  # target system 0: broadcast


def test_targeted_messages_follow_learned_routes() -> None:
    router = fleet()
    assert router.route(command(2, 1), "gcs", T0 + 1) == ["veh2"]
    assert router.route(command(1, 0), "gcs", T0 + 1) == ["veh1"]  # truncated target component
    assert router.route(command(255, 190, source=(1, 1)), "veh1", T0 + 1) == ["gcs"]
    assert router.seen("veh2", T0 + 1) == {(2, 1)}


def test_component_routes_and_fallbacks() -> None:
    router = Router([Endpoint("fc"), Endpoint("camera"), Endpoint("gcs")])
    router.route(heartbeat(1, 1), "fc", T0)
    router.route(heartbeat(1, 100), "camera", T0)
    assert router.route(command(1, 100), "gcs", T0) == ["camera"]
    assert router.route(command(1, 1), "gcs", T0) == ["fc"]
    assert router.route(command(1, 0), "gcs", T0) == ["fc", "camera"]
    assert router.route(command(1, 50), "gcs", T0) == ["fc", "camera"]  # component unknown: where the system is
    assert router.route(command(9, 1), "gcs", T0) == ["fc", "camera"]  # system unknown: everywhere but back


def test_learned_routes_time_out() -> None:
    router = fleet(route_timeout_s=10.0)
    assert router.route(command(2, 1), "gcs", T0 + 10.0) == ["veh2"]
    assert router.route(command(2, 1, seq=1), "gcs", T0 + 10.5) == ["veh1", "veh2"]  # silent too long: flood
    router.route(heartbeat(2, seq=1), "veh2", T0 + 11.0)
    assert router.route(command(2, 1, seq=2), "gcs", T0 + 11.0) == ["veh2"]
    assert router.seen("veh1", T0 + 11.0) == set()


def test_never_back_to_the_sender_nor_to_where_the_sender_lives() -> None:
    router = Router([Endpoint("radio-a"), Endpoint("radio-b"), Endpoint("gcs")])
    # A frame targeted at its own sender's system, arriving where that system lives, goes nowhere back.
    router.route(heartbeat(255, 190), "gcs", T0)
    assert router.route(command(255, 190), "gcs", T0) == ["radio-a", "radio-b"]
    # A vehicle heard on two radios (a redundant pair): its telemetry is not echoed into the other one.
    router.route(heartbeat(1, seq=0), "radio-a", T0)
    router.route(heartbeat(1, seq=0), "radio-b", T0)
    assert router.route(attitude(1, seq=1), "radio-a", T0 + 0.1) == ["gcs"]
    assert router.route(attitude(1, seq=2), "radio-b", T0 + 0.2) == ["gcs"]
    # Commands for it go out on both links, as mavlink-router does.
    assert router.route(command(1, 1), "gcs", T0 + 0.3) == ["radio-a", "radio-b"]


def test_unchecked_frames_are_forwarded_but_teach_no_routes() -> None:
    router = fleet()
    # An id no dialect here knows, claiming to come from vehicle 2: perhaps noise on the GCS's line.
    unknown = MavFramer().feed(bytes.fromhex("fd03000009020100ef0b010203") + b"\x00\x00")[0]
    assert (unknown.crc_checked, unknown.sysid) == (False, 2)
    assert router.route(unknown, "gcs", T0 + 1) == ["veh1"]  # not to veh2, where (2, 1) really lives
    assert router.seen("gcs", T0 + 1) == {(255, 190)}
    assert router.route(attitude(2, seq=1), "veh2", T0 + 1) == ["veh1", "gcs"]


def test_filters_by_message_id_and_source_system() -> None:
    router = Router(
        [
            Endpoint("radio"),
            Endpoint("gcs", in_filter=Filter(block_msgids=frozenset({COMMAND_LONG}))),
            Endpoint("lte", out_filter=Filter(block_msgids=frozenset({ATTITUDE}))),
            Endpoint("team2", out_filter=Filter(allow_src_systems=frozenset({2}))),
            Endpoint("viewer", out_filter=Filter(allow_msgids=frozenset({0, 33}), block_src_systems=frozenset({3}))),
        ]
    )
    assert router.route(attitude(1), "radio", T0) == ["gcs"]
    assert router.route(position(2), "radio", T0) == ["gcs", "lte", "team2", "viewer"]
    assert router.route(heartbeat(3), "radio", T0) == ["gcs", "lte"]
    assert router.route(command(1, 1), "gcs", T0) == []  # the ground station may not command through here
    assert router.stats("gcs").filtered == 1
    assert (router.stats("lte").filtered, router.stats("team2").filtered, router.stats("viewer").filtered) == (1, 2, 2)


def test_rate_limit_keeps_critical_messages_and_thins_telemetry_first() -> None:
    # 4 messages/s and a 1 s burst: 4 tokens, of which BULK (ATTITUDE) may not touch the last 2.
    router = Router([Endpoint("radio"), Endpoint("narrow", rate_limit=RateLimit(msgs_per_s=4.0))])
    sent: dict[str, int] = {"HEARTBEAT": 0, "COMMAND_ACK": 0, "GLOBAL_POSITION_INT": 0, "ATTITUDE": 0}
    seq = 0
    for k in range(80):  # 10 s: ATTITUDE at 8 Hz, HEARTBEAT + COMMAND_ACK at 1 Hz, positions at 1 Hz
        now = T0 + k / 8
        due = [heartbeat(1, seq=seq), command_ack(seq=seq)] if k % 8 == 0 else []
        due += [position(1, seq=seq)] if k % 8 == 4 else []
        due.append(attitude(1, seq=seq, time_ms=k))
        for f in due:
            seq += 1
            if router.route(f, "radio", now) == ["narrow"]:
                sent[_name(f)] += 1
    # Worked by hand: each second starts with 3 tokens (2 at t=0 after the burst), HEARTBEAT and
    # COMMAND_ACK spend 2, a position 1 at 1 token; ATTITUDE needs 3 (1 + the reserve of 2).
    assert sent == {"HEARTBEAT": 10, "COMMAND_ACK": 10, "GLOBAL_POSITION_INT": 10, "ATTITUDE": 11}
    narrow = router.stats("narrow")
    assert (narrow.frames_out, narrow.rate_dropped) == (41, 69)


def _name(f: MavFrame) -> str:
    return mavlink.mavlink_map[f.msgid].msgname


def test_byte_rate_limit_lets_critical_messages_run_into_debt() -> None:
    limiter = RateLimiter(RateLimit(bytes_per_s=10.0))  # less than one HEARTBEAT (21 bytes) per second
    hb, pos = heartbeat(1), position(1)
    got = [
        (limiter.admit(hb.msgid, len(hb.raw), T0 + s), limiter.admit(pos.msgid, len(pos.raw), T0 + s)) for s in range(6)
    ]
    assert got == [(True, False)] * 6
    assert limiter.priority(0) is Priority.CRITICAL and limiter.priority(ATTITUDE) is Priority.BULK
    assert limiter.priority(pos.msgid) is Priority.NORMAL
    # Overrides per message id: here positions are what must never be dropped.
    custom = RateLimiter(RateLimit(bytes_per_s=10.0, priorities={pos.msgid: Priority.CRITICAL}))
    assert all(custom.admit(pos.msgid, len(pos.raw), T0) for _ in range(5))


def test_rate_limit_validates() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimit(msgs_per_s=0)
    with pytest.raises(ValueError, match="bulk_reserve"):
        RateLimit(msgs_per_s=1, bulk_reserve=1.0)


def test_redundant_links_are_deduplicated() -> None:
    router = Router([Endpoint("radio-a"), Endpoint("radio-b"), Endpoint("gcs")], dedup_window_s=0.5)
    router.route(heartbeat(1), "radio-a", T0)
    router.route(heartbeat(1), "radio-b", T0 + 0.01)  # the same frame on the second link
    out_a = [router.route(attitude(1, seq=s, time_ms=s), "radio-a", T0 + 0.1 + s * 0.01) for s in range(1, 21)]
    out_b = [router.route(attitude(1, seq=s, time_ms=s), "radio-b", T0 + 0.15 + s * 0.01) for s in range(1, 21)]
    assert out_a == [["gcs"]] * 20 and out_b == [[]] * 20
    size = len(heartbeat(1).raw) + sum(len(attitude(1, seq=s, time_ms=s).raw) for s in range(1, 21))
    assert router.stats("gcs") == EndpointStats(frames_in=0, bytes_in=0, frames_out=21, bytes_out=size)
    assert (router.stats("radio-b").duplicates, router.stats("radio-a").duplicates) == (21, 0)
    # Whichever link is first wins; the copy on the other is dropped.
    assert router.route(attitude(1, seq=30), "radio-b", T0 + 1.0) == ["gcs"]
    assert router.route(attitude(1, seq=30), "radio-a", T0 + 1.2) == []
    # Same header, different content (a new sample after the sequence number wrapped): not a copy.
    assert router.route(attitude(1, seq=30, time_ms=999), "radio-a", T0 + 1.3) == ["gcs"]
    # Long after the window the same frame is news again.
    assert router.route(attitude(1, seq=30), "radio-a", T0 + 2.5) == ["gcs"]


def test_dedup_can_be_switched_off() -> None:
    router = Router([Endpoint("radio-a"), Endpoint("gcs")], dedup_window_s=0)
    assert [router.route(heartbeat(1), "radio-a", T0) for _ in range(3)] == [["gcs"]] * 3


def test_counters_and_endpoint_changes() -> None:
    router = fleet()
    hb = heartbeat(1, seq=1)
    router.route(hb, "veh1", T0 + 1)
    size = len(hb.raw)  # every heartbeat here is as long
    assert router.stats("veh1") == EndpointStats(frames_in=2, bytes_in=2 * size, frames_out=2, bytes_out=2 * size)
    assert router.endpoints == ["veh1", "veh2", "gcs"]
    router.add_endpoint(Endpoint("mavproxy"))
    assert router.route(heartbeat(1, seq=2), "veh1", T0 + 2) == ["veh2", "gcs", "mavproxy"]
    router.remove_endpoint("veh2")
    assert router.route(heartbeat(1, seq=3), "veh1", T0 + 3) == ["gcs", "mavproxy"]
    with pytest.raises(UnknownEndpoint):
        router.route(hb, "veh2", T0 + 4)
    with pytest.raises(UnknownEndpoint):
        router.stats("nobody")
    with pytest.raises(ValueError, match="exists"):
        router.add_endpoint(Endpoint("gcs"))


@settings(max_examples=60, deadline=None)
@given(
    traffic=st.lists(
        st.tuples(
            st.sampled_from(["radio-a", "radio-b", "gcs", "lte"]),
            st.sampled_from(["heartbeat", "attitude", "command"]),
            st.integers(1, 3),  # source or target system
            st.integers(0, 3),  # sequence number: few values, so copies happen
            st.integers(0, 40),  # tenths of a second since the last frame
        ),
        max_size=60,
    )
)
def test_routing_properties(traffic: list[tuple[str, str, int, int, int]]) -> None:
    router = Router(
        [
            Endpoint("radio-a"),
            Endpoint("radio-b"),
            Endpoint("gcs"),
            Endpoint("lte", rate_limit=RateLimit(msgs_per_s=2)),
        ],
        dedup_window_s=0.5,
    )
    now = T0
    delivered: dict[tuple[str, bytes], float] = {}
    for source, kind, system, seq, gap in traffic:
        now += gap / 10
        f = {
            "heartbeat": heartbeat(system, seq=seq),
            "attitude": attitude(system, seq=seq),
            "command": command(system, 1, seq),
        }[kind]
        out = router.route(f, source, now)
        assert source not in out and len(set(out)) == len(out)
        for name in out:
            last = delivered.get((name, f.raw))
            assert last is None or now - last >= 0.5, "a copy within the window went out again"
            delivered[(name, f.raw)] = now
    stats = [router.stats(name) for name in router.endpoints]
    assert sum(s.frames_in for s in stats) == len(traffic)
