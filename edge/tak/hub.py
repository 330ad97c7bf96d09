"""What every TAK transport shares: our picture written as CoT, and their events taken in.

The streaming port, each TAK server we push to and multicast SA are *links*. One rule keeps them
from echoing: what came in over a link is never written back to that same link (its peers already
have it as it was sent), but goes out on every other link, so an ATAK user on multicast shows up on
the TAK server and the other way round. The hub remembers which link each taken-in id came over
(bounded; after a restart an unknown TAK-born id goes out nowhere, rather than risk an echo).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections import Counter, OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from defusedxml.ElementTree import fromstring

from edge.scene import (
    Alert,
    AlertClear,
    AlertStatus,
    Change,
    Delta,
    Feed,
    Message,
    Scene,
    Severity,
    Snapshot,
    is_event,
)

from . import proto
from .config import TakSection
from .cot import CotOptions, alert_event, message_event, state_events, to_bytes
from .cotin import CotEvent, CotRejected, Inbound, is_ours, parse_event

if TYPE_CHECKING:
    from edge.node import EdgeNode

log = logging.getLogger(__name__)

Framing = Literal["xml", "stream", "mesh"]  # XML text, TAK protobuf stream frames, TAK protobuf mesh datagrams
MAX_REMEMBERED = 50_000  # taken-in ids whose link is remembered (oldest forgotten first)


class CotHub:
    """The CoT side of one node, shared by its TAK links."""

    def __init__(self, node: EdgeNode, cfg: TakSection) -> None:
        self.node = node
        self.cfg = cfg
        self.inbound = Inbound(node.node_id, cfg.geoid_separation_m)
        self.options = CotOptions(
            stale_s=cfg.stale_s,
            team=cfg.team,
            simulated=node.config.node.simulated,
            node_id=node.node_id,
            geoid_separation_m=cfg.geoid_separation_m,
        )
        self._came_in: OrderedDict[str, str] = OrderedDict()  # taken-in id -> link it came over

    @property
    def scene(self) -> Scene:
        """The node's scene."""
        assert self.node.scene is not None
        return self.node.scene

    def restore(self) -> None:
        """Remember TAK emergencies still open in the picture (after a restart)."""
        self.inbound.restore(r.alert.id for r in self.scene.alerts() if r.status is not AlertStatus.CLEARED)

    # -- in ------------------------------------------------------------------------------------------

    def decode(self, raw: bytes) -> CotEvent:
        """One framed event, XML or protobuf (told by its first byte); raises ``CotRejected``."""
        return proto.decode_frame(raw) if raw[:1] == b"\xbf" else parse_event(raw)

    async def take(self, event: CotEvent, link: str, counts: Counter[str], *, accept: bool = True) -> bool:
        """Put one peer's event into the picture (if ``accept``); False for our own echoed back."""
        counts["events_in"] += 1
        if is_ours(event):
            counts["ignored_own"] += 1
            return False
        if not accept:
            return True
        try:
            changes = self.inbound.changes(event, self.node.clock())
            await self._apply(changes, counts)
        except Exception as exc:  # a value the scene refuses must not end the link
            counts["rejected_invalid"] += 1
            log.debug("%s: event %s not taken in: %s", link, event.uid, exc)
            return True
        for change in changes:
            self._remember(change.id, link)
        return True

    async def take_raw(self, raw: bytes, link: str, counts: Counter[str], *, accept: bool = True) -> bool:
        """Decode and take one framed event; False for one rejected (counted by reason) or our own."""
        try:
            event = self.decode(raw)
        except CotRejected as exc:
            counts[f"rejected_{exc.reason}"] += 1
            return False
        return await self.take(event, link, counts, accept=accept)

    def _remember(self, change_id: str, link: str) -> None:
        self._came_in[change_id] = link
        self._came_in.move_to_end(change_id)
        while len(self._came_in) > MAX_REMEMBERED:
            self._came_in.popitem(last=False)

    async def _apply(self, changes: list[Change], counts: Counter[str]) -> None:
        events = [c for c in changes if is_event(c)]
        for change in changes:
            if not is_event(change):
                self.scene.apply_state(change)  # type: ignore[arg-type]
                counts["taken_states"] += 1
        if events:
            await self.scene.append_many(events)  # type: ignore[arg-type]
            counts["taken_events"] += len(events)

    # -- out -----------------------------------------------------------------------------------------

    def came_over(self, value: Change, link: str) -> bool:
        """True when ``value`` came in over ``link`` (or over a TAK link we no longer remember)."""
        if value.origin != self.node.node_id:
            return False
        key = value.alert_id if isinstance(value, AlertClear) else value.id
        known = self._came_in.get(key)
        if known is not None:
            return known == link
        if isinstance(value, Message):
            return value.via == "tak"
        if isinstance(value, Alert | AlertClear):
            return key.startswith("tak-911-")
        return ":tak:" in value.id

    def picture(self, snapshot: Snapshot, link: str) -> list[ET.Element]:
        """The whole picture for one link: every entity on a map, and every open emergency."""
        now = self.node.clock()
        feeds = [e for e in snapshot.entities if isinstance(e, Feed)]
        out = [state_events(e, now, self.options, feeds) for e in snapshot.entities if not self.came_over(e, link)]
        for record in snapshot.alerts:
            if record.status is not AlertStatus.CLEARED and not self.came_over(record.alert, link):
                out.append(alert_event(record.alert, now, self.options))
        return [e for e in out if e is not None]

    def deltas(self, deltas: Iterable[Delta], link: str) -> list[ET.Element]:
        """The events for a batch of scene deltas, for one link."""
        now = self.node.clock()
        feeds: list[Feed] | None = None
        out: list[ET.Element | None] = []
        for delta in deltas:
            value = delta.value
            if delta.op == "reminder" and delta.alert is not None:
                if not self.came_over(delta.alert.alert, link):
                    out.append(alert_event(delta.alert.alert, now, self.options))
            elif value is None or self.came_over(value, link):
                continue
            elif delta.op == "state":
                if feeds is None:
                    feeds = [e for e in self.scene.entities("feed") if isinstance(e, Feed)]
                out.append(state_events(value, now, self.options, feeds))  # type: ignore[arg-type]
            elif isinstance(value, Alert):
                out.append(alert_event(value, now, self.options))
            elif isinstance(value, AlertClear):
                record = self.scene.alert(value.alert_id)
                if record is not None and record.alert.severity is Severity.EMERGENCY:
                    out.append(alert_event(record.alert, now, self.options, cancel=True))
            elif isinstance(value, Message):
                out.append(message_event(value, now, self.options))
        return [e for e in out if e is not None]


# ATAK's takproto README: streamed XML events are each "prefaced by XML header, followed by a newline".
XML_HEADER = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def encode(event: ET.Element, framing: Framing) -> bytes:
    """One event as bytes on the wire."""
    if framing == "xml":
        return XML_HEADER + to_bytes(event)
    if framing == "stream":
        return proto.stream_frame(proto.encode(event))
    return proto.mesh_frame(proto.encode(event, tak_control=True))


def reframe(raw: bytes, framing: Framing) -> bytes:
    """An event as received (XML or a protobuf frame, already accepted by the parser) in ``framing``."""
    if raw[:1] == b"\xbf":
        message = proto.unframe(raw)
        if framing == "xml":
            return XML_HEADER + proto.to_xml(message)
        return proto.stream_frame(message) if framing == "stream" else proto.mesh_frame(message)
    if framing == "xml":
        return raw
    return encode(fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True), framing)
