"""Prometheus metrics of one node, collected from the live objects at scrape time.

Each node has its own ``CollectorRegistry`` (never the process-global one), so two nodes in one
process (tests, ``fieldkit sim``) never mix their numbers. Nothing is counted twice: the collector
reads the counters the components already keep (scene, journal, radio gateway, drone router, TAK
server, supervisor) when ``/metrics`` is scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge.radio.gateway import RadioGateway
from edge.scene import ENTITY_KINDS, Feed
from edge.supervisor import ComponentState

if TYPE_CHECKING:
    from edge.node import EdgeNode

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class NodeCollector(Collector):
    """Reads one node's counters on every scrape."""

    def __init__(self, node: EdgeNode, live_clients: Callable[[], int]) -> None:
        self._node = node
        self._live_clients = live_clients

    def collect(self) -> Iterator[Metric]:
        """Every metric family of the node, as it is now."""
        yield from self._scene()
        yield from self._loops()
        yield from self._mesh()
        yield from self._journal()
        yield from self._components()
        yield from self._radio()
        yield from self._drones()
        yield from self._tak()
        yield from self._media()
        yield from self._mesh_feeds()

    def _scene(self) -> Iterator[Metric]:
        scene = self._node.scene
        if scene is None:
            return
        c = scene.counters
        states = CounterMetricFamily("fieldkit_scene_states", "State changes offered to the scene.", labels=["result"])
        for result, value in (("applied", c.states_applied), ("stale", c.states_stale), ("future", c.states_future)):
            states.add_metric([result], value)
        yield states
        events = CounterMetricFamily("fieldkit_scene_events", "Events offered to the scene.", labels=["result"])
        events.add_metric(["applied"], c.events_applied)
        events.add_metric(["duplicate"], c.events_duplicate)
        yield events
        entities = GaugeMetricFamily("fieldkit_scene_entities", "Entities in the picture.", labels=["kind"])
        for kind in ENTITY_KINDS:
            entities.add_metric([kind], len(scene.entities(kind)))
        yield entities
        yield GaugeMetricFamily("fieldkit_scene_subscribers", "Subscribers attached to the scene.", scene.subscribers)
        yield GaugeMetricFamily("fieldkit_live_clients", "WebSocket clients on /api/live.", self._live_clients())
        viewers = GaugeMetricFamily("fieldkit_feed_viewers", "Viewers of each video feed.", labels=["feed"])
        for feed in scene.entities("feed"):
            if isinstance(feed, Feed):
                viewers.add_metric([feed.id], feed.viewers)
        yield viewers

    def _loops(self) -> Iterator[Metric]:
        lags = [self._node.loop_lag]
        media = getattr(self._node, "media", None)
        if media is not None and media.rtc.started:
            lags.append(media.rtc.lag)
        worst = GaugeMetricFamily(
            "fieldkit_loop_lag_seconds", "How late the event loop ran a due timer (worst, last 10 s).", labels=["loop"]
        )
        stalls = CounterMetricFamily(
            "fieldkit_loop_stalls", "Runs of the event loop over 250 ms late (edge.looplag).", labels=["loop"]
        )
        for lag in lags:
            worst.add_metric([lag.name], lag.worst_s())
            stalls.add_metric([lag.name], lag.stalls)
        yield worst
        yield stalls

    def _mesh(self) -> Iterator[Metric]:
        mesh = getattr(self._node, "mesh", None)
        if mesh is None:
            return
        report = mesh.report()
        counts = CounterMetricFamily("fieldkit_mesh", "Mesh counters: sent, received, dropped.", labels=["kind"])
        counters = {**report["counters"], "inbox_dropped": report["inbox_dropped"]}
        counters["deltas_without_base"] = report["deltas_without_base"]
        for kind, count in sorted(counters.items()):
            counts.add_metric([kind], count)
        yield counts
        yield CounterMetricFamily(
            "fieldkit_mesh_published_bytes", "Payload bytes this node published on the mesh.", report["published_bytes"]
        )
        yield GaugeMetricFamily("fieldkit_mesh_session_open", "1 while the Zenoh session is open.", report["open"])

    def _journal(self) -> Iterator[Metric]:
        journal = self._node.journal
        yield CounterMetricFamily("fieldkit_journal_commits", "Journal transactions committed.", journal.commits)
        yield CounterMetricFamily(
            "fieldkit_journal_commit_seconds", "Time spent committing journal transactions.", journal.commit_seconds
        )
        yield GaugeMetricFamily(
            "fieldkit_journal_available", "1 while the journal can store, 0 while it refuses (disk full, read-only).",
            0.0 if journal.unavailable else 1.0,
        )
        yield CounterMetricFamily(
            "fieldkit_journal_refused", "Journal writes refused because they could not be stored.", journal.refused
        )

    def _components(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "fieldkit_component_state", "1 for the state each component is in.", labels=["component", "state"]
        )
        restarts = CounterMetricFamily(
            "fieldkit_component_restarts", "Restarts of each component after a failure.", labels=["component"]
        )
        for s in self._node.supervised:
            for option in ComponentState:
                state.add_metric([s.name, option.value], 1.0 if s.state is option else 0.0)
            restarts.add_metric([s.name], s.restarts)
        yield state
        yield restarts

    def _radio(self) -> Iterator[Metric]:
        gateways = [s.component for s in self._node.supervised if isinstance(s.component, RadioGateway)]
        gw_label = ["gateway"]
        bytes_in = CounterMetricFamily("fieldkit_radio_bytes_in", "Bytes read from the radio link.", labels=gw_label)
        events_in = CounterMetricFamily("fieldkit_radio_events_in", "Events decoded from the radio.", labels=gw_label)
        drops = CounterMetricFamily(
            "fieldkit_radio_drops", "What the radio codec dropped, by kind.", labels=["gateway", "kind"]
        )
        connected = GaugeMetricFamily("fieldkit_radio_connected", "1 while the radio link is open.", labels=["gateway"])
        held = GaugeMetricFamily(
            "fieldkit_radio_unstored", "Radio events held because the journal refused them.", labels=["gateway"]
        )
        for gw in gateways:
            held.add_metric([gw.name], len(gw.unstored))
            bytes_in.add_metric([gw.name], gw.bytes_in)
            events_in.add_metric([gw.name], gw.events_in)
            connected.add_metric([gw.name], 1.0 if gw.connected.is_set() else 0.0)
            if gw.codec is not None:
                for kind, count in sorted(gw.codec.drops.counts.items()):
                    drops.add_metric([gw.name, kind], count)
        yield from (bytes_in, events_in, drops, connected, held)

    def _drones(self) -> Iterator[Metric]:
        service = self._node.drones
        if service is None:
            return
        up = GaugeMetricFamily(
            "fieldkit_drone_link_state", "1 for each link's state.", labels=["link", "kind", "state"]
        )
        failures = CounterMetricFamily("fieldkit_drone_link_failures", "Failures of each link.", labels=["link"])
        dropped = CounterMetricFamily(
            "fieldkit_drone_link_dropped",
            "UDP datagrams lost before they were read: kernel (receive buffer full) or queue (reader behind).",
            labels=["link", "where"],
        )
        names = ("frames_in", "bytes_in", "frames_out", "bytes_out", "filtered", "rate_dropped", "duplicates")
        peer = {
            n: CounterMetricFamily(f"fieldkit_drone_router_{n}", f"MAVLink router: {n} per endpoint.", labels=["peer"])
            for n in (*names, "send_dropped")
        }
        framer = CounterMetricFamily(
            "fieldkit_drone_framer", "MAVLink framer counters per endpoint, by kind.", labels=["peer", "kind"]
        )
        for link in service.links():
            up.add_metric([link.name, link.kind, link.state], 1.0)
            failures.add_metric([link.name], link.failures)
            for where, count in sorted(link.dropped.items()):
                dropped.add_metric([link.name, where], count)
            for p in link.peers:
                for n in (*names, "send_dropped"):
                    peer[n].add_metric([p.name], getattr(p, n))
                for kind, count in sorted(p.framer.items()):
                    framer.add_metric([p.name, kind], count)
        yield from (up, failures, dropped, *peer.values(), framer)
        vehicles = GaugeMetricFamily("fieldkit_drone_vehicles", "Vehicles in the picture.")
        vehicles.add_metric([], len(self._node.scene.entities("vehicle")) if self._node.scene else 0)
        yield vehicles

    def _tak(self) -> Iterator[Metric]:
        server = getattr(self._node, "tak", None)
        if server is not None:
            yield GaugeMetricFamily(
                "fieldkit_tak_clients", "TAK clients connected to the streaming port.", server.clients
            )
            counters = CounterMetricFamily("fieldkit_tak", "TAK streaming port counters, by kind.", labels=["kind"])
            for kind, count in sorted(server.counts.items()):
                counters.add_metric([kind], count)
            yield counters
        links = getattr(self._node, "tak_links", None)
        if links is None or not (links.clients or links.multicast):
            return
        up = GaugeMetricFamily("fieldkit_tak_link_up", "1 while a TAK server link is connected.", labels=["link"])
        counts = CounterMetricFamily(
            "fieldkit_tak_link", "TAK server and multicast link counters, by kind.", labels=["link", "kind"]
        )
        for client in links.clients:
            up.add_metric([client.name], 1.0 if client.connected.is_set() else 0.0)
        for link in [*links.clients, *([links.multicast] if links.multicast else [])]:
            for kind, count in sorted(link.counts.items()):
                counts.add_metric([link.name, kind], count)
        yield from (up, counts)

    def _media(self) -> Iterator[Metric]:
        media = getattr(self._node, "media", None)
        if media is None:
            return
        counters = {
            "units": ("fieldkit_feed_access_units", "Encoded pictures a feed carried."),
            "keyframes": ("fieldkit_feed_keyframes", "Keyframes a feed carried."),
            "bytes": ("fieldkit_feed_bytes", "Encoded video bytes a feed carried."),
            "viewer_drops": ("fieldkit_feed_viewer_drops", "Pictures skipped by viewers that fell behind."),
        }
        families = {k: CounterMetricFamily(name, doc, labels=["feed"]) for k, (name, doc) in counters.items()}
        restarts = CounterMetricFamily("fieldkit_feed_source_restarts", "Times a feed's source ended.", labels=["feed"])
        requests = CounterMetricFamily("fieldkit_feed_keyframe_requests", "Keyframes asked for.", labels=["feed"])
        for name, runner in media.feeds.items():
            for key, family in families.items():
                family.add_metric([name], getattr(runner.relay.stats, key))
            restarts.add_metric([name], runner.restarts)
            requests.add_metric([name], runner.relay.keyframe_requests)
        yield from families.values()
        yield restarts
        yield requests
        yield GaugeMetricFamily("fieldkit_webrtc_viewers", "WHEP sessions open on this node.", len(media.viewers))

    def _mesh_feeds(self) -> Iterator[Metric]:
        """Snapshots and video across the mesh (mesh/feeds.py), and other nodes' feeds relayed here."""
        mesh = getattr(self._node, "mesh", None)
        feeds = mesh.feeds if mesh is not None else None
        if feeds is not None:
            doc = "Snapshots, video units and wants sent, received and dropped across the mesh."
            counts = CounterMetricFamily("fieldkit_mesh_feed_samples", doc, labels=["what"])
            report = feeds.report()
            for what, value in report.items():
                if isinstance(value, int) and what != "snapshots_held":
                    counts.add_metric([what], value)
            yield counts
            yield GaugeMetricFamily(
                "fieldkit_mesh_snapshots_held", "Other nodes' feed snapshots held here.", report["snapshots_held"]
            )
        media = getattr(self._node, "media", None)
        if media is not None:
            yield GaugeMetricFamily(
                "fieldkit_remote_feeds", "Other nodes' feeds relayed on this node now.", len(media.remote.runners)
            )


def registry_for(node: EdgeNode, live_clients: Callable[[], int]) -> CollectorRegistry:
    """A registry of its own for one node."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node, live_clients))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text exposition format."""
    return generate_latest(registry)
