"""The edge node: one asyncio process, one TaskGroup owning every component.

Startup opens the journal (a corrupt or foreign file stops the node before anything runs) and
restores the picture from it. Shutdown (``stop()``, SIGINT, SIGTERM) cancels the group, then flushes
state and closes the journal; events are already durable when acknowledged, so nothing committed is
lost however the process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Callable, Sequence

from drones import DroneService
from edge import __version__
from edge.auth import TokenStore
from edge.config import Config
from edge.deploy.tls import MeshTlsWatch, log_certificates
from edge.fencewatch import FenceWatch
from edge.journal import Journal, JournalUnavailable
from edge.looplag import LoopLag
from edge.nodehealth import HealthReader
from edge.radio.codecs import codec_factory
from edge.radio.gateway import RadioGateway
from edge.scene import Node as NodeEntity
from edge.scene import NodeRole, Position, Scene
from edge.supervisor import Component, Supervised
from edge.tak.server import TakServer
from edge.tak.service import TakLinks, build_tak_links
from media.service import MediaService
from mesh.sync import MeshSync

log = logging.getLogger(__name__)


class _Every:
    """A component that calls ``tick`` at a fixed interval."""

    def __init__(self, name: str, interval_s: float, tick: Callable[[], object]) -> None:
        self.name = name
        self._interval = interval_s
        self._tick = tick

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            result = self._tick()
            if asyncio.iscoroutine(result):
                await result


class EdgeNode:
    """A running fieldkit node; ``await node.run()`` until ``stop()`` or a signal."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float] = time.time,
        tokens: TokenStore | None = None,
        extra: Sequence[Callable[[EdgeNode], Component]] = (),
    ) -> None:
        self.config = config
        self.clock = clock
        self.node_id = config.node.id
        self.journal = Journal(config.journal_path, node_id=self.node_id, synchronous=config.journal.synchronous)
        self.tokens = tokens if tokens is not None else TokenStore(config.tokens_path)
        self.scene: Scene | None = None
        self.drones: DroneService | None = None  # the MAVLink router and vehicles, when [drones] is enabled
        self.mesh: MeshSync | None = None  # scene sync with other nodes over Zenoh
        self.tak: TakServer | None = None  # the TAK streaming port, when [tak] is enabled
        self.tak_links: TakLinks | None = None  # every TAK link (streaming port, servers, multicast)
        self.media: MediaService | None = None  # video feeds and their WebRTC viewers, when [media] is enabled
        self.supervised: list[Supervised] = []
        self.api_url: str | None = None
        self.ready = asyncio.Event()
        self._extra = extra
        self._stop = asyncio.Event()
        self._last_history = 0.0
        self._health = HealthReader()
        self._journal_said: str | None = None  # the journal's state as last published in the node entity
        self.loop_lag = LoopLag("node")  # how late the node's loop runs (edge.looplag)

    def stop(self) -> None:
        """Ask the node to shut down (idempotent, callable from a signal handler)."""
        self._stop.set()

    def health(self) -> dict[str, dict[str, object]]:
        """Each component's state, restarts and last error."""
        return {s.name: s.report() for s in self.supervised}

    async def run(self, *, handle_signals: bool = False) -> None:
        """Open the journal, start every component, and run until stopped."""
        log_certificates(self.config)
        restored = await asyncio.to_thread(self.journal.open)
        try:
            scene = Scene(
                self.node_id,
                self.journal,
                clock=self.clock,
                track_interval_s=self.config.journal.track_interval_s,
                reannounce_s=self.config.scene.reannounce_s,
                max_subscriber_states=self.config.scene.max_subscriber_states,
                max_subscriber_events=self.config.scene.max_subscriber_events,
            )
            scene.restore(restored)
            self.scene = scene
            self._publish_self()
            # What startup allocated lives as long as the node: keep it out of every later full
            # collection (measured: full collections of ~50k objects paused the loop 25-33 ms).
            gc.freeze()
            await self._run_components(handle_signals)
        finally:
            await self._close()

    async def _run_components(self, handle_signals: bool) -> None:
        from edge.api import ApiServer  # noqa: PLC0415 - the API imports this module: break the cycle here

        components: list[Component] = [
            _Every("journal-flush", self.config.journal.flush_interval_s, self._flush),
            _Every("alert-reminder", 1.0, self._remind),
            _Every("node-status", 5.0, self._publish_self),
            _Every("journal-watch", 0.5, self._journal_watch),
            _Every("journal-prune", 3600.0, self._prune),
            _Every("token-refresh", 1.0, self.tokens.refresh),  # `fieldkit token revoke` closes live sockets
            FenceWatch(self),
            ApiServer(self),
        ]
        if self.config.mesh.enabled:
            # On by default: alone, the mesh is a Zenoh session with scouting off and no endpoints
            # (nothing leaves the process), so one node and a mesh of nodes run one code path.
            self.mesh = MeshSync(self, self.config.mesh)
            components.append(self.mesh)
            if self.config.mesh.tls_cert:  # says plainly why a peer refuses this kit's certificate
                components.append(MeshTlsWatch(self.config.mesh))
        if self.config.radio.enabled:
            components.append(RadioGateway(self, self.config.radio, codec_factory(self.config.radio)))
        if self.config.drones.enabled:
            assert self.scene is not None
            self.drones = DroneService(self.config.drones, node_id=self.node_id, picture=self.scene, clock=self.clock)
            components.append(self.drones)
        if self.config.tak.active:
            self.tak_links = build_tak_links(self, self.config.tak)
            self.tak = self.tak_links.server
            components += self.tak_links.components()
        if self.config.media.enabled:
            self.media = MediaService(self, self.config.media, clock=self.clock)
            components.append(self.media)
        components += [make(self) for make in self._extra]
        self.supervised = [Supervised(c) for c in components]
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
        self.loop_lag.start()
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(s.run(), name=s.name) for s in self.supervised]
                await self._stop.wait()
                for task in tasks:
                    task.cancel()
        finally:
            self.loop_lag.stop()
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)

    async def _flush(self) -> None:
        assert self.scene is not None
        now = self.clock()
        history = now - self._last_history >= self.config.journal.history_interval_s
        if history:
            self._last_history = now
        # When the journal cannot store it has said so once; the scene keeps what was not written
        # and the next tick tries again (no restart with backoff, so it stores as soon as it can).
        with contextlib.suppress(JournalUnavailable):
            await self.scene.flush(history=history)

    async def _prune(self) -> None:
        before = self.clock() - self.config.journal.retain_days * 86400
        tracks, history = await self.journal.prune(before)
        if tracks or history:
            log.info(
                "journal: pruned %d track points and %d replay rows older than %.0f days",
                tracks,
                history,
                self.config.journal.retain_days,
            )

    def _remind(self) -> None:
        assert self.scene is not None
        self.scene.remind()

    def _journal_watch(self) -> None:
        """Publish this node at once when its journal stops (or starts again) storing: pages show it."""
        if self._journal_state() != self._journal_said:
            self._publish_self()

    def _journal_state(self) -> str:
        return "unavailable" if self.journal.unavailable else "ok"

    def _publish_self(self) -> None:
        """Put this node itself in the picture, with its components' states."""
        assert self.scene is not None
        cfg = self.config.node
        pos = Position(lat=cfg.lat, lon=cfg.lon) if cfg.lat is not None and cfg.lon is not None else None
        current = self.scene.get(f"node:{self.node_id}")
        journal = self._journal_said = self._journal_state()
        self.scene.apply_state(
            NodeEntity(
                id=f"node:{self.node_id}",
                origin=self.node_id,
                ts=self.clock(),
                name=cfg.name or self.node_id,
                pos=pos,
                role=NodeRole(cfg.role),
                version=__version__,
                # The journal is listed beside the components so every page and peer sees when it cannot store.
                components={s.name: s.state.value for s in self.supervised} | {"journal": journal},
                health=self._health.read(),
                links=current.links if isinstance(current, NodeEntity) else [],  # the mesh refreshes them
            )
        )

    async def _close(self) -> None:
        if self.scene is not None:
            try:
                async with asyncio.timeout(1.0):
                    await self.scene.flush(history=True)
            except Exception as exc:  # the journal says why; events were committed already
                log.error("final state flush failed: %s", exc)
        await asyncio.to_thread(self.journal.close)
        log.info("node %s stopped", self.node_id)
