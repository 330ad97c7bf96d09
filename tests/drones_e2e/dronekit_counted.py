"""tests/sitl/dronekit_flight.py as it is, then what dronekit's own link (pymavlink's mavutil) counted.

Run in its own process like the script it wraps; after the script's ``STEP`` lines it prints
``STEP link {"received": N, "lost": N}``: every message mavutil parsed, and the frames it counted as
lost from gaps in each sender's sequence numbers. Through a router that drops or reorders nothing,
``lost`` is 0.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sitl"))

import dronekit_flight as flight

_vehicles: list[Any] = []
_connect = flight.connect_and_check


def _connect_and_keep(connection: str, scale: float) -> Any:
    vehicle = _connect(connection, scale)
    _vehicles.append(vehicle)
    return vehicle


def main() -> int:
    flight.connect_and_check = _connect_and_keep
    code: int = flight.main()
    if _vehicles:
        master = _vehicles[0]._master
        flight.step("link", received=master.mav_count, lost=master.mav_loss)
    return code


if __name__ == "__main__":
    sys.exit(main())
