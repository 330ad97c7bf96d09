"""The ``[tak]`` section: the TAK streaming port (CoT XML out and in)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct


def _doc(text: str) -> Meta:
    return Meta(description=text)


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


def problems(cfg: TakSection) -> list[str]:
    """What is wrong with a ``[tak]`` section beyond single options."""
    import ipaddress  # noqa: PLC0415 - only needed here

    found = []
    try:
        ipaddress.ip_address(cfg.host)
    except ValueError:
        found.append(f"tak.host: {cfg.host!r} is not an IP address")
    if cfg.resend_s >= cfg.stale_s:
        found.append(f"tak.resend_s: {cfg.resend_s} must be shorter than tak.stale_s ({cfg.stale_s})")
    return found
