"""The `[mesh]` section: how this node joins the mesh, what it sends and how it finds peers.

Every option has a default that keeps a single node to itself: no listen or connect endpoints and
no discovery, so the same Zenoh session runs and nothing leaves the process.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from .budget import LinkClass


def _doc(text: str) -> Meta:
    return Meta(description=text)


# Zenoh locators: `tcp/<host>:<port>` (also udp, tls, quic, ws, unixsock-stream in Zenoh's syntax).
Endpoint = Annotated[str, Meta(pattern=r"^[a-z0-9-]+/\S+$", max_length=300)]
Seconds = Annotated[float, Meta(gt=0.0, le=86400.0)]


class MeshSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Sharing the scene with other nodes over Eclipse Zenoh, found with zeroconf."""

    enabled: Annotated[
        bool,
        _doc(
            "Share the scene over Zenoh. With no endpoints and no discovery (the default) the node runs the same "
            "session alone: no scouting, no socket, nothing leaves the process. Off: no Zenoh session at all."
        ),
    ] = True
    mode: Annotated[
        Literal["auto", "peer", "router"],
        _doc(
            "Zenoh mode. `auto`: router for a command post, peer for a kit. Kits talk to the nodes they are "
            "linked with (gossip links kits that reach the same post); a router also forwards between its "
            "routers. Every node a router relays further but, measured with Zenoh 1.10, lost liveliness "
            "tokens in 4 of 10 partition heals of a triangle; peer kits lost none."
        ),
    ] = "auto"
    listen: Annotated[
        list[Endpoint],
        _doc(
            "Zenoh endpoints to accept peers on, e.g. `tcp/0.0.0.0:7447`. Empty: accept none (single node, or "
            "connect-only). Discovery announces the first one, so give it a fixed port."
        ),
        Meta(max_length=16),
    ] = msgspec.field(default_factory=list)
    connect: Annotated[
        list[Endpoint],
        _doc("Zenoh endpoints to dial, e.g. `tcp/10.0.0.1:7447`; retried in the background until they answer."),
        Meta(max_length=64),
    ] = msgspec.field(default_factory=list)
    gossip: Annotated[
        bool,
        _doc(
            "Tell linked nodes about each other's listen endpoints (Zenoh gossip over existing links, never "
            "multicast), so kits that reach the same command post also link to each other directly."
        ),
    ] = True
    discovery: Annotated[
        bool,
        _doc(
            "Announce this node over mDNS (`_fieldkit._tcp.local.`) and dial the kits it finds. Off by default: "
            "it sends multicast on the chosen interfaces."
        ),
    ] = False
    discovery_interfaces: Annotated[
        list[str],
        _doc("Interface addresses mDNS uses (e.g. `192.168.8.10`); empty: every interface."),
        Meta(max_length=16),
    ] = msgspec.field(default_factory=list)
    dial_grace_s: Annotated[
        Seconds,
        _doc(
            "Of two kits that find each other, the one with the smaller id dials; the other dials too if no "
            "link came up after this long."
        ),
    ] = 5.0
    link_class: Annotated[
        LinkClass,
        _doc(
            "What this node's links carry, unless `peer_link_classes` says otherwise for a peer: `lan` (no cap), "
            "`lte` (1 Mbit/s; unit positions at most every 1 s per unit, vehicles every 0.2 s), `mesh` "
            "(200 kbit/s; 5 s / 1 s) or `narrowband` (9.6 kbit/s, a PDT data channel; 30 s / 10 s). What is "
            "sent leaves in strict priority: alarms, then messages and commands, unit positions, vehicle "
            "positions, feeds, everything else; a change with news (a new entity, a status, an emergency) waits "
            "only for its turn. Per peer: this node follows each peer's state in the tier of its class to that "
            "peer, so a LAN peer gets every position while a narrowband peer of the same node gets its thinned "
            "rate; events and removals go to everyone at the pace of the narrowest class among the peers that "
            "are up, and a catch-up reply at the pace of the class of the peer that asked."
        ),
    ] = "lan"
    peer_link_classes: Annotated[
        dict[str, LinkClass],
        _doc(
            'Link class per peer node id, e.g. `{ hub = "narrowband" }` for a kit reaching its post over PDT. '
            "Name it at both ends: the receiver's class picks the state it follows, the sender's paces events "
            "and catch-up."
        ),
    ] = msgspec.field(default_factory=dict)
    lease_s: Annotated[
        Annotated[float, Meta(ge=0.5, le=600.0)],
        _doc("A link silent for this long is declared down (Zenoh transport lease; keep-alives go 4 times as often)."),
    ] = 10.0
    retry_min_s: Annotated[
        Annotated[float, Meta(ge=0.05, le=60.0)], _doc("First delay before dialing a lost peer again.")
    ] = 0.25
    retry_max_s: Annotated[
        Annotated[float, Meta(ge=0.05, le=600.0)],
        _doc(
            "Longest delay between two dials of a lost peer: after a refused link heals, the peers meet again "
            "within about this long (measured: 3.8 s at 4 s, the issue wants 2 s). A dial is one TCP SYN."
        ),
    ] = 1.0
    audit_interval_s: Annotated[
        Seconds,
        _doc(
            "How often each reachable peer is asked for its journal heads and state digests (a few dozen bytes), "
            "so anything a link dropped is fetched even when no link went down."
        ),
    ] = 30.0
    query_timeout_s: Annotated[Seconds, _doc("How long to wait for a peer to answer one catch-up query.")] = 5.0
    batch_events: Annotated[
        int, _doc("Events per catch-up reply; a longer backlog is fetched page by page."), Meta(ge=1, le=10_000)
    ] = 500
    batch_states: Annotated[int, _doc("Entities per catch-up state reply."), Meta(ge=1, le=10_000)] = 500
    max_payload_bytes: Annotated[
        int, _doc("Larger mesh payloads are dropped and counted."), Meta(ge=1024, le=64 * 1024 * 1024)
    ] = 1024 * 1024
    max_inbox: Annotated[
        int,
        _doc(
            "Received samples waiting to be applied. Past it, state is dropped (a newer value follows) and an "
            "event is dropped too and fetched again through catch-up, which its seq gap triggers."
        ),
        Meta(ge=100, le=10_000_000),
    ] = 100_000
    node_heartbeat_s: Annotated[
        Seconds,
        _doc(
            "This node's own `node:` entity is sent when it changes, and otherwise (only its timestamp moved) "
            "at most this often; liveliness already says whether a node is up."
        ),
    ] = 30.0
    links_in_node: Annotated[
        bool,
        _doc("Show each peer link (up/down, RTT, bytes, last heard) in this node's own `node:` entity components."),
    ] = True

    tls_ca: Annotated[
        str,
        _doc(
            "Incident authority certificate (`fieldkit certs init`). With `tls_cert` and `tls_key`, `tls/` "
            "endpoints use mutual TLS: only kits holding a certificate from this authority can link."
        ),
    ] = ""
    tls_cert: Annotated[str, _doc("This node's certificate from the authority (`fieldkit certs issue NODE`).")] = ""
    tls_key: Annotated[str, _doc("This node's private key (kept 0600).")] = ""

    def zenoh_mode(self, role: str) -> Literal["peer", "router"]:
        """The Zenoh mode for a node of ``role`` (`edge` or `command-post`): `auto` is router for a post."""
        if self.mode != "auto":
            return self.mode
        return "router" if role == "command-post" else "peer"
