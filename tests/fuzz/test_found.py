"""What the fuzzers found, each pinned by its minimal input so it cannot come back."""

from __future__ import annotations

import json
import operator
from functools import reduce
from pathlib import Path

import msgspec
import pytest
from interop.test_cot import atak_pli
from pymavlink.dialects.v20 import ardupilotmega as mavlink

from drones.vehicle import MAX_CHUNKED_TEXTS, Fleet
from edge.api.bodies import too_deep
from edge.auth import Role
from edge.journal import Journal, JournalError
from edge.radio.nmea import NmeaCodec
from edge.scene import Alert, Position, Severity, Unit
from edge.tak import CotRejected, EventFramer, Inbound, parse_event
from edge.tak.proto import stream_frame
from mesh.wire import decode_state, encode_state


def test_stray_0xbf_claiming_a_4_gb_frame_does_not_deafen_a_tak_stream() -> None:
    # Found by fuzz/test_tak.py: the framer skipped 4 GB "by its length", so nothing after it was read.
    framer = EventFramer(max_event_bytes=4096, protobuf=True)
    events = framer.feed(b"\xbf\xff\xff\xff\xff\x0f" + atak_pli("AFTER"))
    assert [parse_event(e).uid for e in events] == ["AFTER"]
    assert framer.drops["garbage_bytes"] > 0 and not framer.drops["oversize"]


def test_an_oversized_but_plausible_tak_frame_is_still_skipped_by_its_length() -> None:
    framer = EventFramer(max_event_bytes=4096, protobuf=True)
    big = stream_frame(b"\x0a" + b"<event " * 1000)  # 7 kB: over the limit, well under the skip bound
    events = framer.feed(big + atak_pli("AFTER"))
    assert [parse_event(e).uid for e in events] == ["AFTER"]
    assert framer.drops["oversize"] == 1


def test_unfinished_statustext_chunks_do_not_pile_up() -> None:
    # Found reading the ingest fuzz target: each chunk id (65535 of them) kept up to 4 x 50 chars for good.
    fleet = Fleet()
    heartbeat = mavlink.MAVLink_heartbeat_message(2, 3, 0, 0, 4, 3)
    fleet.apply(heartbeat, 1, 1, 0.0)
    for chunk_id in range(1, 2000):
        fleet.apply(mavlink.MAVLink_statustext_message(4, b"x" * 50, chunk_id, 0), 1, 1, 0.0)
    state = fleet.vehicles[1]
    assert len(state._chunks) == MAX_CHUNKED_TEXTS
    # a long text still comes together when its chunks arrive in a row
    for seq, piece in enumerate([b"a" * 50, b"b" * 10]):
        fleet.apply(mavlink.MAVLink_statustext_message(4, piece, 7000, seq), 1, 1, 1.0)
    assert "a" * 50 + "b" * 10 in state.texts


async def test_an_alert_about_an_empty_entity_id_is_refused_and_the_log_still_reads(local_node) -> None:
    # Found by schemathesis: accepted with 201, it then made /api/log, /api/events and a restart fail.
    async with local_node.client(Role.PILOT) as pilot:
        r = await pilot.post("/api/alerts", json={"title": "0", "entity_id": ""})
        assert r.status_code == 400 and "entity_id" in r.text
        assert (await pilot.get("/api/log")).status_code == 200
        assert (await pilot.get("/api/events", params={"since": 0})).status_code == 200


async def test_the_journal_refuses_an_event_that_would_not_read_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", node_id="kit", synchronous="NORMAL")
    journal.open()
    try:
        bad = Alert(id="alert-1", origin="kit", ts=1.0, severity=Severity.WARNING, title="x", entity_id="")
        with pytest.raises(JournalError, match="would not read back"):
            await journal.append([bad])
        (stored,) = await journal.append([msgspec.structs.replace(bad, entity_id=None)])
        assert stored is not None and stored.seq == 1
    finally:
        journal.close()
    reopened = Journal(tmp_path / "j.sqlite", node_id="kit", synchronous="NORMAL")
    assert [a.id for a in reopened.open().lifecycle] == ["alert-1"]
    reopened.close()


async def test_an_export_of_a_time_past_year_9999_is_a_400_not_a_500(local_node) -> None:
    # Found by schemathesis: time.gmtime() overflowed writing the export's time.
    async with local_node.client(Role.VIEWER) as viewer:
        for path in ("/api/export.geojson", "/api/export.kml"):
            assert (await viewer.get(path, params={"at": 7.044937775632109e16})).status_code == 400
            assert (await viewer.get(path, params={"at": 253_402_300_799.0})).status_code == 200


async def test_metrics_carry_one_charset(local_node) -> None:
    # Found by schemathesis' content-type check: "text/plain; version=0.0.4; charset=utf-8; charset=utf-8".
    async with local_node.client(Role.VIEWER) as viewer:
        r = await viewer.get("/metrics")
    assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


async def test_the_openapi_document_lists_the_404s_and_media_types_the_api_answers_with(local_node) -> None:
    # Found by schemathesis' status-code and content-type checks.
    async with local_node.client(Role.VIEWER) as viewer:
        paths = (await viewer.get("/api/schema/openapi.json")).json()["paths"]
    assert "404" in paths["/api/alerts/{alert_id}/ack"]["post"]["responses"]
    assert "409" in paths["/api/vehicles/{vehicle_id}/commands"]["post"]["responses"]
    assert "415" in paths["/api/feeds/{name}/whep"]["post"]["responses"]
    assert "application/geo+json" in paths["/api/export.geojson"]["get"]["responses"]["200"]["content"]


@pytest.mark.parametrize("encoding", ["TTF-8", "utf-32", "x-mac-japanese", "idna", "rot13", "base64"])
def test_an_unusable_xml_encoding_is_a_rejection_not_an_exception(encoding: str) -> None:
    # Found by fuzz/test_tak.py at 10^4 inputs: LookupError/ValueError escaped parse_event and ended the link.
    event = atak_pli().replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode())
    with pytest.raises(CotRejected) as caught:
        parse_event(event)
    assert caught.value.reason == "bad_xml"


def test_json_nesting_is_measured_outside_strings_and_past_unclosed_brackets() -> None:
    assert not too_deep(json.dumps(json.loads("[" * 64 + "]" * 64)).encode())
    assert too_deep(b"[" * 65 + b"]" * 65) and too_deep(b"[" * 65) and too_deep(b'{"a":' * 65)
    assert not too_deep(json.dumps({"text": "[{" * 500, "esc": '\\"[[[' * 100}).encode())
    assert not too_deep(json.dumps({"points": [[36.7, 119.1]] * 1000}).encode())  # wide is not deep


async def test_a_json_body_nested_2000_deep_is_a_400_not_a_500(local_node) -> None:
    # Found by fuzz/test_api.py's api.json_parser: msgspec's RecursionError went through Litestar as a 500.
    async with local_node.client(Role.ADMIN) as admin:
        for body in (b"[" * 2000, b'{"a":' * 1000, b"[" * 1000 + b"]" * 1000):
            r = await admin.post("/api/messages", content=body, headers={"Content-Type": "application/json"})
            assert r.status_code == 400 and "nests deeper" in r.text
        r = await admin.post("/api/messages", json={"text": "[[[[" * 100, "to": "all"})  # brackets in a string
        assert r.status_code == 201


def test_a_cot_altitude_of_minus_1e308_is_unknown_and_the_mesh_still_carries_the_unit() -> None:
    # Found by fuzz/test_tak.py (tak.cot_xml) at 10^6 under atheris: hae="-1e308" became alt_msl_m, and the
    # mesh wire's round(m * 100) raised OverflowError: the publisher would have died on it.
    raw = atak_pli(uid="deep").replace(b'hae="', b'hae="-1e308" x="', 1)
    event = parse_event(raw)
    assert event.hae is None
    (unit,) = Inbound("kit-a", geoid_separation_m=-3.0).changes(event, event.time)
    assert decode_state(encode_state(unit), unit.id, "kit-a").pos.alt_msl_m is None  # type: ignore[union-attr]


@pytest.mark.parametrize("alt", [-1e308, 1e308, float("nan"), float("inf"), 2.2e7, -3e7])
def test_an_altitude_no_thing_has_travels_the_mesh_as_unknown(alt: float) -> None:
    unit = Unit(id="unit:x", origin="kit-a", ts=1.0, pos=Position(lat=36.0, lon=120.0, alt_msl_m=alt, alt_rel_m=12.5))
    back = decode_state(encode_state(unit), "unit:x", "kit-a")
    assert back.pos == Position(lat=36.0, lon=120.0, alt_msl_m=None, alt_rel_m=12.5)  # type: ignore[union-attr]


def test_a_zda_year_of_20_digits_is_a_dropped_sentence_not_an_overflow() -> None:
    # Found by fuzz/test_radio.py (radio.nmea) under atheris: dt.date() raised OverflowError out of feed().
    def sentence(body: str) -> bytes:
        return f"${body}*{reduce(operator.xor, body.encode(), 0):02X}\r\n".encode()

    codec = NmeaCodec()
    codec.feed(sentence("GPZDA,201530.00,04,07," + "9" * 20 + ",00,00"), 1.0)
    good = sentence("GPZDA,201530.00,04,07,2002,00,00")
    codec.feed(good, 2.0)
    assert codec.frames == 1 and codec.drops["malformed"] == 1
