"""The ``[tak]`` section: the TAK streaming port, TAK servers to push to, multicast SA (CoT out and in)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct


def _doc(text: str) -> Meta:
    return Meta(description=text)


Protocol = Literal["xml", "protobuf"]
_PROTOCOL_DOC = "`xml` (every TAK client and server reads it) or `protobuf` (TAK Protocol version 1, smaller)."


class TakServerLink(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """An existing TAK server (TAK Server, OpenTAKServer, FreeTAKServer) we connect out to."""

    name: Annotated[str, _doc("Name in logs and metrics; defaults to host:port."), Meta(max_length=60)] = ""
    host: Annotated[str, _doc("The server's address or host name."), Meta(min_length=1, max_length=253)]
    port: Annotated[
        int, _doc("Its streaming port: TAK Server uses 8087 for TCP and 8089 for TLS."), Meta(ge=1, le=65535)
    ] = 8087
    tls: Annotated[bool, _doc("Connect with TLS (the server's certificate is always verified).")] = False
    cert: Annotated[str, _doc("PEM file of our client certificate (TAK Server's 8089 asks for one).")] = ""
    key: Annotated[str, _doc("PEM file of its private key (unencrypted; keep it 0600).")] = ""
    ca: Annotated[str, _doc("PEM file of the CA(s) that signed the server's certificate; empty: the system's.")] = ""
    server_name: Annotated[
        str, _doc("Name the server's certificate must carry; empty: `host`."), Meta(max_length=253)
    ] = ""
    protocol: Annotated[
        Protocol,
        _doc(
            "`xml`, or `protobuf`: ask for TAK Protocol v1 when the server offers it (TAK Server does; "
            "the connection stays XML with one that does not)."
        ),
    ] = "xml"

    @property
    def label(self) -> str:
        """The name in logs and metrics."""
        return self.name or f"{self.host}:{self.port}"


class MulticastSA(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """ATAK's mesh situational awareness: CoT as UDP datagrams on a multicast group."""

    enabled: Annotated[bool, _doc("Send our picture to the group and take in what others send there.")] = False
    group: Annotated[str, _doc("Multicast group (ATAK's SA default 239.2.3.1), or a unicast address.")] = "239.2.3.1"
    port: Annotated[int, _doc("UDP port (ATAK's SA default 6969)."), Meta(ge=1, le=65535)] = 6969
    interface: Annotated[
        str, _doc("Address of the interface to send and join on. Loopback unless you mean the radio network.")
    ] = "127.0.0.1"
    ttl: Annotated[int, _doc("Multicast hops (0 keeps datagrams on this machine)."), Meta(ge=0, le=255)] = 1
    protocol: Annotated[Protocol, _doc(_PROTOCOL_DOC)] = "xml"
    accept_in: Annotated[bool, _doc("Take in positions, GeoChat and alerts seen on the group.")] = True


class TakSection(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Cursor-on-Target for ATAK, iTAK and WinTAK users: a streaming TCP port like TAK Server's."""

    enabled: Annotated[bool, _doc("Serve the picture as CoT XML on a TCP streaming port and take CoT in.")] = False
    host: Annotated[str, _doc("Address of the streaming port. Loopback unless you mean to serve the network.")] = (
        "127.0.0.1"
    )
    port: Annotated[
        int, _doc("TCP port of the streaming port (TAK Server uses 8087); 0 picks a free one."), Meta(ge=0, le=65535)
    ] = 8087
    stale_s: Annotated[
        float, _doc("Stale time of every event we send, after its send time."), Meta(gt=10.0, le=86400.0)
    ] = 120.0
    resend_s: Annotated[
        float,
        _doc("Every entity is sent again this often (must be shorter than stale_s, so nothing goes stale)."),
        Meta(gt=1.0, le=86400.0),
    ] = 60.0
    max_clients: Annotated[int, _doc("TAK clients served at once; more are refused."), Meta(ge=1, le=10_000)] = 100
    max_event_bytes: Annotated[
        int,
        _doc("Largest CoT event accepted from a client; larger ones are dropped and counted."),
        Meta(ge=1024, le=4 * 1024 * 1024),
    ] = 64 * 1024
    max_client_buffer_bytes: Annotated[
        int,
        _doc("Bytes waiting to be sent to one client before it is dropped as too slow."),
        Meta(ge=16 * 1024, le=256 * 1024 * 1024),
    ] = 4 * 1024 * 1024
    accept_in: Annotated[
        bool, _doc("Take CoT in from connected clients: positions become units, GeoChat messages, 911 alerts.")
    ] = True
    team: Annotated[str, _doc("Team colour (`__group`) our events carry."), Meta(max_length=40)] = "Cyan"
    offer_protobuf: Annotated[
        bool,
        _doc(
            "Offer TAK Protocol v1 (protobuf) to streaming-port clients, as TAK Server does (t-x-takp-v); "
            "a client that asks is switched, every other one stays on XML."
        ),
    ] = True
    geoid_separation_m: Annotated[
        Annotated[float, Meta(ge=-110.0, le=90.0)] | None,
        _doc(
            "Geoid height N (e.g. EGM96) where the kit works: height above the WGS-84 ellipsoid = height above "
            "sea level + N. CoT heights are above the ellipsoid and ours above sea level: without N, heights go "
            "out and come in as unknown rather than wrong by up to 100 m."
        ),
    ] = None
    servers: Annotated[
        list[TakServerLink],
        _doc("TAK servers to connect out to: our picture is pushed to each, what they send is taken in."),
        Meta(max_length=20),
    ] = []
    multicast: Annotated[MulticastSA, _doc("UDP multicast SA (ATAK's mesh mode).")] = msgspec.field(
        default_factory=MulticastSA
    )

    @property
    def active(self) -> bool:
        """True when any TAK transport is configured."""
        return self.enabled or bool(self.servers) or self.multicast.enabled


def problems(cfg: TakSection) -> list[str]:
    """What is wrong with a ``[tak]`` section beyond single options."""
    import ipaddress  # noqa: PLC0415 - only needed here

    found = []
    try:
        ipaddress.ip_address(cfg.host)
    except ValueError:
        found.append(f"tak.host: {cfg.host!r} is not an IP address")
    for i, link in enumerate(cfg.servers):
        if bool(link.cert) != bool(link.key):
            found.append(f"tak.servers[{i}]: cert and key go together (got only one)")
        if (link.cert or link.ca) and not link.tls:
            found.append(f"tak.servers[{i}]: cert/ca are for TLS: set tls = true")
    if len({link.label for link in cfg.servers}) != len(cfg.servers):
        found.append("tak.servers: two servers have the same name (or host:port)")
    if cfg.multicast.enabled:
        for key in ("group", "interface"):
            try:
                ipaddress.IPv4Address(getattr(cfg.multicast, key))
            except ValueError:
                found.append(f"tak.multicast.{key}: {getattr(cfg.multicast, key)!r} is not an IPv4 address")
    if cfg.resend_s >= cfg.stale_s:
        found.append(f"tak.resend_s: {cfg.resend_s} must be shorter than tak.stale_s ({cfg.stale_s})")
    return found
