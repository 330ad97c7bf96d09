"""Vehicle commands: what to send for arm, takeoff, go-to, RTL, land and set-mode, and the command protocol.

The MAVLink command protocol (https://mavlink.io/en/services/command.html): send COMMAND_LONG (or
COMMAND_INT), wait for COMMAND_ACK naming the command; with no answer within the timeout send it
again with ``confirmation`` counted up (COMMAND_INT has no such field: it is re-sent as it was);
``MAV_RESULT_IN_PROGRESS`` means the vehicle is working on it and a final ACK follows, so no more
re-sends. A request may take several exchanges (ArduCopter takes off from GUIDED, armed:
DO_SET_MODE, ARM, NAV_TAKEOFF) and stops at the first that is not accepted. A mode change also
counts as done when the vehicle's HEARTBEAT shows the mode (some autopilots do not ACK it).

Everything here is pure; :class:`Exchange` takes ``now``, the service does the waiting.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import msgspec
from pymavlink.dialects.v20.ardupilotmega import MAVLink_command_int_message, MAVLink_command_long_message

from .errors import DroneError
from .modes import (
    MAV_AUTOPILOT_ARDUPILOTMEGA,
    MAV_AUTOPILOT_PX4,
    MAV_MODE_FLAG_CUSTOM_MODE_ENABLED,
    custom_mode_of,
    mode_name,
    mode_names,
)

MAV_CMD_NAV_RETURN_TO_LAUNCH = 20
MAV_CMD_NAV_LAND = 21
MAV_CMD_NAV_TAKEOFF = 22
MAV_CMD_DO_SET_MODE = 176
MAV_CMD_DO_REPOSITION = 192
MAV_CMD_COMPONENT_ARM_DISARM = 400
MAV_DO_REPOSITION_FLAGS_CHANGE_MODE = 1
MAV_FRAME_GLOBAL_INT = 5
MAV_FRAME_GLOBAL_RELATIVE_ALT_INT = 6
IN_PROGRESS_PATIENCE = 5  # after IN_PROGRESS, wait this many timeouts for the final ACK
NAN = math.nan


class CommandResult(enum.Enum):
    """How a command ended (MAV_RESULT in words, plus what the protocol itself can end with)."""

    ACCEPTED = "accepted"
    TEMPORARILY_REJECTED = "temporarily_rejected"
    DENIED = "denied"
    UNSUPPORTED = "unsupported"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"  # the vehicle said so and sent no final ACK in time
    TIMEOUT = "timeout"  # no ACK after every retry
    NO_VEHICLE = "no_vehicle"  # no such vehicle on this node


_MAV_RESULT = {
    0: CommandResult.ACCEPTED,
    1: CommandResult.TEMPORARILY_REJECTED,
    2: CommandResult.DENIED,
    3: CommandResult.UNSUPPORTED,
    4: CommandResult.FAILED,
    5: CommandResult.IN_PROGRESS,
    6: CommandResult.FAILED,  # MAV_RESULT_CANCELLED
    7: CommandResult.UNSUPPORTED,  # MAV_RESULT_COMMAND_LONG_ONLY
    8: CommandResult.UNSUPPORTED,  # MAV_RESULT_COMMAND_INT_ONLY
}


def result_of(mav_result: int) -> CommandResult:
    """A COMMAND_ACK's MAV_RESULT as a :class:`CommandResult` (unknown values are failures)."""
    return _MAV_RESULT.get(mav_result, CommandResult.FAILED)


class CommandError(DroneError):
    """A command did not end accepted; ``result`` says how it ended (MAVSDK's ActionError habit)."""

    def __init__(self, result: CommandResult, detail: str = "") -> None:
        super().__init__(f"{result.value}: {detail}" if detail else result.value)
        self.result = result
        self.detail = detail


class BadCommand(DroneError):
    """A command request that cannot be sent as asked (missing or misplaced parameters, unknown mode)."""


CommandName = Literal["arm", "disarm", "takeoff", "goto", "rtl", "land", "mode"]
_PARAMS: dict[str, tuple[frozenset[str], frozenset[str]]] = {  # command -> (required, allowed)
    "arm": (frozenset(), frozenset()),
    "disarm": (frozenset(), frozenset()),
    "takeoff": (frozenset({"alt_m"}), frozenset({"alt_m"})),
    "goto": (frozenset({"lat", "lon"}), frozenset({"lat", "lon", "alt_m"})),
    "rtl": (frozenset(), frozenset()),
    "land": (frozenset(), frozenset()),
    "mode": (frozenset({"mode"}), frozenset({"mode"})),
}


class CommandRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A command for one vehicle, as the API takes it; ``alt_m`` is above home."""

    command: CommandName
    alt_m: Annotated[float, msgspec.Meta(ge=-500.0, le=10_000.0)] | None = None
    lat: Annotated[float, msgspec.Meta(ge=-90.0, le=90.0)] | None = None
    lon: Annotated[float, msgspec.Meta(ge=-180.0, le=180.0)] | None = None
    mode: Annotated[str, msgspec.Meta(min_length=1, max_length=32)] | None = None

    def check(self) -> None:
        """Raise :class:`BadCommand` if a parameter is missing, misplaced or out of range for the command."""
        required, allowed = _PARAMS[self.command]
        given = {name for name in ("alt_m", "lat", "lon", "mode") if getattr(self, name) is not None}
        missing = sorted(required - given)
        if missing:
            raise BadCommand(f"{self.command} needs {', '.join(missing)}")
        extra = sorted(given - allowed)
        if extra:
            raise BadCommand(f"{', '.join(extra)} does not apply to {self.command}")
        if self.command == "takeoff" and self.alt_m is not None and self.alt_m <= 0:
            raise BadCommand("takeoff needs alt_m above 0 (metres above home)")

    def describe(self) -> str:
        """The request in a few words, for the audit trail."""
        params = " ".join(
            f"{k}={getattr(self, k)}" for k in ("alt_m", "lat", "lon", "mode") if getattr(self, k) is not None
        )
        return f"{self.command} {params}".strip()


@dataclass(frozen=True, slots=True)
class Target:
    """What the planner needs to know of the vehicle."""

    sysid: int
    compid: int
    autopilot: int
    mav_type: int
    custom_mode: int
    armed: bool
    home_alt_msl_m: float | None
    alt_rel_m: float | None
    alt_msl_m: float | None


@dataclass(frozen=True, slots=True)
class Step:
    """One command exchange: the message (by confirmation number) and what completes it."""

    label: str
    command: int  # the MAV_CMD the COMMAND_ACK names
    message: Callable[[int], Any]  # confirmation -> pymavlink message
    mode: int | None = None  # a HEARTBEAT custom_mode that also completes the step


def _long(target: Target, command: int, *params: float) -> Callable[[int], Any]:
    p = (*params, *(0.0,) * (7 - len(params)))
    return lambda confirmation: MAVLink_command_long_message(
        target.sysid, target.compid, command, min(confirmation, 255), *p
    )


def plan(request: CommandRequest, target: Target) -> list[Step]:
    """The exchanges that carry out ``request`` on ``target`` (raises :class:`BadCommand`)."""
    request.check()
    command = request.command
    if command in ("arm", "disarm"):
        return [_arm(target, command == "arm")]
    if command == "mode":
        assert request.mode is not None
        return [_set_mode(target, request.mode)]
    if command == "takeoff":
        assert request.alt_m is not None
        return _takeoff(target, request.alt_m)
    if command == "goto":
        assert request.lat is not None and request.lon is not None
        return [_goto(target, request.lat, request.lon, request.alt_m)]
    if command == "rtl":
        return [Step("return to launch", MAV_CMD_NAV_RETURN_TO_LAUNCH, _long(target, MAV_CMD_NAV_RETURN_TO_LAUNCH))]
    # land here: ArduPilot takes 0, 0 as "current position", PX4 wants NaN
    here = NAN if target.autopilot == MAV_AUTOPILOT_PX4 else 0.0
    return [Step("land", MAV_CMD_NAV_LAND, _long(target, MAV_CMD_NAV_LAND, 0, 0, 0, NAN, here, here, NAN))]


def _arm(target: Target, arm: bool) -> Step:
    return Step(
        "arm" if arm else "disarm",
        MAV_CMD_COMPONENT_ARM_DISARM,
        _long(target, MAV_CMD_COMPONENT_ARM_DISARM, float(arm)),
    )


def _set_mode(target: Target, name: str) -> Step:
    custom = custom_mode_of(target.autopilot, target.mav_type, name)
    if custom is None:
        known = ", ".join(mode_names(target.autopilot, target.mav_type)) or "none known for this autopilot"
        raise BadCommand(f"no mode {name!r} on this vehicle (modes: {known})")
    base = float(MAV_MODE_FLAG_CUSTOM_MODE_ENABLED)
    if target.autopilot == MAV_AUTOPILOT_PX4:  # DO_SET_MODE: param2 main mode, param3 sub mode
        params: tuple[float, ...] = (base, float((custom >> 16) & 0xFF), float((custom >> 24) & 0xFF))
    else:
        params = (base, float(custom))
    shown = mode_name(target.autopilot, target.mav_type, MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, custom)
    return Step(f"set mode {shown}", MAV_CMD_DO_SET_MODE, _long(target, MAV_CMD_DO_SET_MODE, *params), mode=custom)


def _takeoff(target: Target, alt_m: float) -> list[Step]:
    if target.autopilot == MAV_AUTOPILOT_PX4:
        # PX4 takes off in AUTO.TAKEOFF, entered by NAV_TAKEOFF itself, then arms; param7 is AMSL.
        amsl = NAN if target.home_alt_msl_m is None else target.home_alt_msl_m + alt_m
        takeoff = _long(target, MAV_CMD_NAV_TAKEOFF, NAN, 0, 0, NAN, NAN, NAN, amsl)
        return [Step(f"takeoff to {alt_m:g} m", MAV_CMD_NAV_TAKEOFF, takeoff), _arm(target, True)]
    steps = []
    if target.autopilot == MAV_AUTOPILOT_ARDUPILOTMEGA:
        guided = custom_mode_of(target.autopilot, target.mav_type, "GUIDED")
        if guided is not None and target.custom_mode != guided:
            steps.append(_set_mode(target, "GUIDED"))  # ArduCopter takes off from GUIDED only
    if not target.armed:
        steps.append(_arm(target, True))
    takeoff = _long(target, MAV_CMD_NAV_TAKEOFF, 0, 0, 0, NAN, 0, 0, alt_m)  # param7: metres above home
    steps.append(Step(f"takeoff to {alt_m:g} m", MAV_CMD_NAV_TAKEOFF, takeoff))
    return steps


def _goto(target: Target, lat: float, lon: float, alt_m: float | None) -> Step:
    # DO_REPOSITION as COMMAND_INT (lat/lon as scaled integers), asking the vehicle to switch to its
    # guided mode (MAV_DO_REPOSITION_FLAGS_CHANGE_MODE); speed -1 keeps the default, yaw NaN unchanged.
    if target.autopilot == MAV_AUTOPILOT_PX4:
        frame = MAV_FRAME_GLOBAL_INT
        base = target.home_alt_msl_m
        alt = (base + alt_m) if (alt_m is not None and base is not None) else (target.alt_msl_m or NAN)
    else:
        frame = MAV_FRAME_GLOBAL_RELATIVE_ALT_INT
        alt = alt_m if alt_m is not None else (target.alt_rel_m if target.alt_rel_m is not None else NAN)
    if math.isnan(alt):
        raise BadCommand("goto needs alt_m: the vehicle's altitude is not known yet")
    x, y = round(lat * 1e7), round(lon * 1e7)
    return Step(
        f"go to {lat:.6f}, {lon:.6f}",
        MAV_CMD_DO_REPOSITION,
        lambda _confirmation: MAVLink_command_int_message(
            target.sysid, target.compid, frame, MAV_CMD_DO_REPOSITION, 0, 0,
            -1.0, float(MAV_DO_REPOSITION_FLAGS_CHANGE_MODE), 0.0, NAN, x, y, float(alt),
        ),
    )  # fmt: skip


class Exchange:
    """One step's protocol state: attempts, deadline, and what an ACK or heartbeat means for it."""

    def __init__(self, step: Step, *, timeout_s: float, retries: int) -> None:
        self.step = step
        self.timeout_s = timeout_s
        self.retries = retries
        self.attempts = 0
        self.deadline = 0.0
        self.in_progress = False

    def next_message(self, now: float) -> Any:
        """The message to send now (first try or a retry); sets the deadline."""
        confirmation = self.attempts
        self.attempts += 1
        self.deadline = now + self.timeout_s
        return self.step.message(confirmation)

    def on_ack(self, mav_result: int, now: float) -> CommandResult | None:
        """The step's result from a COMMAND_ACK for its command, or None to keep waiting."""
        result = result_of(mav_result)
        if result is CommandResult.IN_PROGRESS:
            self.in_progress = True
            self.deadline = now + self.timeout_s * IN_PROGRESS_PATIENCE
            return None
        return result

    def on_mode(self, custom_mode: int) -> CommandResult | None:
        """ACCEPTED if the step changes mode and the vehicle now reports that mode."""
        return CommandResult.ACCEPTED if self.step.mode is not None and custom_mode == self.step.mode else None

    def on_timeout(self) -> CommandResult | None:
        """The final result when the deadline passed, or None if the message should be sent again."""
        if self.in_progress:
            return CommandResult.IN_PROGRESS
        return None if self.attempts <= self.retries else CommandResult.TIMEOUT
