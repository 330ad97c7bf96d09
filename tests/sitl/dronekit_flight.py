"""A pilot's dronekit 2.9.2 script, run in its own process against the SITL by test_dronekit.py.

Prints one ``STEP <name> <json>`` line per completed step on stdout and exits 0 when every step
passed (1 with a ``FAIL`` line otherwise). Every wait is bounded.
"""

from __future__ import annotations

import argparse
import collections
import collections.abc
import json
import math
import sys
import time

# dronekit 2.9.2 predates Python 3.10, which removed the ABC aliases from ``collections``.
collections.MutableMapping = collections.abc.MutableMapping  # type: ignore[attr-defined]

import dronekit  # noqa: E402
from pymavlink import mavutil  # noqa: E402

TAKEOFF_ALT_M = 20.0


def step(name: str, **data: object) -> None:
    print(f"STEP {name} {json.dumps(data)}", flush=True)


def wait(what: str, condition, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


def metres_between(a, b) -> float:
    north = math.radians(b.lat - a.lat) * 6378137.0
    east = math.radians(b.lon - a.lon) * 6378137.0 * math.cos(math.radians(a.lat))
    return math.hypot(north, east)


def offset(loc, north_m: float, east_m: float, alt: float) -> dronekit.LocationGlobalRelative:
    lat = loc.lat + math.degrees(north_m / 6378137.0)
    lon = loc.lon + math.degrees(east_m / (6378137.0 * math.cos(math.radians(loc.lat))))
    return dronekit.LocationGlobalRelative(lat, lon, alt)


def connect_and_check(connection: str, scale: float) -> dronekit.Vehicle:
    started = time.monotonic()
    vehicle = dronekit.connect(connection, wait_ready=True, timeout=60, heartbeat_timeout=30)
    step("connected", seconds=round(time.monotonic() - started, 2), params=len(vehicle.parameters))
    wait("AUTOPILOT_VERSION", lambda: vehicle._capabilities is not None, 30 * scale)
    caps = vehicle.capabilities
    step(
        "capabilities",
        version=str(vehicle.version),
        mission_int=bool(caps.mission_int),
        command_int=bool(caps.command_int),
        ftp=bool(caps.ftp),
        mavlink2=bool(vehicle._capabilities & mavutil.mavlink.MAV_PROTOCOL_CAPABILITY_MAVLINK2),
        set_position_target_global_int=bool(caps.set_altitude_target_global_int),  # dronekit's name for bit 8
        wpnav_speed=vehicle.parameters["WPNAV_SPEED"],
        sysid=vehicle.parameters["SYSID_THISMAV"],
    )
    return vehicle


def mission_round_trip(vehicle: dronekit.Vehicle, scale: float) -> None:
    cmds = vehicle.commands
    cmds.download()
    cmds.wait_ready(timeout=30 * scale)
    home = vehicle.home_location
    step("home", lat=home.lat, lon=home.lon, alt=home.alt)
    cmds.clear()
    frame = mavutil.mavlink.MAV_FRAME_GLOBAL_RELATIVE_ALT
    plan = [(mavutil.mavlink.MAV_CMD_NAV_TAKEOFF, 0.0, 0.0, 15.0)]
    for k, (north, east) in enumerate(((60, 0), (60, 60), (0, 60)), start=1):
        target = offset(home, north, east, 15.0 + 5 * k)
        plan.append((mavutil.mavlink.MAV_CMD_NAV_WAYPOINT, target.lat, target.lon, target.alt))
    plan.append((mavutil.mavlink.MAV_CMD_NAV_RETURN_TO_LAUNCH, 0.0, 0.0, 0.0))
    for command, lat, lon, alt in plan:
        cmds.add(dronekit.Command(0, 0, 0, frame, command, 0, 0, 0, 0, 0, 0, lat, lon, alt))
    cmds.upload(timeout=30 * scale)
    step("uploaded", count=len(plan))
    cmds.download()
    cmds.wait_ready(timeout=30 * scale)
    got = [(c.command, c.x, c.y, c.z) for c in cmds]
    step("downloaded", sent=plan, got=got)
    if len(got) != len(plan):
        raise AssertionError(f"downloaded {len(got)} items, uploaded {len(plan)}")
    for (c1, lat1, lon1, alt1), (c2, lat2, lon2, alt2) in zip(plan, got, strict=True):
        # MISSION_ITEM carries float32 degrees: about 4e-6 deg (0.4 m) of resolution here
        if c1 != c2 or abs(lat1 - lat2) > 1e-5 or abs(lon1 - lon2) > 1e-5 or abs(alt1 - alt2) > 1e-3:
            raise AssertionError(f"item differs: sent {(c1, lat1, lon1, alt1)}, got {(c2, lat2, lon2, alt2)}")


def fly(vehicle: dronekit.Vehicle, scale: float) -> None:
    wait("armable", lambda: vehicle.is_armable, 60 * scale)
    vehicle.mode = dronekit.VehicleMode("GUIDED")
    wait("GUIDED", lambda: vehicle.mode.name == "GUIDED", 10 * scale)
    vehicle.armed = True
    wait("armed", lambda: vehicle.armed, 10 * scale)
    step("armed", mode=vehicle.mode.name)
    vehicle.simple_takeoff(TAKEOFF_ALT_M)
    wait("takeoff altitude", lambda: vehicle.location.global_relative_frame.alt >= TAKEOFF_ALT_M - 1, 60 * scale)
    step("took_off", alt=vehicle.location.global_relative_frame.alt)

    home = vehicle.home_location
    target = offset(home, 80.0, 40.0, TAKEOFF_ALT_M)
    vehicle.simple_goto(target)
    wait("goto target", lambda: metres_between(vehicle.location.global_frame, target) < 3.0, 90 * scale)
    here = vehicle.location.global_relative_frame
    step("arrived", distance_m=metres_between(here, target), alt=here.alt, heading=vehicle.heading)

    vehicle.mode = dronekit.VehicleMode("RTL")
    wait("RTL", lambda: vehicle.mode.name == "RTL", 10 * scale)
    wait("landed and disarmed", lambda: not vehicle.armed, 180 * scale)
    here = vehicle.location.global_relative_frame
    step("landed", home_distance_m=metres_between(here, home), alt=here.alt, mode=vehicle.mode.name)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("connection")
    parser.add_argument("--speedup", type=float, default=1.0, help="the SITL's speed-up (scales waits)")
    parser.add_argument("--no-flight", action="store_true", help="connect and mission round trip only")
    args = parser.parse_args()
    scale = max(0.25, 1.0 / args.speedup) * 2  # wall-clock allowance: twice the simulated need
    vehicle = None
    try:
        vehicle = connect_and_check(args.connection, scale)
        mission_round_trip(vehicle, scale)
        if not args.no_flight:
            fly(vehicle, scale)
        step("done")
        return 0
    except Exception as exc:
        print(f"FAIL {type(exc).__name__}: {exc}", flush=True)
        return 1
    finally:
        if vehicle is not None:
            vehicle.close()


if __name__ == "__main__":
    sys.exit(main())
