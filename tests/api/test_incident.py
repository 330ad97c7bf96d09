"""Looking back over the incident through the API: the replayable span."""

from __future__ import annotations

import time

from edge.auth import Role
from edge.scene import Position, Unit


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
