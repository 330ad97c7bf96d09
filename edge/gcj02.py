"""WGS-84 <-> GCJ-02, the offset datum of Chinese web maps (AMap, Tencent), for display only.

The scene stays WGS-84; the page shifts what it draws when a basemap is GCJ-02 (edge/api/static/gcj02.js
is the twin of this module; tests/api/test_gcj02.py holds both to published reference points). The
forward formula is the widely published one (e.g. wandergis/coordtransform); it has no closed-form
inverse, so ``to_wgs84`` iterates the forward map to a fixed point (metre-level after one step,
sub-millimetre after a few).
"""

from __future__ import annotations

from math import cos, pi, sin, sqrt

A = 6378245.0  # Krasovsky 1940 semi-major axis, as the formula uses
EE = 0.00669342162296594323  # its first eccentricity squared


def outside_china(lat: float, lon: float) -> bool:
    """Outside the box where GCJ-02 applies, the two datums are the same."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _shift_lat(x: float, y: float) -> float:
    s = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt(abs(x))
    s += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    s += (20.0 * sin(y * pi) + 40.0 * sin(y / 3.0 * pi)) * 2.0 / 3.0
    s += (160.0 * sin(y / 12.0 * pi) + 320.0 * sin(y * pi / 30.0)) * 2.0 / 3.0
    return s


def _shift_lon(x: float, y: float) -> float:
    s = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt(abs(x))
    s += (20.0 * sin(6.0 * x * pi) + 20.0 * sin(2.0 * x * pi)) * 2.0 / 3.0
    s += (20.0 * sin(x * pi) + 40.0 * sin(x / 3.0 * pi)) * 2.0 / 3.0
    s += (150.0 * sin(x / 12.0 * pi) + 300.0 * sin(x / 30.0 * pi)) * 2.0 / 3.0
    return s


def to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """The GCJ-02 (lat, lon) at which a GCJ-02 map shows the WGS-84 point (lat, lon)."""
    if outside_china(lat, lon):
        return lat, lon
    dlat = _shift_lat(lon - 105.0, lat - 35.0)
    dlon = _shift_lon(lon - 105.0, lat - 35.0)
    rad = lat / 180.0 * pi
    magic = 1 - EE * sin(rad) ** 2
    dlat = dlat * 180.0 / ((A * (1 - EE)) / (magic * sqrt(magic)) * pi)
    dlon = dlon * 180.0 / (A / sqrt(magic) * cos(rad) * pi)
    return lat + dlat, lon + dlon


def to_wgs84(lat: float, lon: float, tolerance_deg: float = 1e-10) -> tuple[float, float]:
    """The WGS-84 point that a GCJ-02 map shows at (lat, lon): the forward map inverted by iteration."""
    wlat, wlon = lat, lon
    for _ in range(30):  # the offset changes slowly, so each step shrinks the error ~1000-fold
        glat, glon = to_gcj02(wlat, wlon)
        dlat, dlon = lat - glat, lon - glon
        wlat, wlon = wlat + dlat, wlon + dlon
        if abs(dlat) < tolerance_deg and abs(dlon) < tolerance_deg:
            break
    return wlat, wlon
