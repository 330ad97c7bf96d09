"""Local flat-earth geometry around the incident: metres north/east to WGS-84 degrees and back.

The equirectangular approximation is good to centimetres over the few kilometres a multirotor flies
from its home, which is all the flight model needs.
"""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_378_137.0  # WGS-84 semi-major axis


def offset(lat_deg: float, lon_deg: float, north_m: float, east_m: float) -> tuple[float, float]:
    """The point ``north_m`` / ``east_m`` metres from (lat, lon)."""
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat_deg))))
    return lat_deg + dlat, lon_deg + dlon


def north_east(lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[float, float]:
    """Metres north and east from point 1 to point 2."""
    north = math.radians(lat2 - lat1) * EARTH_RADIUS_M
    east = math.radians(lon2 - lon1) * EARTH_RADIUS_M * math.cos(math.radians((lat1 + lat2) / 2))
    return north, east


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Horizontal distance in metres."""
    return math.hypot(*north_east(lat1, lon1, lat2, lon2))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Bearing from point 1 to point 2, degrees clockwise from north in [0, 360)."""
    north, east = north_east(lat1, lon1, lat2, lon2)
    return math.degrees(math.atan2(east, north)) % 360.0


def wrap_180(angle_deg: float) -> float:
    """An angle folded into [-180, 180)."""
    return (angle_deg + 180.0) % 360.0 - 180.0
