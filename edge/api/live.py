"""/api/live: a WebSocket that sends a snapshot, then deltas, to one browser or client.

Browsers cannot put a bearer token on a WebSocket, and a token in the URL would end up in logs, so
the client's first message is ``{"token": "..."}``; without a valid one within a few seconds the
socket is closed with 4401. Messages out are JSON: ``{"type": "snapshot", "resync": bool, "data":
Snapshot}`` or ``{"type": "deltas", "data": [Delta, ...]}``.

A socket lives no longer than its token: when the token is revoked (through the API or with
``fieldkit token revoke``) or expires, the socket is closed at once with 4401 and the reason
``token revoked`` or ``token expired``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec
from litestar import WebSocket, websocket
from litestar.exceptions import WebSocketDisconnect

from edge.api.guards import NodeDep
from edge.scene import Delta, Snapshot, Subscription

log = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 5.0
MAX_CLIENT_MESSAGE = 4096
CLOSE_UNAUTHORIZED = 4401
CLOSE_TRY_LATER = 1013


class _Hello(msgspec.Struct, frozen=True):
    token: str


class _SnapshotOut(msgspec.Struct, frozen=True, tag="snapshot", tag_field="type"):
    resync: bool
    data: Snapshot


class _DeltasOut(msgspec.Struct, frozen=True, tag="deltas", tag_field="type"):
    data: list[Delta]


_encode = msgspec.json.Encoder().encode
_decode_hello = msgspec.json.Decoder(_Hello).decode


@websocket("/api/live")
async def live(socket: WebSocket, node: NodeDep) -> None:  # type: ignore[type-arg]
    """Stream the picture to one client."""
    await socket.accept()
    state = socket.app.state
    if state.live_clients >= node.config.api.max_ws_clients:
        await socket.close(code=CLOSE_TRY_LATER, reason="too many live clients")
        return
    try:
        async with asyncio.timeout(AUTH_TIMEOUT_S):
            raw = await socket.receive_data(mode="text")
        hello = _decode_hello(raw[:MAX_CLIENT_MESSAGE])
        principal = node.tokens.verify(hello.token)
    except (TimeoutError, msgspec.DecodeError, WebSocketDisconnect):
        principal = None
    if principal is None:
        with contextlib.suppress(Exception):
            await socket.close(code=CLOSE_UNAUTHORIZED, reason='send {"token": ...} with a valid token first')
        return
    assert node.scene is not None
    subscription = node.scene.subscribe(f"ws:{principal.label}")
    state.live_clients += 1
    revoked = asyncio.Event()
    unwatch = node.tokens.watch(principal.token_id, lambda _: revoked.set())
    try:
        tasks = [
            asyncio.create_task(_pump(socket, subscription)),
            asyncio.create_task(_drain(socket)),
            asyncio.create_task(_until_token_ends(socket, revoked, node.tokens.seconds_left(principal.token_id))),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        unwatch()
        state.live_clients -= 1
        subscription.close()


async def _until_token_ends(socket: WebSocket, revoked: asyncio.Event, seconds_left: float | None) -> None:  # type: ignore[type-arg]
    """Close the socket when its token is revoked or expires."""
    try:
        async with asyncio.timeout(seconds_left):
            await revoked.wait()
        reason = "token revoked"
    except TimeoutError:
        reason = "token expired"
    log.info("closing a live socket: %s", reason)
    with contextlib.suppress(Exception):
        await socket.close(code=CLOSE_UNAUTHORIZED, reason=reason)


async def _pump(socket: WebSocket, subscription: Subscription) -> None:  # type: ignore[type-arg]
    first = True
    async for item in subscription:
        if isinstance(item, Snapshot):
            await socket.send_data(_encode(_SnapshotOut(resync=not first, data=item)).decode(), mode="text")
            first = False
        else:
            await socket.send_data(_encode(_DeltasOut(data=item)).decode(), mode="text")


async def _drain(socket: WebSocket) -> None:  # type: ignore[type-arg]
    """Read (and ignore) what the client sends, so a disconnect is noticed while idle."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await socket.receive_data(mode="text")
