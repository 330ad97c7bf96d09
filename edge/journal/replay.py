"""The picture at a past moment, rebuilt from the journal's history, tracks and events."""

from __future__ import annotations

import sqlite3

import msgspec

from edge.scene.lifecycle import AlertBook
from edge.scene.model import Change, Entity, Message, Position, Removed, Snapshot

_decode = msgspec.msgpack.Decoder(Change).decode


def picture_at(conn: sqlite3.Connection, at: float) -> Snapshot:
    """Entities as last recorded at or before ``at`` (position refined by tracks), and the alerts then."""
    entities: list[Entity] = []
    # One index seek per entity (history's key is (id, ts)); `state` names every entity ever stored.
    # Grouping all history rows up to `at` instead grew with the incident's length (benchmarks/cmdpost.py).
    rows = conn.execute(
        "SELECT (SELECT body FROM history h WHERE h.id=s.id AND h.ts<=? ORDER BY h.ts DESC LIMIT 1) AS body "
        "FROM state s",
        (at,),
    )
    for (body,) in rows:
        if body is None:
            continue  # not stored yet at `at`
        entity = _decode(body)
        if isinstance(entity, Removed) or not hasattr(entity, "pos"):
            continue
        entities.append(_refine(conn, entity, at))  # type: ignore[arg-type]
    book = AlertBook()
    for (body,) in conn.execute(
        "SELECT body FROM events WHERE kind IN ('alert','alert_ack','alert_clear') AND ts<=? ORDER BY ts", (at,)
    ):
        book.apply(_decode(body))  # type: ignore[arg-type]
    messages = [
        m
        for (body,) in conn.execute(
            "SELECT body FROM (SELECT body, ts FROM events WHERE kind='message' AND ts<=? ORDER BY ts DESC "
            "LIMIT 200) ORDER BY ts",
            (at,),
        )
        if isinstance(m := _decode(body), Message)
    ]
    return Snapshot(ts=at, entities=entities, alerts=book.records(), messages=messages)


def incident_span(conn: sqlite3.Connection) -> tuple[float | None, float | None]:
    """The first and last times the journal holds anything for (events, replay rows, tracks)."""
    row = conn.execute(
        "SELECT min(lo), max(hi) FROM (SELECT min(ts) AS lo, max(ts) AS hi FROM events "
        "UNION ALL SELECT min(ts), max(ts) FROM history UNION ALL SELECT min(ts), max(ts) FROM tracks)"
    ).fetchone()
    return row[0], row[1]


def _refine(conn: sqlite3.Connection, entity: Entity, at: float) -> Entity:
    """Use a track point newer than the history row, if there is one before ``at``."""
    row = conn.execute(
        "SELECT ts, lat, lon, alt_msl_m FROM tracks WHERE id=? AND ts<=? AND ts>? ORDER BY ts DESC LIMIT 1",
        (entity.id, at, entity.ts),
    ).fetchone()
    if row is None:
        return entity
    ts, lat, lon, alt_msl_m = row
    old = entity.pos
    pos = Position(lat=lat, lon=lon, alt_msl_m=alt_msl_m, alt_rel_m=old.alt_rel_m if old else None)
    return msgspec.structs.replace(entity, pos=pos, ts=ts)
