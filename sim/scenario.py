"""A scenario: what the simulated incident contains, read from TOML (every field has a default).

The flat fields (home point, unit count, intervals) are the original format and still load alone;
``[[teams]]``, ``[[drones]]``, ``[[feeds]]``, ``[[kits]]`` and ``[[timeline]]`` describe an incident
in full. Three incidents ship with fieldkit (``sim/scenarios/*.toml``); ``fieldkit sim --scenario``
takes one of their names or a file.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from edge.config import ConfigError, check

from .scenario_items import DroneSpec, FeedSpec, KitSpec, TimelineEntry
from .teams import Area, Team

DEFAULT_SCENARIO = "city-highrise-fire"


class Scenario(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A simulated incident around a home point (default: Weifang, 36.70 N 119.16 E)."""

    name: str = "Weifang flood response (simulated)"
    location: str = ""  # the place, in words
    time_of_day: Annotated[str, Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "14:00"  # local; night: thermal cameras
    seed: int = 7
    home_lat: Annotated[float, Meta(ge=-90, le=90)] = 36.70
    home_lon: Annotated[float, Meta(ge=-180, le=180)] = 119.16
    radius_m: Annotated[float, Meta(gt=0, le=50_000)] = 1500.0
    units: Annotated[int, Meta(ge=0, le=10_000)] = 20  # without [[teams]]: radios dealt round the talkgroups
    framing: Literal["nmea", "hytera", "binary"] = "hytera"  # what the simulated PDT gateway speaks
    talkgroups: Annotated[tuple[str, ...], Meta(min_length=1)] = (
        "9001 指挥 Command",
        "9002 一中队 Team 1",
        "9003 二中队 Team 2",
    )
    teams: list[Team] = []
    walk_speed_mps: Annotated[float, Meta(ge=0, le=50)] = 1.4
    drive_speed_mps: Annotated[float, Meta(ge=0, le=50)] = 8.0
    report_interval_s: Annotated[float, Meta(gt=0)] = 10.0
    alarm_interval_s: Annotated[float, Meta(ge=0)] = 90.0  # a random unit's emergency this often (0: none)
    alarm_clear_s: Annotated[float, Meta(gt=0)] = 240.0
    message_interval_s: Annotated[float, Meta(gt=0)] = 45.0
    call_interval_s: Annotated[float, Meta(gt=0)] = 20.0
    text_ack_delay_s: Annotated[float, Meta(ge=0)] = 1.5  # how long a radio takes to acknowledge a text
    noise_interval_s: Annotated[float, Meta(ge=0)] = 0.0  # inject line noise this often (0: a clean line)
    # true: the default fleet (two multirotors on patrol and a tethered overwatch); false: none; or [[drones]]
    drones: bool | list[DroneSpec] = True
    gcs_udp_port: Annotated[int, Meta(ge=0, le=65535)] = 14550  # pilots' GCS (udpout:127.0.0.1:PORT); 0: none
    cameras: bool = True  # a sim camera on every drone (thermal on the tethered one), encoded once each
    feeds: list[FeedSpec] = []
    kits: list[KitSpec] = []
    timeline: list[TimelineEntry] = []

    @property
    def night(self) -> bool:
        """Before 06:00 or from 19:00, local time at the incident."""
        hour = int(self.time_of_day.split(":")[0])
        return hour < 6 or hour >= 19

    def fleet(self) -> list[DroneSpec]:
        """The drones to fly: ``[[drones]]``, or with ``drones = true`` two patrols and a tethered overwatch."""
        if isinstance(self.drones, list):
            return self.drones
        if not self.drones:
            return []
        ring = Area(lat=self.home_lat, lon=self.home_lon, radius_m=150.0)
        return [
            DroneSpec(name="uav1", title="UAV 1 camera", patrol=ring, alt_m=30.0),
            DroneSpec(
                name="uav2", title="UAV 2 camera", patrol=msgspec.structs.replace(ring, radius_m=250.0), alt_m=40.0
            ),
            DroneSpec(name="uav3", title="UAV 3 thermal", kind="tethered", alt_m=50.0),
        ]

    def camera(self, drone: DroneSpec) -> str | None:
        """``daylight``, ``thermal`` or None: the camera a drone carries in this scenario."""
        if not self.cameras or drone.camera == "none":
            return None
        if drone.camera == "auto":
            return "thermal" if drone.kind == "tethered" or self.night else "daylight"
        return drone.camera


def shipped() -> dict[str, Path]:
    """The scenarios that ship with fieldkit, by name."""
    folder = resources.files("sim") / "scenarios"
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml")}


def resolve(name_or_path: str | None) -> Path:
    """A shipped scenario's file by name, or the given file; None: the default (city) scenario."""
    if name_or_path is None:
        name_or_path = DEFAULT_SCENARIO
    known = shipped()
    if name_or_path in known:
        return known[name_or_path]
    path = Path(name_or_path)
    if path.is_file() or path.suffix == ".toml" or "/" in name_or_path:
        return path
    raise ConfigError(name_or_path, [f"no such scenario (shipped: {', '.join(sorted(known))}; or give a file)"])


def load_scenario(path: Path | None) -> Scenario:
    """Read a scenario file; ConfigError lists every problem with its key path."""
    if path is None:
        return Scenario()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from exc
    return parse_scenario(data, str(path))


def parse_scenario(data: dict[str, Any], source: str = "<scenario>") -> Scenario:
    """A scenario from parsed TOML; ConfigError lists every problem with its key path."""
    problems = _check_tables(data)
    if not problems:
        from .scenario_check import problems as semantic  # noqa: PLC0415 - it needs Scenario itself

        scenario = msgspec.convert(data, type=Scenario)
        problems = semantic(scenario, given=set(data))
    if problems:
        raise ConfigError(source, problems)
    return scenario


def _check_tables(data: dict[str, Any]) -> list[str]:
    """edge.config.check, with ``drones`` (true/false, or a list of tables) checked element by element."""
    drones = data.get("drones")
    if not isinstance(drones, list):
        return check(data, Scenario)
    problems = check({k: v for k, v in data.items() if k != "drones"}, Scenario)
    for i, element in enumerate(drones):
        problems += check(element, DroneSpec, f"drones[{i}]")
    return sorted(problems, key=_key_order(data))


def _key_order(data: dict[str, Any]) -> Any:
    """Sort problems in the order their top-level keys appear in the file."""
    order = {key: i for i, key in enumerate(data)}
    return lambda problem: order.get(problem.split(".")[0].split("[")[0].split(":")[0], len(order))
