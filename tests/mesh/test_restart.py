"""The mesh component starts again cleanly: after its Zenoh session is lost, and with puts in flight."""

from __future__ import annotations

import asyncio
import contextlib
import time

import zenoh
from meshkit import MeshNet, MeshNode, endpoint, eventually, free_port, mesh_config

from edge.scene import Alert, AlertAck, AlertStatus, Position, Vehicle
from edge.supervisor import Supervised
from mesh import MeshSection, MeshSession, SessionError


def supervised_mesh(n: MeshNode) -> Supervised:
    (found,) = [s for s in n.node.supervised if s.component is n.mesh]
    return found


async def held_ids(n: MeshNode, origin: str) -> list[str]:
    events = await n.node.journal.events_since(origin, 0, 100_000)
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), f"{n.name}: gaps or repeats"
    return [e.id for e in events]


async def keep_moving(n: MeshNode, stop: asyncio.Event) -> int:
    """Move a vehicle of ``n`` every millisecond until ``stop``: puts are always in flight."""
    moves = 0
    while not stop.is_set():
        moves += 1
        n.scene.apply_state(
            Vehicle(
                id=f"vehicle:{n.name}:1",
                origin=n.name,
                ts=time.time(),
                pos=Position(lat=36.7, lon=119.1 + moves * 1e-6),
            )
        )
        await asyncio.sleep(0.001)
    return moves


async def test_a_lost_session_restarts_the_component_and_the_mesh_works_again(net: MeshNet) -> None:
    port = free_port()
    a = await net.start("a", mesh_config(listen=[endpoint(port)]))
    b = await net.start("b", mesh_config(connect=[endpoint(port)]))
    await eventually(lambda: b.mesh.ctx is not None and b.mesh.ctx.links.is_up("a"), 10, "b sees a")
    stop = asyncio.Event()
    mover = asyncio.create_task(keep_moving(a, stop))
    try:
        await asyncio.sleep(0.2)
        # Zenoh's session dies under the component (through its own thread, as any Zenoh call must).
        await a.mesh.session.call(lambda s: s.close())  # type: ignore[no-untyped-call]
        await a.scene.append(
            Alert(id="a-alert-1", origin="a", ts=time.time(), title="raised while the session was dead")
        )
        supervisor = supervised_mesh(a)
        await eventually(lambda: supervisor.restarts == 1 and a.mesh.ready.is_set(), 15, "the mesh restarted")
        assert supervisor.last_error is not None and "SessionLost" in supervisor.last_error, supervisor.last_error
        assert a.mesh.session.opens == 2 and a.mesh.session.closes == 1
        await eventually(lambda: b.scene.alert("a-alert-1") is not None, 10, "the alert raised meanwhile reaches b")
    finally:
        stop.set()
        await mover
    # Live again both ways: a new alert from a, an acknowledgement from b, moves of a's vehicle.
    await a.scene.append(Alert(id="a-alert-2", origin="a", ts=time.time(), title="after the restart"))
    await eventually(lambda: b.scene.alert("a-alert-2") is not None, 10, "a's new alert on b")
    await b.scene.append(AlertAck(id="b-ack-2", origin="b", ts=time.time(), alert_id="a-alert-2", by="cp"))
    await eventually(
        lambda: getattr(a.scene.alert("a-alert-2"), "status", None) is AlertStatus.ACKNOWLEDGED, 10, "b's ack on a"
    )
    last = a.scene.get("vehicle:a:1")
    assert last is not None
    await eventually(lambda: getattr(b.scene.get("vehicle:a:1"), "ts", 0) == last.ts, 10, "a's last move on b")
    assert await held_ids(b, "a") == ["a-alert-1", "a-alert-2"]
    assert await held_ids(a, "b") == ["b-ack-2"]
    assert supervised_mesh(a).restarts == 1 and supervised_mesh(b).restarts == 0


async def test_stopping_and_restarting_a_node_while_it_publishes_leaves_no_session_behind(net: MeshNet) -> None:
    port = free_port()
    a = await net.start("a", mesh_config(listen=[endpoint(port)]))
    b = await net.start("b", mesh_config(connect=[endpoint(port)]))
    await eventually(lambda: b.mesh.ctx is not None and b.mesh.ctx.links.is_up("a"), 10, "b sees a")
    for round_ in range(3):
        stop = asyncio.Event()
        mover = asyncio.create_task(keep_moving(a, stop))
        await asyncio.sleep(0.2)
        await net.stop("a")  # cancelled mid-put: the close waits for the put on the session's thread
        stop.set()
        await mover
        assert supervised_mesh(a).restarts == 0, supervised_mesh(a).last_error
        assert not a.mesh.session.is_open and a.mesh.session.closes == 1
        a = await net.start("a", mesh_config(listen=[endpoint(port)]))  # the same port: the old session let go
        await a.scene.append(Alert(id=f"a-alert-{round_}", origin="a", ts=time.time(), title="back"))
        await eventually(lambda r=round_: b.scene.alert(f"a-alert-{r}") is not None, 10, f"alert {round_} on b")
    assert await held_ids(b, "a") == ["a-alert-0", "a-alert-1", "a-alert-2"]


async def test_closing_a_session_with_puts_in_flight_then_opening_it_again() -> None:
    session = MeshSession(MeshSection(), "edge")
    for _ in range(3):
        await session.open()
        publishers: list[zenoh.Publisher] = []

        def declare(s: zenoh.Session, publishers: list[zenoh.Publisher] = publishers) -> list[zenoh.Publisher]:
            publishers.append(s.declare_publisher("fk/x/event/alert", congestion_control=zenoh.CongestionControl.BLOCK))
            return publishers

        await session.declare(declare)
        seen: list[int] = []
        await session.declare(lambda s, seen=seen: [s.declare_subscriber("fk/x/**", lambda _: seen.append(1))])

        async def spam(publisher: zenoh.Publisher = publishers[0]) -> int:
            sent = 0
            with contextlib.suppress(SessionError):
                while True:
                    await session.call(lambda _s: publisher.put(b"x" * 200))
                    sent += 1
            return sent

        spammers = [asyncio.create_task(spam()) for _ in range(4)]
        await asyncio.sleep(0.1)
        await session.close()  # undeclares the publisher on the thread that puts: never "Already borrowed"
        sent = await asyncio.gather(*spammers)
        assert all(n > 0 for n in sent) and seen
        assert not session.is_open
    assert (session.opens, session.closes) == (3, 3)
