"""CoT out and in, pure: each kind's XML validated, round trips, the framer, hostile input."""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kit import kit_config

from edge.scene import (
    Alert,
    Feed,
    Marker,
    Message,
    Node,
    Position,
    Removed,
    Severity,
    Shape,
    Unit,
    Vehicle,
)
from edge.tak import CotOptions, CotRejected, EventFramer, Inbound, is_ours, parse_event, to_bytes
from edge.tak.cot import alert_event, entity_event, message_event, removed_event

NOW = 1_700_000_000.0
OPTS = CotOptions(stale_s=120.0, node_id="kit-a")
HERE = Position(lat=36.0671, lon=120.3826, alt_msl_m=35.0)

UNIT = Unit(
    id="unit:pdt:1001",
    origin="kit-a",
    ts=NOW - 5,
    name="Rescue 1",
    pos=HERE,
    battery_pct=77.0,
    heading_deg=90.0,
    speed_mps=1.5,
    team="red",
)
VEHICLE = Vehicle(
    id="vehicle:kit-a:1",
    origin="kit-a",
    ts=NOW - 1,
    name="Overwatch",
    pos=HERE,
    battery_pct=64.0,
    heading_deg=270.0,
    ground_speed_mps=8.0,
    vehicle_type="quadrotor",
)
FEED = Feed(
    id="feed:kit-a:cam",
    origin="kit-a",
    ts=NOW - 1,
    vehicle_id="vehicle:kit-a:1",
    heading_deg=45.0,
    fov_deg=70.0,
    pos=HERE,
    url="rtsp://127.0.0.5:8554/cam",
    range_m=800.0,
    source="rtsp",
)
NODE = Node(id="node:kit-a", origin="kit-a", ts=NOW, name="Kit A", pos=HERE)
POLYGON = Marker(
    id="marker:kit-a:p",
    origin="kit-a",
    ts=NOW,
    name="Search area",
    shape=Shape.POLYGON,
    points=[(36.0, 120.0), (36.1, 120.0), (36.1, 120.2)],
    pos=Position(lat=36.0, lon=120.0),
    color="#00ff00",
)
CIRCLE = Marker(
    id="marker:kit-a:c",
    origin="kit-a",
    ts=NOW,
    shape=Shape.CIRCLE,
    points=[(36.05, 120.1)],
    radius_m=250.0,
    pos=Position(lat=36.05, lon=120.1),
)
ALERT = Alert(
    id="alert-1",
    origin="kit-a",
    ts=NOW - 2,
    severity=Severity.EMERGENCY,
    title="Man down",
    entity_id="unit:pdt:1001",
    pos=HERE,
)
MESSAGE = Message(id="msg-1", origin="kit-a", ts=NOW - 1, sender="Command", text="Hold position")


def _t(text: str | None) -> float:
    assert text is not None and text.endswith("Z")
    return datetime.fromisoformat(text).timestamp()


def check_event(event: ET.Element) -> ET.Element:
    """The structure every CoT event must have, as TAK servers check it; returns the detail."""
    root = ET.fromstring(to_bytes(event))  # what goes on the wire parses
    assert root.tag == "event"
    assert root.get("version") == "2.0"
    for attr in ("uid", "type", "how", "time", "start", "stale"):
        assert root.get(attr), attr
    start, stale, when = _t(root.get("start")), _t(root.get("stale")), _t(root.get("time"))
    assert stale > start
    assert start <= when <= stale
    point = root.find("point")
    assert point is not None
    assert -90 <= float(point.get("lat", "x")) <= 90
    assert -180 <= float(point.get("lon", "x")) <= 180
    assert float(point.get("ce", "x")) == 9999999.0
    assert float(point.get("le", "x")) == 9999999.0
    float(point.get("hae", "x"))
    detail = root.find("detail")
    assert detail is not None
    return detail


def test_radio_unit_is_a_friendly_ground_unit_with_battery_and_track() -> None:
    event = entity_event(UNIT, NOW, OPTS)
    assert event is not None
    detail = check_event(event)
    assert (event.get("uid"), event.get("type"), event.get("how")) == ("unit:pdt:1001", "a-f-G-U-C", "m-r")
    assert _t(event.get("start")) == pytest.approx(NOW - 5, abs=0.001)
    assert _t(event.get("stale")) == pytest.approx(NOW + 120, abs=0.001)
    assert detail.find("contact").get("callsign") == "Rescue 1"  # type: ignore[union-attr]
    assert detail.find("__group").get("name") == "Cyan"  # type: ignore[union-attr]
    assert detail.find("takv") is not None
    assert detail.find("status").get("battery") == "77"  # type: ignore[union-attr]
    assert detail.find("track").attrib == {"course": "90.0", "speed": "1.50"}  # type: ignore[union-attr]
    # We hold MSL; CoT wants height above the ellipsoid: unknown unless the geoid height N is configured.
    assert float(event.find("point").get("hae")) == 9999999.0  # type: ignore[union-attr,arg-type]
    with_n = entity_event(UNIT, NOW, CotOptions(geoid_separation_m=-4.5))
    assert with_n is not None and float(with_n.find("point").get("hae")) == 30.5  # type: ignore[union-attr,arg-type]
    simulated = entity_event(UNIT, NOW, CotOptions(simulated=True, node_id="kit-a"))
    assert simulated is not None and simulated.get("how") == "m-s"
    # A sim node marks only what it simulates itself: a unit from another (real) node stays radio-reported.
    other = entity_event(UNIT, NOW, CotOptions(simulated=True, node_id="kit-b"))
    assert other is not None and other.get("how") == "m-r"


def test_unknown_height_is_9999999() -> None:
    unit = Unit(id="unit:pdt:2", origin="kit-a", ts=NOW, pos=Position(lat=1.0, lon=2.0))
    event = entity_event(unit, NOW, OPTS)
    assert event is not None
    assert event.find("point").get("hae") == "9999999.0"  # type: ignore[union-attr]


def test_drone_carries_track_video_and_sensor() -> None:
    event = entity_event(VEHICLE, NOW, OPTS, [FEED])
    assert event is not None
    detail = check_event(event)
    assert event.get("type") == "a-f-A-M-H-Q"
    assert detail.find("track").get("course") == "270.0"  # type: ignore[union-attr]
    assert detail.find("__video").get("url") == "rtsp://127.0.0.5:8554/cam"  # type: ignore[union-attr]
    entry = detail.find("__video/ConnectionEntry")
    assert entry is not None
    assert (entry.get("protocol"), entry.get("address"), entry.get("port"), entry.get("path")) == (
        "rtsp",
        "127.0.0.5",
        "8554",
        "/cam",
    )
    sensor = detail.find("sensor")
    assert sensor is not None
    assert (sensor.get("azimuth"), sensor.get("fov"), sensor.get("range")) == ("45.0", "70.0", "800")
    assert event.get("how") == "m-g"
    sim_feed = Feed(id="feed:kit-a:sim", origin="kit-a", ts=NOW, pos=HERE, source="sim")
    sim = entity_event(sim_feed, NOW, OPTS)
    assert sim is not None and sim.get("how") == "m-s"
    assert detail.find("status").get("battery") == "64"  # type: ignore[union-attr]
    plane = entity_event(
        Vehicle(id="vehicle:kit-a:2", origin="a", ts=NOW, pos=HERE, vehicle_type="fixed_wing"), NOW, OPTS
    )
    assert plane is not None and plane.get("type") == "a-f-A-M-F-Q"


def test_node_feed_and_entities_without_position() -> None:
    node = entity_event(NODE, NOW, OPTS)
    assert node is not None and node.get("type") == "a-f-G-U-U-S"
    check_event(node)
    feed = entity_event(FEED, NOW, OPTS)
    assert feed is not None and feed.get("type") == "b-i-v"
    assert check_event(feed).find("__video") is not None
    assert entity_event(Unit(id="unit:pdt:3", origin="a", ts=NOW), NOW, OPTS) is None


def test_markers_are_drawing_shapes() -> None:
    polygon = entity_event(POLYGON, NOW, OPTS)
    assert polygon is not None and polygon.get("type") == "u-d-f"
    links = [link.get("point") for link in check_event(polygon).findall("link")]
    assert links == [
        "36.0000000,120.0000000",
        "36.1000000,120.0000000",
        "36.1000000,120.2000000",
        "36.0000000,120.0000000",
    ]
    assert check_event(polygon).find("strokeColor").get("value") == str(0xFF00FF00 - (1 << 32))  # type: ignore[union-attr]
    circle = entity_event(CIRCLE, NOW, OPTS)
    assert circle is not None and circle.get("type") == "u-d-c-c"
    ellipse = check_event(circle).find("shape/ellipse")
    assert ellipse is not None and ellipse.get("major") == ellipse.get("minor") == "250.0"
    point = entity_event(Marker(id="marker:a:x", origin="a", ts=NOW, points=[(1.0, 2.0)]), NOW, OPTS)
    assert point is not None and point.get("type") == "b-m-p-s-m"


def test_emergency_alert_and_cancel() -> None:
    event = alert_event(ALERT, NOW, OPTS)
    assert event is not None and event.get("type") == "b-a-o-tbl"
    detail = check_event(event)
    assert detail.find("emergency").get("type") == "911 Alert"  # type: ignore[union-attr]
    assert detail.find("link").get("uid") == "unit:pdt:1001"  # type: ignore[union-attr]
    cancel = alert_event(ALERT, NOW + 5, OPTS, cancel=True)
    assert cancel is not None and cancel.get("type") == "b-a-o-can" and cancel.get("uid") == event.get("uid")
    assert check_event(cancel).find("emergency").get("cancel") == "true"  # type: ignore[union-attr]
    warning = Alert(id="a2", origin="a", ts=NOW, title="low battery")
    assert alert_event(warning, NOW, OPTS) is None


def test_message_is_geochat() -> None:
    event = message_event(MESSAGE, NOW, OPTS)
    assert event.get("type") == "b-t-f"
    detail = check_event(event)
    chat = detail.find("__chat")
    assert chat is not None and chat.get("chatroom") == "All Chat Rooms" and chat.get("messageId") == "msg-1"
    assert chat.find("chatgrp") is not None
    assert detail.find("link").get("uid") == "node:kit-a"  # type: ignore[union-attr]
    assert detail.find("remarks").text == "Hold position"  # type: ignore[union-attr]


def test_removed_is_a_forced_delete() -> None:
    event = removed_event(Removed(id="marker:kit-a:p", origin="kit-a", ts=NOW), NOW)
    detail = check_event(event)
    assert event.get("type") == "t-x-d-d"
    assert detail.find("link").get("uid") == "marker:kit-a:p"  # type: ignore[union-attr]
    assert detail.find("__forcedelete") is not None


# -- CoT in -----------------------------------------------------------------------------------------


def test_geochat_fits_the_tak_chat_schema_types() -> None:
    # __chat senderCallsign is an xs:NMTOKEN and remarks source an xs:NCName in TAK's detail schemas.
    message = Message(id="msg-2", origin="kit-a", ts=NOW, sender="Command Post 3", text="Go", via="pdt")
    event = message_event(message, NOW, OPTS)
    detail = check_event(event)
    assert detail.find("__chat").get("senderCallsign") == "Command_Post_3"  # type: ignore[union-attr]
    source = detail.find("remarks").get("source")  # type: ignore[union-attr]
    assert source == "BAO.F.ATAK.pdt.Command_Post_3"
    assert detail.find("__chat/chatgrp").get("uid0") == "pdt:Command_Post_3"  # type: ignore[union-attr]
    assert detail.find("link").get("uid") == "pdt:Command_Post_3"  # type: ignore[union-attr]


def test_round_trip_of_our_own_events_reads_back_and_is_not_taken_in_twice() -> None:
    event = entity_event(UNIT, NOW, OPTS)
    assert event is not None
    back = parse_event(to_bytes(event))
    assert (back.uid, back.type, back.callsign, back.team) == ("unit:pdt:1001", "a-f-G-U-C", "Rescue 1", "Cyan")
    assert (back.lat, back.lon, back.hae) == (HERE.lat, HERE.lon, None)
    assert (back.battery_pct, back.course_deg, back.speed_mps) == (77.0, 90.0, 1.5)
    assert back.stale == pytest.approx(NOW + 120, abs=0.001)
    assert is_ours(back)
    chat = parse_event(to_bytes(message_event(MESSAGE, NOW, OPTS)))
    assert (chat.remarks, chat.message_id, chat.chat_sender) == ("Hold position", "msg-1", "Command")
    assert is_ours(chat)


def atak_pli(uid: str = "ANDROID-1234", callsign: str = "VIPER", lat: str = "36.1", lon: str = "120.4") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><event version="2.0" uid="{uid}" type="a-f-G-U-C" '
        'how="m-g" time="2023-11-14T22:13:15.000Z" start="2023-11-14T22:13:15.000Z" stale="2023-11-14T22:19:15Z">'
        f'<point lat="{lat}" lon="{lon}" hae="12.5" ce="9.9" le="9999999.0"/><detail>'
        f'<contact callsign="{callsign}" endpoint="*:-1:stcp"/><__group name="Red" role="Team Lead"/>'
        '<status battery="41"/><track course="180.0" speed="2.0"/><takv platform="ATAK-CIV" version="5.1"/>'
        "</detail></event>"
    ).encode()


def test_an_atak_position_becomes_a_unit() -> None:
    inbound = Inbound("kit-a")
    (unit,) = inbound.changes(parse_event(atak_pli()), NOW)
    assert isinstance(unit, Unit)
    assert unit.id == "unit:tak:ANDROID-1234"
    assert (unit.name, unit.team, unit.status, unit.battery_pct) == ("VIPER", "Red", "Team Lead", 41.0)
    assert unit.pos == Position(lat=36.1, lon=120.4, alt_msl_m=None)  # HAE is not MSL
    (known,) = Inbound("kit-a", geoid_separation_m=-4.5).changes(parse_event(atak_pli()), NOW)
    assert known.pos == Position(lat=36.1, lon=120.4, alt_msl_m=17.0)  # type: ignore[union-attr]
    assert (unit.heading_deg, unit.speed_mps) == (180.0, 2.0)
    assert unit.ts == pytest.approx(1_699_999_995.0)


def test_atak_emergency_raises_one_alert_until_cancelled() -> None:
    inbound = Inbound("kit-a")

    def emergency(kind: str, extra: str = 'type="911 Alert"') -> bytes:
        return (
            f'<event version="2.0" uid="ANDROID-1234-9-1-1" type="{kind}" how="h-e" time="2023-11-14T22:13:15Z" '
            'start="2023-11-14T22:13:15Z" stale="2023-11-14T22:23:15Z"><point lat="36.1" lon="120.4" hae="0" '
            'ce="9999999" le="9999999"/><detail><link uid="ANDROID-1234" type="a-f-G-U-C" relation="p-p"/>'
            f'<contact callsign="VIPER-Alert"/><emergency {extra}>VIPER</emergency></detail></event>'
        ).encode()

    (alert,) = inbound.changes(parse_event(emergency("b-a-o-tbl")), NOW)
    assert isinstance(alert, Alert) and alert.severity is Severity.EMERGENCY
    assert alert.entity_id == "unit:tak:ANDROID-1234" and "VIPER" in alert.title
    assert inbound.changes(parse_event(emergency("b-a-o-tbl")), NOW) == []  # ATAK repeats it
    (clear,) = inbound.changes(parse_event(emergency("b-a-o-can", 'cancel="true"')), NOW)
    assert clear.alert_id == alert.id  # type: ignore[union-attr]
    assert inbound.changes(parse_event(emergency("b-a-o-can", 'cancel="true"')), NOW) == []


def test_video_announcement_becomes_a_feed() -> None:
    data = atak_pli().replace(b"</detail>", b'<__video url="rtsp://127.0.1.9:554/live"/></detail>')
    inbound = Inbound("kit-a")
    _unit, feed = inbound.changes(parse_event(data), NOW)
    assert isinstance(feed, Feed) and feed.id == "feed:tak:ANDROID-1234"
    assert (feed.url, feed.source) == ("rtsp://127.0.1.9:554/live", "tak")
    # ATAK 4.x announces only a ConnectionEntry, with a sensor cone
    entry = (
        b'<__video><ConnectionEntry protocol="rtsp" address="127.0.1.9" port="8554" path="/uav" uid="x" '
        b'alias="UAV"/></__video><sensor azimuth="90" fov="40" range="900"/></detail>'
    )
    (_u, feed2) = Inbound("kit-a").changes(parse_event(atak_pli().replace(b"</detail>", entry)), NOW)
    assert isinstance(feed2, Feed)
    assert (feed2.url, feed2.heading_deg, feed2.fov_deg, feed2.range_m) == ("rtsp://127.0.1.9:8554/uav", 90, 40, 900)
    # and our own feed's announcement reads back as the same URL
    ours = parse_event(to_bytes(entity_event(FEED, NOW, OPTS)))  # type: ignore[arg-type]
    assert ours.video_url == FEED.url


BOMB = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><event version="2.0" uid="x" type="a-f-G" how="m-g"
time="2023-11-14T22:13:15Z" start="2023-11-14T22:13:15Z" stale="2023-11-14T22:23:15Z"><point lat="1" lon="2"
hae="0" ce="0" le="0"/><detail><contact callsign="&lol3;"/></detail></event>"""
XXE = b"""<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><event version="2.0" uid="x" type="a-f-G" how="m-g"
time="2023-11-14T22:13:15Z" start="2023-11-14T22:13:15Z" stale="2023-11-14T22:23:15Z"><point lat="1" lon="2"
hae="0" ce="0" le="0"/><detail><remarks>&x;</remarks></detail></event>"""


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (BOMB[BOMB.index(b"<!DOCTYPE") :], "forbidden_xml"),
        (XXE, "forbidden_xml"),
        (b"<event uid='x'", "bad_xml"),
        (b"<foo/>", "not_event"),
        (atak_pli(lat="91.0"), "bad_point"),
        (atak_pli(lon="nan"), "bad_point"),
        (atak_pli().replace(b'time="2023-11-14T22:13:15.000Z"', b'time="yesterday"'), "bad_time"),
        (atak_pli().replace(b"<point", b"<pt"), "missing_attribute"),
    ],
)
def test_bad_events_are_rejected_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(CotRejected) as caught:
        parse_event(data)
    assert caught.value.reason == reason


def test_entity_bomb_through_the_framer_is_dropped_not_expanded() -> None:
    framer = EventFramer()
    events = framer.feed(BOMB + atak_pli())
    # The DOCTYPE is garbage between events to the framer; the event using its entities fails to parse.
    assert framer.drops["garbage_bytes"] > 0
    assert len(events) == 2
    with pytest.raises(CotRejected):
        parse_event(events[0])
    assert parse_event(events[1]).uid == "ANDROID-1234"


def test_framer_oversize_truncation_and_garbage() -> None:
    framer = EventFramer(max_event_bytes=2048)
    huge = b'<event version="2.0" uid="big">' + b"<x/>" * 5000 + b"</event>"
    out = framer.feed(b"garbage!" + huge[:3000])
    out += framer.feed(huge[3000:] + atak_pli())
    assert [parse_event(e).uid for e in out] == ["ANDROID-1234"]
    assert framer.drops["oversize"] == 1
    assert framer.drops["garbage_bytes"] == len(b"garbage!")
    assert framer.feed(atak_pli()[:100]) == []  # truncated: held, not delivered
    assert framer.pending > 0


STREAM = atak_pli("A") + b"\n" + atak_pli("B") + atak_pli("C")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(STREAM)), max_size=12))
def test_any_chunking_gives_the_same_events(cuts: list[int]) -> None:
    framer = EventFramer()
    events: list[bytes] = []
    last = 0
    for cut in [*sorted(cuts), len(STREAM)]:
        events += framer.feed(STREAM[last:cut])
        last = max(last, cut)
    assert [parse_event(e).uid for e in events] == ["A", "B", "C"]
    assert not framer.drops


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise_out_of_the_framer_or_parser(data: bytes) -> None:
    framer = EventFramer(max_event_bytes=1024)
    for event in framer.feed(b"<event " + data + b"</event>" + data):
        with contextlib.suppress(CotRejected):
            parse_event(event)


# -- configuration --------------------------------------------------------------------------------------------


def test_tak_problems_are_reported_with_their_keys(tmp_path: Path) -> None:
    from edge.config import check  # noqa: PLC0415

    tak = {
        "servers": [{"host": "tak.example", "cert": "c.pem"}, {"host": "tak.example", "tls": True}],
        "multicast": {"enabled": True, "interface": "eth0"},
    }
    found = check({"node": {"id": "kit-a", "data_dir": str(tmp_path)}, "tak": tak})
    assert "tak.servers[0]: cert and key go together (got only one)" in found
    assert "tak.servers[0]: cert/ca are for TLS: set tls = true" in found
    assert "tak.servers: two servers have the same name (or host:port)" in found
    assert "tak.multicast.interface: 'eth0' is not an IPv4 address" in found


def test_fieldkit_sim_marks_its_node_simulated(tmp_path: Path) -> None:
    from sim import Scenario, build_incident  # noqa: PLC0415 - as `fieldkit sim` does

    incident = build_incident(kit_config(tmp_path), Scenario(drones=False), lambda: NOW)
    try:
        assert incident.config.node.simulated  # so its units and drones go out as CoT how="m-s"
    finally:
        incident.gateway.unplug()
