"""One Zenoh session per node: its configuration, opening and closing off the loop, queries.

A single node and a mesh node run the same code: with no endpoints the session opens in about a
millisecond and nothing leaves the process. Multicast scouting stays off everywhere: peers come
from configuration, from zeroconf (``discovery.py``) or, with gossip, from nodes already linked
(which pass on each other's listen endpoints), so a kit never talks to a network it was not
pointed at.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import zenoh

from .config import MeshSection
from .errors import SessionError, SessionLost

log = logging.getLogger(__name__)
T = TypeVar("T")

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
            # Kits are separate machines: shared memory only served nodes on one host (tests, the
            # sim), where it hid large payloads from the link (a batch crossed as a few bytes).
            "shared_memory": {"enabled": False},
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
    """The node's Zenoh session and the one thread that uses it; ``open`` again to dial more peers.

    Every call on a Zenoh object (open, declare, put, get, reply, undeclare, close) runs on this
    session's own thread, one at a time, in order. zenoh-python's objects are Rust values behind
    PyO3 borrow flags: undeclaring a publisher while another thread is inside its ``put`` raises
    ``RuntimeError: Already borrowed`` (seen here, and it left the session open for the next
    start). Zenoh's callbacks run on Zenoh's threads and only hand their data to the event loop.
    """

    def __init__(self, cfg: MeshSection, role: str) -> None:
        self._cfg = cfg
        self._role = role
        self._session: zenoh.Session | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        self._declared: list[Any] = []  # undeclared, newest first, when the session closes
        self._zid = ""
        self.extra_connect: tuple[str, ...] = ()
        self.opens = 0
        self.closes = 0
        self.last_open_s = 0.0  # how long the last open took

    @property
    def is_open(self) -> bool:
        """True between ``open`` and ``close``."""
        return self._session is not None

    async def open(self, extra_connect: Sequence[str] = ()) -> None:
        """Open the session (dialing ``extra_connect`` besides the configured endpoints)."""
        if self._session is not None:
            raise SessionError("the Zenoh session is already open")
        self.extra_connect = tuple(extra_connect)
        text = json.dumps(zenoh_config(self._cfg, self._role, self.extra_connect))
        loop = asyncio.get_running_loop()
        started = loop.time()
        thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fieldkit-zenoh")
        # zenoh.open blocks while it first tries each connect endpoint (~0.5 s for a dead one).
        opening = thread.submit(_open, text)
        try:
            async with asyncio.timeout(OPEN_TIMEOUT_S):
                session, zid = await asyncio.wrap_future(opening)
        except BaseException as exc:
            opening.add_done_callback(_close_if_opened)  # a session that opens after all is closed at once
            thread.shutdown(wait=False)
            if isinstance(exc, zenoh.ZError):
                raise SessionError(f"cannot open the Zenoh session: {exc}") from exc
            if isinstance(exc, TimeoutError):
                raise SessionError(f"opening the Zenoh session took over {OPEN_TIMEOUT_S:g} s") from exc
            raise
        self._session, self._thread, self._zid = session, thread, zid
        self.opens += 1
        self.last_open_s = loop.time() - started
        log.info(
            "zenoh %s session %s open in %.3f s (listen %s, connect %s)",
            self._cfg.zenoh_mode(self._role),
            zid,
            self.last_open_s,
            list(self._cfg.listen) or "none",
            [*self._cfg.connect, *self.extra_connect] or "none",
        )

    async def close(self) -> None:
        """Undeclare what was declared and close the session; safe to call twice, and when cancelled.

        The close runs on the session's thread after whatever was queued before it; if it takes
        longer than ``CLOSE_TIMEOUT_S`` it finishes there in the background.
        """
        session, self._session = self._session, None
        thread, self._thread = self._thread, None
        declared, self._declared = self._declared, []
        if thread is None:
            return
        try:
            if session is not None:
                closing = thread.submit(_close, session, declared)
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await asyncio.shield(asyncio.wrap_future(closing))
                self.closes += 1
        except TimeoutError:
            log.warning("closing the Zenoh session takes over %g s; it goes on in the background", CLOSE_TIMEOUT_S)
        finally:
            thread.shutdown(wait=False)

    async def call(self, work: Callable[[zenoh.Session], T]) -> T:
        """Run ``work(session)`` on the session's thread.

        SessionError if this node closed the session (shutting down, or reopening); SessionLost if
        it closed by itself, which only a new session mends.
        """
        thread = self._thread
        if thread is None:
            raise SessionError("the Zenoh session is not open")
        try:
            job = thread.submit(self._with_session, work)
        except RuntimeError as exc:  # shut down between the check and the submit
            raise SessionError("the Zenoh session is closed") from exc
        return await asyncio.wrap_future(job)

    def _with_session(self, work: Callable[[zenoh.Session], T]) -> T:
        session = self._session
        if session is None:
            raise SessionError("the Zenoh session is closed")
        if session.is_closed():
            raise SessionLost("the Zenoh session closed underneath the mesh")
        try:
            return work(session)
        except zenoh.ZError as exc:
            raise SessionError(f"zenoh: {exc}") from exc

    async def declare(self, build: Callable[[zenoh.Session], list[Any]]) -> None:
        """Run ``build`` on the session's thread; what it declared is undeclared when the session closes."""
        self._declared += await self.call(build)

    def zid(self) -> str:
        """This session's Zenoh id."""
        if self._session is None:
            raise SessionError("the Zenoh session is not open")
        return self._zid

    async def connected_zids(self) -> set[str]:
        """Zenoh ids of every peer and router this session has a transport to."""
        return await self.call(_connected_zids)

    async def get(self, selector: str, timeout_s: float, errors: list[bytes] | None = None) -> list[bytes]:
        """Query ``selector``; the payloads of every good reply (none if nobody answered in time).

        Error replies (the replier refused, e.g. "busy") go to ``errors`` if given.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        payloads: list[bytes] = []

        def on_reply(reply: zenoh.Reply) -> None:  # on a Zenoh thread
            if reply.ok is not None:
                payloads.append(reply.ok.payload.to_bytes())
            elif reply.err is not None:
                log.debug("%s answered with an error: %s", selector, reply.err.payload.to_string())
                if errors is not None:
                    errors.append(reply.err.payload.to_bytes())

        def on_done() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, done)

        def send(session: zenoh.Session) -> None:
            session.get(
                selector,
                zenoh.handlers.Callback(on_reply, on_done),
                consolidation=zenoh.ConsolidationMode.NONE,  # every reply: pages are not per-key values
                timeout=timeout_s,
            )

        await self.call(send)
        async with asyncio.timeout(timeout_s + 1.0):
            await done
        return payloads

    async def liveliness_keys(self, key_expr: str, timeout_s: float) -> set[str]:
        """Keys of the liveliness tokens matching ``key_expr`` seen now."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        keys: set[str] = set()

        def on_reply(reply: zenoh.Reply) -> None:  # on a Zenoh thread
            if reply.ok is not None:
                keys.add(str(reply.ok.key_expr))

        def on_done() -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, done)

        def send(session: zenoh.Session) -> None:
            session.liveliness().get(key_expr, zenoh.handlers.Callback(on_reply, on_done), timeout=timeout_s)

        await self.call(send)
        async with asyncio.timeout(timeout_s + 1.0):
            await done
        return keys


def _open(text: str) -> tuple[zenoh.Session, str]:
    session = zenoh.open(zenoh.Config.from_json5(text))
    return session, str(session.zid())


def _close(session: zenoh.Session, declared: list[Any]) -> None:
    for item in reversed(declared):
        try:
            item.undeclare()
        except (zenoh.ZError, RuntimeError) as exc:
            log.debug("undeclaring %s: %s", item, exc)
    try:
        session.close()  # type: ignore[no-untyped-call] # untyped in zenoh's stubs
    except zenoh.ZError as exc:
        log.warning("closing the Zenoh session: %s", exc)


def _close_if_opened(opening: concurrent.futures.Future[tuple[zenoh.Session, str]]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        _close(opening.result()[0], [])


def _connected_zids(session: zenoh.Session) -> set[str]:
    info = session.info
    return {str(z) for z in [*info.peers_zid(), *info.routers_zid()]}


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
