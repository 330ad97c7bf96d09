"""A scenario: what the simulated incident contains, read from TOML (every field has a default)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from edge.config import ConfigError, check


class Scenario(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A simulated incident around a home point (default: Weifang, 36.70 N 119.16 E)."""

    name: str = "Weifang flood response (simulated)"
    seed: int = 7
    home_lat: Annotated[float, Meta(ge=-90, le=90)] = 36.70
    home_lon: Annotated[float, Meta(ge=-180, le=180)] = 119.16
    radius_m: Annotated[float, Meta(gt=0, le=50_000)] = 1500.0
    units: Annotated[int, Meta(ge=0, le=10_000)] = 20
    framing: Literal["nmea", "hytera", "binary"] = "hytera"  # what the simulated PDT gateway speaks
    talkgroups: Annotated[tuple[str, ...], Meta(min_length=1)] = (
        "9001 指挥 Command",
        "9002 一中队 Team 1",
        "9003 二中队 Team 2",
    )
    walk_speed_mps: Annotated[float, Meta(ge=0, le=50)] = 1.4
    drive_speed_mps: Annotated[float, Meta(ge=0, le=50)] = 8.0
    report_interval_s: Annotated[float, Meta(gt=0)] = 10.0
    alarm_interval_s: Annotated[float, Meta(gt=0)] = 90.0
    alarm_clear_s: Annotated[float, Meta(gt=0)] = 240.0
    message_interval_s: Annotated[float, Meta(gt=0)] = 45.0
    call_interval_s: Annotated[float, Meta(gt=0)] = 20.0
    text_ack_delay_s: Annotated[float, Meta(ge=0)] = 1.5  # how long a radio takes to acknowledge a text
    noise_interval_s: Annotated[float, Meta(ge=0)] = 0.0  # inject line noise this often (0: a clean line)
    drones: bool = True  # fly the SITL fleet: two multirotors on patrol and a tethered overwatch
    gcs_udp_port: Annotated[int, Meta(ge=0, le=65535)] = 14550  # pilots' GCS (udpout:127.0.0.1:PORT); 0: none
    cameras: bool = True  # a sim camera on every drone (thermal on the tethered one), encoded once each


def load_scenario(path: Path | None) -> Scenario:
    """Read a scenario file; ConfigError lists every problem with its key path."""
    if path is None:
        return Scenario()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(str(path), [f"cannot read: {exc}"]) from exc
    problems = check(data, Scenario)
    if problems:
        raise ConfigError(str(path), problems)
    return msgspec.convert(data, type=Scenario)
