"""Flight modes by name: HEARTBEAT's ``custom_mode`` decoded for ArduPilot and PX4, and back.

ArduPilot puts its mode number in ``custom_mode``; which table applies depends on the vehicle
(HEARTBEAT ``type``): the dialect's ``COPTER_MODE``, ``PLANE_MODE``, ``ROVER_MODE``, ``SUB_MODE``
and ``TRACKER_MODE`` enums carry the numbers (ArduCopter: STABILIZE 0, GUIDED 4, RTL 6, LAND 9, ...).

PX4 packs two bytes into ``custom_mode`` (``px4_custom_mode.h``): ``main_mode`` in bits 16-23 and
``sub_mode`` in bits 24-31. Main modes: 1 MANUAL, 2 ALTCTL, 3 POSCTL, 4 AUTO, 5 ACRO, 6 OFFBOARD,
7 STABILIZED, 8 RATTITUDE, 9 SIMPLE, 10 TERMINATION, 11 ALTITUDE_CRUISE; AUTO's sub modes: 1 READY,
2 TAKEOFF, 3 LOITER, 4 MISSION, 5 RTL, 6 LAND, 8 FOLLOW_TARGET, 9 PRECLAND, 10 VTOL_TAKEOFF; POSCTL's:
0 POSCTL, 1 ORBIT, 2 SLOW. Names here are ``MAIN`` or ``MAIN.SUB`` (``AUTO.RTL``, ``POSCTL.ORBIT``).
"""

from __future__ import annotations

from .dialect import DIALECT

MAV_AUTOPILOT_ARDUPILOTMEGA = 3
MAV_AUTOPILOT_PX4 = 12
MAV_AUTOPILOT_INVALID = 8
MAV_MODE_FLAG_CUSTOM_MODE_ENABLED = 1
MAV_MODE_FLAG_SAFETY_ARMED = 128

_COPTERS = frozenset({2, 3, 4, 13, 14, 15, 29, 35, 43})  # quad, coax, heli, hexa, octo, tri, dodeca, deca, generic
_PLANES = frozenset({1, 16, 17, 19, 20, 21, 22, 23, 24, 25, 28})  # fixed wing, VTOLs (ArduPlane QuadPlane), ...
_ROVERS = frozenset({10, 11})
_SUBS = frozenset({12})
_TRACKERS = frozenset({5})


def _table(enum_name: str) -> dict[int, str]:
    prefix = enum_name + "_"
    return {
        value: entry.name.removeprefix(prefix)
        for value, entry in DIALECT.enums[enum_name].items()
        if not entry.name.endswith("_ENUM_END")
    }


_ARDUPILOT: list[tuple[frozenset[int], dict[int, str]]] = [
    (_COPTERS, _table("COPTER_MODE")),
    (_PLANES, _table("PLANE_MODE")),
    (_ROVERS, _table("ROVER_MODE")),
    (_SUBS, _table("SUB_MODE")),
    (_TRACKERS, _table("TRACKER_MODE")),
]

PX4_MAIN = {
    1: "MANUAL",
    2: "ALTCTL",
    3: "POSCTL",
    4: "AUTO",
    5: "ACRO",
    6: "OFFBOARD",
    7: "STABILIZED",
    8: "RATTITUDE",
    9: "SIMPLE",
    10: "TERMINATION",
    11: "ALTITUDE_CRUISE",
}
PX4_SUB = {
    4: {
        1: "READY",
        2: "TAKEOFF",
        3: "LOITER",
        4: "MISSION",
        5: "RTL",
        6: "LAND",
        8: "FOLLOW_TARGET",
        9: "PRECLAND",
        10: "VTOL_TAKEOFF",
    },
    3: {1: "ORBIT", 2: "SLOW"},  # sub mode 0 is plain POSCTL
}


def autopilot_name(autopilot: int) -> str:
    """MAV_AUTOPILOT in words: ``ardupilot``, ``px4``, or the enum's own name in lower case."""
    if autopilot == MAV_AUTOPILOT_ARDUPILOTMEGA:
        return "ardupilot"
    if autopilot == MAV_AUTOPILOT_PX4:
        return "px4"
    entry = DIALECT.enums["MAV_AUTOPILOT"].get(autopilot)
    return entry.name.removeprefix("MAV_AUTOPILOT_").lower() if entry is not None else f"autopilot-{autopilot}"


def vehicle_type_name(mav_type: int) -> str:
    """MAV_TYPE in words (``quadrotor``, ``fixed_wing``)."""
    entry = DIALECT.enums["MAV_TYPE"].get(mav_type)
    return entry.name.removeprefix("MAV_TYPE_").lower() if entry is not None else f"type-{mav_type}"


def _ardupilot_table(mav_type: int) -> dict[int, str] | None:
    return next((table for types, table in _ARDUPILOT if mav_type in types), None)


def mode_name(autopilot: int, mav_type: int, base_mode: int, custom_mode: int) -> str | None:
    """The flight mode's name, or None when the autopilot uses no custom modes we know."""
    if not base_mode & MAV_MODE_FLAG_CUSTOM_MODE_ENABLED:
        return None
    if autopilot == MAV_AUTOPILOT_ARDUPILOTMEGA:
        table = _ardupilot_table(mav_type)
        if table is None:
            return None
        return table.get(custom_mode, f"MODE_{custom_mode}")
    if autopilot == MAV_AUTOPILOT_PX4:
        main, sub = (custom_mode >> 16) & 0xFF, (custom_mode >> 24) & 0xFF
        name = PX4_MAIN.get(main, f"MAIN_{main}")
        subs = PX4_SUB.get(main)
        if subs is None or (main == 3 and sub == 0):
            return name
        return f"{name}.{subs.get(sub, f'SUB_{sub}')}"
    return None


def custom_mode_of(autopilot: int, mav_type: int, name: str) -> int | None:
    """The ``custom_mode`` value for mode ``name`` (any case) on this vehicle, or None if it has no such mode."""
    wanted = name.strip().upper()
    if autopilot == MAV_AUTOPILOT_ARDUPILOTMEGA:
        table = _ardupilot_table(mav_type) or {}
        return next((number for number, mode in table.items() if mode == wanted), None)
    if autopilot == MAV_AUTOPILOT_PX4:
        main_name, _, sub_name = wanted.partition(".")
        main = next((n for n, m in PX4_MAIN.items() if m == main_name), None)
        if main is None:
            return None
        if not sub_name:
            return main << 16
        sub = next((n for n, s in PX4_SUB.get(main, {}).items() if s == sub_name), None)
        return None if sub is None else main << 16 | sub << 24
    return None


def mode_names(autopilot: int, mav_type: int) -> list[str]:
    """Every mode name this vehicle can be asked for."""
    if autopilot == MAV_AUTOPILOT_ARDUPILOTMEGA:
        return list((_ardupilot_table(mav_type) or {}).values())
    if autopilot == MAV_AUTOPILOT_PX4:
        names = list(PX4_MAIN.values())
        names += [f"{PX4_MAIN[main]}.{sub}" for main, subs in PX4_SUB.items() for sub in subs.values()]
        return names
    return []
