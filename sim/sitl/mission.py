"""Mission storage and the MAVLink mission protocol (https://mavlink.io/en/services/mission.html).

Three lists, one per MAV_MISSION_TYPE (mission, fence, rally). In the mission list, item 0 is home,
as ArduPilot stores it: a download always starts with the current home, and an uploaded item 0 is
accepted but not used. Uploads are answered with MISSION_REQUEST, as ArduPilot does, and accept
either MISSION_ITEM (float, what dronekit sends) or MISSION_ITEM_INT; downloads answer
MISSION_REQUEST with MISSION_ITEM and MISSION_REQUEST_INT with MISSION_ITEM_INT.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import ardupilotmega as mavlink

log = logging.getLogger(__name__)

Msg = Any

MAX_ITEMS = 724  # ArduPilot's mission capacity on a 2 MB-flash board
_RETRY_S = 1.5
_MAX_RETRIES = 20

# MISSION_ITEM_INT frames name the same altitude references as their float twins.
_INT_FRAMES = {
    mavlink.MAV_FRAME_GLOBAL_INT: mavlink.MAV_FRAME_GLOBAL,
    mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT: mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT,
    mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT_INT: mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT,
}
_GLOBAL_FRAMES = {mavlink.MAV_FRAME_GLOBAL, mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT, mavlink.MAV_FRAME_GLOBAL_TERRAIN_ALT}


@dataclass(frozen=True, slots=True)
class MissionItem:
    """One stored item; ``x``/``y`` are latitude/longitude in degrees for global frames."""

    command: int
    frame: int = mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT
    param1: float = 0.0
    param2: float = 0.0
    param3: float = 0.0
    param4: float = 0.0
    x: float = 0.0
    y: float = 0.0
    z: float = 0.0
    autocontinue: int = 1

    @classmethod
    def from_message(cls, msg: Msg) -> MissionItem:
        """From MISSION_ITEM or MISSION_ITEM_INT (INT frames folded into their float twins)."""
        frame = _INT_FRAMES.get(msg.frame, msg.frame)
        x, y = float(msg.x), float(msg.y)
        if msg.get_type() == "MISSION_ITEM_INT" and frame in _GLOBAL_FRAMES:
            x, y = x / 1e7, y / 1e7
        return cls(
            int(msg.command), int(frame), float(msg.param1), float(msg.param2), float(msg.param3),
            float(msg.param4), x, y, float(msg.z), int(msg.autocontinue),
        )  # fmt: skip

    def to_message(self, seq: int, target: tuple[int, int], mission_type: int, as_int: bool) -> Msg:
        """MISSION_ITEM_INT (``as_int``) or MISSION_ITEM for a GCS."""
        params = (self.param1, self.param2, self.param3, self.param4)
        if as_int:
            scale = 1e7 if self.frame in _GLOBAL_FRAMES else 1.0
            x, y = round(self.x * scale), round(self.y * scale)
            return mavlink.MAVLink_mission_item_int_message(
                *target, seq, self.frame, self.command, 0, self.autocontinue, *params, x, y, self.z, mission_type
            )
        return mavlink.MAVLink_mission_item_message(
            *target, seq, self.frame, self.command, 0, self.autocontinue, *params, self.x, self.y, self.z, mission_type
        )


class MissionStore:
    """The stored lists; the mission list's item 0 comes from ``home``."""

    def __init__(self, home: Callable[[], MissionItem]) -> None:
        self._home = home
        self._lists: dict[int, list[MissionItem]] = {
            mavlink.MAV_MISSION_TYPE_MISSION: [],
            mavlink.MAV_MISSION_TYPE_FENCE: [],
            mavlink.MAV_MISSION_TYPE_RALLY: [],
        }

    def items(self, mission_type: int = mavlink.MAV_MISSION_TYPE_MISSION) -> list[MissionItem]:
        """Stored items (for the mission: without home, so index i is wire seq i + 1)."""
        return list(self._lists[mission_type])

    def wire_count(self, mission_type: int) -> int:
        """The count a MISSION_COUNT carries (home included for the mission)."""
        extra = 1 if mission_type == mavlink.MAV_MISSION_TYPE_MISSION else 0
        return len(self._lists[mission_type]) + extra

    def wire_item(self, mission_type: int, seq: int) -> MissionItem:
        """Item by wire seq; IndexError when out of range."""
        if mission_type == mavlink.MAV_MISSION_TYPE_MISSION:
            if seq == 0:
                return self._home()
            seq -= 1
        if not 0 <= seq < len(self._lists[mission_type]):
            raise IndexError(seq)
        return self._lists[mission_type][seq]

    def replace(self, mission_type: int, wire_items: list[MissionItem]) -> None:
        """Store a complete upload (wire order; the mission's item 0 is dropped: home is the vehicle's)."""
        start = 1 if mission_type == mavlink.MAV_MISSION_TYPE_MISSION else 0
        self._lists[mission_type] = list(wire_items[start:])


@dataclass(slots=True)
class _Upload:
    gcs: tuple[int, int]
    mission_type: int
    count: int
    received: list[MissionItem]
    requested_at: float
    retries: int = 0


def _ack(target: tuple[int, int], result: int, mission_type: int) -> Msg:
    return mavlink.MAVLink_mission_ack_message(*target, result, mission_type)


class MissionProtocol:
    """Upload and download of the three lists; ``on_stored(mission_type)`` runs after an upload or clear."""

    def __init__(self, store: MissionStore, on_stored: Callable[[int], list[Msg]]) -> None:
        self.store = store
        self._on_stored = on_stored
        self._upload: _Upload | None = None

    @property
    def uploading(self) -> bool:
        """An upload is in progress."""
        return self._upload is not None

    def handle(self, msg: Msg, now: float) -> list[Msg]:
        """Answer one mission-protocol message (others are ignored)."""
        kind = msg.get_type()
        source = (msg.get_srcSystem(), msg.get_srcComponent())
        mission_type = int(getattr(msg, "mission_type", 0) or 0)
        if mission_type not in (0, 1, 2) and kind != "MISSION_ACK":
            return [_ack(source, mavlink.MAV_MISSION_UNSUPPORTED, mission_type)]
        if kind == "MISSION_REQUEST_LIST":
            return [mavlink.MAVLink_mission_count_message(*source, self.store.wire_count(mission_type), mission_type)]
        if kind in ("MISSION_REQUEST", "MISSION_REQUEST_INT"):
            return self._send_item(source, mission_type, int(msg.seq), kind == "MISSION_REQUEST_INT")
        if kind == "MISSION_COUNT":
            return self._start_upload(source, mission_type, int(msg.count), now)
        if kind in ("MISSION_ITEM", "MISSION_ITEM_INT"):
            return self._receive_item(source, msg, now)
        if kind == "MISSION_CLEAR_ALL":
            self._upload = None
            self.store.replace(mission_type, [])
            return [_ack(source, mavlink.MAV_MISSION_ACCEPTED, mission_type), *self._on_stored(mission_type)]
        return []

    def step(self, now: float) -> list[Msg]:
        """Re-request a missing item, or give up on a GCS that went quiet."""
        up = self._upload
        if up is None or now - up.requested_at < _RETRY_S:
            return []
        if up.retries >= _MAX_RETRIES:
            log.warning("mission upload from %s timed out at item %d/%d", up.gcs, len(up.received), up.count)
            self._upload = None
            return [_ack(up.gcs, mavlink.MAV_MISSION_OPERATION_CANCELLED, up.mission_type)]
        up.retries += 1
        return [self._request(up, now)]

    def _send_item(self, target: tuple[int, int], mission_type: int, seq: int, as_int: bool) -> list[Msg]:
        try:
            item = self.store.wire_item(mission_type, seq)
        except IndexError:
            return [_ack(target, mavlink.MAV_MISSION_INVALID_SEQUENCE, mission_type)]
        return [item.to_message(seq, target, mission_type, as_int)]

    def _start_upload(self, gcs: tuple[int, int], mission_type: int, count: int, now: float) -> list[Msg]:
        if count > MAX_ITEMS:
            return [_ack(gcs, mavlink.MAV_MISSION_NO_SPACE, mission_type)]
        if count == 0:
            self._upload = None
            self.store.replace(mission_type, [])
            return [_ack(gcs, mavlink.MAV_MISSION_ACCEPTED, mission_type), *self._on_stored(mission_type)]
        self._upload = _Upload(gcs, mission_type, count, [], now)
        return [self._request(self._upload, now)]

    def _receive_item(self, gcs: tuple[int, int], msg: Msg, now: float) -> list[Msg]:
        up = self._upload
        if up is None or up.gcs != gcs or up.mission_type != int(msg.mission_type):
            log.debug("%s seq %d outside an upload, ignored", msg.get_type(), msg.seq)
            return []
        if msg.seq != len(up.received):
            # a duplicate or an item from the future: ask again for the one we need
            return [self._request(up, now)] if msg.seq > len(up.received) else []
        up.received.append(MissionItem.from_message(msg))
        up.retries = 0
        if len(up.received) < up.count:
            return [self._request(up, now)]
        self._upload = None
        self.store.replace(up.mission_type, up.received)
        return [_ack(gcs, mavlink.MAV_MISSION_ACCEPTED, up.mission_type), *self._on_stored(up.mission_type)]

    @staticmethod
    def _request(up: _Upload, now: float) -> Msg:
        up.requested_at = now
        return mavlink.MAVLink_mission_request_message(*up.gcs, len(up.received), up.mission_type)
