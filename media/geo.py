"""Where a point of the picture is on the ground: flat-ground projection from the camera's pose.

A pinhole camera at ``alt_agl_m`` above flat ground, looking along ``heading_deg`` (true, clockwise
from north) and ``pitch_deg`` (0 at the horizon, -90 straight down), with horizontal and vertical
fields of view. A pixel becomes a ray; the ray meets the ground plane at a local east/north offset,
turned into latitude/longitude on a sphere (accurate to well under a metre within a few km, which is
far better than a drone's compass heading). Terrain and lens distortion are ignored, so an oblique
view far from nadir is only as good as the flat-ground assumption. Rays at or above the horizon, or
meeting the ground beyond ``max_range_m``, give None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class CameraPose:
    """Where a feed's camera is and where it looks."""

    lat: float
    lon: float
    alt_agl_m: float  # height above the ground it looks at
    heading_deg: float  # true bearing of the optical axis (the top of a nadir picture)
    pitch_deg: float = -90.0  # -90 nadir, 0 horizon
    hfov_deg: float = 70.0
    vfov_deg: float | None = None  # None: from hfov and the picture's aspect ratio


def image_to_ground(
    x: float, y: float, width: int, height: int, pose: CameraPose, *, max_range_m: float = 5000.0
) -> tuple[float, float] | None:
    """(lat, lon) of pixel ``(x, y)`` of a ``width`` x ``height`` picture, or None (sky, too far)."""
    if pose.alt_agl_m <= 0:
        return None
    tan_h = math.tan(math.radians(pose.hfov_deg) / 2)
    tan_v = math.tan(math.radians(pose.vfov_deg) / 2) if pose.vfov_deg else tan_h * height / width
    u = (2 * x / width - 1) * tan_h  # right of the axis
    v = (1 - 2 * y / height) * tan_v  # above the axis
    psi, theta = math.radians(pose.heading_deg), math.radians(pose.pitch_deg)
    forward = (math.cos(theta) * math.sin(psi), math.cos(theta) * math.cos(psi), math.sin(theta))
    right = (math.cos(psi), -math.sin(psi), 0.0)
    up = (-math.sin(theta) * math.sin(psi), -math.sin(theta) * math.cos(psi), math.cos(theta))
    east, north, vertical = (forward[i] + u * right[i] + v * up[i] for i in range(3))
    if vertical >= -1e-9:
        return None  # at or above the horizon
    scale = pose.alt_agl_m / -vertical
    east, north = east * scale, north * scale
    if math.hypot(east, north) > max_range_m:
        return None
    lat = pose.lat + math.degrees(north / EARTH_RADIUS_M)
    lon = pose.lon + math.degrees(east / (EARTH_RADIUS_M * math.cos(math.radians(pose.lat))))
    return lat, lon
