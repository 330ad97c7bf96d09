"""Position deltas (mesh/posdelta.py): exact timestamps, nothing grafted onto the wrong base, and two
nodes over Zenoh where a moving drone travels as deltas and every other change as a full state."""

from __future__ import annotations

import math
import time

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from meshkit import MeshNet, eventually
from test_sync import pair

from edge.scene import Position, Vehicle
from mesh.posdelta import (
    DeltaReceiver,
    DeltaSender,
    PosDelta,
    apply,
    base_name,
    decode_deltas,
    delta,
    encode_deltas,
)
from mesh.wire import decode_state_batch_gens, encode_state, encode_state_batch, quantise

T0 = 1_790_000_000.123456


def drone(ts: float, step: int = 0, **fields: object) -> Vehicle:
    pos = Position(lat=36.7 + step * 1e-6, lon=119.16 + step * 2e-6, alt_msl_m=80.5, alt_rel_m=50.0 + step * 0.01)
    values: dict[str, object] = {"mode": "GUIDED", "armed": True, "heading_deg": (step * 3.7) % 360,
                                 "ground_speed_mps": 5.0 + step * 0.1, "battery_pct": 90.0, **fields}
    return Vehicle(id="vehicle:a:1", origin="a", ts=ts, pos=pos, **values)  # type: ignore[arg-type]


def received(v: Vehicle, name: int) -> Vehicle:
    """``v`` as a receiver decodes its full state marked ``name``."""
    [(change, got)] = decode_state_batch_gens(encode_state_batch([(v.id, encode_state(v, pos_gen=name))]), "a")
    assert got == name and isinstance(change, Vehicle)
    return change


@given(st.floats(min_value=1e-6, max_value=30.0), st.integers(0, 3000))
def test_a_delta_rebuilds_the_exact_timestamp_and_the_position_on_the_wire_grid(dt: float, step: int) -> None:
    base = drone(T0)
    now = drone(T0 + dt, step)
    d = delta(base, 7, now)
    if d is None:  # only when the difference is not a whole number of ulps of the base
        assert T0 + round((now.ts - T0) / math.ulp(T0)) * math.ulp(T0) != now.ts
        return
    epoch, [(entity_id, back)] = decode_deltas(encode_deltas(2**47 - 1, [(now.id, d)]))
    rebuilt = apply(received(base, base_name(epoch, 7)), back)
    assert entity_id == now.id and rebuilt is not None
    assert rebuilt.ts == now.ts  # exact: state digests (ts) match the sender's
    assert rebuilt.pos == quantise(now).pos
    assert rebuilt.heading_deg == pytest.approx(now.heading_deg, abs=0.005)
    assert rebuilt.ground_speed_mps == pytest.approx(now.ground_speed_mps, abs=0.005)
    assert msgspec.structs.replace(rebuilt, ts=0, pos=None, heading_deg=None, ground_speed_mps=None) == \
        msgspec.structs.replace(quantise(base), ts=0, pos=None, heading_deg=None, ground_speed_mps=None)


def test_the_sender_sends_a_full_state_on_any_other_change_and_periodically() -> None:
    sender = DeltaSender(full_every_s=5.0)
    d, gen0 = sender.choose(drone(T0), now=100.0)
    assert d is None and gen0 == 0  # the first value is a full state
    d, gen = sender.choose(drone(T0 + 0.1, 1), now=100.1)
    assert isinstance(d, PosDelta) and d.gen == 0 and gen == 0
    d, gen = sender.choose(drone(T0 + 0.2, 2, mode="RTL"), now=100.2)
    assert d is None and gen == 1  # mode changed: a new full state, a new generation
    d, _ = sender.choose(drone(T0 + 0.3, 3, mode="RTL"), now=100.3)
    assert d is not None and d.gen == 1
    d, gen = sender.choose(drone(T0 + 6, 4, mode="RTL"), now=106.0)
    assert d is None and gen == 2  # a full state at least every full_every_s
    d, _ = sender.choose(drone(T0 + 5, 5, mode="RTL"), now=106.1)
    assert d is None  # older than its base: never a delta


def test_a_delta_is_applied_only_to_its_own_base() -> None:
    receiver = DeltaReceiver()
    sender = DeltaSender()
    e = sender.epoch
    sender.choose(drone(T0), 100.0)  # gen 0 sent, but this receiver missed it
    d1, _ = sender.choose(drone(T0 + 0.1, 1), 100.1)
    assert d1 is not None
    assert receiver.value("vehicle:a:1", "a", e, d1, 100.1) is None and receiver.dropped_no_base == 1
    _, gen = sender.choose(drone(T0 + 0.2, 2, battery_pct=80.0), 100.2)  # gen 1 received
    name = base_name(e, gen)
    receiver.base(received(drone(T0 + 0.2, 2, battery_pct=80.0), name), name, 100.2)
    # A late delta of generation 0 must not graft gen 0's moment onto gen 1's battery.
    assert receiver.value("vehicle:a:1", "a", e, d1, 100.3) is None and receiver.dropped_no_base == 2
    d3, _ = sender.choose(drone(T0 + 0.3, 3, battery_pct=80.0), 100.3)
    assert d3 is not None
    value = receiver.value("vehicle:a:1", "a", e, d3, 100.3)
    assert value is not None and value.battery_pct == 80.0 and value.ts == T0 + 0.3
    assert receiver.value("vehicle:a:1", "b", e, d3, 100.3) is None  # another origin's id: not its base
    assert receiver.value("vehicle:a:1", "a", e, d3, 200.0) is None  # a base too old to trust
    # A restarted publisher counts generations from 0 again, under a new epoch: its deltas never
    # land on the base the old one left behind, even with the same generation.
    restarted = DeltaSender()
    assert restarted.epoch != e
    restarted.choose(drone(T0 + 0.4, 4, battery_pct=80.0), 100.4)
    d5, gen5 = restarted.choose(drone(T0 + 0.5, 5, battery_pct=80.0), 100.5)
    assert d5 is not None and d5.gen == gen5 == 0  # the same generation the old epoch used first
    receiver.base(received(drone(T0 + 0.2, 2, battery_pct=80.0), base_name(e, 0)), base_name(e, 0), 100.5)
    assert receiver.value("vehicle:a:1", "a", restarted.epoch, d5, 100.5) is None


async def test_a_moving_drone_travels_as_deltas_and_a_mode_change_as_a_full_state(net: MeshNet) -> None:
    a, b = await pair(net)
    start = time.time()
    for step in range(30):
        a.scene.apply_state(msgspec.structs.replace(drone(start + step * 0.05, step), origin="a"))
        await eventually(lambda s=step: _at(b, start + s * 0.05), 5, f"step {step} on b")  # type: ignore[misc]
    assert b.mesh._receiver is not None and b.mesh._receiver.deltas.dropped_no_base == 0
    value = b.scene.get("vehicle:a:1")
    assert isinstance(value, Vehicle) and value.pos == quantise(drone(0, 29)).pos and value.mode == "GUIDED"
    assert a.mesh._publisher is not None
    assert a.mesh._publisher.pacing.tiers["lan"].positions._gens["vehicle:a:1"] == 0  # one full state
    a.scene.apply_state(msgspec.structs.replace(drone(start + 2, 30, mode="RTL"), origin="a"))
    await eventually(lambda: _at(b, start + 2), 5, "the mode change on b")
    late = b.scene.get("vehicle:a:1")
    assert isinstance(late, Vehicle) and late.mode == "RTL"


def _at(n, ts: float) -> bool:  # type: ignore[no-untyped-def]
    value = n.scene.get("vehicle:a:1")
    return isinstance(value, Vehicle) and value.ts == ts
