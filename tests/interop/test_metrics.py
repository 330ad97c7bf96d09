"""/metrics over a real socket, parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import websockets
from kit import kit_config, start_local, stop_local
from prometheus_client.parser import text_string_to_metric_families

from edge.auth import Role

pytestmark = pytest.mark.asyncio


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_count_what_happened(local_node) -> None:
    async with local_node.client(Role.VIEWER) as viewer:
        before = _samples((await viewer.get("/metrics")).text)
        async with local_node.client(Role.ADMIN) as admin:
            unit = {"kind": "unit", "id": "unit:pdt:7", "origin": "x", "ts": time.time(),
                    "pos": {"lat": 36.0, "lon": 120.0}}
            assert (await admin.post("/api/entities", json=unit)).status_code == 200
            assert (await admin.post("/api/entities", json=unit)).status_code == 400  # same version: stale
            assert (await admin.post("/api/messages", json={"text": "hello"})).status_code == 201
        ws_url = local_node.url.replace("http", "ws") + "api/live"
        async with websockets.connect(ws_url) as ws:
            await ws.send(json.dumps({"token": local_node.tokens[Role.VIEWER]}))
            assert json.loads(await ws.recv())["type"] == "snapshot"
            response = await viewer.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        after = _samples(response.text)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert grew("fieldkit_scene_states_total", result="stale") == 1
    assert grew("fieldkit_scene_events_total", result="applied") == 2  # the audit of the put, the message
    assert grew("fieldkit_scene_events_total", result="duplicate") == 0
    assert _value(after, "fieldkit_scene_entities", kind="unit") == 1
    assert _value(after, "fieldkit_live_clients") == 1
    assert _value(after, "fieldkit_scene_subscribers") >= 1
    assert grew("fieldkit_journal_commits_total") >= 2
    assert _value(after, "fieldkit_journal_commit_seconds_total") > 0
    assert _value(after, "fieldkit_component_state", component="api", state="running") == 1
    assert _value(after, "fieldkit_component_state", component="api", state="backoff") == 0
    assert _value(after, "fieldkit_component_restarts_total", component="journal-flush") == 0
    assert _value(after, "fieldkit_mesh_session_open") == 1  # the single-node session
    mesh_kinds = {dict(labels)["kind"] for name, labels in after if name == "fieldkit_mesh_total"}
    assert {"states_sent", "dropped_overflow", "inbox_dropped", "deltas_without_base"} <= mesh_kinds
    assert _value(after, "fieldkit_mesh_total", kind="dropped_malformed") == 0
    assert 0 <= _value(after, "fieldkit_loop_lag_seconds", loop="node") < 5
    assert ("fieldkit_loop_stalls_total", (("loop", "node"),)) in after
    assert not [key for key in after if dict(key[1]).get("loop") == "webrtc"], "no WebRTC loop before a viewer"


async def test_metrics_need_a_viewer_token_by_default(local_node) -> None:
    async with local_node.client(None) as anon:
        assert (await anon.get("/metrics")).status_code == 401
        assert (await anon.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_metrics_public_when_configured(tmp_path: Path) -> None:
    config = kit_config(tmp_path, api={"metrics_public": True})
    node, task = await start_local(config)
    try:
        import httpx  # noqa: PLC0415

        async with httpx.AsyncClient(base_url=node.api_url or "") as anon:
            response = await anon.get("/metrics")
        assert response.status_code == 200
        names = {f.name for f in text_string_to_metric_families(response.text)}
        assert {"fieldkit_scene_states", "fieldkit_journal_commits", "fieldkit_component_state"} <= names
        assert "fieldkit_tak" not in names  # TAK off by default
        assert "fieldkit_drone_link_state" not in names
    finally:
        await stop_local(node, task)
    await asyncio.sleep(0)
