"""The timeline player: fires a scenario's ``[[timeline]]`` entries at their simulated times.

The schedule is pure (entries and the ends of lasting faults, in time order, ties in file order), so
the same scenario always plays the same way; the player component waits on the sim clock (so
``--speedup`` scales it) and acts on the simulated hardware only — the radio world and its
gateway, the SITL vehicles, the sim cameras — never on fieldkit's own components: what the node
then shows (an alert, a failsafe mode, a restarted radio link, a stalled feed) is its real response.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .pdt_gateway import PdtGatewayEmulator
from .radios import Radio
from .scenario_items import TimelineEntry
from .sitl.vehicle import Vehicle

log = logging.getLogger(__name__)

MAX_WAIT_S = 1.0  # re-read the sim clock at least this often (real seconds) while waiting


@dataclass(frozen=True)
class Step:
    """One thing to do: an entry firing, or (``ending``) a lasting fault ending."""

    at_s: float
    index: int  # the entry's place in the scenario's timeline
    entry: TimelineEntry
    ending: bool = False

    def describe(self) -> str:
        e = self.entry
        what = ", ".join(f"{k}={v}" for k, v in (("unit", e.unit), ("drone", e.drone), ("feed", e.feed)) if v)
        if e.kits:
            what = "kits=" + " / ".join(e.kits)
        return f"{e.event}{' ends' if self.ending else ''}" + (f" ({what})" if what else "")


def schedule(entries: list[TimelineEntry]) -> list[Step]:
    """Every step of a timeline in the order it plays."""
    steps = [Step(e.at_s, i, e) for i, e in enumerate(entries)]
    steps += [
        Step(e.at_s + e.duration_s, i, e, ending=True)
        for i, e in enumerate(entries)
        if e.duration_s is not None and e.event != "emergency"  # an emergency ends when the radio cancels it
    ]
    return sorted(steps, key=lambda s: (s.at_s, s.index, s.ending))


class PausableSource(Protocol):
    """A camera the timeline can stall (media/sources/sim.py's SimCamera)."""

    paused: bool


@dataclass
class Targets:
    """The simulated hardware a timeline acts on."""

    gateway: PdtGatewayEmulator
    units: dict[str, Radio]  # by radio id and by alias
    vehicles: dict[str, Vehicle]  # by drone name
    camera: Callable[[str], Any] = lambda name: None  # a feed's source by name, once the node runs it
    # Cut or heal the link between two kits (True: done); None until fieldkit runs several nodes.
    link: Callable[[str, str, bool], bool] | None = None
    alarm_clear_s: float = 240.0


@dataclass
class TimelinePlayer:
    """Component: plays the steps on ``clock`` (sim seconds) from when it starts."""

    steps: list[Step]
    targets: Targets
    clock: Callable[[], float]
    speedup: float = 1.0
    name: str = "sim-timeline"
    played: list[tuple[float, str, str]] = field(default_factory=list)  # (at_s, step, outcome)
    start: float | None = None
    _next: int = 0

    async def run(self) -> None:
        """Fire each step when its time comes, then idle (a component runs until cancelled)."""
        if self.start is None:
            self.start = self.clock()
        while self._next < len(self.steps):
            await self._wait_until(self.start + self.steps[self._next].at_s)
            self.play_due(self.clock())
        log.info("timeline: all %d steps played", len(self.steps))
        await asyncio.Event().wait()

    def play_due(self, now: float) -> list[tuple[float, str, str]]:
        """Fire every step due by ``now`` (sim seconds since the epoch); returns what each did."""
        if self.start is None:
            self.start = now
        done = []
        while self._next < len(self.steps) and self.start + self.steps[self._next].at_s <= now:
            step = self.steps[self._next]
            self._next += 1  # before acting: a step that fails is not retried after a restart
            outcome = self._act(step, now)
            done.append((step.at_s, step.describe(), outcome))
            note = f" [{step.entry.note}]" if step.entry.note and not step.ending else ""
            log.info("timeline t=%.0fs: %s: %s%s", step.at_s, step.describe(), outcome, note)
        self.played += done
        return done

    async def _wait_until(self, due: float) -> None:
        while (left := due - self.clock()) > 0:  # noqa: ASYNC110 - time is a sim clock, not an event to wait on
            await asyncio.sleep(min(MAX_WAIT_S, left / self.speedup))

    def _act(self, step: Step, now: float) -> str:
        e, t = step.entry, self.targets
        if e.event in ("emergency", "message"):
            radio = t.units[e.unit]
            if e.event == "emergency":
                events = t.gateway.world.emergency(radio, now, e.duration_s or t.alarm_clear_s)
            else:
                events = [t.gateway.world.text_from(radio, e.text, now)]
            for event in events:
                t.gateway.emit(event)
            unplugged = "" if t.gateway.plugged else " into an unplugged gateway"
            return f"sent by {radio.alias} ({radio.radio_id}){unplugged}"
        if e.event == "gateway_unplug":
            return self._gateway(step.ending)
        if e.event == "camera_stall":
            return self._camera(e.feed, stalled=not step.ending)
        if e.event == "link_cut":
            if t.link is None:
                return "recorded (a link between kits is cut only when fieldkit runs several nodes)"
            return "done" if t.link(e.kits[0], e.kits[1], not step.ending) else "no such link running"
        return self._vehicle(t.vehicles[e.drone], step)

    def _gateway(self, ending: bool) -> str:
        gateway = self.targets.gateway
        if ending:
            if not gateway.plugged:
                gateway.plug()
            return "plugged back in"
        gateway.unplug()
        return "unplugged"

    def _camera(self, feed: str, *, stalled: bool) -> str:
        source = self.targets.camera(feed)
        if source is None or not hasattr(source, "paused"):
            return f"no running sim camera {feed!r}: nothing done"
        source.paused = stalled
        return "camera stopped producing frames" if stalled else "camera producing frames again"

    def _vehicle(self, vehicle: Vehicle, step: Step) -> str:
        e = step.entry
        if e.event == "gps_loss":
            (vehicle.restore_gps if step.ending else vehicle.lose_gps)()
            return "GPS fix restored" if step.ending else "GPS fix lost"
        if e.event == "tether_power_loss":
            (vehicle.restore_ground_power if step.ending else vehicle.lose_ground_power)()
            return "ground power restored" if step.ending else "ground power lost"
        vehicle.fail_battery(critical=e.critical)  # battery_failsafe
        return f"battery drained below the {'critical' if e.critical else 'low'} voltage"
