"""Fuzz MAVLink: the framer on raw and damaged streams, and the ingest behind it on hostile payloads.

Most random bytes die at the CRC, so the ingest target seals random payloads of the messages the
picture reads (``PICTURE_MESSAGES``) with a correct CRC (pymavlink's own x25): they pass the framer
and reach ``decode``, the fleet's state, the vehicle entity, the alert conditions, and the two
encodings a vehicle leaves the node in (the scene's JSON and the mesh wire).
"""

from __future__ import annotations

import msgspec
from fuzz.draw import Draw
from fuzz.harness import bounded, corpus_module, target
from fuzz.mutate import chunked, cuts, stream
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


def hostile_telemetry(d: Draw) -> bytes:
    """A vehicle heartbeat, then CRC-correct frames of picture messages carrying random payloads."""
    frames = [HEARTBEAT]
    for seq in range(d.int(1, 12)):
        msgid = d.choice(PICTURE_IDS)
        payload = d.bytes(min(255, mavlink_map[msgid].unpacker.size + 4))
        frames.append(sealed(msgid, payload, seq=seq + 1, compid=d.choice((1, 1, 1, 154))))
    return b"".join(frames)


HEARTBEAT = sealed(MAVLINK_MSG_ID_HEARTBEAT, bytes(4) + bytes((2, 3, 0x80, 4, 3)))  # quadrotor, ArduPilot, armed
FRAMER_CORPUS = list(SAMPLES.values())


@target("drones.mavlink_framer", max_len=8192)
def framer(d: Draw) -> None:
    """Raw and damaged streams in chunks: bounded buffer and output, and resync on a valid frame."""
    data, cut_at, forward_unknown = stream(d, FRAMER_CORPUS), cuts(d), d.bool()
    mav = MavFramer(forward_unknown=forward_unknown)
    frames = []
    for chunk in chunked(data, cut_at):
        frames += mav.feed(chunk)
        assert mav.pending < MAX_FRAME
    assert len(frames) <= len(data) // MIN_FRAME
    good = UNSIGNED[0]
    for _ in range(MAX_FRAME // len(good) + 2):  # enough to push out any half-frame the garbage left
        taken = mav.feed(good)
        if taken and taken[-1].raw == good:
            break
    else:
        raise AssertionError("a valid frame after the garbage was not taken (no resync)")


def test_mavlink_framer() -> None:
    bounded(framer)


@target("drones.mavlink_ingest")
def ingest(d: Draw) -> None:
    """Hostile telemetry through decode and the fleet, into the entity, the alerts and both encodings."""
    data, now = hostile_telemetry(d), d.fraction(1e9, 2e9)
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


def test_mavlink_ingest() -> None:
    bounded(ingest)
