"""The `[drones]` section: who fieldkit is on MAVLink, which links it routes, and the picture's thresholds.

Endpoints are a list of tables (``[[drones.endpoints]]`` in TOML). Message ids in filters may be
numbers or MAVLink names (``"ATTITUDE"``); :func:`problems` checks what msgspec cannot (unique
names, what each kind of endpoint needs, known message names) and reports key paths such as
``drones.endpoints[1].port``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from .dialect import MAVLINK_MSG_ID


def _doc(text: str) -> Meta:
    return Meta(description=text)


SysId = Annotated[int, Meta(ge=1, le=255)]
MsgId = int | str
Rate = Annotated[float, Meta(gt=0.0)]
Pct = Annotated[float, Meta(ge=0.0, le=100.0)]
EndpointKind = Literal["udp-listen", "udp-connect", "tcp-server", "tcp-client", "serial"]


class EndpointConfig(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One MAVLink link the router serves: a vehicle, a ground station, or another router."""

    name: Annotated[
        str, _doc("Endpoint name, unique, used in logs and counters."), Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    ]
    kind: Annotated[
        EndpointKind,
        _doc(
            "`udp-listen`: bind host:port and answer every peer that speaks (each peer is its own route); "
            "`udp-connect`: send to host:port; `tcp-server`: accept clients on host:port; `tcp-client`: "
            "connect to host:port; `serial`: a serial device."
        ),
    ]
    host: Annotated[str, _doc("Listen kinds: local address to bind. Connect kinds: the peer's address.")] = "127.0.0.1"
    port: Annotated[
        int, _doc("Listen kinds: local port (0 picks one). Connect kinds: the peer's port."), Meta(ge=0, le=65535)
    ] = 14550
    device: Annotated[str, _doc("Serial: the device (e.g. /dev/ttyACM0).")] = ""
    baud: Annotated[int, _doc("Serial: speed in bit/s."), Meta(ge=300, le=12_000_000)] = 57600
    allow_msgids_out: Annotated[
        list[MsgId] | None, _doc("Only these message ids or names are sent to this endpoint (unset: all).")
    ] = None
    block_msgids_out: Annotated[list[MsgId], _doc("Message ids or names never sent to this endpoint.")] = []
    allow_sysids_out: Annotated[
        list[SysId] | None, _doc("Only messages from these system ids are sent to this endpoint (unset: all).")
    ] = None
    block_sysids_out: Annotated[list[SysId], _doc("Messages from these system ids are never sent here.")] = []
    allow_msgids_in: Annotated[
        list[MsgId] | None, _doc("Only these message ids or names are accepted from this endpoint (unset: all).")
    ] = None
    block_msgids_in: Annotated[list[MsgId], _doc("Message ids or names dropped when they come from here.")] = []
    allow_sysids_in: Annotated[
        list[SysId] | None, _doc("Only messages from these system ids are accepted from here (unset: all).")
    ] = None
    block_sysids_in: Annotated[
        list[SysId], _doc("Messages from these system ids are dropped when they come from here.")
    ] = []
    rate_bytes_per_s: Annotated[
        Rate | None, _doc("Narrow link: at most this many bytes/s go out (per peer); commands always pass.")
    ] = None
    rate_msgs_per_s: Annotated[
        Rate | None, _doc("Narrow link: at most this many messages/s go out (per peer); commands always pass.")
    ] = None
    rate_burst_s: Annotated[float, _doc("Rate limit bucket size, in seconds of the rate."), Meta(gt=0, le=60)] = 1.0
    peer_timeout_s: Annotated[
        float, _doc("udp-listen: a peer not heard for this long is forgotten."), Meta(gt=0, le=86400)
    ] = 30.0


class DronesSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """MAVLink router, vehicles in the picture, commands, tethered drones and .tlog recording."""

    enabled: Annotated[bool, _doc("Run the MAVLink router and put drones into the picture.")] = False
    sysid: Annotated[SysId, _doc("fieldkit's own MAVLink system id (not 255, the usual ground station).")] = 250
    compid: Annotated[
        int, _doc("fieldkit's own component id (190: a ground-station companion)."), Meta(ge=1, le=255)
    ] = 190
    heartbeat_interval_s: Annotated[float, _doc("fieldkit sends its own HEARTBEAT this often."), Meta(gt=0, le=60)] = (
        1.0
    )
    endpoints: Annotated[list[EndpointConfig], _doc("The links to route between (`[[drones.endpoints]]`).")] = []
    route_timeout_s: Annotated[
        float, _doc("A system not heard on an endpoint for this long is no longer routed there."), Meta(gt=0)
    ] = 10.0
    dedup_window_s: Annotated[
        float, _doc("A frame seen again within this time (a redundant link) is dropped; 0: off."), Meta(ge=0, le=10)
    ] = 0.5
    reconnect_min_s: Annotated[float, _doc("First wait before reopening a failed link."), Meta(gt=0, le=60)] = 0.5
    reconnect_max_s: Annotated[
        float, _doc("Longest wait between attempts to reopen a failed link (doubling, with jitter)."), Meta(gt=0)
    ] = 30.0
    publish_rate_hz: Annotated[
        float,
        _doc("Vehicles are published to the picture at most this often (not at message rate)."),
        Meta(gt=0, le=50),
    ] = 2.0
    link_lost_after_s: Annotated[
        float, _doc("A vehicle not heard for this long is shown with its link lost, and alerted."), Meta(gt=0)
    ] = 5.0
    command_timeout_s: Annotated[
        float, _doc("Wait this long for COMMAND_ACK before sending a command again."), Meta(gt=0, le=60)
    ] = 1.5
    command_retries: Annotated[
        int, _doc("Re-sends of an unanswered command (confirmation counted up) before `timeout`."), Meta(ge=0, le=10)
    ] = 3
    battery_low_pct: Annotated[Pct, _doc("Battery low alert at or below this charge.")] = 30.0
    battery_critical_pct: Annotated[Pct, _doc("Battery critical alert at or below this charge.")] = 15.0
    statustext_clear_s: Annotated[
        float,
        _doc("A STATUSTEXT alert (severity warning or worse) clears when not repeated for this long."),
        Meta(gt=0),
    ] = 60.0
    tethered_sysids: Annotated[list[SysId], _doc("System ids of tethered vehicles.")] = []
    tether_max_length_m: Annotated[
        float, _doc("Tether length: the tethered vehicle's ceiling above its home."), Meta(gt=0, le=10_000)
    ] = 100.0
    tether_ceiling_margin_m: Annotated[
        float, _doc("Alert when a tethered vehicle climbs within this distance of its ceiling."), Meta(ge=0)
    ] = 5.0
    tether_tension_high_n: Annotated[float, _doc("Tether tension alert at or above this (newtons)."), Meta(gt=0)] = (
        150.0
    )
    tlog_dir: Annotated[
        str, _doc("Record each vehicle's traffic per session as a .tlog in this folder; empty: off.")
    ] = ""


def msgid_of(value: MsgId) -> int:
    """A message id from a number or a MAVLink message name; ValueError if unknown."""
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFFFF:
            raise ValueError(f"message id {value} is out of range")
        return value
    msgid = MAVLINK_MSG_ID.get(value.upper())
    if msgid is None:
        raise ValueError(f"unknown MAVLink message {value!r}")
    return msgid


_NEEDS_PORT = ("udp-connect", "tcp-client")
_MSGID_FIELDS = ("allow_msgids_out", "block_msgids_out", "allow_msgids_in", "block_msgids_in")


def problems(section: DronesSection, path: str = "drones") -> list[str]:
    """What msgspec cannot see in a well-typed section, each with its key path."""
    found: list[str] = []
    seen: dict[str, int] = {}
    for i, ep in enumerate(section.endpoints):
        where = f"{path}.endpoints[{i}]"
        if ep.name in seen:
            found.append(f"{where}.name: {ep.name!r} is already endpoint {seen[ep.name]}")
        seen.setdefault(ep.name, i)
        if ep.kind in _NEEDS_PORT and ep.port == 0:
            found.append(f"{where}.port: a {ep.kind} endpoint needs the peer's port")
        if ep.kind == "serial" and not ep.device:
            found.append(f"{where}.device: a serial endpoint needs a device")
        for name in _MSGID_FIELDS:
            for value in getattr(ep, name) or ():
                try:
                    msgid_of(value)
                except ValueError as exc:
                    found.append(f"{where}.{name}: {exc}")
    if section.battery_critical_pct > section.battery_low_pct:
        found.append(f"{path}.battery_critical_pct: must not be above battery_low_pct")
    if section.reconnect_max_s < section.reconnect_min_s:
        found.append(f"{path}.reconnect_max_s: must not be below reconnect_min_s")
    return found
