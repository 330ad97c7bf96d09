"""Fuzz MAVLink: the framer on raw and damaged streams, and the ingest behind it on hostile payloads.

Most random bytes die at the CRC, so the ingest target seals random payloads of the messages the
picture reads (``PICTURE_MESSAGES``) with a correct CRC (pymavlink's own x25): they pass the framer
and reach ``decode``, the fleet's state, the vehicle entity, the alert conditions, and the two
encodings a vehicle leaves the node in (the scene's JSON and the mesh wire).
"""

from __future__ import annotations

import msgspec
from fuzz.harness import FUZZ, check, corpus_module, rounds
from fuzz.mutate import chunked, cuts, stream
from hypothesis import given
from hypothesis import strategies as st
from pymavlink.dialects.v20.ardupilotmega import MAVLINK_MSG_ID_HEARTBEAT, mavlink_map
from pymavlink.generator.mavcrc import x25crc

from drones import MavFramer, alerts, decode
from drones.config import DronesSection
from drones.tether import TetherLimits
from drones.vehicle import MAX_CHUNKED_TEXTS, PICTURE_MESSAGES, Fleet
from edge.scene import Marker, Shape
from mesh.wire import encode_state

_FRAMER_TESTS = corpus_module("drones/test_framer.py")
SAMPLES: dict[str, bytes] = _FRAMER_TESTS.SAMPLES
UNSIGNED: list[bytes] = _FRAMER_TESTS.UNSIGNED
MAX_FRAME = 280  # MAVLink 2: 10 header + 255 payload + 2 CRC + 13 signature
MIN_FRAME = 8  # MAVLink 1 with an empty payload
PICTURE_IDS = sorted(m for m, cls in mavlink_map.items() if cls.msgname in PICTURE_MESSAGES)
_CFG = DronesSection()
LIMITS = alerts.Thresholds(
    battery_low_pct=_CFG.battery_low_pct,
    battery_critical_pct=_CFG.battery_critical_pct,
    link_lost_after_s=_CFG.link_lost_after_s,
    statustext_clear_s=_CFG.statustext_clear_s,
    tether=TetherLimits(30.0, _CFG.tether_ceiling_margin_m, _CFG.tether_tension_high_n),
)
FENCE = Marker(id="marker:fence", origin="kit", ts=0.0, name="school", shape=Shape.POLYGON, category="geofence",
               points=[(36.0, 119.0), (37.0, 119.0), (37.0, 120.0)])


def sealed(msgid: int, payload: bytes, seq: int = 0, sysid: int = 1, compid: int = 1) -> bytes:
    """A MAVLink 2 frame around any payload, with the CRC pymavlink computes for ``msgid``."""
    head = bytes((0xFD, len(payload), 0, 0, seq, sysid, compid)) + msgid.to_bytes(3, "little")
    crc = x25crc(head[1:] + payload)
    crc.accumulate(bytes((mavlink_map[msgid].crc_extra,)))
    return head + payload + crc.crc.to_bytes(2, "little")


@st.composite
def hostile_telemetry(draw: st.DrawFn) -> bytes:
    """A vehicle heartbeat, then CRC-correct frames of picture messages carrying random payloads."""
    first = sealed(MAVLINK_MSG_ID_HEARTBEAT, bytes(4) + bytes((2, 3, 0x80, 4, 3)))  # quadrotor, ArduPilot, armed
    frames = [first]
    for seq in range(draw(st.integers(1, 12))):
        msgid = draw(st.sampled_from(PICTURE_IDS))
        size = mavlink_map[msgid].unpacker.size
        payload = draw(st.binary(min_size=0, max_size=min(255, size + 4)))
        frames.append(sealed(msgid, payload, seq=seq + 1, compid=draw(st.sampled_from([1, 1, 1, 154]))))
    return b"".join(frames)


@FUZZ
@given(data=stream(list(SAMPLES.values())), cut_at=cuts, forward_unknown=st.booleans())
def _framer_once(data: bytes, cut_at: list[int], forward_unknown: bool) -> None:
    def body() -> None:
        framer = MavFramer(forward_unknown=forward_unknown)
        frames = []
        for chunk in chunked(data, cut_at):
            frames += framer.feed(chunk)
            assert framer.pending < MAX_FRAME
        assert len(frames) <= len(data) // MIN_FRAME
        good = UNSIGNED[0]
        taken = [f for _ in range(MAX_FRAME // len(good) + 2) for f in framer.feed(good)]
        assert taken and taken[-1].raw == good, "a valid frame after the garbage was not taken (no resync)"

    check("drones.mavlink_framer", body)


def test_mavlink_framer() -> None:
    rounds("drones.mavlink_framer", _framer_once)


@FUZZ
@given(data=hostile_telemetry(), now=st.floats(1e9, 2e9))
def _ingest_once(data: bytes, now: float) -> None:
    def body() -> None:
        fleet = Fleet(tethered_sysids=frozenset({1}))
        for frame in MavFramer().feed(data):
            fleet.note_frame(frame.sysid, frame.compid, frame.seq, now)
            msg = decode(frame)
            if msg is not None:
                fleet.apply(msg, frame.sysid, frame.compid, now)
        for state in fleet.vehicles.values():
            vehicle = state.entity("kit", now, link_lost_after_s=5.0, ceiling_m=30.0)
            alerts.conditions(state, LIMITS, [FENCE], now + 1, open_keys=set())
            msgspec.json.encode(vehicle)  # what the page and the API get
            encode_state(vehicle)  # what the mesh gets
            assert len(state.texts) <= alerts.MAX_TEXTS and len(state._chunks) <= MAX_CHUNKED_TEXTS

    check("drones.mavlink_ingest", body)


def test_mavlink_ingest() -> None:
    rounds("drones.mavlink_ingest", _ingest_once)
