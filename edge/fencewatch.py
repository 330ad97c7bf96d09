"""The geofence watch: an alert when a unit or drone this node observes crosses a geofence.

It reads the scene like any subscriber: a snapshot sets where everything is, then each position
change is checked against every fence (:class:`~edge.scene.geofence.FenceBook`). Only entities this
node observed (``origin`` is this node) are checked, so on a mesh one breach is raised once, by the
node that saw it, and shared as any alert. A subscriber sees the latest value of each entity, so an
entity that enters and leaves again between two reads (milliseconds here) is not seen to cross.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from edge.scene import Alert, Delta, Entity, Marker, Removed, Severity, Snapshot, Unit, Vehicle
from edge.scene.geofence import Crossing, FenceBook

if TYPE_CHECKING:
    from edge.node import EdgeNode

log = logging.getLogger(__name__)


class FenceWatch:
    """Component: watch positions against geofence markers and raise breach alerts."""

    name = "geofence"

    def __init__(self, node: EdgeNode) -> None:
        self.node = node
        self.book = FenceBook()
        self.raised = 0
        self._unsent: list[Alert] = []  # not stored yet (the journal refused): tried again next batch

    async def run(self) -> None:
        scene = self.node.scene
        assert scene is not None
        subscription = scene.subscribe("geofence")
        try:
            async for item in subscription:
                if isinstance(item, Snapshot):
                    self._reset(item.entities)
                else:
                    await self._apply(item)
        finally:
            subscription.close()

    def _reset(self, entities: list[Entity]) -> None:
        self.book = FenceBook()
        for entity in entities:
            if isinstance(entity, Marker):
                self.book.put_fence(entity)
        for entity in entities:
            if self._watched(entity):
                self.book.observe(entity)  # where each one is now; nothing has crossed yet

    def _watched(self, entity: Entity) -> bool:
        return isinstance(entity, Unit | Vehicle) and entity.origin == self.node.node_id

    async def _apply(self, deltas: list[Delta]) -> None:
        changes = [d.value for d in deltas if d.op == "state" and d.value is not None]
        for change in changes:  # fences first: a zone drawn in the same batch applies to these moves
            if isinstance(change, Marker):
                self.book.put_fence(change)
            elif isinstance(change, Removed):
                self.book.drop_fence(change.id)
                self.book.forget(change.id)
        crossings: list[Crossing] = []
        for change in changes:
            if isinstance(change, Unit | Vehicle) and self._watched(change):
                crossings += self.book.observe(change)
        alerts = self._unsent + [self._alert(c) for c in crossings]
        if not alerts:
            return
        assert self.node.scene is not None
        try:
            await self.node.scene.append_many(alerts)
        except Exception as exc:  # the journal said no: keep them for the next batch, watching goes on
            self._unsent = alerts[-100:]
            log.warning("geofence: %d alert(s) not stored yet: %s", len(alerts), exc)
            return
        self._unsent = []
        self.raised += len(alerts)

    def _alert(self, crossing: Crossing) -> Alert:
        fence, entity = crossing.fence, crossing.entity
        who = entity.name or entity.id
        zone = fence.name or fence.category.replace("_", " ")
        when = datetime.fromtimestamp(entity.ts, UTC).strftime("%H:%M:%S UTC")
        verb = "entered" if crossing.entered else "left"
        return Alert(
            id=crossing.alert_id,
            origin=self.node.node_id,
            ts=entity.ts,
            severity=Severity.EMERGENCY if crossing.entered else Severity.WARNING,
            title=f"{who} {verb} {zone}"[:200],
            text=f"{entity.id} {verb} geofence {fence.id} at {when}",
            entity_id=entity.id,
            pos=entity.pos,
        )
