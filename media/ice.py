"""Two process-wide adjustments to aioice: which host candidates it offers, and how it keeps consent.

**Host candidates.** aioice offers every interface address except loopback. A kit binds its API to
127.0.0.1 unless configured otherwise, and its video should follow the same rule: offering the LTE
or mesh address of a kit whose operator kept it local would leak it and invite traffic there. So the
media service sets the candidates from ``[media] ice_addresses`` — by default the API's bind
address, which means loopback for a kit left at defaults (and for every test) and all interfaces
for a kit bound to 0.0.0.0. aioice has no per-connection option for this, so it is set
process-wide, once.

**Consent freshness (RFC 7675).** Consent to send lasts while some check sent in the last 30 s is
answered. aioice instead gives each check (one every 4-6 s) 0.5 s for its answer and hangs up after
six late ones in a row (aiortc/aioice#58). A loop running late for half a minute, which a burst of
work on a 2-core kit does, is then enough to drop every viewer whose checks fell in it although
each one still answers: the hour-long incident soak lost 9 of 20 viewers that way in its first 8
minutes. :func:`use_rfc7675_consent` puts the RFC's rule in its place: a check every 4-6 s, each
retransmitted as any STUN request is (RFC 8489, waits doubling from 0.5 s) until answered, and the
connection closed once 30 s have passed since the last check that was answered was sent.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
from collections.abc import Sequence

import aioice.ice
from aioice import stun

log = logging.getLogger(__name__)

_aioice_default = aioice.ice.get_host_addresses
_aioice_consent = aioice.ice.Connection.query_consent

CONSENT_INTERVAL_S = 5.0  # RFC 7675 section 5.1: checks 0.8-1.2 times this apart
CONSENT_EXPIRY_S = 30.0  # ... and consent expires this long after the last answered check was sent
CHECK_RETRANSMISSIONS = 5  # aioice's RTO doubling from 0.5 s: the last wait ends 31.5 s after the first send


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


async def _query_consent(self: aioice.ice.Connection) -> None:
    """RFC 7675 consent freshness for one aioice connection (see the module doc)."""
    assert self.remote_password is not None  # checks start only once connect() has it
    key = self.remote_password.encode("utf8")
    loop = asyncio.get_running_loop()
    answered = loop.time()  # when the latest check that was answered was sent (connect() just succeeded)
    checks: set[asyncio.Task[None]] = set()

    async def check(pair: aioice.ice.CandidatePair) -> None:
        nonlocal answered
        sent = loop.time()
        request = self.build_request(pair, nominate=False)
        try:
            await pair.protocol.request(
                request, pair.remote_addr, integrity_key=key, retransmissions=CHECK_RETRANSMISSIONS
            )
        except stun.TransactionError:
            return
        answered = max(answered, sent)

    try:
        while (left := answered + CONSENT_EXPIRY_S - loop.time()) > 0:
            await asyncio.sleep(min(left, CONSENT_INTERVAL_S * random.uniform(0.8, 1.2)))
            if answered + CONSENT_EXPIRY_S <= loop.time():
                break
            for pair in self._nominated.values():
                task = loop.create_task(check(pair))
                checks.add(task)
                task.add_done_callback(checks.discard)
    finally:
        for task in checks:
            task.cancel()
    peers = ", ".join(f"{pair.remote_addr[0]}:{pair.remote_addr[1]}" for pair in self._nominated.values())
    log.info("ICE consent of %s expired: no check sent in the last %.0f s was answered", peers, CONSENT_EXPIRY_S)
    self._query_consent_task = None
    await self.close()


def use_rfc7675_consent(on: bool = True) -> None:
    """Keep consent by RFC 7675's rule in every aioice connection from now on (False: aioice's own)."""
    aioice.ice.Connection.query_consent = _query_consent if on else _aioice_consent  # type: ignore[method-assign]
