"""The TAK streaming port over real loopback sockets: pytak receives the picture and deltas; an
ATAK-like client's position, GeoChat and emergency appear in the picture and the API."""

from __future__ import annotations

import asyncio
import configparser
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import takproto
from google.protobuf.internal.decoder import _DecodeVarint  # type: ignore[attr-defined]
from kit import LocalNode, kit_config, start_local, stop_local
from prometheus_client.parser import text_string_to_metric_families

from edge.auth import Role
from edge.scene import Position, Unit
from edge.tak.cot import cot_time

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak

pytestmark = pytest.mark.asyncio


@pytest.fixture
async def tak_node(tmp_path: Path) -> AsyncIterator[LocalNode]:
    config = kit_config(tmp_path, tak={"enabled": True, "port": 0, "max_client_buffer_bytes": 64 * 1024})
    node, task = await start_local(config)
    assert node.tak is not None
    await asyncio.wait_for(node.tak.listening.wait(), 5)
    tokens = {role: node.tokens.create(role, role.name.lower()) for role in Role}
    assert node.api_url is not None
    try:
        yield LocalNode(node, node.api_url, tokens)
    finally:
        await stop_local(node, task)


def _unit(uid: str, lat: float, lon: float) -> Unit:
    return Unit(id=uid, origin="kit-test", ts=time.time(), name=uid, pos=Position(lat=lat, lon=lon), battery_pct=50.0)


async def _pytak(port: int) -> tuple[pytak.RXWorker, asyncio.StreamWriter]:
    parser = configparser.ConfigParser()
    parser["t"] = {"COT_URL": f"tcp://127.0.0.1:{port}"}
    reader, writer = await pytak.protocol_factory(parser["t"])
    return pytak.RXWorker(asyncio.Queue(), parser["t"], reader), writer


async def _read_until(rx: pytak.RXWorker, uid: str, timeout: float = 5.0) -> ET.Element:
    async def loop() -> ET.Element:
        while True:
            raw = await rx.readcot()
            assert raw, "connection closed"
            event = ET.fromstring(raw.strip())
            if event.get("uid") == uid:
                return event

    return await asyncio.wait_for(loop(), timeout)


async def test_pytak_receives_the_picture_then_a_new_unit_as_a_delta(tak_node: LocalNode) -> None:
    scene = tak_node.node.scene
    assert scene is not None and tak_node.node.tak is not None
    scene.apply_state(_unit("unit:pdt:1001", 36.1, 120.3))
    rx, writer = await _pytak(tak_node.node.tak.port or 0)
    try:
        first = await _read_until(rx, "unit:pdt:1001")
        assert first.get("type") == "a-f-G-U-C"
        assert first.find("point").get("lat") == "36.1000000"  # type: ignore[union-attr]
        scene.apply_state(_unit("unit:pdt:1002", 36.2, 120.4))
        second = await _read_until(rx, "unit:pdt:1002")
        assert second.find("detail/status").get("battery") == "50"  # type: ignore[union-attr]
    finally:
        writer.close()


def _chat(uid: str, text: str) -> bytes:
    now = time.time()
    return (
        f'<event version="2.0" uid="GeoChat.{uid}.All Chat Rooms.m-77" type="b-t-f" how="h-g-i-g-o" '
        f'time="{cot_time(now)}" start="{cot_time(now)}" stale="{cot_time(now + 86400)}">'
        '<point lat="36.1" lon="120.4" hae="9999999.0" ce="9999999.0" le="9999999.0"/><detail>'
        '<__chat parent="RootContactGroup" groupOwner="false" messageId="m-77" chatroom="All Chat Rooms" '
        f'id="All Chat Rooms" senderCallsign="VIPER"><chatgrp uid0="{uid}" uid1="All Chat Rooms" id="All Chat Rooms"/>'
        f'</__chat><link uid="{uid}" type="a-f-G-U-C" relation="p-p"/><remarks source="BAO.F.ATAK.{uid}" '
        f'to="All Chat Rooms" time="{cot_time(now)}">{text}</remarks></detail></event>'
    ).encode()


def _emergency(uid: str) -> bytes:
    now = time.time()
    return (
        f'<event version="2.0" uid="{uid}-9-1-1" type="b-a-o-tbl" how="h-e" time="{cot_time(now)}" '
        f'start="{cot_time(now)}" stale="{cot_time(now + 600)}"><point lat="36.1" lon="120.4" hae="0" '
        f'ce="9999999" le="9999999"/><detail><link uid="{uid}" type="a-f-G-U-C" relation="p-p"/>'
        '<contact callsign="VIPER-Alert"/><emergency type="911 Alert">VIPER</emergency></detail></event>'
    ).encode()


async def _eventually(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_pytak_position_chat_and_emergency_appear_in_the_picture(tak_node: LocalNode) -> None:
    assert tak_node.node.tak is not None
    _rx, writer = await _pytak(tak_node.node.tak.port or 0)
    watcher_rx, watcher = await _pytak(tak_node.node.tak.port or 0)  # a second ATAK user
    try:
        pli = pytak.gen_cot(lat=36.11, lon=120.41, uid="ANDROID-42", cot_type="a-f-G-U-C", callsign="VIPER", stale=600)
        assert pli is not None
        # Chunked badly, with garbage between events: the framer copes.
        stream = pli + b"  junk  " + _chat("ANDROID-42", "need water at the bridge") + _emergency("ANDROID-42")
        for i in range(0, len(stream), 97):
            writer.write(stream[i : i + 97])
            await writer.drain()
        async with tak_node.client(Role.VIEWER) as api:

            async def arrived() -> bool:
                unit = await api.get("/api/entities/unit:tak:ANDROID-42")
                messages = (await api.get("/api/messages")).json()
                alerts = (await api.get("/api/alerts")).json()
                return (
                    unit.status_code == 200
                    and any(m["text"] == "need water at the bridge" and m["via"] == "tak" for m in messages)
                    and any(a["alert"]["severity"] == "emergency" for a in alerts)
                )

            await _eventually(arrived)
            unit = (await api.get("/api/entities/unit:tak:ANDROID-42")).json()
            assert (unit["name"], unit["pos"]["lat"], unit["pos"]["lon"]) == ("VIPER", 36.11, 120.41)
            # The other TAK user got the position as it was sent (relayed), not our re-encoding.
            relayed = await _read_until(watcher_rx, "ANDROID-42")
            assert relayed.find("detail/contact").get("callsign") == "VIPER"  # type: ignore[union-attr]
            scrape = await api.get("/metrics")
        families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
        counts = {s.labels["kind"]: s.value for s in families["fieldkit_tak"].samples}
        assert counts["events_in"] == 3
        assert counts["framer_garbage_bytes"] == len(b"  junk  ")  # the whole run between events
        assert counts["taken_events"] == 2
        assert families["fieldkit_tak_clients"].samples[0].value == 2
    finally:
        writer.close()
        watcher.close()


async def test_a_client_that_never_reads_is_dropped(tak_node: LocalNode) -> None:
    tak = tak_node.node.tak
    scene = tak_node.node.scene
    assert tak is not None and scene is not None
    _reader, writer = await asyncio.open_connection("127.0.0.1", tak.port)
    sock = writer.get_extra_info("socket")
    import socket  # noqa: PLC0415

    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        for i in range(15000):
            scene.apply_state(_unit(f"unit:pdt:{i}", 10 + i / 1000, 20.0))
            if i % 500 == 0:
                await asyncio.sleep(0.01)

        async def dropped() -> bool:
            return tak.counts["clients_dropped_slow"] == 1 and tak.clients == 0

        await _eventually(dropped, 10)
    finally:
        writer.close()


async def test_a_client_that_asks_is_switched_to_tak_protocol_others_stay_on_xml(tak_node: LocalNode) -> None:
    tak = tak_node.node.tak
    scene = tak_node.node.scene
    assert tak is not None and scene is not None
    scene.apply_state(_unit("unit:pdt:4001", 36.3, 120.1))
    rx, writer = await _pytak(tak.port or 0)  # reads the offer with pytak, then negotiates as ATAK does
    xml_rx, xml_writer = await _pytak(tak.port or 0)  # a plain XML client beside it
    try:
        offer = await _read_until_type(rx, "t-x-takp-v")
        assert offer.find("detail/TakControl/TakProtocolSupport").get("version") == "1"  # type: ignore[union-attr]
        uid = offer.get("uid")
        now = cot_time(time.time())
        writer.write(
            f"<event version='2.0' uid='{uid}' type='t-x-takp-q' time='{now}' start='{now}' stale='{now}' "
            "how='m-g'><point lat='0.0' lon='0.0' hae='0.0' ce='999999' le='999999'/><detail><TakControl>"
            "<TakRequest version='1'/></TakControl></detail></event>".encode()
        )
        await writer.drain()
        answer = await _read_until_type(rx, "t-x-takp-r")
        assert answer.find("detail/TakControl/TakResponse").get("status") == "true"  # type: ignore[union-attr]
        scene.apply_state(_unit("unit:pdt:4002", 36.31, 120.1))
        message = await _read_frame(rx.reader, "unit:pdt:4002")
        assert message.cotEvent.type == "a-f-G-U-C"
        # It now sends protobuf; the XML client receives the same position as XML.
        pli = pytak.gen_cot(lat=36.2, lon=120.2, uid="ANDROID-PB", cot_type="a-f-G-U-C", callsign="KITE", stale=60)
        writer.write(bytes(takproto.xml2proto(pli, takproto.TAKProtoVer.STREAM)))
        await writer.drain()
        relayed = await _read_until(xml_rx, "ANDROID-PB")
        assert relayed.find("detail/contact").get("callsign") == "KITE"  # type: ignore[union-attr]
        assert scene.get("unit:tak:ANDROID-PB") is not None
        assert tak.counts["clients_protobuf"] == 1
    finally:
        writer.close()
        xml_writer.close()


async def _read_until_type(rx: pytak.RXWorker, cot_type: str, timeout: float = 5.0) -> ET.Element:
    async def loop() -> ET.Element:
        while True:
            raw = await rx.readcot()
            assert raw, "connection closed"
            event = ET.fromstring(raw.strip())
            if event.get("type") == cot_type:
                return event

    return await asyncio.wait_for(loop(), timeout)


async def _read_frame(reader: asyncio.StreamReader, uid: str, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    """Read TAK Protocol stream frames (cut with protobuf's own varint, decoded by takproto) until ``uid``."""

    async def loop():  # type: ignore[no-untyped-def]
        buffer = b""
        while True:
            buffer += await reader.read(65536)
            while buffer[:1] == b"\xbf" and len(buffer) > 2:
                length, body = _DecodeVarint(buffer, 1)
                if len(buffer) < body + length:
                    break
                message = takproto.parse_proto(bytearray(buffer[: body + length]))
                buffer = buffer[body + length :]
                if message is not None and message.cotEvent.uid == uid:
                    return message
            assert buffer[:1] in (b"", b"\xbf"), buffer[:80]

    return await asyncio.wait_for(loop(), timeout)
