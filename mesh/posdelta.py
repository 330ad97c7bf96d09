"""Position deltas: a moving drone's update as a few small integers against its last full state.

A vehicle's full state is ~65 B of payload; between two full states a drone in flight usually
changes only its position, heading and speed. So the publisher sends a full state (marked with a
generation ``pos_gen``, on ``fk/<node>/state``) and then, while nothing else changes and for at
most ``FULL_EVERY_S``, only ``PosDelta``s against it on ``fk/<node>/pos`` (``[epoch, [[id, delta], ...]]``).

Why it stays correct under last-value-wins:
- a delta names its base by the sender's *epoch* (random, 47 bits, new every time the publisher
  starts: a restarted kit never reuses a name) and a per-vehicle generation; ``pos_gen`` of a full
  state is ``epoch << 16 | gen``. A receiver applies a delta only to the very full state it holds
  under that name (received less than ``MAX_BASE_AGE_S`` ago), else drops and counts it: it never
  grafts a position onto some other, older state. The epoch travels once per batch, the
  generation (1-3 B) per delta;
- the delta's timestamp is its base's plus an exact number of the base timestamp's ulps, so the
  rebuilt value carries the sender's exact ``ts`` (state digests, hence catch-up, see no
  difference) and then merges by (ts, origin) like any value: a late delta loses to anything newer;
- the sender sends a delta only when every other field equals the base's, so the rebuilt value is
  the sender's own (heading to 0.01 degree and speed to 1 cm/s, MAVLink's own resolution).
Kits that predate deltas do not subscribe to ``fk/*/pos`` and see the full state every
``FULL_EVERY_S``. Pure: no I/O, the clock passed in.
"""

from __future__ import annotations

import math
import secrets
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from edge.scene import Position, Vehicle

FULL_EVERY_S = 5.0  # a full state at least this often: newcomers and missed bases recover within it
MAX_BASE_AGE_S = 30.0  # a receiver's base older than this is not used (generations wrap at 65536)
MAX_BASES = 10_000
MAX_DELTAS = 1000  # per sample
EPOCH_BITS = 47  # epoch << 16 | gen fits a msgpack int64
_MOVING = {"ts": None, "pos": None, "heading_deg": None, "ground_speed_mps": None}

Small = Annotated[int, Meta(ge=-(2**31), le=2**31 - 1)]


class PosDelta(Struct, frozen=True, array_like=True):
    """``[gen, dt_ulps, dlat_e7, dlon_e7, dalt_msl_cm, dalt_rel_cm, heading_cdeg, speed_cms]``."""

    gen: Annotated[int, Meta(ge=0, le=65535)]
    dt_ulps: Annotated[int, Meta(ge=1, le=2**40)]  # ts - base ts, in ulps of the base ts
    dlat_e7: Small
    dlon_e7: Small
    dalt_msl_cm: Small = 0
    dalt_rel_cm: Small = 0
    heading_cdeg: Annotated[int, Meta(ge=0, le=36000)] | None = None
    speed_cms: Annotated[int, Meta(ge=0, le=2**31)] | None = None


_encoder = msgspec.msgpack.Encoder()
Epoch = Annotated[int, Meta(ge=0, lt=2**EPOCH_BITS)]
_decoder = msgspec.msgpack.Decoder(tuple[Epoch, Annotated[list[tuple[str, PosDelta]], Meta(max_length=MAX_DELTAS)]])


def _e7(deg: float) -> int:
    return round(deg * 1e7)


def _cm(m: float | None) -> int:
    return 0 if m is None else round(m * 100)


def _q(value: float | None, scale: float) -> int | None:
    return None if value is None else round(value * scale)


def delta(base: Vehicle, gen: int, now: Vehicle) -> PosDelta | None:
    """``now`` as a delta against ``base``, or None if it needs a full state."""
    if base.pos is None or now.pos is None or now.ts <= base.ts:
        return None
    if (base.pos.alt_msl_m is None) != (now.pos.alt_msl_m is None) or (base.pos.alt_rel_m is None) != (
        now.pos.alt_rel_m is None
    ):
        return None
    if msgspec.structs.replace(now, **_MOVING) != msgspec.structs.replace(base, **_MOVING):
        return None
    ulp = math.ulp(base.ts)
    steps = round((now.ts - base.ts) / ulp)
    heading = _q(now.heading_deg, 100)
    speed = _q(now.ground_speed_mps, 100)
    if base.ts + steps * ulp != now.ts or not 1 <= steps <= 2**40:
        return None
    if (heading is not None and not 0 <= heading <= 36000) or (speed is not None and not 0 <= speed <= 2**31):
        return None
    return PosDelta(
        gen,
        steps,
        _e7(now.pos.lat) - _e7(base.pos.lat),
        _e7(now.pos.lon) - _e7(base.pos.lon),
        _cm(now.pos.alt_msl_m) - _cm(base.pos.alt_msl_m),
        _cm(now.pos.alt_rel_m) - _cm(base.pos.alt_rel_m),
        heading,
        speed,
    )


def apply(base: Vehicle, d: PosDelta) -> Vehicle | None:
    """The value ``d`` describes on top of ``base`` (as received: its position on the wire's grid)."""
    pos = base.pos
    if pos is None:
        return None
    lat = (_e7(pos.lat) + d.dlat_e7) / 1e7
    lon = (_e7(pos.lon) + d.dlon_e7) / 1e7
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    msl = None if pos.alt_msl_m is None else (_cm(pos.alt_msl_m) + d.dalt_msl_cm) / 100
    rel = None if pos.alt_rel_m is None else (_cm(pos.alt_rel_m) + d.dalt_rel_cm) / 100
    return msgspec.structs.replace(
        base,
        ts=base.ts + d.dt_ulps * math.ulp(base.ts),
        pos=Position(lat=lat, lon=lon, alt_msl_m=msl, alt_rel_m=rel),
        heading_deg=None if d.heading_cdeg is None else d.heading_cdeg / 100,
        ground_speed_mps=None if d.speed_cms is None else d.speed_cms / 100,
    )


def encode_deltas(epoch: int, items: list[tuple[str, PosDelta]]) -> bytes:
    """A ``fk/<node>/pos`` payload: ``[epoch, [[id, delta], ...]]``."""
    return _encoder.encode((epoch, items))


def decode_deltas(data: bytes) -> tuple[int, list[tuple[str, PosDelta]]]:
    """Read a ``fk/<node>/pos`` payload (raises ``msgspec.DecodeError`` on anything else)."""
    return _decoder.decode(data)


def base_name(epoch: int, gen: int) -> int:
    """The ``pos_gen`` a full state carries: which epoch and generation it is the base of."""
    return epoch << 16 | gen


class DeltaSender:
    """Per vehicle: the last full state sent and its generation; chooses full or delta."""

    def __init__(self, full_every_s: float = FULL_EVERY_S, epoch: int | None = None) -> None:
        self._full_every_s = full_every_s
        self.epoch = secrets.randbits(EPOCH_BITS) if epoch is None else epoch
        self._bases: dict[str, tuple[int, Vehicle, float]] = {}  # id -> (gen, full state, sent at)
        self._gens: dict[str, int] = {}

    def choose(self, v: Vehicle, now: float) -> tuple[PosDelta | None, int]:
        """``(delta, gen)``: a delta to send, or None and the generation of a new full state
        (mark it with ``base_name(self.epoch, gen)``)."""
        base = self._bases.get(v.id)
        if base is not None and now - base[2] < self._full_every_s:
            d = delta(base[1], base[0], v)
            if d is not None:
                return d, base[0]
        gen = (self._gens.get(v.id, -1) + 1) & 0xFFFF
        self._gens[v.id] = gen
        self._bases[v.id] = (gen, v, now)
        return None, gen

    def forget(self, entity_id: str) -> None:
        """The entity was removed: its next value is a full state."""
        self._bases.pop(entity_id, None)

    def reset(self) -> None:
        """A peer appeared (it holds no base of ours): every vehicle's next value is a full state."""
        self._bases.clear()


class DeltaReceiver:
    """Per (origin, vehicle): the full state received under each generation's name."""

    def __init__(self) -> None:
        self._bases: dict[str, tuple[int, Vehicle, float]] = {}
        self.dropped_no_base = 0

    def base(self, v: Vehicle, name: int, now: float) -> None:
        """A full state marked ``name`` (``base_name``) arrived."""
        if len(self._bases) >= MAX_BASES and v.id not in self._bases:
            self._expire(now)
            if len(self._bases) >= MAX_BASES:
                return
        self._bases[v.id] = (name, v, now)

    def value(self, entity_id: str, origin: str, epoch: int, d: PosDelta, now: float) -> Vehicle | None:
        """The vehicle ``d`` (of a batch from ``epoch``) describes, or None (counted) if its base is not held."""
        held = self._bases.get(entity_id)
        if (
            held is None
            or held[0] != base_name(epoch, d.gen)
            or held[1].origin != origin
            or now - held[2] > MAX_BASE_AGE_S
        ):
            self.dropped_no_base += 1
            return None
        return apply(held[1], d)

    def _expire(self, now: float) -> None:
        for key in [k for k, (_, _, at) in self._bases.items() if now - at > MAX_BASE_AGE_S]:
            del self._bases[key]
