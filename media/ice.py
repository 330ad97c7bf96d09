"""Which local addresses WebRTC offers as ICE host candidates.

aioice offers every interface address except loopback. A kit binds its API to 127.0.0.1 unless
configured otherwise, and its video should follow the same rule: offering the LTE or mesh address
of a kit whose operator kept it local would leak it and invite traffic there. So the media service
sets the candidates from ``[media] ice_addresses`` — by default the API's bind address, which means
loopback for a kit left at defaults (and for every test) and all interfaces for a kit bound to
0.0.0.0. aioice has no per-connection option for this, so it is set process-wide, once.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import aioice.ice

_aioice_default = aioice.ice.get_host_addresses


def host_addresses_for(bind_host: str, configured: Sequence[str] | None) -> list[str] | None:
    """The candidate addresses to offer, or None for aioice's own choice (every non-loopback address)."""
    if configured:
        return [str(ipaddress.ip_address(a)) for a in configured]
    if bind_host in ("0.0.0.0", "::", ""):  # noqa: S104 - comparing, not binding
        return None
    return [str(ipaddress.ip_address(bind_host))]


def use_host_addresses(addresses: Sequence[str] | None) -> None:
    """Offer exactly ``addresses`` as host candidates from now on (None restores aioice's default)."""
    if addresses is None:
        aioice.ice.get_host_addresses = _aioice_default
        return
    chosen = list(addresses)

    def configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = configured
