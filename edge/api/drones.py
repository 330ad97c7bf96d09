"""Drone routes under /api/: the vehicles, commands for them (pilot role), and the MAVLink links.

``POST /api/vehicles/{id}/commands`` takes ``{"command": "arm" | "disarm" | "takeoff" | "goto" | "rtl"
| "land" | "mode", "alt_m": ..., "lat": ..., "lon": ..., "mode": ...}`` (``alt_m`` above home; takeoff
needs ``alt_m``, goto ``lat`` and ``lon``, mode ``mode``) and answers once the vehicle has, with a
:class:`~drones.CommandOutcome` whose ``result`` names how it ended. The status code follows it:

===================================================  ======
accepted                                             200
in_progress (the vehicle is still at it)             202
denied, temporarily_rejected, failed, unsupported    409 (the vehicle answered, and not yes)
no_vehicle (not connected to this node)              404
timeout (no COMMAND_ACK after every retry)           504
===================================================  ======

A body that is not a valid command (unknown command, missing or misplaced parameter, a mode the
vehicle does not have) gets 400 with the reason and reaches no vehicle; a viewer gets 403, and so
does nothing reach the vehicle. Every command that was tried is an Audit event in the journal.
"""

from __future__ import annotations

import secrets

from litestar import Request, Response, Router, get, post
from litestar.exceptions import ValidationException
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody

from drones import BadCommand, CommandOutcome, CommandRequest, CommandResult, LinkReport
from edge.api.guards import NodeDep, authorize, principal_of
from edge.auth import Role
from edge.node import EdgeNode
from edge.scene import Alert, Entity, Marker, Severity, Vehicle
from edge.scene.geofence import is_fence, path_crosses, watches

VIEW = {"role": Role.VIEWER}
PILOT = {"role": Role.PILOT}

STATUS = {
    CommandResult.ACCEPTED: 200,
    CommandResult.IN_PROGRESS: 202,
    CommandResult.DENIED: 409,
    CommandResult.TEMPORARILY_REJECTED: 409,
    CommandResult.FAILED: 409,
    CommandResult.UNSUPPORTED: 409,
    CommandResult.NO_VEHICLE: 404,
    CommandResult.TIMEOUT: 504,
}
"""HTTP status for each command result."""
_OUTCOMES = {code: ResponseSpec(CommandOutcome, description="the vehicle's answer, or none")
             for code in sorted(set(STATUS.values())) if code != 200}


@get("/vehicles", opt=VIEW, sync_to_thread=False)
def list_vehicles(node: NodeDep) -> list[Entity]:
    """Every vehicle in the picture (this node's and those shared by other nodes)."""
    assert node.scene is not None
    return node.scene.entities("vehicle")


@post("/vehicles/{vehicle_id:str}/commands", opt=PILOT, responses=_OUTCOMES)
async def command_vehicle(
    node: NodeDep,
    vehicle_id: FromPath[str],
    data: JSONBody[CommandRequest],
    request: Request,  # type: ignore[type-arg]
) -> Response[CommandOutcome]:
    """Command one of this node's vehicles; answered when it has answered (or not) — see the module doc."""
    who = principal_of(request)
    service = node.drones
    if service is None:
        outcome = CommandOutcome(
            vehicle_id=vehicle_id,
            command=data.command,
            result=CommandResult.NO_VEHICLE,
            detail="drones are not enabled on this node",
        )
        return Response(outcome, status_code=STATUS[outcome.result])
    if data.command == "goto" and data.lat is not None and data.lon is not None:
        await _warn_keep_out(node, vehicle_id, (data.lat, data.lon), who.label)
    try:
        outcome = await service.command(vehicle_id, data, actor=who.label)
    except BadCommand as exc:
        raise ValidationException(str(exc)) from exc
    return Response(outcome, status_code=STATUS[outcome.result])


async def _warn_keep_out(node: EdgeNode, vehicle_id: str, target: tuple[float, float], actor: str) -> None:
    """Raise an alert for each keep-out zone the straight path to a go-to target would cross.

    The command is still sent: the pilot may have reasons (a higher altitude, an agreed entry), and
    the alert is on record before the vehicle moves.
    """
    assert node.scene is not None
    vehicle = node.scene.get(vehicle_id)
    if not isinstance(vehicle, Vehicle) or vehicle.pos is None or vehicle.origin != node.node_id:
        return  # not flown from this node: its own node checks it
    start = (vehicle.pos.lat, vehicle.pos.lon)
    zones = [
        m
        for m in node.scene.entities("marker")
        if isinstance(m, Marker) and is_fence(m) and m.fence_entry and watches(m, vehicle)
    ]
    now = node.clock()
    alerts = [
        Alert(
            id=f"goto-{secrets.token_hex(8)}",
            origin=node.node_id,
            ts=now,
            severity=Severity.WARNING,
            title=f"{vehicle.name or vehicle_id}: go-to crosses keep-out zone {zone.name or zone.category}"[:200],
            text=f"{actor} sent {vehicle_id} to {target[0]:.6f}, {target[1]:.6f}; the straight path crosses {zone.id}",
            entity_id=vehicle_id,
            pos=vehicle.pos,
        )
        for zone in zones
        if path_crosses(zone, start, target)
    ]
    if alerts:
        await node.scene.append_many(alerts)


@get("/drones/links", opt=VIEW, sync_to_thread=False)
def list_links(node: NodeDep) -> list[LinkReport]:
    """The MAVLink endpoints: state, failures, peers and their counters (drops by kind included)."""
    return node.drones.links() if node.drones is not None else []


drones_router = Router(path="/api", guards=[authorize], route_handlers=[list_vehicles, command_vehicle, list_links])
