"""Looking back over the incident through the API: the replayable span."""

from __future__ import annotations

import csv
import io
import time

from edge.auth import Role
from edge.scene import Audit, Call, Position, Receipt, Unit


async def test_replay_span_starts_at_the_first_stored_time(local_node) -> None:
    scene = local_node.node.scene
    async with local_node.client(Role.VIEWER) as viewer, local_node.client(None) as anonymous:
        before = (await viewer.get("/api/replay/span")).json()
        t0 = time.time() - 500
        scene.apply_state(Unit(id="unit:pdt:5", origin="kit-test", ts=t0, pos=Position(lat=36.7, lon=119.16)))
        await scene.flush(history=True)
        after = (await viewer.get("/api/replay/span")).json()
        refused = await anonymous.get("/api/replay/span")
    assert before["start"] > t0 and before["now"] >= before["start"]
    assert after["start"] == t0 and after["now"] >= time.time() - 5
    assert refused.status_code == 401


async def test_markers_are_edited_in_place_and_only_zones_are_geofences(local_node) -> None:
    square = [[36.70, 119.16], [36.70, 119.17], [36.71, 119.17], [36.71, 119.16]]
    async with local_node.client(Role.PILOT) as pilot, local_node.client(Role.VIEWER) as viewer:
        line = await pilot.post("/api/markers", json={"shape": "line", "points": square[:2], "fence_entry": True})
        drawn = await pilot.post("/api/markers", json={"shape": "polygon", "points": square, "name": "zone"})
        marker_id = drawn.json()["id"]
        body = {"shape": "polygon", "points": square, "name": "禁入区", "fence_entry": True, "fence_for": "units"}
        edited = await pilot.put(f"/api/markers/{marker_id}", json=body)
        refused = await viewer.put(f"/api/markers/{marker_id}", json=body)
        missing = await pilot.put("/api/markers/marker:kit-test:nope", json=body)
        markers = (await viewer.get("/api/markers")).json()
    assert line.status_code == 400 and "only a polygon or a circle" in line.json()["detail"]
    assert edited.status_code == 200 and refused.status_code == 403 and missing.status_code == 404
    assert [(m["id"], m["name"], m["fence_entry"], m["fence_for"]) for m in markers] == [
        (marker_id, "禁入区", True, "units")
    ]
    replayed = await local_node.node.journal.picture_at(time.time() + 1)
    assert [m.name for m in replayed.entities if m.id == marker_id] == ["禁入区"]  # journaled


async def test_log_names_commands_calls_and_receipts_and_refuses_unknown_kinds(local_node) -> None:
    scene = local_node.node.scene
    now = time.time()
    await scene.append_many(
        [
            Audit(
                id="audit-1",
                origin="kit-test",
                ts=now - 3,
                actor="pilot",
                action="drone goto",
                target="vehicle:k:1",
                result="accepted",
            ),
            Call(
                id="call-1",
                origin="kit-test",
                ts=now - 2,
                caller="unit:pdt:1",
                talkgroup="9001",
                start_ts=now - 9,
                duration_s=7.4,
            ),
            Receipt(
                id="rcpt-1",
                origin="kit-test",
                ts=now - 1,
                message_id="msg-1",
                recipient="unit:pdt:1",
                ok=False,
                attempts=3,
                reason="no answer",
            ),
        ]
    )
    async with local_node.client(Role.VIEWER) as viewer:
        lines = (await viewer.get("/api/log")).json()
        commands = (await viewer.get("/api/log", params={"kind": "command"})).json()
        bad = await viewer.get("/api/log", params={"kind": "gossip"})
        text = (await viewer.get("/api/log.csv", params={"q": "9001"})).content.decode("utf-8-sig")
    assert [(x["kind"], x["who"], x["what"]) for x in lines] == [
        ("command", "pilot", "drone goto → accepted"),
        ("call", "unit:pdt:1", "group call on 9001, 7 s"),
        ("receipt", "unit:pdt:1", "failed: no answer after 3 attempt(s)"),
    ]
    assert [x["id"] for x in commands] == ["audit-1"]
    assert bad.status_code == 400 and "gossip" in bad.json()["detail"]
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert (row["kind"], row["target"]) == ("call", "9001")
