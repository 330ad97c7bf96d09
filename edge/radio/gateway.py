"""The radio gateway component: link -> codec -> radio picture -> scene, and texts back out.

Runs under the node's supervisor: when the link fails (a USB adapter pulled, a TCP reset) ``run``
raises, the supervisor waits with backoff and calls ``run`` again, which reopens the link with a
fresh framer. The outbox and the picture live on the component, so pending texts and what is known
of each unit survive a reconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.scene import Change, Event, Message, Receipt, Scene, Subscription, is_event

from .backlog import Backlog
from .config import RadioSection
from .events import Delivery, RadioEvent
from .framing import Codec
from .links import Link, open_serial, open_tcp, open_udp
from .mototrbo_link import mototrbo_ports, open_mototrbo
from .outbox import Outbox
from .picture import RadioPicture, load_roster
from .rawlog import RawLog

if TYPE_CHECKING:
    from edge.node import EdgeNode

log = logging.getLogger(__name__)

RESEND_WINDOW_S = 600.0  # after a restart, texts this recent without a receipt are sent again


def open_link_for(cfg: RadioSection) -> Callable[[], Awaitable[Link]]:
    """How to open the configured link."""
    if cfg.framing == "mototrbo":  # datagrams from many radios, one per service port: its own link
        return lambda: open_mototrbo(cfg.host, mototrbo_ports(cfg.mototrbo))
    if cfg.transport == "serial":
        return lambda: open_serial(
            cfg.device,
            baudrate=cfg.baudrate,
            bytesize=cfg.bytesize,
            parity=cfg.parity,
            stopbits=float(cfg.stopbits),
            rtscts=cfg.rtscts,
            xonxoff=cfg.xonxoff,
        )
    if cfg.transport == "tcp":
        return lambda: open_tcp(cfg.host, cfg.port)
    peer = (cfg.peer_host, cfg.peer_port) if cfg.peer_host else None
    return lambda: open_udp(cfg.host, cfg.port, peer)


class RadioGateway:
    """Component: one radio gateway feeding the scene."""

    def __init__(
        self,
        node: EdgeNode,
        cfg: RadioSection,
        codec_factory: Callable[[], Codec],
        *,
        open_link: Callable[[], Awaitable[Link]] | None = None,
    ) -> None:
        self.node = node
        self.cfg = cfg
        self.name = f"radio-{cfg.system}"
        self._codec_factory = codec_factory
        self._open_link = open_link or open_link_for(cfg)
        roster = load_roster(Path(cfg.roster)) if cfg.roster else {}
        self.picture = RadioPicture(
            node_id=node.node_id, system=cfg.system, roster=roster, offline_after_s=cfg.offline_after_s
        )
        self.outbox = Outbox(
            node_id=node.node_id, system=cfg.system, retry_s=cfg.text_retry_s, attempts=cfg.text_attempts
        )
        self.codec: Codec | None = None
        self.connected = asyncio.Event()
        self.connects = 0  # links opened: the supervisor resets its backoff after a run that connected
        self.bytes_in = 0
        self.events_in = 0
        self.unstored = Backlog(self.name)  # events the journal refused, offered again every tick
        self._recovered = False

    @property
    def scene(self) -> Scene:
        """The node's scene (the component only runs inside a started node)."""
        assert self.node.scene is not None
        return self.node.scene

    async def run(self) -> None:
        """Open the link and serve it until it fails."""
        link = await self._open_link()
        codec = self.codec = self._codec_factory()
        raw = RawLog(Path(self.cfg.raw_log)) if self.cfg.raw_log else None
        subscription = self.scene.subscribe(self.name, states=False)
        log.info("%s: connected over %s (%s framing)", self.name, link.description, codec.name)
        self.connected.set()
        self.connects += 1
        try:
            await _drain_outbox(link, codec)
            if not self._recovered:
                await self._recover_unsent()
                self._recovered = True
            await _first_failure(
                self._read(link, codec, raw),
                self._texts_out(subscription),
                self._tick(link, codec),
                self._poll(link, codec),
            )
        finally:
            self.connected.clear()
            subscription.close()
            if raw is not None:
                raw.close()
            await link.aclose()

    # -- inbound -------------------------------------------------------------------------------

    async def _read(self, link: Link, codec: Codec, raw: RawLog | None) -> None:
        while True:
            data = await link.read()
            now = self.node.clock()
            self.bytes_in += len(data)
            if raw is not None:
                raw.write(now, data)
            for event in codec.feed(data, now):
                self.events_in += 1
                await self._apply(event, now)
            await _drain_outbox(link, codec)

    async def _apply(self, event: RadioEvent, now: float) -> None:
        if isinstance(event, Delivery):
            receipt = self.outbox.delivered(event, now)
            if receipt is not None:
                await self.unstored.store(self.scene, [receipt])
            return
        await self._to_scene(self.picture.apply(event, now))

    async def _to_scene(self, changes: list[Change]) -> None:
        events: list[Event] = []
        for change in changes:
            if is_event(change):
                events.append(change)  # type: ignore[arg-type]
            else:
                self.scene.apply_state(change)  # type: ignore[arg-type]
        if events:
            await self.unstored.store(self.scene, events)

    # -- outbound ------------------------------------------------------------------------------

    async def _texts_out(self, subscription: Subscription) -> None:
        async for item in subscription:
            if isinstance(item, list):
                for delta in item:
                    if isinstance(delta.value, Message) and self.outbox.wants(delta.value):
                        self.outbox.submit(delta.value, self.node.clock())

    async def _recover_unsent(self) -> None:
        """Texts journaled before a restart whose delivery was never settled go out again."""
        now = self.node.clock()
        recent = await self.node.journal.events_between(now - RESEND_WINDOW_S, now, limit=5000)
        settled = {e.message_id for e in recent if isinstance(e, Receipt)}
        for event in recent:
            if isinstance(event, Message) and self.outbox.wants(event) and event.id not in settled:
                self.outbox.submit(event, now)

    async def _tick(self, link: Link, codec: Codec) -> None:
        while True:
            now = self.node.clock()
            await self._to_scene(self.picture.tick(now))
            receipts: list[Event] = list(self.outbox.expired(now))
            for pending in self.outbox.due(now):
                frame = codec.encode_text(pending.dst, pending.message.text, group=pending.group, msg_id=pending.msg_id)
                if frame is None:
                    receipts.append(self.outbox.unsendable(pending, now, f"{codec.name} framing cannot carry texts"))
                    continue
                await link.write(frame)
                sent = self.outbox.sent(pending, now)
                if sent is not None:
                    receipts.append(sent)
            await self.unstored.store(self.scene, receipts)  # and whatever the journal refused before
            await asyncio.sleep(0.2)

    async def _poll(self, link: Link, codec: Codec) -> None:
        interval = self.cfg.poll_interval_s
        if interval <= 0:
            return
        while True:
            units = sorted(set(self.picture.roster) | self.picture.known_units())
            spacing = interval / max(1, len(units))
            for unit in units:
                frame = codec.encode_poll(unit)
                if frame is None:
                    log.info("%s: %s framing cannot poll positions; polling off", self.name, codec.name)
                    return
                await link.write(frame)
                await asyncio.sleep(spacing)
            if not units:
                await asyncio.sleep(interval)


async def _drain_outbox(link: Link, codec: Codec) -> None:
    """Send what the framing owes the other end (session set-up, acks)."""
    while codec.outbox:
        await link.write(codec.outbox.pop(0))


async def _first_failure(*coros: Coroutine[Any, Any, None]) -> None:
    """Run until one of them fails (its exception propagates) or all finish; cancel the rest."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
