"""/api/live over a real WebSocket: token first, snapshot, then deltas; refusals."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
import websockets
from kit import kit_config, start_local, stop_local

from edge.auth import Role
from edge.scene import Position, Unit


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://") + "api/live"


async def recv(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def test_snapshot_then_deltas(local_node) -> None:
    scene = local_node.node.scene
    async with websockets.connect(ws_url(local_node.url)) as ws:
        await ws.send(json.dumps({"token": local_node.tokens[Role.VIEWER]}))
        first = await recv(ws)
        assert first["type"] == "snapshot" and first["resync"] is False
        assert [e["id"] for e in first["data"]["entities"]] == ["node:kit-test"]
        scene.apply_state(
            Unit(
                id="unit:pdt:7", origin="kit-test", ts=time.time(), name="二中队-07", pos=Position(lat=36.7, lon=119.16)
            )
        )
        async with local_node.client(Role.PILOT) as pilot:
            await pilot.post("/api/messages", json={"text": "收到"})
        seen: list[tuple[str, str]] = []
        while len(seen) < 2:
            msg = await recv(ws)
            assert msg["type"] == "deltas"
            seen += [(d["op"], d["value"]["kind"]) for d in msg["data"] if d["value"]["kind"] != "node"]
    assert sorted(seen) == [("event", "message"), ("state", "unit")]


@pytest.mark.parametrize("hello", ['{"token": "fk_00000000_wrong"}', "not json", '{"tok": 1}', "x" * 10000])
async def test_bad_first_message_closes_with_4401(local_node, hello) -> None:
    internal = local_node.node.scene.subscribers  # the node's own (the geofence watch)
    async with websockets.connect(ws_url(local_node.url)) as ws:
        await ws.send(hello)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd.code == 4401
    assert local_node.node.scene.subscribers == internal


async def test_oversized_client_frame_is_refused(local_node) -> None:
    internal = local_node.node.scene.subscribers  # the node's own (the geofence watch)
    async with websockets.connect(ws_url(local_node.url), max_size=None) as ws:
        await ws.send(json.dumps({"token": local_node.tokens[Role.VIEWER]}))
        await recv(ws)
        await ws.send("x" * 200_000)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await recv(ws)
    assert closed.value.rcvd.code == 1009  # message too big
    for _ in range(50):
        if local_node.node.scene.subscribers == internal:
            break
        await asyncio.sleep(0.05)
    assert local_node.node.scene.subscribers == internal, "the subscription ends with the socket"


async def test_client_limit_refuses_with_1013(tmp_path: Path) -> None:
    node, task = await start_local(kit_config(tmp_path, api={"max_ws_clients": 1}))
    try:
        token = node.tokens.create(Role.VIEWER, "v")
        url = ws_url(node.api_url)
        async with websockets.connect(url) as first:
            await first.send(json.dumps({"token": token}))
            assert (await recv(first))["type"] == "snapshot"
            async with websockets.connect(url) as second:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await recv(second)
            assert closed.value.rcvd.code == 1013
    finally:
        await stop_local(node, task)


async def test_reminder_reaches_the_client(tmp_path: Path) -> None:
    node, task = await start_local(kit_config(tmp_path, scene={"reannounce_s": 1.0}))
    try:
        viewer = node.tokens.create(Role.VIEWER, "v")
        pilot = node.tokens.create(Role.PILOT, "p")
        async with websockets.connect(ws_url(node.api_url)) as ws:
            await ws.send(json.dumps({"token": viewer}))
            await recv(ws)
            async with httpx.AsyncClient(base_url=node.api_url, headers={"Authorization": f"Bearer {pilot}"}) as c:
                r = await c.post("/api/alerts", json={"title": "被困 Trapped"})
            alert_id = r.json()["alert"]["id"]
            ops: list[str] = []
            deadline = time.monotonic() + 10
            while "reminder" not in ops and time.monotonic() < deadline:
                msg = await recv(ws)
                ops += [d["op"] for d in msg["data"] if d["op"] != "state"]
                reminders = [d for d in msg["data"] if d["op"] == "reminder"]
                if reminders:
                    assert reminders[0]["alert"]["alert"]["id"] == alert_id
        assert ops[0] == "event" and "reminder" in ops
    finally:
        await stop_local(node, task)
