"""ICE consent freshness (RFC 7675) between two real aioice agents on loopback.

A peer that answers late still consents; one that stops answering loses consent after the expiry.
aioice's own rule (0.5 s per answer, six misses in a row) is run against the same late peer to show
what the replacement is for. Intervals are shortened (a check every ~0.2 s, expiry after 1.5 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aioice
import aioice.ice
import pytest

from media import ice

pytestmark = pytest.mark.asyncio


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(ice, "CONSENT_INTERVAL_S", 0.2)
    monkeypatch.setattr(ice, "CONSENT_EXPIRY_S", 1.5)
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)  # aioice's own, for the comparison
    ice.use_host_addresses(["127.0.0.1"])
    yield
    ice.use_host_addresses(None)
    ice.use_rfc7675_consent(False)


async def _pair() -> tuple[aioice.Connection, aioice.Connection]:
    checker, peer = aioice.Connection(ice_controlling=True), aioice.Connection(ice_controlling=False)
    await asyncio.gather(checker.gather_candidates(), peer.gather_candidates())
    for a, b in ((checker, peer), (peer, checker)):
        for candidate in b.local_candidates:
            await a.add_remote_candidate(candidate)
        await a.add_remote_candidate(None)
        a.remote_username, a.remote_password = b.local_username, b.local_password
    await asyncio.gather(checker.connect(), peer.connect())
    return checker, peer


Agents = Callable[[], Awaitable[tuple[aioice.Connection, aioice.Connection]]]


@pytest.fixture
async def agents() -> AsyncIterator[Agents]:
    """Connected (checker, peer) pairs after the test's consent rule is chosen; all closed at the end."""
    made: list[aioice.Connection] = []

    async def make() -> tuple[aioice.Connection, aioice.Connection]:
        checker, peer = await _pair()
        made.extend((checker, peer))
        return checker, peer

    yield make
    for connection in made:
        await connection.close()


def _answer_late(peer: aioice.Connection, late_s: float) -> None:
    """Every STUN message the peer sends leaves ``late_s`` late (its loop busy, say): real sockets, late answers."""
    loop = asyncio.get_running_loop()
    for protocol in peer._protocols:
        send = protocol.send_stun
        protocol.send_stun = lambda message, addr, send=send: loop.call_later(late_s, send, message, addr)


async def _closed(connection: aioice.Connection, within_s: float) -> bool:
    try:
        await asyncio.wait_for(connection.recv(), within_s)
    except ConnectionError:
        return True
    except TimeoutError:
        return False
    raise AssertionError("nothing was sent, so nothing can be received")


async def test_a_peer_answering_late_keeps_consent(agents: Agents) -> None:
    ice.use_rfc7675_consent()
    checker, peer = await agents()
    _answer_late(peer, 0.8)  # every answer later than aioice's 0.5 s, within the 1.5 s expiry
    assert not await _closed(checker, 6.0)  # ~30 checks
    await checker.send(b"still here")
    assert await peer.recv() == b"still here"


async def test_aioice_alone_hangs_up_on_the_same_late_peer(agents: Agents) -> None:
    ice.use_rfc7675_consent(False)
    checker, peer = await agents()
    _answer_late(peer, 0.8)
    assert await _closed(checker, 6.0)  # six late answers in a row: ~4.2 s


async def test_a_peer_that_stops_answering_loses_consent_after_the_expiry(agents: Agents) -> None:
    ice.use_rfc7675_consent()
    checker, peer = await agents()
    loop = asyncio.get_running_loop()
    for protocol in peer._protocols:
        protocol.transport.pause_reading()
    silent = loop.time()
    assert await _closed(checker, 5.0)
    assert 1.2 <= loop.time() - silent <= 3.0  # the expiry (1.5 s) after the last answered check, plus a check's wait
