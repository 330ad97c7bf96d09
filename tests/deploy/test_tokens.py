"""Tokens in a real `fieldkit run` process: expiry, listing, revocation closing open WebSockets at once."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest
import websockets
from kit import FIELDKIT, NodeProcess

from edge.auth import Role


def ws_url(node: NodeProcess) -> str:
    return node.url.replace("http://", "ws://") + "api/live"


async def open_live(node: NodeProcess, token: str) -> websockets.ClientConnection:
    ws = await websockets.connect(ws_url(node))
    await ws.send(json.dumps({"token": token}))
    first = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert first["type"] == "snapshot"
    return ws


async def closed_with(ws: websockets.ClientConnection) -> tuple[int, str]:
    """Read until the node closes the socket; its close code and reason."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None, "the node must close the socket, not drop it"
    return closed.value.rcvd.code, closed.value.rcvd.reason


def token_id(token: str) -> str:
    return token.split("_")[1]


def cli(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIELDKIT, "token", *args, "--config", str(node.config_path)],
                          capture_output=True, text=True, timeout=30)


async def test_cli_revoke_closes_every_open_socket_of_that_token_only(node_process: NodeProcess) -> None:
    viewer, pilot = node_process.tokens[Role.VIEWER], node_process.tokens[Role.PILOT]
    doomed = [await open_live(node_process, viewer) for _ in range(2)]
    other = await open_live(node_process, pilot)
    try:
        out = cli(node_process, "revoke", token_id(viewer))
        assert out.returncode == 0, out.stderr
        for ws in doomed:
            assert await closed_with(ws) == (4401, "token revoked")
        await other.ping()  # the pilot's socket stays open
        with node_process.client(Role.VIEWER) as client:
            assert client.get("/api/scene").status_code == 401
        with node_process.client(Role.PILOT) as client:
            assert client.get("/api/scene").status_code == 200
        listed = cli(node_process, "list").stdout
        assert token_id(viewer) not in listed and token_id(pilot) in listed
    finally:
        for ws in [*doomed, other]:
            await ws.close()


async def test_admin_api_creates_lists_and_revokes(node_process: NodeProcess) -> None:
    with node_process.client(Role.ADMIN) as admin:
        wanted = {"role": "pilot", "label": "无人机组 drone team", "expires_in_s": 8 * 3600}
        created = admin.post("/api/tokens", json=wanted)
        assert created.status_code == 201, created.text
        body = created.json()
        token, info = body["token"], body["info"]
        assert info["role"] == "pilot" and info["expires"] == pytest.approx(info["created"] + 8 * 3600)
        listed = admin.get("/api/tokens").json()
        assert [t for t in listed if t["id"] == info["id"]] == [info]
        assert all(set(t) == {"id", "role", "label", "created", "expires"} for t in listed), "never a secret"
        ws = await open_live(node_process, token)
        assert admin.delete(f"/api/tokens/{info['id']}").json() == {"revoked": info["id"]}
        assert await closed_with(ws) == (4401, "token revoked")
        assert admin.delete(f"/api/tokens/{info['id']}").status_code == 404
    with node_process.client(None) as anyone:
        assert anyone.get("/api/scene", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with node_process.client(Role.PILOT) as pilot:  # tokens are the admin's business
        assert pilot.get("/api/tokens").status_code == 403
        assert pilot.post("/api/shares", json={"label": "x"}).status_code == 403


async def test_expiry_closes_the_socket_and_refuses_rest(node_process: NodeProcess) -> None:
    with node_process.client(Role.ADMIN) as admin:
        wanted = {"role": "viewer", "label": "brief", "expires_in_s": 1.5}
        token = admin.post("/api/tokens", json=wanted).json()["token"]
    ws = await open_live(node_process, token)
    assert await closed_with(ws) == (4401, "token expired")
    with node_process.client(None) as anyone:
        assert anyone.get("/api/scene", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_cli_expires_option(node_process: NodeProcess) -> None:
    made = cli(node_process, "create", "--role", "viewer", "--label", "night shift", "--expires", "8h")
    assert made.returncode == 0, made.stderr
    assert "valid until" in made.stderr
    line = next(x for x in cli(node_process, "list").stdout.splitlines() if x.startswith(token_id(made.stdout.strip())))
    assert "expires 20" in line and line.endswith("night shift")
    bad = cli(node_process, "create", "--role", "viewer", "--expires", "soon")
    assert bad.returncode == 2 and "not a duration: 'soon'" in bad.stderr


def test_share_token_is_a_viewer_that_expires(node_process: NodeProcess) -> None:
    with node_process.client(Role.ADMIN) as admin:
        share = admin.post("/api/shares", json={"label": "Red Cross", "expires_in_s": 600}).json()
        assert admin.post("/api/shares", json={"label": "forever", "expires_in_s": 365 * 86400}).status_code == 400
    assert share["info"]["role"] == "viewer" and share["info"]["label"] == "share: Red Cross"
    assert share["info"]["expires"] == pytest.approx(share["info"]["created"] + 600)
    headers = {"Authorization": f"Bearer {share['token']}"}
    with node_process.client(None) as anyone:
        assert anyone.get("/api/whoami", headers=headers).json() == {"label": "share: Red Cross", "role": "viewer"}
        assert anyone.post("/api/messages", json={"text": "hi"}, headers=headers).status_code == 403
        assert anyone.post("/api/vehicles/vehicle:kit-test:1/commands", json={"command": "rtl"},
                           headers=headers).status_code == 403
