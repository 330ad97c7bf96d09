"""End to end: simulated PDT gateway -> pty -> pyserial -> framer -> scene -> API and WebSocket, and back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import pytest
import websockets
from kit import kit_config

from edge.auth import Role
from edge.node import EdgeNode
from edge.radio import Alarm, CallEnd, CallStart, Fix, FixMode, Presence, Text
from edge.radio.binary import EXAMPLE
from edge.radio.binary_description import load as load_framing
from edge.radio.gateway import RadioGateway
from edge.radio.hytera_codec import HyteraCodec
from edge.radio.mototrbo import MotoTrboCodec
from edge.radio.mototrbo_records import Service
from edge.radio.rawlog import replay
from sim import Noise, PdtGatewayEmulator, PollRequest, RadioWorld, Scenario
from sim.mototrbo_radios import MotoTrboRadios
from sim.sides import side_for

QUIET = 1e6  # the world's own traffic is pushed far into the future: the test scripts every event


@dataclass
class Rig:
    node: EdgeNode
    emulator: PdtGatewayEmulator
    pilot: httpx.AsyncClient
    viewer_token: str

    @property
    def radio(self) -> RadioGateway:
        return next(s.component for s in self.node.supervised if isinstance(s.component, RadioGateway))


async def until(check: Callable[[], object], timeout: float = 10.0) -> object:
    """Poll ``check`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.05)


ALL_FRAMINGS = ["hytera", "nmea", "binary"]
TWO_WAY = ["hytera", "binary"]  # framings that carry calls, texts and alarms (NMEA carries positions only)


@pytest.fixture(params=ALL_FRAMINGS)
async def rig(request, tmp_path: Path) -> AsyncIterator[Rig]:
    scenario = Scenario(
        units=3,
        report_interval_s=QUIET,
        alarm_interval_s=QUIET,
        message_interval_s=QUIET,
        call_interval_s=QUIET,
        text_ack_delay_s=0.2,
        framing=request.param,
    )
    world = RadioWorld(scenario, start=time.time())
    roster = tmp_path / "roster.csv"
    roster.write_text(world.roster_csv(), encoding="utf-8")
    binary = load_framing(EXAMPLE) if request.param == "binary" else None
    emulator = PdtGatewayEmulator(
        world, side_for(request.param, binary), tmp_path / "ttyPDT0", clock=time.time, tick_s=0.05, ack_delay_s=0.2
    )
    device = emulator.plug()
    config = kit_config(
        tmp_path,
        radio={
            "enabled": True,
            "framing": request.param,
            "device": str(device),
            "roster": str(roster),
            "text_retry_s": 1.0,
            "binary": msgspec.to_builtins(binary),
            "raw_log": str(tmp_path / "data" / "raw.log"),
        },
    )
    node = EdgeNode(config, extra=[lambda n: emulator])
    task = asyncio.create_task(node.run())
    try:
        await asyncio.wait_for(node.ready.wait(), 10)
        pilot_token = node.tokens.create(Role.PILOT, "调度员 dispatcher")
        viewer_token = node.tokens.create(Role.VIEWER, "viewer")
        async with httpx.AsyncClient(
            base_url=node.api_url, headers={"Authorization": f"Bearer {pilot_token}"}, timeout=10
        ) as pilot:
            rig = Rig(node, emulator, pilot, viewer_token)
            await until(rig.radio.connected.is_set)
            yield rig
    finally:
        node.stop()
        await asyncio.wait_for(task, 10)


def fix(unit: str, lat: float) -> Fix:
    return Fix(
        unit=unit,
        ts=time.time(),
        lat=lat,
        lon=119.16,
        alt_msl_m=31.0,
        speed_mps=1.5,
        course_deg=45.0,
        mode=FixMode.THREE_D,
        satellites=9,
    )


async def get_json(rig: Rig, path: str, **params: object) -> object:
    r = await rig.pilot.get(path, params=params)
    r.raise_for_status()
    return r.json()


@pytest.mark.parametrize("rig", TWO_WAY, indirect=True)
async def test_positions_calls_and_texts_from_radios(rig: Rig) -> None:
    rig.emulator.emit(fix("1001", 36.7012345))

    async def unit() -> dict | None:
        r = await rig.pilot.get("/api/entities/unit:pdt:1001")
        return r.json() if r.status_code == 200 else None

    u = await until(unit)
    assert u["pos"]["lat"] == pytest.approx(36.7012345, abs=1e-5)
    assert (u["name"], u["team"], u["talkgroup"], u["online"]) == ("指挥-01", "指挥", "9001", True)

    rig.emulator.emit(CallStart(caller="1001", talkgroup="9001"))
    await until(lambda: _talking(rig, "unit:pdt:1001"))
    await asyncio.sleep(0.3)
    rig.emulator.emit(CallEnd(caller="1001", talkgroup="9001"))
    calls = await until(lambda: get_json(rig, "/api/events", since=0, kind="call"))
    assert [(c["caller"], c["talkgroup"]) for c in calls] == [("unit:pdt:1001", "9001")]
    assert calls[0]["duration_s"] >= 0.2

    rig.emulator.emit(Text(src="1002", dst="9001", group=True, text="发现被困人员 Trapped person found", msg_id=77))
    messages = await until(lambda: get_json(rig, "/api/messages"))
    assert [(m["sender"], m["to"], m["text"], m["via"]) for m in messages] == [
        ("一中队-01", "talkgroup:pdt:9001", "发现被困人员 Trapped person found", "pdt")
    ]


def _talking(rig: Rig, unit_id: str) -> bool:
    unit = rig.node.scene.get(unit_id)
    return bool(unit is not None and unit.talking)


@pytest.mark.parametrize("rig", TWO_WAY, indirect=True)
async def test_text_to_a_radio_is_delivered_once_and_receipted(rig: Rig) -> None:
    r = await rig.pilot.post("/api/messages", json={"to": "unit:pdt:1002", "text": "撤离到集结区 Evacuate"})
    assert r.status_code == 201
    message_id = r.json()["id"]
    receipts = await until(lambda: get_json(rig, "/api/events", since=0, kind="receipt"))
    assert [(x["message_id"], x["recipient"], x["ok"]) for x in receipts] == [(message_id, "unit:pdt:1002", True)]
    assert [(t.dst, t.text, t.group) for t in rig.emulator.texts_shown] == [("1002", "撤离到集结区 Evacuate", False)]
    messages = await get_json(rig, "/api/messages")
    assert [m["id"] for m in messages] == [message_id], "our own text is not echoed back as a radio text"


@pytest.mark.parametrize("rig", TWO_WAY, indirect=True)
async def test_text_to_an_unknown_radio_fails_after_retries(rig: Rig) -> None:
    r = await rig.pilot.post("/api/messages", json={"to": "unit:pdt:4999", "text": "anyone?"})
    message_id = r.json()["id"]
    receipts = await until(lambda: get_json(rig, "/api/events", since=0, kind="receipt"), timeout=15)
    assert [(x["message_id"], x["ok"], x["attempts"]) for x in receipts] == [(message_id, False, 3)]
    requests = [q for q in rig.emulator.received if getattr(q, "dst", None) == "4999"]
    assert len(requests) == 3 and len({q.msg_id for q in requests}) == 1, "retries carry the same reference"


@pytest.mark.parametrize("rig", TWO_WAY, indirect=True)
async def test_emergency_is_announced_live_and_acknowledged_from_the_api(rig: Rig) -> None:
    ws_url = rig.node.api_url.replace("http://", "ws://") + "api/live"
    async with websockets.connect(ws_url) as ws:
        await ws.send(json.dumps({"token": rig.viewer_token}))
        assert json.loads(await ws.recv())["type"] == "snapshot"
        rig.emulator.emit(fix("1003", 36.69))
        rig.emulator.emit(Alarm(unit="1003"))
        alert = None
        while alert is None:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
            alert = next((d["value"] for d in msg["data"] if d["value"]["kind"] == "alert"), None)
    assert alert["severity"] == "emergency" and alert["entity_id"] == "unit:pdt:1003"
    assert "二中队-01" in alert["title"]
    assert rig.node.scene.get("unit:pdt:1003").emergency
    r = await rig.pilot.post(f"/api/alerts/{alert['id']}/ack")
    assert (r.json()["status"], r.json()["acked_by"]) == ("acknowledged", "调度员 dispatcher")


async def test_line_noise_is_counted_and_traffic_goes_on(rig: Rig) -> None:
    for noise in Noise:
        rig.emulator.inject(noise)
        rig.emulator.emit(fix("1001", 36.70))  # bit-flipped / truncated: lost
    rig.emulator.emit(fix("1002", 36.71))  # clean again
    await until(lambda: rig.node.scene.get("unit:pdt:1002"))
    drops = rig.radio.codec.drops.counts
    assert sum(v for k, v in drops.items() if not k.endswith("_bytes")) >= 2, drops
    assert rig.node.scene.get("unit:pdt:1002").pos.lat == pytest.approx(36.71, abs=1e-5)


async def test_unplug_and_replug_recover_without_a_node_restart(rig: Rig) -> None:
    rig.emulator.unplug()
    supervised = next(s for s in rig.node.supervised if s.name == "radio-pdt")
    await until(lambda: supervised.restarts >= 1)
    rig.emulator.plug()
    await until(rig.radio.connected.is_set, timeout=15)
    rig.emulator.emit(fix("1001", 36.72))
    unit = await until(lambda: rig.node.scene.get("unit:pdt:1001"))
    assert unit.pos.lat == pytest.approx(36.72, abs=1e-5)
    assert "LinkError" in (supervised.last_error or "") or "closed" in (supervised.last_error or "")


def test_scenario_defaults_fly_twenty_radios() -> None:
    assert Scenario().units == 20
    assert msgspec.convert({}, type=Scenario).framing == "hytera"


async def test_location_polling_asks_every_roster_unit(tmp_path: Path) -> None:
    scenario = Scenario(
        units=2, report_interval_s=QUIET, alarm_interval_s=QUIET, message_interval_s=QUIET, call_interval_s=QUIET
    )
    world = RadioWorld(scenario, start=time.time())
    roster = tmp_path / "roster.csv"
    roster.write_text(world.roster_csv(), encoding="utf-8")
    emulator = PdtGatewayEmulator(world, side_for("hytera"), tmp_path / "ttyPDT0", clock=time.time, tick_s=0.05)
    config = kit_config(
        tmp_path,
        radio={
            "enabled": True,
            "framing": "hytera",
            "device": str(emulator.plug()),
            "roster": str(roster),
            "poll_interval_s": 0.5,
        },
    )
    node = EdgeNode(config, extra=[lambda n: emulator])
    task = asyncio.create_task(node.run())
    try:
        await asyncio.wait_for(node.ready.wait(), 10)
        # Nobody reports on their own (QUIET): positions can only come from answered polls.
        await until(lambda: node.scene.get("unit:pdt:1001") and node.scene.get("unit:pdt:1002"))
        polled = {q.unit for q in emulator.received if isinstance(q, PollRequest)}
        assert polled == {"1001", "1002"}
        assert node.scene.get("unit:pdt:1002").pos.lat == pytest.approx(world.by_unit["1002"].lat, abs=1e-3)
    finally:
        node.stop()
        await asyncio.wait_for(task, 10)


@pytest.mark.parametrize("rig", ["hytera"], indirect=True)
async def test_raw_log_replays_to_the_same_events(rig: Rig, tmp_path: Path) -> None:
    """A capture written by the gateway feeds any codec later and gives back what was seen live."""
    log_path = Path(rig.node.config.node.data_dir) / "raw.log"
    assert log_path.exists(), "the rig configures radio.raw_log"
    rig.emulator.emit(fix("1001", 36.7011))
    rig.emulator.emit(Text(src="1002", dst="9001", group=True, text="收到", msg_id=5))
    await until(rig.node.scene.messages)
    live_frames = rig.radio.codec.frames
    codec = HyteraCodec()
    events = [e for t, chunk in replay(log_path) for e in codec.feed(chunk, t)]
    assert codec.frames == live_frames
    assert [type(e).__name__ for e in events] == ["Fix", "Text"]
    assert events[1].text == "收到"


# -- MOTOTRBO: radios are UDP endpoints on loopback addresses, not a serial gateway ----------------------


@dataclass
class TrboRig:
    node: EdgeNode
    radios: MotoTrboRadios
    world: RadioWorld
    pilot: httpx.AsyncClient
    raw_log: Path

    @property
    def radio(self) -> RadioGateway:
        return next(s.component for s in self.node.supervised if isinstance(s.component, RadioGateway))


def free_udp_ports(n: int) -> list[int]:
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@contextlib.asynccontextmanager
async def trbo_rig(tmp_path: Path, *, poll_interval_s: float = 0.0) -> AsyncIterator[TrboRig]:
    """fieldkit on 127.0.0.1 with the three MOTOTRBO ports; radio 1001 lives at 127.0.3.233, and so on."""
    scenario = Scenario(units=3, report_interval_s=QUIET, alarm_interval_s=QUIET, message_interval_s=QUIET,
                        call_interval_s=QUIET)
    world = RadioWorld(scenario, start=time.time())
    roster = tmp_path / "roster.csv"
    roster.write_text(world.roster_csv(), encoding="utf-8")
    ports = dict(zip(Service, free_udp_ports(3), strict=True))
    radios = MotoTrboRadios(world, server="127.0.0.1", ports=ports, clock=time.time, tick_s=0.05, ack_delay_s=0.2)
    await radios.start()
    raw_log = tmp_path / "data" / "raw.log"
    config = kit_config(
        tmp_path,
        radio={
            "enabled": True,
            "system": "trbo",
            "framing": "mototrbo",
            "host": "127.0.0.1",
            "roster": str(roster),
            "text_retry_s": 1.0,
            "poll_interval_s": poll_interval_s,
            "raw_log": str(raw_log),
            "mototrbo": {
                "lrrp_port": ports[Service.LRRP],
                "ars_port": ports[Service.ARS],
                "tms_port": ports[Service.TMS],
                "radio_network": 127,
            },
        },
    )
    node = EdgeNode(config, extra=[lambda n: radios])
    task = asyncio.create_task(node.run())
    try:
        await asyncio.wait_for(node.ready.wait(), 10)
        token = node.tokens.create(Role.PILOT, "调度员 dispatcher")
        async with httpx.AsyncClient(base_url=node.api_url, headers={"Authorization": f"Bearer {token}"},
                                     timeout=10) as pilot:
            rig = TrboRig(node, radios, world, pilot, raw_log)
            await until(rig.radio.connected.is_set)
            yield rig
    finally:
        node.stop()
        await asyncio.wait_for(task, 10)
        radios.close()


async def test_mototrbo_registration_positions_and_texts_both_ways_over_udp(tmp_path: Path) -> None:
    async with trbo_rig(tmp_path) as rig:
        rig.radios.emit(Presence(unit="1001", online=True))
        await until(lambda: rig.radios.registered == ["1001"])  # the ARS answer reached 127.0.3.233
        unit = await until(lambda: rig.node.scene.get("unit:trbo:1001"))
        assert (unit.name, unit.online, unit.pos) == ("指挥-01", True, None)

        rig.radios.emit(fix("1001", 36.7012345))
        unit = await until(lambda: (u := rig.node.scene.get("unit:trbo:1001")) is not None and u.pos and u)
        assert unit.pos.lat == pytest.approx(36.7012345, abs=1e-6) and unit.pos.alt_msl_m == pytest.approx(31.0)
        assert unit.speed_mps == 1.5 and unit.heading_deg == 44.0  # 45 degrees, sent in 2-degree steps

        rig.radios.emit(Text(src="1002", dst="1", text="发现被困人员 Trapped person found"))
        messages = await until(lambda: get_json(rig, "/api/messages"))
        assert [(m["sender"], m["text"], m["via"]) for m in messages] == [
            ("一中队-01", "发现被困人员 Trapped person found", "trbo")
        ]
        await until(lambda: rig.radios.acked_texts == [("1002", 0)])  # the TMS ack went back to the radio

        r = await rig.pilot.post("/api/messages", json={"to": "unit:trbo:1003", "text": "撤离到集结区 Evacuate"})
        assert r.status_code == 201
        receipts = await until(lambda: get_json(rig, "/api/events", since=0, kind="receipt"))
        assert [(x["message_id"], x["recipient"], x["ok"]) for x in receipts] == [
            (r.json()["id"], "unit:trbo:1003", True)
        ]
        assert [(t.dst, t.text, t.group) for t in rig.radios.texts_shown] == [("1003", "撤离到集结区 Evacuate", False)]

        rig.radios.emit(Presence(unit="1001", online=False))
        await until(lambda: not rig.node.scene.get("unit:trbo:1001").online)
        assert rig.radio.codec is not None and not rig.radio.codec.drops.counts

    # Everything received was logged as records: a fresh codec replays it to the same radio events. The
    # text's acknowledgement names a sequence number only the live codec gave out: no Delivery, counted.
    codec = MotoTrboCodec(radio_network=127)
    events = [e for t, chunk in replay(rig.raw_log) for e in codec.feed(chunk, t)]
    assert [type(e).__name__ for e in events] == ["Presence", "Fix", "Text", "Presence"]
    assert events[2] == Text(src="1002", dst="1", text="发现被困人员 Trapped person found")
    assert codec.drops.counts == {"unmatched_ack": 1}


async def test_mototrbo_polls_every_roster_radio_over_lrrp(tmp_path: Path) -> None:
    async with trbo_rig(tmp_path, poll_interval_s=0.5) as rig:
        # Nobody reports on their own (QUIET): positions can only come from answered polls.
        await until(lambda: all(rig.node.scene.get(f"unit:trbo:{u}") for u in ("1001", "1002", "1003")))
        polled = {q.unit for q in rig.radios.received if isinstance(q, PollRequest)}
        assert polled == {"1001", "1002", "1003"}
        for u in ("1001", "1002", "1003"):
            assert rig.node.scene.get(f"unit:trbo:{u}").pos.lat == pytest.approx(rig.world.by_unit[u].lat, abs=1e-3)
