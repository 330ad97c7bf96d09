"""REST API over real sockets: roles, operator actions, malformed and oversized input (4xx, never 500)."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.auth import Role

pytestmark = pytest.mark.asyncio


async def test_reads_need_a_valid_token(local_node) -> None:
    async with local_node.client(None) as anon:
        r = await anon.get("/api/scene")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "bearer token" in r.json()["detail"]
        r = await anon.get("/api/scene", headers={"Authorization": "Bearer fk_deadbeef_nope"})
        assert r.status_code == 401
        r = await anon.get("/api/scene", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert r.status_code == 401
        assert (await anon.get("/healthz")).status_code == 200
    async with local_node.client(Role.VIEWER) as viewer:
        r = await viewer.get("/api/scene")
        assert r.status_code == 200
        assert [e["id"] for e in r.json()["entities"]] == ["node:kit-test"]


@pytest.mark.parametrize(
    ("method", "path", "body", "needed"),
    [
        ("POST", "/api/messages", {"text": "hi"}, "pilot"),
        ("POST", "/api/alerts", {"title": "x"}, "pilot"),
        ("POST", "/api/markers", {"points": [[36.7, 119.1]]}, "pilot"),
        ("POST", "/api/entities", {"kind": "unit", "id": "unit:pdt:1", "origin": "x", "ts": 1.0}, "admin"),
    ],
)
async def test_viewer_cannot_act_and_nothing_changes(local_node, method, path, body, needed) -> None:
    async with local_node.client(Role.VIEWER) as viewer:
        r = await viewer.request(method, path, json=body)
        assert r.status_code == 403
        assert needed in r.json()["detail"]
    scene = local_node.node.scene
    assert scene.messages() == [] and scene.alerts() == [] and scene.entities("marker") == []
    assert scene.entities("unit") == []


async def test_pilot_cannot_put_entities(local_node) -> None:
    async with local_node.client(Role.PILOT) as pilot:
        r = await pilot.post("/api/entities", json={"kind": "unit", "id": "unit:pdt:1", "origin": "x", "ts": 1.0})
    assert r.status_code == 403


async def test_alert_ack_and_clear_record_who(local_node) -> None:
    async with local_node.client(Role.PILOT) as pilot:
        r = await pilot.post("/api/alerts", json={"title": "水位上涨 Water rising", "severity": "emergency"})
        assert r.status_code == 201
        alert_id = r.json()["alert"]["id"]
        assert r.json()["status"] == "raised"
        r = await pilot.post(f"/api/alerts/{alert_id}/ack")
        assert r.status_code == 200
        assert (r.json()["status"], r.json()["acked_by"]) == ("acknowledged", "pilot tester")
        r = await pilot.post(f"/api/alerts/{alert_id}/clear")
        assert r.json()["status"] == "cleared"
        assert (await pilot.post("/api/alerts/nope/ack")).status_code == 404
        r = await pilot.get("/api/alerts", params={"status": "cleared"})
        assert [a["alert"]["id"] for a in r.json()] == [alert_id]
        r = await pilot.get("/api/events", params={"since": 0})
        kinds = [e["kind"] for e in r.json()]
    assert kinds == ["alert", "alert_ack", "alert_clear"]


async def test_message_is_numbered_and_listed(local_node) -> None:
    async with local_node.client(Role.PILOT) as pilot:
        r = await pilot.post("/api/messages", json={"text": "到达指定位置", "to": "9001"})
        assert r.status_code == 201
        body = r.json()
        assert (body["seq"], body["sender"], body["to"], body["text"]) == (1, "pilot tester", "9001", "到达指定位置")
        r = await pilot.get("/api/messages")
    assert [m["text"] for m in r.json()] == ["到达指定位置"]


async def test_markers_are_drawn_and_erased_with_an_audit_trail(local_node) -> None:
    async with local_node.client(Role.PILOT) as pilot:
        r = await pilot.post(
            "/api/markers",
            json={
                "name": "集结区 Staging",
                "shape": "circle",
                "points": [[36.7, 119.16]],
                "radius_m": 80,
                "color": "#00aa00",
            },
        )
        assert r.status_code == 201
        marker_id = r.json()["id"]
        assert marker_id.startswith("marker:kit-test:")
        r = await pilot.post("/api/markers", json={"shape": "polygon", "points": [[36.7, 119.16], [36.71, 119.16]]})
        assert r.status_code == 400 and "at least 3" in r.json()["detail"]
        r = await pilot.post("/api/markers", json={"shape": "circle", "points": [[36.7, 119.16]]})
        assert r.status_code == 400 and "radius_m" in r.json()["detail"]
        assert (await pilot.delete(f"/api/markers/{marker_id}")).status_code == 200
        assert (await pilot.delete(f"/api/markers/{marker_id}")).status_code == 404
        r = await pilot.get("/api/events", params={"since": 0})
    audit = [(e["action"], e["actor"]) for e in r.json() if e["kind"] == "audit"]
    assert audit == [("draw", "pilot tester"), ("erase", "pilot tester")]


async def test_admin_puts_an_entity_and_reads_it_back(local_node) -> None:
    now = time.time()
    unit = {
        "kind": "unit",
        "id": "unit:pdt:4242",
        "origin": "kit-test",
        "ts": now,
        "name": "测试-01",
        "pos": {"lat": 36.7, "lon": 119.16},
    }
    async with local_node.client(Role.ADMIN) as admin:
        assert (await admin.post("/api/entities", json=unit)).status_code == 200
        r = await admin.get("/api/entities/unit:pdt:4242")
        assert r.json()["name"] == "测试-01"
        r = await admin.post("/api/entities", json={**unit, "ts": now - 10})
        assert r.status_code == 400 and "newer value" in r.json()["detail"]
        r = await admin.post("/api/entities", json={**unit, "id": "vehicle:x:1"})
        assert r.status_code == 400 and "must start with 'unit:'" in r.json()["detail"]
        assert (await admin.get("/api/entities/unit:pdt:9")).status_code == 404
        assert (await admin.get("/api/entities", params={"kind": "bogus"})).status_code == 400


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "JSON is malformed"),
        (b'{"text": 5}', "Expected `str`"),
        (b'{"text": ""}', "length"),
        (b'{"text": "x", "extra": 1}', "unknown field"),
        (b'{"text": "' + b"x" * 3000 + b'"}', "length"),
        (b"[]", "Expected `object`"),
        (b"\xff\xfe\x00", "JSON is malformed"),
    ],
)
async def test_malformed_bodies_get_400_with_a_reason(local_node, body, fragment) -> None:
    async with local_node.client(Role.PILOT) as pilot:
        r = await pilot.post("/api/messages", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert fragment in r.text


async def test_oversized_body_gets_413(local_node) -> None:
    async with local_node.client(Role.PILOT) as pilot:
        r = await pilot.post(
            "/api/messages", content=b'{"text": "' + b"x" * 70_000 + b'"}', headers={"Content-Type": "application/json"}
        )
    assert r.status_code == 413
    assert local_node.node.scene.messages() == []


async def test_bad_query_parameters_get_400(local_node) -> None:
    async with local_node.client(Role.VIEWER) as viewer:
        assert (await viewer.get("/api/replay", params={"at": "yesterday"})).status_code == 400
        assert (await viewer.get("/api/replay", params={"at": -5})).status_code == 400
        assert (await viewer.get("/api/replay")).status_code == 400
        r = await viewer.get("/api/entities/unit:pdt:1/track", params={"since": 10, "until": 5})
        assert r.status_code == 400 and "before" in r.json()["detail"]
        assert (await viewer.get("/api/events", params={"since": 0, "limit": 0})).status_code == 400
        assert (await viewer.get("/api/alerts", params={"status": "sleeping"})).status_code == 400


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
paths = st.sampled_from(["/api/messages", "/api/alerts", "/api/markers", "/api/entities"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=paths,
    body=json_values
    | st.dictionaries(
        st.sampled_from(["kind", "id", "text", "title", "points", "shape", "ts", "origin", "pos", "radius_m", "to"]),
        json_values,
        max_size=6,
    ),
)
async def test_no_json_body_makes_a_500(local_node, path, body) -> None:
    async with local_node.client(Role.ADMIN) as admin:
        r = await admin.post(path, json=body)
    assert r.status_code < 500, r.text


async def test_events_filtered_by_kind_newest_first(local_node) -> None:
    async with local_node.client(Role.PILOT) as pilot:
        for text in ("one", "two", "three"):
            await pilot.post("/api/messages", json={"text": text})
        await pilot.post("/api/alerts", json={"title": "x"})
        r = await pilot.get("/api/events", params={"since": 0, "kind": "message", "newest_first": True, "limit": 2})
        assert [e["text"] for e in r.json()] == ["three", "two"]
        r = await pilot.get("/api/events", params=[("since", 0), ("kind", "message"), ("kind", "alert")])
        assert [e["kind"] for e in r.json()] == ["message", "message", "message", "alert"]
        r = await pilot.get("/api/events", params={"since": 0, "kind": "gossip"})
        assert r.status_code == 400 and "unknown event kind(s) gossip" in r.json()["detail"]


async def test_whoami_names_the_token(local_node) -> None:
    for role in Role:
        async with local_node.client(role) as client:
            r = await client.get("/api/whoami")
        assert r.json() == {"label": f"{role.name.lower()} tester", "role": role.name.lower()}
    async with local_node.client(None) as anon:
        assert (await anon.get("/api/whoami")).status_code == 401
