"""Simulated drones for the load process: MAVLink 2 telemetry at 10 Hz each over real UDP.

Per drone and 100 ms tick: GLOBAL_POSITION_INT (its position stamped with the send time, see
``stamp.py``) and ATTITUDE; every 2nd tick VFR_HUD; every 10th HEARTBEAT (an armed ArduCopter in
GUIDED), SYS_STATUS and GPS_RAW_INT: 25 messages/s per drone, the picture-relevant part of an
ArduCopter's default streams. Sends are spread evenly over the tick (drone k at k/N of it), as
independent vehicles would be. The drones share ``links`` UDP sockets (default one: a mesh radio
bridge delivering every drone to the kit on one port); the node's replies are read and dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import time

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from sim.sitl import Encoder

from .stamp import stamp

TICK_S = 0.1
M_PER_DEG = 111_320.0
COPTER_GUIDED = 4


class Drone:
    """One vehicle flying a circle around its own centre, telling the world at 10 Hz."""

    def __init__(self, sysid: int, lat: float, lon: float) -> None:
        self.sysid = sysid
        self.encoder = Encoder(sysid, 1)
        self.lat, self.lon = lat, lon
        self.radius_m = 80.0 + 5 * sysid
        self.tick = 0

    def messages(self, now: float) -> list[bytes]:
        """This tick's datagram payloads (one message each, as a UDP telemetry bridge sends them)."""
        angle = now * 8.0 / self.radius_m + self.sysid
        north, east = self.radius_m * math.cos(angle), self.radius_m * math.sin(angle)
        lat = self.lat + north / M_PER_DEG
        lon = self.lon + east / (M_PER_DEG * math.cos(math.radians(self.lat)))
        boot_ms = int(now * 1000) & 0xFFFFFFFF
        lat_e7, lon_e7 = stamp(lat, lon, time.time())
        out = [
            mavlink.MAVLink_global_position_int_message(boot_ms, lat_e7, lon_e7, 80_000, 50_000, 560, -330, 0, 12_000),
            mavlink.MAVLink_attitude_message(boot_ms, 0.02, -0.01, angle % (2 * math.pi), 0.0, 0.0, 0.1),
        ]
        if self.tick % 2 == 0:
            out.append(mavlink.MAVLink_vfr_hud_message(8.0, 8.0, int(math.degrees(angle)) % 360, 45, 50.0, 0.0))
        if self.tick % 10 == 0:
            out += [
                mavlink.MAVLink_heartbeat_message(
                    mavlink.MAV_TYPE_QUADROTOR, mavlink.MAV_AUTOPILOT_ARDUPILOTMEGA, 0xD9, COPTER_GUIDED, 4, 3
                ),
                mavlink.MAVLink_sys_status_message(0, 0, 0, 300, 15_800, 1_200, 82, 0, 0, 0, 0, 0, 0),
                mavlink.MAVLink_gps_raw_int_message(boot_ms * 1000, 3, lat_e7, lon_e7, 80_000, 90, 120, 800, 0, 14),
            ]
        self.tick += 1
        return [self.encoder.encode(m) for m in out]


async def fly(port: int, count: int, home: tuple[float, float], counts: dict[str, int], *, links: int = 1) -> None:
    """Send ``count`` drones' telemetry to 127.0.0.1:``port`` until cancelled, counting datagrams in ``counts``.

    Each drone has its slot in every 100 ms. When this process falls more than a tick behind (the
    machine is busy), it goes on from now rather than sending the missed slots at once: 50 drones on
    their own links do not burst together, and a burst from the harness would be the harness's
    doing. The times it did so, and the worst lag, are counted (``late_skips``, ``late_ms_max``).
    """
    drones = [Drone(k + 1, home[0] + 0.002 * (k % 10), home[1] + 0.002 * (k // 10)) for k in range(count)]
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(max(1, links))]
    loop = asyncio.get_running_loop()
    for sock in socks:
        sock.setblocking(False)
        sock.connect(("127.0.0.1", port))
        loop.add_reader(sock.fileno(), _discard, sock)
    slot_s = TICK_S / max(1, count)
    due = time.monotonic()
    try:
        for k in range(2**62):  # bounded by cancellation; the count is only a formality
            drone = drones[k % count]
            for payload in drone.messages(time.monotonic()):
                with contextlib.suppress(BlockingIOError, ConnectionRefusedError):
                    socks[drone.sysid % len(socks)].send(payload)
                    counts["datagrams"] = counts.get("datagrams", 0) + 1
            due += slot_s
            now = time.monotonic()
            if now - due > TICK_S:  # this process fell behind: go on from now, not with a burst
                counts["late_skips"] = counts.get("late_skips", 0) + 1
                counts["late_ms_max"] = max(counts.get("late_ms_max", 0), round((now - due) * 1000))
                due = now
            await asyncio.sleep(max(0.0, due - now))
    finally:
        for sock in socks:
            loop.remove_reader(sock.fileno())
            sock.close()


def _discard(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        for _ in range(64):
            sock.recv(65536)
