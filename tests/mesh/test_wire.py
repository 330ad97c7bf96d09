"""Wire format: every scene kind round-trips (positions on the 1e-7 degree / 1 cm grid), bytes stay small."""

from __future__ import annotations

import contextlib
import math

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.scene.model import (
    Alert,
    AlertAck,
    AlertClear,
    Audit,
    Call,
    Feed,
    Marker,
    Message,
    Node,
    NodeHealth,
    NodeLink,
    NodeRole,
    Position,
    Receipt,
    Removed,
    Severity,
    Shape,
    Unit,
    Uplink,
    Vehicle,
)
from mesh.errors import WireError
from mesh.keys import Key, batch_key, event_key, parse_key, state_key, tier_keys, tier_subscription
from mesh.wire import (
    WIRE_ONLY,
    EventPage,
    OriginSummary,
    StatePage,
    Summary,
    decode_event,
    decode_event_page,
    decode_state,
    decode_state_batch,
    decode_state_page,
    decode_summary,
    encode_event,
    encode_reply,
    encode_state,
    encode_state_batch,
    event_wire,
    quantise,
    state_body,
    state_digest,
    state_record,
)

T = 1_790_000_000.123456
POS = Position(lat=36.70123456789, lon=119.16123456789, alt_msl_m=52.345, alt_rel_m=30.01)

STATES = [
    Unit(
        id="unit:pdt:1001",
        origin="kit-1",
        ts=T,
        name="U1",
        pos=POS,
        team="t",
        talkgroup="tg",
        status="busy",
        online=False,
        talking=True,
        talking_on="tg2",
        talking_since=T - 3,
        heading_deg=12.5,
        speed_mps=1.25,
        battery_pct=55.5,
        emergency=True,
    ),
    Vehicle(
        id="vehicle:kit-1:1",
        origin="kit-1",
        ts=T,
        name="V1",
        pos=POS,
        mode="GUIDED",
        armed=True,
        heading_deg=359.99,
        ground_speed_mps=7.3,
        battery_pct=80.0,
        battery_v=15.21,
        tethered=True,
        link_ok=False,
        sysid=7,
        autopilot="ardupilot",
        vehicle_type="quadrotor",
        roll_deg=-1.5,
        pitch_deg=2.25,
        yaw_deg=359.99,
        climb_mps=-0.3,
        battery_a=12.5,
        gps_fix="rtk_fixed",
        satellites=17,
        ekf_ok=False,
        home=Position(lat=36.69999999, lon=119.15555555, alt_msl_m=40.004),
        mission_seq=4,
        link_loss_pct=1.5,
        last_heard_ts=T - 0.2,
        tether_length_m=48.3,
        tether_tension_n=9.81,
        tether_power=True,
        tether_v=48.0,
        tether_ceiling_m=50.0,
    ),
    Feed(
        id="feed:kit-1:cam",
        origin="kit-1",
        ts=T,
        name="cam",
        pos=POS,
        state="live",
        codec="h264",
        width=1280,
        height=720,
        fps=29.97,
        viewers=3,
        vehicle_id="vehicle:kit-1:1",
        heading_deg=90.0,
        fov_deg=62.2,
    ),
    Node(
        id="node:kit-1",
        origin="kit-1",
        ts=T,
        name="Kit 1",
        pos=POS,
        role=NodeRole.COMMAND_POST,
        version="0.1.0",
        components={"mesh": "running", "link:kit-2": "up, rtt 3 ms"},
        health=NodeHealth(
            cpu_pct=12.5, mem_pct=40.0, mem_total_mb=3900, power="battery", battery_pct=81.0,
            uplinks=[Uplink(name="wlan0", addrs=["127.0.8.20", "::1"])],
        ),
        links=[NodeLink(peer="kit-2", up=True, rtt_ms=3.4, loss_pct=0.0, rx_bps=120.0, tx_bps=88.0),
               NodeLink(peer="kit-3", up=False)],
    ),
    Marker(
        id="marker:kit-1:z",
        origin="kit-1",
        ts=T,
        name="zone",
        pos=None,
        shape=Shape.POLYGON,
        points=[(36.7000001, 119.1), (36.71, 119.1123456789), (36.72, 119.12)],
        radius_m=15.5,
        color="#00ff00",
        category="geofence",
    ),
    Removed(id="marker:kit-1:y", origin="kit-1", ts=T, name="gone"),
]
EVENTS = [
    Alert(
        id="kit-1-a-1",
        origin="kit-1",
        seq=7,
        ts=T,
        severity=Severity.EMERGENCY,
        title="火警",
        text="fire at gate",
        entity_id="unit:pdt:1001",
        pos=POS,
    ),
    AlertAck(id="kit-2-k-1", origin="kit-2", seq=1, ts=T, alert_id="kit-1-a-1", by="cp"),
    AlertClear(id="kit-2-c-1", origin="kit-2", seq=2, ts=T, alert_id="kit-1-a-1", by="cp"),
    Message(id="m-1", origin="kit-1", seq=8, ts=T, sender="op", to="talkgroup:pdt:9001", text="撤离", via="pdt"),
    Receipt(
        id="r-1",
        origin="kit-1",
        seq=9,
        ts=T,
        message_id="m-1",
        recipient="unit:pdt:1",
        ok=False,
        attempts=3,
        reason="timeout",
    ),
    Call(
        id="c-1",
        origin="kit-1",
        seq=10,
        ts=T,
        caller="unit:pdt:1001",
        talkgroup="9001",
        call_type="private",
        start_ts=T - 12,
        duration_s=11.5,
    ),
    Audit(id="au-1", origin="kit-1", seq=11, ts=T, actor="admin", action="token.create", target="pilot", result="ok"),
]


@pytest.mark.parametrize("change", STATES, ids=lambda c: type(c).__name__)
def test_every_state_kind_round_trips(change: object) -> None:
    data = encode_state(change)  # type: ignore[arg-type]
    back = decode_state(data, change.id, change.origin)  # type: ignore[attr-defined]
    assert back == quantise(change)  # type: ignore[type-var]
    assert quantise(back) == back  # the grid is stable: a second trip changes nothing


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_kind_round_trips(event: object) -> None:
    assert decode_event(encode_event(event)) == quantise(event)  # type: ignore[arg-type,type-var]


def test_the_wire_carries_every_field_of_the_model() -> None:
    # A field added to the scene model and not to the wire would be lost silently: this fails first.
    for change in STATES:
        model = set(type(change).__struct_fields__)
        wire = set(type(state_body(change)).__struct_fields__) - WIRE_ONLY
        assert model - {"id", "origin"} == wire, type(change).__name__
    for event in EVENTS:
        assert set(type(event).__struct_fields__) == set(type(event_wire(event)).__struct_fields__)


def test_quantisation_is_documented_grid() -> None:
    q = quantise(STATES[0])
    # 1e-7 degree and 1 cm, rounded to nearest (52.345 m is 5234.499... cm in binary: 52.34 m).
    assert q.pos == Position(lat=36.7012346, lon=119.1612346, alt_msl_m=52.34, alt_rel_m=30.01)  # type: ignore[attr-defined]


coords = st.tuples(
    st.floats(-90, 90, allow_nan=False),
    st.floats(-180, 180, allow_nan=False),
    st.none() | st.floats(-500, 20_000, allow_nan=False),
    st.none() | st.floats(-500, 20_000, allow_nan=False),
)
floats = st.none() | st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=300, deadline=None)
@given(coords, floats, floats, st.floats(0, 4e9, allow_nan=False))
def test_positions_within_half_a_step_and_other_floats_exact(
    c: tuple, heading: float | None, speed: float | None, ts: float
) -> None:  # type: ignore[type-arg]
    lat, lon, msl, rel = c
    v = Vehicle(
        id="vehicle:k:1",
        origin="k",
        ts=ts,
        pos=Position(lat=lat, lon=lon, alt_msl_m=msl, alt_rel_m=rel),
        heading_deg=heading,
        ground_speed_mps=speed,
    )
    back = decode_state(encode_state(v), v.id, v.origin)
    assert isinstance(back, Vehicle) and back.pos is not None
    assert abs(back.pos.lat - lat) <= 0.5e-7 + 1e-12 and abs(back.pos.lon - lon) <= 0.5e-7 + 1e-12
    if msl is not None:
        assert back.pos.alt_msl_m is not None and abs(back.pos.alt_msl_m - msl) <= 0.005 + 1e-9
    assert back.ts == ts and back.heading_deg == heading and back.ground_speed_mps == speed  # exact


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_never_raises_anything_but_wire_error(data: bytes) -> None:
    for read in (
        lambda: decode_state(data, "unit:pdt:1", "x"),
        lambda: decode_event(data),
        lambda: decode_summary(data),
        lambda: decode_event_page(data),
        lambda: decode_state_page(data),
        lambda: decode_state_batch(data, "x"),
    ):
        with contextlib.suppress(WireError):
            read()


def test_hostile_values_are_refused() -> None:
    too_long = msgspec.structs.replace(STATES[0], name="x" * 201)
    with pytest.raises(WireError, match="200"):
        decode_state(encode_state(too_long), "unit:pdt:1001", "kit-1")  # type: ignore[arg-type]
    bad_lat = msgspec.msgpack.encode(
        [1, T, [900_000_001, 0], "", None, None, None, True, False, None, None, None, None, None, False]
    )
    with pytest.raises(WireError):
        decode_state(bad_lat, "unit:pdt:1", "x")


def test_position_updates_are_small() -> None:
    unit = Unit(id="unit:pdt:1001", origin="kit-1", ts=T, pos=Position(lat=36.7012345, lon=119.1612345))
    assert len(encode_state(unit)) <= 40  # the id and origin travel in the key
    drone = Vehicle(id="vehicle:kit-1:1", origin="kit-1", ts=T, pos=POS, mode="GUIDED", armed=True, heading_deg=90.5)
    assert len(encode_state(drone)) <= 80


def test_a_state_batch_round_trips_and_costs_the_id_not_the_key() -> None:
    batch = encode_state_batch([(s.id, encode_state(s)) for s in STATES])
    assert decode_state_batch(batch, "kit-1") == [quantise(s) for s in STATES]
    units = [
        Unit(id=f"unit:pdt:{1000 + i}", origin="kit-1", ts=T + i, pos=Position(lat=36.7 + i * 1e-4, lon=119.16))
        for i in range(50)
    ]
    per_unit = len(encode_state_batch([(u.id, encode_state(u)) for u in units])) / len(units)
    assert per_unit <= 40  # id, body and the pair's framing; the key and Zenoh's framing are paid once
    for hostile in (
        msgspec.msgpack.encode([["unit:pdt:1", [1, T]]] * 1001),  # more than MAX_BATCH
        msgspec.msgpack.encode([["not an id", [1, T]]]),
        msgspec.msgpack.encode([["unit:pdt:1"]]),
    ):
        with pytest.raises(WireError):
            decode_state_batch(hostile, "kit-1")


def test_replies_round_trip() -> None:
    summary = Summary("kit-1", math.inf, {"kit-1": OriginSummary(5, 7, 3, 2**64 - 1)})
    assert decode_summary(encode_reply(summary)) == summary
    page = EventPage("kit-1", [event_wire(EVENTS[0])], True)
    assert decode_event_page(encode_reply(page)) == page
    states = StatePage([state_record(s) for s in STATES], "unit:pdt:1001")
    assert decode_state_page(encode_reply(states)) == states


def test_keys() -> None:
    assert parse_key(state_key("kit-1", "unit", "unit:pdt:1001")) == Key("kit-1", "state", "unit", "unit:pdt:1001")
    assert parse_key(event_key("kit-1", "alert_ack")) == Key("kit-1", "event", "alert_ack")
    assert parse_key("fk/kit-1/alive") == Key("kit-1", "alive")
    assert parse_key(batch_key("kit-1")) == Key("kit-1", "batch")
    # State tiers per link class: lan is the full-rate keys, the others read back with their class.
    assert tier_keys("kit-1", "lan") == ("fk/kit-1/state", "fk/kit-1/pos")
    for tier in ("lte", "mesh", "narrowband"):
        state, pos = tier_keys("kit-1", tier)
        assert (parse_key(state), parse_key(pos)) == (Key("kit-1", "batch", tier=tier), Key("kit-1", "pos", tier=tier))
        assert tier_subscription("kit-1", tier) == [f"fk/kit-1/tier/{tier}/*"]
    assert tier_subscription("kit-1", "lan") == ["fk/kit-1/state", "fk/kit-1/pos"]
    for bad in (
        "fk/kit-1/tier/lan/state",
        "fk/kit-1/tier/satellite/state",
        "fk/kit-1/tier/mesh/event",
        "fk/kit-1/state/unit",
        "fk/k*/alive",
        "xx/kit-1/alive",
        "fk/kit-1/state/Unit/unit:x",
        "fk/" + "k" * 41 + "/alive",
    ):
        assert parse_key(bad) is None, bad


def test_digest_is_order_independent_and_sees_a_changed_timestamp() -> None:
    pairs = [("unit:pdt:1", 1.0), ("unit:pdt:2", 2.0), ("unit:pdt:3", 3.0)]
    assert state_digest(pairs) == state_digest(list(reversed(pairs)))
    assert state_digest(pairs) != state_digest([*pairs[:2], ("unit:pdt:3", 3.0000001)])
    assert state_digest([]) == 0


def test_kits_of_different_versions_read_each_other() -> None:
    # An older kit sends a vehicle without the telemetry fields added later; a newer one sends more
    # fields than an older one knows. Both read what they can.
    drone = Vehicle(id="vehicle:k:1", origin="k", ts=T, pos=POS, mode="AUTO", armed=True, roll_deg=3.5)
    full = msgspec.msgpack.decode(msgspec.msgpack.encode(state_body(drone)))  # every field, untrimmed
    # [tag, ts, pos, name, mode, armed, heading_deg, ground_speed_mps, battery_pct, battery_v, tethered, link_ok]
    first_added = 12
    older = msgspec.msgpack.encode(full[:first_added])
    assert decode_state(older, drone.id, drone.origin) == quantise(msgspec.structs.replace(drone, roll_deg=None))
    newer = msgspec.msgpack.encode([*full, "a field from the future"])
    assert decode_state(newer, drone.id, drone.origin) == quantise(drone)


def test_trailing_defaults_stay_off_the_wire_and_come_back() -> None:
    unit = Unit(id="unit:pdt:1", origin="k", ts=T, pos=Position(lat=36.7, lon=119.1))
    assert msgspec.msgpack.decode(encode_state(unit)) == [1, T, [367_000_000, 1_191_000_000]]
    assert decode_state(encode_state(unit), unit.id, unit.origin) == unit
    # Wire defaults are the model's: a reader fills in exactly what the sender left off.
    for change in STATES:
        body_cls = type(state_body(change))
        model_fields = {f.name: f for f in msgspec.structs.fields(type(change))}
        for f in msgspec.structs.fields(body_cls):
            if f.name in ("ts", "pos", "home", "points", *WIRE_ONLY):
                continue
            m = model_fields[f.name]
            wire_default = f.default_factory() if f.default_factory is not msgspec.NODEFAULT else f.default
            model_default = m.default_factory() if m.default_factory is not msgspec.NODEFAULT else m.default
            assert wire_default == model_default, f"{body_cls.__name__}.{f.name}"
