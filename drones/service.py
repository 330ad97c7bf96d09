"""The drone service: a node component owning the MAVLink links, the router and the vehicles.

Every frame read from a link is routed to the other endpoints at header level (no decode). Frames
the picture needs (:data:`~drones.vehicle.PICTURE_MESSAGES`) are also decoded and folded into the
vehicles, which are published to the picture at ``publish_rate_hz``, not at message rate, together
with their alerts (a new position goes in as it arrives, when the vehicle's turn has come). fieldkit
is a MAVLink participant itself (``sysid``/``compid``, a ground-station companion): it sends a
HEARTBEAT every ``heartbeat_interval_s`` and the commands the API asks for, through the same router
(as the internal endpoint ``@fieldkit``), so a command reaches only the link its vehicle was heard
on. Every command ends as an Audit event in the journal.

The service talks to the node only through :class:`Picture` (the scene satisfies it): the drones
package knows the scene's change types and nothing else of ``edge``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import msgspec
from pymavlink.dialects.v20.ardupilotmega import MAVLink_heartbeat_message

from edge.scene import Alert, AlertClear, AlertRecord, Audit, Entity, Event, Marker, StateChange, Vehicle

from . import alerts
from .codec import decode, encode
from .commands import BadCommand, CommandRequest, CommandResult, Exchange, Step, Target, plan
from .config import DronesSection, EndpointConfig, msgid_of
from .dialect import MAVLINK_MSG_ID
from .endpoints import EndpointRunner
from .framer import MavFrame, MavFramer
from .modes import MAV_AUTOPILOT_INVALID
from .ratelimit import RateLimit
from .router import Endpoint, Filter, Router
from .tether import TetherLimits
from .tlog import TlogBook
from .vehicle import PICTURE_MESSAGES, Fleet, VehicleState

log = logging.getLogger(__name__)

SELF = "@fieldkit"  # the router endpoint fieldkit's own messages come from
MAV_TYPE_GCS = 6
MAV_STATE_ACTIVE = 4
_HEARTBEAT = MAVLINK_MSG_ID["HEARTBEAT"]
_COMMAND_ACK = MAVLINK_MSG_ID["COMMAND_ACK"]
_GLOBAL_POSITION_INT = MAVLINK_MSG_ID["GLOBAL_POSITION_INT"]
_SLACK_S = 0.01  # a vehicle's turn comes this much before its interval ends: a tick's timer jitter never skips one


class Picture(Protocol):
    """What the service needs of the node's scene."""

    def apply_state(self, change: StateChange) -> bool:
        """Apply a last-value-wins change."""
        ...

    async def append_many(self, events: Iterable[Event]) -> list[Event | None]:
        """Commit events, then apply them."""
        ...

    def entities(self, kind: str | None = None) -> list[Entity]:
        """Entities of one kind."""
        ...

    def alerts(self) -> list[AlertRecord]:
        """Alerts with their lifecycle state."""
        ...


class StepOutcome(msgspec.Struct, frozen=True):
    """One exchange of a command and how it ended."""

    step: str
    result: CommandResult
    attempts: int


class CommandOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """How a command request ended, step by step."""

    vehicle_id: str
    command: str
    result: CommandResult
    detail: str = ""
    steps: list[StepOutcome] = []


class PeerReport(msgspec.Struct, frozen=True, kw_only=True):
    """Counters of one router endpoint (a link, or one peer of a listening link)."""

    name: str
    frames_in: int
    bytes_in: int
    frames_out: int
    bytes_out: int
    filtered: int
    rate_dropped: int
    duplicates: int
    send_dropped: int
    framer: dict[str, int]
    systems: list[tuple[int, int]]


class LinkReport(msgspec.Struct, frozen=True, kw_only=True):
    """A configured endpoint: its state, failures, bound address and live peers."""

    name: str
    kind: str
    state: str
    failures: int
    last_error: str | None
    local_port: int | None
    peers: list[PeerReport]
    dropped: dict[str, int]  # UDP datagrams lost before they were read: "kernel" and "queue"


class _DatagramFramer(MavFramer):
    """A framer for UDP, where a datagram carries whole frames: what is left at its end is garbage.

    Kept as a stream, a truncated frame at the end of one datagram would wait for (and swallow) the
    start of the next datagram's first frame; MAVLink over UDP sends whole frames, so the rest is dropped.
    """

    def feed(self, data: bytes | bytearray | memoryview) -> list[MavFrame]:
        frames = super().feed(data)
        if self._buf:  # the framer's own buffer: this subclass lives in the same package, on purpose
            self.stats.garbage_bytes += len(self._buf)
            self._buf = b""
        return frames


@dataclass(slots=True)
class _Port:
    name: str
    send: Callable[[bytes], bool]
    framer: MavFramer
    in_filter: Filter | None
    send_dropped: int = 0


@dataclass(slots=True)
class _Waiter:
    command: int
    wants_mode: bool
    inbox: asyncio.Queue[tuple[str, int]] = field(default_factory=asyncio.Queue)


def _filter(allow_msgids: Any, block_msgids: Any, allow_sysids: Any, block_sysids: Any) -> Filter | None:
    if allow_msgids is None and not block_msgids and allow_sysids is None and not block_sysids:
        return None
    return Filter(
        allow_msgids=None if allow_msgids is None else frozenset(map(msgid_of, allow_msgids)),
        block_msgids=frozenset(map(msgid_of, block_msgids)),
        allow_src_systems=None if allow_sysids is None else frozenset(allow_sysids),
        block_src_systems=frozenset(block_sysids),
    )


def router_endpoint(name: str, cfg: EndpointConfig) -> Endpoint:
    """The router's view of one configured endpoint (or one of its peers)."""
    limit = None
    if cfg.rate_bytes_per_s is not None or cfg.rate_msgs_per_s is not None:
        limit = RateLimit(bytes_per_s=cfg.rate_bytes_per_s, msgs_per_s=cfg.rate_msgs_per_s, burst_s=cfg.rate_burst_s)
    return Endpoint(
        name,
        in_filter=_filter(cfg.allow_msgids_in, cfg.block_msgids_in, cfg.allow_sysids_in, cfg.block_sysids_in),
        out_filter=_filter(cfg.allow_msgids_out, cfg.block_msgids_out, cfg.allow_sysids_out, cfg.block_sysids_out),
        rate_limit=limit,
    )


class DroneService:
    """Component: MAVLink links, router, vehicles into the picture, commands out."""

    name = "drones"

    def __init__(
        self, cfg: DronesSection, *, node_id: str, picture: Picture, clock: Callable[[], float] = time.time
    ) -> None:
        self.cfg = cfg
        self.node_id = node_id
        self.picture = picture
        self.clock = clock
        self.router = Router([Endpoint(SELF)], route_timeout_s=cfg.route_timeout_s, dedup_window_s=cfg.dedup_window_s)
        self.fleet = Fleet(tethered_sysids=frozenset(cfg.tethered_sysids))
        self.episodes = alerts.Episodes(node_id)
        self.runners = [
            EndpointRunner(ep, self, min_backoff_s=cfg.reconnect_min_s, max_backoff_s=cfg.reconnect_max_s)
            for ep in cfg.endpoints
        ]
        self.thresholds = alerts.Thresholds(
            battery_low_pct=cfg.battery_low_pct,
            battery_critical_pct=cfg.battery_critical_pct,
            link_lost_after_s=cfg.link_lost_after_s,
            statustext_clear_s=cfg.statustext_clear_s,
            tether=TetherLimits(cfg.tether_max_length_m, cfg.tether_ceiling_margin_m, cfg.tether_tension_high_n),
        )
        self._ports: dict[str, _Port] = {}
        self._picture_ids = frozenset(MAVLINK_MSG_ID[n] for n in PICTURE_MESSAGES)
        self._published: dict[int, Vehicle] = {}
        self._published_at: dict[int, float] = {}  # by sysid: when it last went into the picture
        self._position_at: dict[int, float] = {}  # by sysid: when its last GLOBAL_POSITION_INT came
        self._due_soon: set[int] = set()  # vehicles whose publish is scheduled for the loop's next turn
        self._waiters: dict[int, _Waiter] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._seq = 0
        self._tlog: TlogBook | None = None

    # -- hub: what endpoint runners call ------------------------------------------------------

    def attach(self, name: str, config: EndpointConfig, send: Callable[[bytes], bool], *, datagrams: bool) -> None:
        """A link or peer came up as router endpoint ``name`` (``datagrams``: each read is whole frames)."""
        if name in self._ports:
            self.detach(name)
        endpoint = router_endpoint(name, config)
        self.router.add_endpoint(endpoint)
        framer = _DatagramFramer(name=name) if datagrams else MavFramer(name=name)
        self._ports[name] = _Port(name, send, framer, endpoint.in_filter)

    def detach(self, name: str) -> None:
        """Endpoint ``name`` went away: forget its routes."""
        if self._ports.pop(name, None) is not None:
            self.router.remove_endpoint(name)

    def feed(self, name: str, data: bytes) -> None:
        """Route and observe every frame in ``data``, which arrived on endpoint ``name``."""
        port = self._ports.get(name)
        if port is None:
            return
        now = self.clock()
        for frame in port.framer.feed(data):
            self._route(frame, name, now)
            if port.in_filter is None or port.in_filter.accepts(frame.msgid, frame.sysid):
                self._observe(frame, now)

    def _route(self, frame: MavFrame, source: str, now: float) -> None:
        ports = self._ports
        for dest in self.router.route(frame, source, now):
            port = ports.get(dest)
            if port is not None and not port.send(frame.raw):
                port.send_dropped += 1

    def _observe(self, frame: MavFrame, now: float) -> None:
        sysid = frame.sysid
        self.fleet.note_frame(sysid, frame.compid, frame.seq, now)
        if frame.msgid in self._picture_ids:
            msg = decode(frame)
            if msg is not None:
                self._take(msg, frame, now)
        if self._tlog is not None:
            if sysid in self.fleet.vehicles:
                self._tlog.write(sysid, now, frame.raw)
            elif frame.target_system in self.fleet.vehicles:
                self._tlog.write(frame.target_system, now, frame.raw)

    def _take(self, msg: Any, frame: MavFrame, now: float) -> None:
        waiter = self._waiters.get(frame.sysid)
        if frame.msgid == _COMMAND_ACK:
            if waiter is not None and msg.command == waiter.command and msg.target_system in (0, self.cfg.sysid):
                waiter.inbox.put_nowait(("ack", msg.result))
            return
        state = self.fleet.apply(msg, frame.sysid, frame.compid, now)
        if frame.msgid == _GLOBAL_POSITION_INT and state is not None:
            self._position_at[state.sysid] = now
            if self._due(state.sysid, now) and state.sysid not in self._due_soon:
                # After the frames in hand are routed: publishing fans out to every subscriber.
                self._due_soon.add(state.sysid)
                asyncio.get_running_loop().call_soon(self._put_due, state)
        if (
            frame.msgid == _HEARTBEAT
            and waiter is not None
            and waiter.wants_mode
            and state is not None
            and frame.compid == state.compid
        ):
            waiter.inbox.put_nowait(("mode", state.custom_mode))

    # -- fieldkit's own messages ---------------------------------------------------------------

    def send(self, msg: Any) -> MavFrame:
        """Send a message as fieldkit through the router (targeted messages go where their target was heard)."""
        raw = encode(msg, self._seq, self.cfg.sysid, self.cfg.compid)
        self._seq = (self._seq + 1) & 0xFF
        frame = MavFrame.parse(raw)
        now = self.clock()
        self._route(frame, SELF, now)
        if self._tlog is not None and frame.target_system in self.fleet.vehicles:
            self._tlog.write(frame.target_system, now, raw)
        return frame

    # -- the component -------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve every endpoint, send heartbeats, publish vehicles, until cancelled."""
        if self.cfg.tlog_dir:
            self._tlog = TlogBook(Path(self.cfg.tlog_dir), self.node_id, self.clock())
        adopted = self.episodes.adopt(self.picture.alerts())
        if adopted:
            log.info("drones: %d open drone alert(s) taken back from the picture", adopted)
        try:
            async with asyncio.TaskGroup() as group:
                for runner in self.runners:
                    group.create_task(runner.run(), name=f"drones-{runner.name}")
                group.create_task(self._every(self.cfg.heartbeat_interval_s, self._heartbeat), name="drones-heartbeat")
                group.create_task(self._every(1.0 / self.cfg.publish_rate_hz, self.publish), name="drones-publish")
        finally:
            if self._tlog is not None:
                self._tlog.close()
                self._tlog = None

    @staticmethod
    async def _every(interval_s: float, tick: Callable[[], Any]) -> None:
        while True:
            result = tick()
            if asyncio.iscoroutine(result):
                await result
            await asyncio.sleep(interval_s)

    def _heartbeat(self) -> None:
        self.send(MAVLink_heartbeat_message(MAV_TYPE_GCS, MAV_AUTOPILOT_INVALID, 0, 0, MAV_STATE_ACTIVE, 3))

    async def publish(self) -> None:
        """Put changed vehicles into the picture, and raise or clear their alerts."""
        now = self.clock()
        fences = [m for m in self.picture.entities("marker") if isinstance(m, Marker) and m.category == "geofence"]
        events: list[Alert | AlertClear] = []
        for sysid, state in self.fleet.vehicles.items():
            entity = self._entity(state, now)
            if now - self._position_at.get(sysid, -math.inf) >= 1.0 / self.cfg.publish_rate_hz:
                self._put(entity, now)  # no position stream to carry it (a live one publishes on arrival)
            found = alerts.conditions(state, self.thresholds, fences, now, open_keys=self.episodes.open_keys(sysid))
            events += self.episodes.update(sysid, entity.id, found, now, entity.pos)
        if events:
            try:
                await self.picture.append_many(events)
            except Exception as exc:  # the journal said no: the alerts are raised again next tick, routing goes on
                self.episodes.revert(events)
                log.warning("drones: %d alert change(s) not stored, retrying: %s", len(events), exc)
        if self._tlog is not None:
            self._tlog.flush()

    def _entity(self, state: VehicleState, now: float) -> Vehicle:
        return state.entity(
            self.node_id, now, link_lost_after_s=self.cfg.link_lost_after_s, ceiling_m=self.cfg.tether_max_length_m
        )

    def _put(self, entity: Vehicle, now: float) -> None:
        """Put a vehicle into the picture if it changed and its turn has come.

        Each vehicle goes in at most ``publish_rate_hz``. While its positions (GLOBAL_POSITION_INT)
        stream in, it goes in as the first one after its turn arrives, so the picture shows a
        position at once rather than up to a publish tick later (that wait was 0-100 ms at 10 Hz
        telemetry, half the incident benchmark's wire-to-WebSocket latency); otherwise the tick
        puts it in (a vehicle that fell silent, or whose positions come slower than the rate).
        """
        sysid = entity.sysid
        assert sysid is not None
        if not self._due(sysid, now):
            return
        held = self._published.get(sysid)
        changed = held is None or msgspec.structs.replace(held, ts=now) != entity
        if changed and self.picture.apply_state(entity):
            self._published[sysid] = entity
            self._published_at[sysid] = now

    def _put_due(self, state: VehicleState) -> None:
        self._due_soon.discard(state.sysid)
        now = self.clock()
        self._put(self._entity(state, now), now)

    def _due(self, sysid: int, now: float) -> bool:
        return now - self._published_at.get(sysid, -math.inf) >= 1.0 / self.cfg.publish_rate_hz - _SLACK_S

    # -- what the API uses ---------------------------------------------------------------------

    def vehicle_id(self, sysid: int) -> str:
        """The picture id of vehicle ``sysid`` on this node."""
        return f"vehicle:{self.node_id}:{sysid}"

    def vehicle(self, vehicle_id: str) -> VehicleState | None:
        """The state of one of this node's vehicles, by picture id."""
        prefix = f"vehicle:{self.node_id}:"
        tail = vehicle_id.removeprefix(prefix)
        if tail == vehicle_id or not tail.isdigit():
            return None
        return self.fleet.vehicles.get(int(tail))

    async def command(self, vehicle_id: str, request: CommandRequest, *, actor: str) -> CommandOutcome:
        """Carry out ``request`` on a vehicle and journal it as an Audit event (raises BadCommand)."""
        request.check()
        state = self.vehicle(vehicle_id)
        if state is None:
            outcome = CommandOutcome(
                vehicle_id=vehicle_id, command=request.command, result=CommandResult.NO_VEHICLE,
                detail="no such vehicle on this node",
            )  # fmt: skip
        else:
            steps = plan(request, _target(state))
            lock = self._locks.setdefault(state.sysid, asyncio.Lock())
            try:
                async with lock:  # one command at a time per vehicle, as the command protocol expects
                    outcome = await self._carry_out(vehicle_id, request, state, steps)
            except asyncio.CancelledError:
                # Something may have reached the vehicle: the audit trail says so, then the cancellation goes on.
                audit = self._audit(actor, request, vehicle_id, "cancelled")
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.picture.append_many([audit]))
                raise
        await self.picture.append_many([self._audit(actor, request, vehicle_id, outcome.result.value)])
        log.info("drones: %s asked %s of %s: %s", actor, request.describe(), vehicle_id, outcome.result.value)
        return outcome

    async def _carry_out(
        self, vehicle_id: str, request: CommandRequest, state: VehicleState, steps: list[Step]
    ) -> CommandOutcome:
        done: list[StepOutcome] = []
        result = CommandResult.ACCEPTED
        for step in steps:
            result, attempts = await self._exchange(state.sysid, step)
            done.append(StepOutcome(step.label, result, attempts))
            if result is not CommandResult.ACCEPTED:
                break
        detail = "; ".join(f"{s.step}: {s.result.value}" for s in done)
        return CommandOutcome(vehicle_id=vehicle_id, command=request.command, result=result, detail=detail, steps=done)

    async def _exchange(self, sysid: int, step: Step) -> tuple[CommandResult, int]:
        exchange = Exchange(step, timeout_s=self.cfg.command_timeout_s, retries=self.cfg.command_retries)
        waiter = self._waiters[sysid] = _Waiter(step.command, step.mode is not None)
        try:
            self.send(exchange.next_message(self.clock()))
            while True:
                try:
                    async with asyncio.timeout(max(0.0, exchange.deadline - self.clock())):
                        kind, value = await waiter.inbox.get()
                except TimeoutError:
                    result = exchange.on_timeout()
                    if result is not None:
                        return result, exchange.attempts
                    self.send(exchange.next_message(self.clock()))
                    continue
                result = exchange.on_ack(value, self.clock()) if kind == "ack" else exchange.on_mode(value)
                if result is not None:
                    return result, exchange.attempts
        finally:
            if self._waiters.get(sysid) is waiter:
                del self._waiters[sysid]

    def _audit(self, actor: str, request: CommandRequest, vehicle_id: str, result: str) -> Audit:
        return Audit(
            id=f"audit-{secrets.token_hex(8)}",
            origin=self.node_id,
            ts=self.clock(),
            actor=actor[:200],
            action=f"drone {request.describe()}"[:200],
            target=vehicle_id[:200],
            result=result,
        )

    def links(self) -> list[LinkReport]:
        """Every configured endpoint with its live router endpoints and their counters."""
        reports = []
        for runner in self.runners:
            prefix = f"{runner.name}@"
            names = [n for n in self._ports if n == runner.name or n.startswith(prefix)]
            reports.append(
                LinkReport(
                    name=runner.name,
                    kind=runner.config.kind,
                    state=runner.state.value,
                    failures=runner.failures,
                    last_error=runner.last_error,
                    local_port=runner.local_address[1] if runner.local_address else None,
                    peers=[self._peer_report(n) for n in names],
                    dropped=runner.dropped(),
                )
            )
        return reports

    def _peer_report(self, name: str) -> PeerReport:
        port = self._ports[name]
        stats = self.router.stats(name)
        return PeerReport(
            name=name,
            frames_in=stats.frames_in,
            bytes_in=stats.bytes_in,
            frames_out=stats.frames_out,
            bytes_out=stats.bytes_out,
            filtered=stats.filtered,
            rate_dropped=stats.rate_dropped,
            duplicates=stats.duplicates,
            send_dropped=port.send_dropped,
            framer=port.framer.stats.as_dict(),
            systems=sorted(self.router.seen(name, self.clock())),
        )

    def runner(self, name: str) -> EndpointRunner:
        """The runner of configured endpoint ``name``."""
        return next(r for r in self.runners if r.name == name)


def _target(state: VehicleState) -> Target:
    return Target(
        sysid=state.sysid,
        compid=state.compid,
        autopilot=state.autopilot,
        mav_type=state.mav_type,
        custom_mode=state.custom_mode,
        armed=state.armed,
        home_alt_msl_m=state.home.alt_msl_m if state.home is not None else None,
        alt_rel_m=state.alt_rel_m,
        alt_msl_m=state.alt_msl_m,
    )


__all__ = ["BadCommand", "CommandOutcome", "DroneService", "LinkReport", "PeerReport", "Picture", "StepOutcome"]
