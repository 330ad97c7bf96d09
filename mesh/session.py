"""One Zenoh session per node: its configuration, opening and closing off the loop, queries.

A single node and a mesh node run the same code: with no endpoints the session opens in about a
millisecond and nothing leaves the process. Multicast scouting stays off everywhere: peers come
from configuration, from zeroconf (``discovery.py``) or, with gossip, from nodes already linked
(which pass on each other's listen endpoints), so a kit never talks to a network it was not
pointed at.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import zenoh

from .config import MeshSection
from .errors import SessionError

log = logging.getLogger(__name__)

OPEN_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 5.0


def zenoh_config(cfg: MeshSection, role: str, extra_connect: Sequence[str] = ()) -> dict[str, Any]:
    """The Zenoh configuration (as JSON-able dict) for this node."""
    connect = list(dict.fromkeys([*cfg.connect, *extra_connect]))
    return {
        "mode": cfg.zenoh_mode(role),
        # Multicast scouting off; gossip only runs over links as they come up. Nothing to wait for:
        # a router otherwise waits scouting.delay (0.5 s) in open.
        "scouting": {"delay": 0, "multicast": {"enabled": False}, "gossip": {"enabled": cfg.gossip}},
        "listen": {"endpoints": list(cfg.listen)},
        "connect": {
            "endpoints": connect,
            "retry": {
                "period_init_ms": round(cfg.retry_min_s * 1000),
                "period_max_ms": round(max(cfg.retry_max_s, cfg.retry_min_s) * 1000),
                "period_increase_factor": 2,
            },
        },
        "transport": {
            "link": {"tx": {"lease": round(cfg.lease_s * 1000), "keep_alive": 4}, **_tls(cfg)},
            # A handshake stuck on a link that went dead mid-way is given up after one lease, not
            # Zenoh's 10 s: after a blackhole heals, the link is back that much sooner (measured).
            "unicast": {"open_timeout": round(cfg.lease_s * 1000), "accept_timeout": round(cfg.lease_s * 1000)},
        },
        # Ordering is by (ts, origin) inside our payloads; a router's own timestamp on every
        # sample would add 26 bytes to each (measured) and is used by nothing here.
        "timestamping": {"enabled": False},
    }


def _tls(cfg: MeshSection) -> dict[str, Any]:
    """Mutual TLS with the incident authority for `tls/` endpoints (edge/deploy/certs.py makes the files)."""
    if not cfg.tls_cert:
        return {}
    return {
        "tls": {
            "root_ca_certificate": cfg.tls_ca,
            "listen_certificate": cfg.tls_cert,
            "listen_private_key": cfg.tls_key,
            "connect_certificate": cfg.tls_cert,
            "connect_private_key": cfg.tls_key,
            "enable_mtls": True,
            # Every kit holding a certificate from the incident authority is trusted alike, and kits
            # dial addresses that DHCP or zeroconf handed out: the authority is the check, not the name.
            "verify_name_on_connect": False,
        }
    }


class MeshSession:
    """The node's Zenoh session; ``open`` again with more endpoints to dial newly found peers."""

    def __init__(self, cfg: MeshSection, role: str) -> None:
        self._cfg = cfg
        self._role = role
        self._session: zenoh.Session | None = None
        self.extra_connect: tuple[str, ...] = ()
        self.opens = 0
        self.last_open_s = 0.0  # how long the last open took

    @property
    def session(self) -> zenoh.Session:
        """The open session."""
        if self._session is None:
            raise SessionError("the Zenoh session is not open")
        return self._session

    @property
    def is_open(self) -> bool:
        """True between ``open`` and ``close``."""
        return self._session is not None

    async def open(self, extra_connect: Sequence[str] = ()) -> zenoh.Session:
        """Open the session (dialing ``extra_connect`` besides the configured endpoints)."""
        if self._session is not None:
            raise SessionError("the Zenoh session is already open")
        self.extra_connect = tuple(extra_connect)
        text = json.dumps(zenoh_config(self._cfg, self._role, self.extra_connect))
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            # zenoh.open blocks while it first tries each connect endpoint (~0.5 s for a dead one).
            session = await asyncio.wait_for(asyncio.to_thread(_open, text), OPEN_TIMEOUT_S)
        except zenoh.ZError as exc:
            raise SessionError(f"cannot open the Zenoh session: {exc}") from exc
        except TimeoutError as exc:
            raise SessionError(f"opening the Zenoh session took over {OPEN_TIMEOUT_S:g} s") from exc
        self._session = session
        self.opens += 1
        self.last_open_s = loop.time() - started
        log.info(
            "zenoh %s session %s open in %.3f s (listen %s, connect %s)",
            self._cfg.zenoh_mode(self._role),
            session.zid(),
            self.last_open_s,
            list(self._cfg.listen) or "none",
            [*self._cfg.connect, *self.extra_connect] or "none",
        )
        return session

    async def close(self) -> None:
        """Close the session; safe to call twice."""
        session, self._session = self._session, None
        if session is None:
            return
        try:
            await asyncio.wait_for(asyncio.to_thread(session.close), CLOSE_TIMEOUT_S)
        except (zenoh.ZError, TimeoutError) as exc:
            log.warning("closing the Zenoh session: %s", exc)

    def zid(self) -> str:
        """This session's Zenoh id."""
        return str(self.session.zid())

    def connected_zids(self) -> set[str]:
        """Zenoh ids of every peer and router this session has a transport to."""
        info = self.session.info
        return {str(z) for z in [*info.peers_zid(), *info.routers_zid()]}

    async def get(self, selector: str, timeout_s: float) -> list[bytes]:
        """Query ``selector``; the payloads of every good reply (none if nobody answered in time)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        payloads: list[bytes] = []

        def on_reply(reply: zenoh.Reply) -> None:
            if reply.ok is not None:
                payloads.append(reply.ok.payload.to_bytes())
            elif reply.err is not None:
                log.debug("%s answered with an error: %s", selector, reply.err.payload.to_string())

        def on_done() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, done)

        self.session.get(
            selector,
            zenoh.handlers.Callback(on_reply, on_done),
            consolidation=zenoh.ConsolidationMode.NONE,  # every reply: pages are not per-key values
            timeout=timeout_s,
        )
        await asyncio.wait_for(done, timeout_s + 1.0)
        return payloads

    async def liveliness_keys(self, key_expr: str, timeout_s: float) -> set[str]:
        """Keys of the liveliness tokens matching ``key_expr`` seen now."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        keys: set[str] = set()

        def on_reply(reply: zenoh.Reply) -> None:
            if reply.ok is not None:
                keys.add(str(reply.ok.key_expr))

        def on_done() -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, done)

        self.session.liveliness().get(key_expr, zenoh.handlers.Callback(on_reply, on_done), timeout=timeout_s)
        await asyncio.wait_for(done, timeout_s + 1.0)
        return keys


def _open(text: str) -> zenoh.Session:
    return zenoh.open(zenoh.Config.from_json5(text))


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
