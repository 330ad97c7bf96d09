"""The tables of a scenario file besides teams: ``[[drones]]``, ``[[feeds]]``, ``[[kits]]``, ``[[timeline]]``."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct

from .teams import Area, Lat, Lon, Point

Ident = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,32}$")]  # also a feed name, so the same rule
Title = Annotated[str, Meta(max_length=64)]
Seconds = Annotated[float, Meta(gt=0, le=86_400)]


class DroneSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One simulated ArduCopter: a multirotor flying waypoints or a patrol ring, or a tethered drone hovering."""

    name: Ident  # its camera feed has this name too
    title: Title = ""
    kind: Literal["multirotor", "tethered"] = "multirotor"
    sysid: Annotated[int, Meta(ge=1, le=250)] | None = None  # default: 1, 2, 3, ... in order
    home: Point | None = None  # where it takes off (a tethered drone: its ground station); default: near the incident
    alt_m: Annotated[float, Meta(gt=0, le=500)] = 40.0  # above home (a tethered drone: capped by its line)
    mission: list[Point] = []  # multirotor: waypoints flown in a loop
    patrol: Area | None = None  # multirotor: or a ring round this circle (default: round the incident)
    tether_length_m: Annotated[float, Meta(ge=10, le=500)] = 100.0
    camera: Literal["auto", "daylight", "thermal", "none"] = "auto"  # auto: thermal on tethered drones and at night


class FeedSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A fixed simulated camera (on a mast, a building, a vehicle parked at the scene)."""

    name: Ident
    title: Title = ""
    lat: Lat
    lon: Lon
    heading_deg: Annotated[float, Meta(ge=0, lt=360)] = 0.0
    fov_deg: Annotated[float, Meta(gt=0, le=180)] = 70.0
    range_m: Annotated[float, Meta(gt=0)] = 300.0
    thermal: bool = False


class KitSpec(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A field kit at the scene and the kits it has a link to (played once fieldkit runs several nodes)."""

    id: Ident
    name: Title = ""
    role: Literal["edge", "command-post"] = "edge"
    lat: Lat
    lon: Lon
    links: list[Ident] = []  # ids of the kits this one reaches directly (mesh radio, LTE)


EventKind = Literal[
    "emergency",  # a unit presses its emergency button
    "message",  # a unit texts its talkgroup
    "gps_loss",  # a drone's GPS loses its fix (for duration_s)
    "battery_failsafe",  # a drone's battery drops below the low (or critical) voltage
    "tether_power_loss",  # a tethered drone's ground power fails (for duration_s)
    "gateway_unplug",  # the radio gateway's cable is pulled (for duration_s)
    "camera_stall",  # a feed's camera stops producing frames (for duration_s)
    "link_cut",  # the link between two kits goes down (for duration_s)
]
NEEDS = {  # which fields each kind of event needs
    "emergency": ("unit",),
    "message": ("unit", "text"),
    "gps_loss": ("drone", "duration_s"),
    "battery_failsafe": ("drone",),
    "tether_power_loss": ("drone", "duration_s"),
    "gateway_unplug": ("duration_s",),
    "camera_stall": ("feed", "duration_s"),
    "link_cut": ("kits", "duration_s"),
}


class TimelineEntry(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Something that happens ``at_s`` seconds of simulated time into the incident."""

    at_s: Annotated[float, Meta(ge=0, le=7 * 86_400)]
    event: EventKind
    unit: str = ""  # a unit's alias or radio id
    drone: str = ""  # a drone's name
    feed: str = ""  # a feed's name
    kits: list[Ident] = []  # the two kits at either end of a link
    duration_s: Seconds | None = None  # how long the fault lasts (emergency: until the radio cancels it)
    critical: bool = False  # battery_failsafe: the critical level (LAND) rather than low (RTL)
    text: Annotated[str, Meta(max_length=200)] = ""  # message
    note: Annotated[str, Meta(max_length=200)] = ""  # what the scenario's author means by it (logged when it fires)
