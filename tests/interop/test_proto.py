"""TAK Protocol v1, pure: takproto decodes what we encode, we decode what takproto encodes, and
hostile bytes are rejected with a reason, never raised past ``CotRejected``."""

from __future__ import annotations

import contextlib
import warnings
import xml.etree.ElementTree as ET

import pytest
import takproto
from hypothesis import given, settings
from hypothesis import strategies as st
from interop.test_cot import ALERT, CIRCLE, FEED, MESSAGE, NOW, OPTS, POLYGON, UNIT, VEHICLE

from edge.tak import CotRejected, EventFramer, parse_event, to_bytes
from edge.tak.cot import alert_event, entity_event, message_event
from edge.tak.proto import decode, decode_frame, encode, mesh_frame, stream_frame

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak

EVENTS = {
    "unit": entity_event(UNIT, NOW, OPTS),
    "vehicle": entity_event(VEHICLE, NOW, OPTS, [FEED]),
    "feed": entity_event(FEED, NOW, OPTS),
    "polygon": entity_event(POLYGON, NOW, OPTS),
    "circle": entity_event(CIRCLE, NOW, OPTS),
    "alert": alert_event(ALERT, NOW, OPTS),
    "chat": message_event(MESSAGE, NOW, OPTS),
}


@pytest.mark.parametrize("kind", sorted(EVENTS))
def test_takproto_decodes_our_protobuf_as_the_same_event(kind: str) -> None:
    event = EVENTS[kind]
    assert event is not None
    message = encode(event)
    for frame in (stream_frame(message), mesh_frame(message)):
        parsed = takproto.parse_proto(bytearray(frame))
        assert parsed is not None
        cot = parsed.cotEvent
        point = event.find("point")
        assert point is not None
        assert (cot.uid, cot.type, cot.how) == (event.get("uid"), event.get("type"), event.get("how"))
        assert (cot.lat, cot.lon, cot.hae) == tuple(float(point.get(k, "")) for k in ("lat", "lon", "hae"))
        assert cot.staleTime > cot.startTime > 0
    # Every detail element survives, typed or as xmlDetail; and reads back through our own decoder.
    back = decode(message)
    assert back == parse_event(to_bytes(event))


def test_typed_detail_fields_are_used_when_the_element_fits_them() -> None:
    event = EVENTS["unit"]
    assert event is not None
    detail = takproto.parse_proto(bytearray(mesh_frame(encode(event)))).cotEvent.detail  # type: ignore[union-attr]
    assert (detail.contact.callsign, detail.group.name, detail.status.battery) == ("Rescue 1", "Cyan", 77)
    assert (detail.track.course, detail.track.speed, detail.takv.device) == (90.0, 1.5, "fieldkit")
    assert "<contact" not in detail.xmlDetail  # not twice
    vehicle = takproto.parse_proto(bytearray(mesh_frame(encode(EVENTS["vehicle"])))).cotEvent.detail  # type: ignore[arg-type,union-attr]
    assert "<__video" in vehicle.xmlDetail and "<sensor" in vehicle.xmlDetail


def test_we_decode_what_takproto_encodes_from_a_pytak_event() -> None:
    xml = pytak.gen_cot(lat=36.7, lon=119.1, uid="ANDROID-9", cot_type="a-f-G-U-C", callsign="OWL", stale=60)
    assert xml is not None
    for version in (takproto.TAKProtoVer.STREAM, takproto.TAKProtoVer.MESH):
        event = decode_frame(bytes(takproto.xml2proto(xml, version)))
        assert (event.uid, event.callsign, event.lat, event.lon) == ("ANDROID-9", "OWL", 36.7, 119.1)


BOMB_DETAIL = '<!DOCTYPE x [<!ENTITY a "aaaa">]><remarks>&a;</remarks>'


def test_hostile_protobuf_is_rejected_with_a_reason() -> None:
    good = encode(EVENTS["unit"])  # type: ignore[arg-type]
    cases = {
        "bad_proto": [good[:-3], b"\x12\xff\xff\xff\xff\x0f", b"\x13", b"\x12\x05\x0b\x01"],  # truncated, huge, wire 3
        "bad_time": [b"\x12\x0b\x30" + b"\xff" * 9 + b"\x01"],  # a send time past year 9999
    }
    for reason, samples in cases.items():
        for sample in samples:
            with pytest.raises(CotRejected) as caught:
                decode(sample)
            assert caught.value.reason == reason, sample
    # An entity bomb smuggled in xmlDetail meets the same safe parser as XML does.
    message = takproto.parse_proto(bytearray(mesh_frame(good)))
    assert message is not None
    message.cotEvent.detail.xmlDetail = BOMB_DETAIL
    with pytest.raises(CotRejected) as caught:
        decode(message.SerializeToString())
    assert caught.value.reason in ("bad_xml", "forbidden_xml")
    # Out-of-range coordinates are refused, as in XML.
    message.cotEvent.detail.xmlDetail = ""
    message.cotEvent.lat = 91.0
    with pytest.raises(CotRejected) as caught:
        decode(message.SerializeToString())
    assert caught.value.reason == "bad_point"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_a_rejection(data: bytes) -> None:
    for frame in (data, stream_frame(data), mesh_frame(data)):
        with contextlib.suppress(CotRejected):  # anything else fails the test
            decode_frame(frame)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=30))
def test_framer_cuts_mixed_xml_and_stream_frames_alike_in_any_chunking(cuts: list[int]) -> None:
    frames = [stream_frame(encode(e)) for e in EVENTS.values() if e is not None]
    stream = b"".join(f + to_bytes(EVENTS["unit"]) for f in frames)  # type: ignore[arg-type]
    framer = EventFramer(protobuf=True)
    out: list[bytes] = []
    at = 0
    for cut in cuts * 100:
        if at >= len(stream):
            break
        out += framer.feed(stream[at : at + cut])
        at += cut
    out += framer.feed(stream[at:])
    assert len(out) == 2 * len(frames) and not framer.drops
    assert [o[:1] for o in out] == [b"\xbf", b"<"] * len(frames)
    assert ET.fromstring(out[1]).get("uid") == "unit:pdt:1001"


def test_mesh_datagrams_announce_the_versions_we_decode_and_xml_carries_its_header() -> None:
    from edge.tak.hub import encode as wire  # noqa: PLC0415

    event = EVENTS["unit"]
    assert event is not None
    parsed = takproto.parse_proto(bytearray(wire(event, "mesh")))
    assert parsed is not None
    assert (parsed.takControl.minProtoVersion, parsed.takControl.maxProtoVersion) == (1, 1)
    assert parsed.cotEvent.uid == "unit:pdt:1001"
    xml = wire(event, "xml")
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<event ')  # ATAK's README
