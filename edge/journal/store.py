"""The journal: SQLite in WAL mode, written by one thread with group commit.

Events are committed before anyone is told they exist; state is written in periodic batches
(``state`` holds the last value of each entity, ``history`` the values at each history interval,
``tracks`` downsampled positions). The file is marked with an application id so a foreign or
corrupt database is refused before anything is written to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from edge.scene.model import (
    Alert,
    AlertAck,
    AlertClear,
    Change,
    Event,
    Message,
    Snapshot,
    StateChange,
    TrackPoint,
    is_event,
)

from .errors import CorruptJournal, ForeignDatabase, JournalError, JournalUnavailable
from .replay import incident_span, picture_at

log = logging.getLogger(__name__)

APPLICATION_ID = 0x464B4A31  # "FKJ1" in PRAGMA application_id marks a fieldkit journal
SCHEMA_VERSION = 1
_MAX_BATCH = 512  # writes merged into one transaction

_SCHEMA = """
CREATE TABLE events(
    id TEXT PRIMARY KEY, origin TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    ts REAL NOT NULL, body BLOB NOT NULL, UNIQUE(origin, seq));
CREATE INDEX events_kind_ts ON events(kind, ts);
CREATE TABLE state(id TEXT PRIMARY KEY, kind TEXT NOT NULL, ts REAL NOT NULL, body BLOB NOT NULL);
CREATE TABLE history(id TEXT NOT NULL, ts REAL NOT NULL, body BLOB NOT NULL, PRIMARY KEY(id, ts))
    WITHOUT ROWID;
CREATE TABLE tracks(id TEXT NOT NULL, ts REAL NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL,
    alt_msl_m REAL, PRIMARY KEY(id, ts)) WITHOUT ROWID;
CREATE INDEX history_ts ON history(ts);
"""

_encode = msgspec.msgpack.Encoder().encode
_decode_change = msgspec.msgpack.Decoder(Change).decode

T = TypeVar("T")


class Restored(msgspec.Struct, frozen=True):
    """What the journal gives back at startup to rebuild the picture."""

    states: list[StateChange]
    lifecycle: list[Event]  # every alert, ack and clear, in commit order
    messages: list[Message]  # the most recent messages, oldest first
    last_seq: int  # the highest seq this node has numbered


def _connect(path: Path, *, synchronous: str, readonly: bool = False) -> sqlite3.Connection:
    uri = f"file:{path}?mode={'ro' if readonly else 'rwc'}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False, timeout=5.0)
    conn.execute("PRAGMA busy_timeout=5000")
    if not readonly:
        conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


def _check_or_create(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse a file that is not a fieldkit journal; create the schema in an empty one."""
    try:
        _check_or_create_unguarded(conn, path)
    except sqlite3.DatabaseError as exc:
        raise CorruptJournal(f"{path} is not a readable SQLite database ({exc}); it was left untouched") from exc


def _check_or_create_unguarded(conn: sqlite3.Connection, path: Path) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id == 0 and tables == 0:
        if conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
            raise JournalError(f"{path}: SQLite refused WAL mode")
        conn.executescript(
            f"BEGIN; {_SCHEMA} PRAGMA application_id={APPLICATION_ID}; PRAGMA user_version={SCHEMA_VERSION}; COMMIT;"
        )
        return
    if app_id != APPLICATION_ID:
        raise ForeignDatabase(
            f"{path} is a SQLite database of another application (application_id={app_id:#x}); "
            "fieldkit will not touch it: give the journal its own path"
        )
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA_VERSION:
        raise JournalError(f"{path} has journal schema {version}; this fieldkit reads schema {SCHEMA_VERSION}")
    result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise CorruptJournal(f"{path} failed SQLite's integrity check ({result}); it was left untouched")
    conn.execute("PRAGMA journal_mode=WAL")


class Journal:
    """A node's durable record. Writes go through one thread; ``append`` resolves after COMMIT."""

    def __init__(self, path: Path, *, node_id: str, synchronous: str = "FULL") -> None:
        self.path = path
        self.node_id = node_id
        self._synchronous = synchronous
        self._queue: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]] | None]
        self._queue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()
        self._next_seq = 1
        self.commits = 0
        self.commit_seconds = 0.0  # total time spent in COMMIT, for metrics
        self.unavailable: str | None = None  # why the journal cannot store now (disk full, read-only); None: it can
        self.unavailable_since: float | None = None  # wall-clock time it stopped storing
        self.refused = 0  # writes refused because the journal could not store them

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self) -> Restored:
        """Open (or create) the journal file, check it, start the writer and return what it holds."""
        if self._writer is not None:
            raise JournalError("journal already open")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists() and self.path.stat().st_size > 0
        try:
            conn = _connect(self.path, synchronous=self._synchronous, readonly=existed)
        except sqlite3.Error as exc:
            raise JournalUnavailable(f"cannot open journal {self.path}: {exc}") from exc
        try:
            if existed:  # check read-only first so a foreign file is never modified
                _check_or_create(conn, self.path)
                conn.close()
                conn = _connect(self.path, synchronous=self._synchronous)
            _check_or_create(conn, self.path)
        except BaseException:
            conn.close()
            raise
        self._writer = conn
        self._reader = _connect(self.path, synchronous=self._synchronous)
        restored = self._restore(self._reader)
        self._next_seq = restored.last_seq + 1
        self._thread = threading.Thread(target=self._write_loop, name="fieldkit-journal", daemon=True)
        self._thread.start()
        return restored

    def close(self) -> None:
        """Finish queued writes, checkpoint and close. Safe to call twice."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10.0)
            self._thread = None
        for conn in (self._writer, self._reader):
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
        self._writer = self._reader = None

    # -- writes (run on the writer thread) ------------------------------------------------------

    async def _submit(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._thread is None:
            raise JournalError("journal is not open")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((work, future))
        return await future

    def _write_loop(self) -> None:
        assert self._writer is not None
        conn = self._writer
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < _MAX_BATCH:  # group commit: merge whatever is already waiting
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
            self._run_batch(conn, batch)
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _run_batch(
        self, conn: sqlite3.Connection, batch: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]]
    ) -> None:
        seq_before = self._next_seq
        changes_before = conn.total_changes
        results: list[Any] = []
        start = time.monotonic()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                results = [work(conn) for work, _ in batch]
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:  # the writer thread must outlive any one batch
            self._next_seq = seq_before
            error: Exception = exc
            if isinstance(exc, sqlite3.Error):
                error = JournalUnavailable(f"journal {self.path} cannot store: {exc}")
                self._cannot_store(str(exc), len(batch))
            else:
                log.error("%s", error)
            for _, future in batch:
                _resolve(future, error=error)
            return
        self.commits += 1
        self.commit_seconds += time.monotonic() - start
        # Only a commit that wrote something shows the journal stores again: an empty transaction
        # commits even on a read-only file system (it only takes a lock in shared memory).
        if self.unavailable is not None and conn.total_changes > changes_before:
            down_s = time.time() - (self.unavailable_since or time.time())
            log.warning("journal %s stores again (it could not for %.1f s)", self.path, down_s)
            self.unavailable = self.unavailable_since = None
        for (_, future), result in zip(batch, results, strict=True):
            _resolve(future, result=result)

    def _cannot_store(self, reason: str, writes: int) -> None:
        """Note that a batch was refused; say so loudly once per outage, quietly after that."""
        self.refused += writes
        if self.unavailable is None:
            self.unavailable_since = time.time()
            log.error(
                "journal %s cannot store (%s): nothing will be acknowledged until it can; "
                "the live picture goes on (free space on its disk, or fix its file system)",
                self.path,
                reason,
            )
        else:
            log.debug("journal %s still cannot store: %s", self.path, reason)
        self.unavailable = reason

    async def append(self, events: Sequence[Event]) -> list[Event | None]:
        """Commit events; our own (seq 0) are numbered. Returns each stored event, None if a duplicate.

        An event that would not read back (a value outside its type's constraints, which building a
        struct in Python does not check) is refused here: stored, it would fail every later read of the
        journal and the node's restart (found by fuzzing the API).
        """
        for event in events:
            if event.seq == 0 and event.origin != self.node_id:
                raise JournalError(
                    f"event {event.id} from {event.origin} has no seq: only {self.node_id}'s own are numbered here"
                )
            try:
                _decode_change(_encode(event))
            except msgspec.ValidationError as exc:
                raise JournalError(f"event {event.id} would not read back: {exc}") from exc
        return await self._submit(lambda conn: self._insert_events(conn, events))

    def _insert_events(self, conn: sqlite3.Connection, events: Sequence[Event]) -> list[Event | None]:
        stored: list[Event | None] = []
        for given in events:
            event = given
            if event.seq == 0:
                if conn.execute("SELECT 1 FROM events WHERE id=?", (event.id,)).fetchone():
                    stored.append(None)
                    continue
                event = msgspec.structs.replace(event, seq=self._next_seq)
                self._next_seq += 1
            cur = conn.execute(
                "INSERT OR IGNORE INTO events(id, origin, seq, kind, ts, body) VALUES (?,?,?,?,?,?)",
                (event.id, event.origin, event.seq, _kind(event), event.ts, _encode(event)),
            )
            stored.append(event if cur.rowcount == 1 else None)
        return stored

    async def write_state(
        self,
        states: Iterable[StateChange],
        *,
        history_rows: Iterable[StateChange] = (),
        tracks: Iterable[tuple[str, TrackPoint]] = (),
    ) -> None:
        """Store the last value of each entity, replay rows for ``history_rows``, and track points."""
        rows = [(s.id, _kind(s), s.ts, _encode(s)) for s in states]
        hist = [(s.id, s.ts, _encode(s)) for s in history_rows]
        points = [(eid, p.ts, p.lat, p.lon, p.alt_msl_m) for eid, p in tracks]

        def work(conn: sqlite3.Connection) -> None:
            conn.executemany("INSERT OR REPLACE INTO state(id, kind, ts, body) VALUES (?,?,?,?)", rows)
            conn.executemany("INSERT OR REPLACE INTO history(id, ts, body) VALUES (?,?,?)", hist)
            conn.executemany("INSERT OR REPLACE INTO tracks(id, ts, lat, lon, alt_msl_m) VALUES (?,?,?,?,?)", points)

        await self._submit(work)

    async def prune(self, before: float) -> tuple[int, int]:
        """Delete track points and replay rows older than ``before``; returns (tracks, history) deleted.

        The newest replay row of each entity is kept even when old: an entity that has not changed
        since must still appear in the picture at later times.
        """

        def work(conn: sqlite3.Connection) -> tuple[int, int]:
            tracks = conn.execute("DELETE FROM tracks WHERE ts < ?", (before,)).rowcount
            history = conn.execute(
                "DELETE FROM history WHERE ts < ? AND (id, ts) NOT IN "
                "(SELECT id, max(ts) FROM history WHERE ts < ? GROUP BY id)",
                (before, before),
            ).rowcount
            return tracks, history

        return await self._submit(work)

    # -- reads (a separate WAL reader connection, off the event loop) ---------------------------

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with self._read_lock:
                if self._reader is None:
                    raise JournalError("journal is not open")
                return work(self._reader)

        return await asyncio.to_thread(run)

    def _restore(self, conn: sqlite3.Connection) -> Restored:
        states = [_decode_change(b) for (b,) in conn.execute("SELECT body FROM state")]
        lifecycle = [
            _decode_change(b)
            for (b,) in conn.execute(
                "SELECT body FROM events WHERE kind IN ('alert','alert_ack','alert_clear') ORDER BY rowid"
            )
        ]
        messages = [
            _decode_change(b)
            for (b,) in conn.execute(
                "SELECT body FROM (SELECT rowid, body FROM events WHERE kind='message' "
                "ORDER BY ts DESC LIMIT 200) ORDER BY rowid"
            )
        ]
        row = conn.execute("SELECT max(seq) FROM events WHERE origin=?", (self.node_id,)).fetchone()
        return Restored(
            states=[s for s in states if isinstance(s, StateChange)],
            lifecycle=[e for e in lifecycle if isinstance(e, Alert | AlertAck | AlertClear)],
            messages=[m for m in messages if isinstance(m, Message)],
            last_seq=row[0] or 0,
        )

    async def events_since(self, origin: str, seq: int, limit: int = 1000) -> list[Event]:
        """Events numbered by ``origin`` after ``seq``, in seq order (for catch-up and the log)."""

        def work(conn: sqlite3.Connection) -> list[Event]:
            rows = conn.execute(
                "SELECT body FROM events WHERE origin=? AND seq>? ORDER BY seq LIMIT ?", (origin, seq, limit)
            )
            return [e for (b,) in rows if not _is_state(e := _decode_change(b))]  # type: ignore[misc]

        return await self._read(work)

    async def contiguous_seqs(self) -> dict[str, tuple[int, int]]:
        """Per origin: the end of the unbroken run of seqs from 1 (0 if seq 1 is missing), and the highest.

        The mesh asks a peer for events after the first of these, so a gap is never skipped.
        """
        return await self._read(_contiguous_seqs)

    async def states_of_kind(self, kind: str) -> list[StateChange]:
        """The stored last values of every entity of ``kind`` (e.g. ``removed``: the tombstones)."""

        def work(conn: sqlite3.Connection) -> list[StateChange]:
            rows = conn.execute("SELECT body FROM state WHERE kind=?", (kind,))
            return [s for (b,) in rows if isinstance(s := _decode_change(b), StateChange)]

        return await self._read(work)

    async def events_between(
        self,
        since: float,
        until: float,
        limit: int = 1000,
        *,
        kinds: Sequence[str] = (),
        newest_first: bool = False,
    ) -> list[Event]:
        """Events with ``since <= ts <= until`` (of ``kinds``, if given), oldest first unless told."""
        where = "ts>=? AND ts<=?"
        args: list[object] = [since, until]
        if kinds:
            where += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += list(kinds)
        order = "DESC" if newest_first else "ASC"

        def work(conn: sqlite3.Connection) -> list[Event]:
            rows = conn.execute(f"SELECT body FROM events WHERE {where} ORDER BY ts {order} LIMIT ?", (*args, limit))  # noqa: S608 - placeholders only
            return [e for (b,) in rows if not _is_state(e := _decode_change(b))]  # type: ignore[misc]

        return await self._read(work)

    async def track(self, entity_id: str, since: float, until: float, limit: int = 10000) -> list[TrackPoint]:
        """Downsampled positions of one entity between two times, oldest first."""

        def work(conn: sqlite3.Connection) -> list[TrackPoint]:
            rows = conn.execute(
                "SELECT ts, lat, lon, alt_msl_m FROM tracks WHERE id=? AND ts>=? AND ts<=? ORDER BY ts LIMIT ?",
                (entity_id, since, until, limit),
            )
            return [TrackPoint(*r) for r in rows]

        return await self._read(work)

    async def picture_at(self, at: float) -> Snapshot:
        """The picture as it was at time ``at``: entities, their positions and the alerts then."""
        return await self._read(lambda conn: picture_at(conn, at))

    async def span(self) -> tuple[float | None, float | None]:
        """The first and last stored times (None, None for an empty journal): the replay's range."""
        return await self._read(incident_span)


# The end of the first run of consecutive seqs of each origin: the smallest seq whose successor is
# missing. UNIQUE(origin, seq) gives the index that makes the NOT EXISTS a lookup.
_CONTIGUOUS = """
SELECT e.origin, min(e.seq), (SELECT min(seq) FROM events WHERE origin = e.origin),
       (SELECT max(seq) FROM events WHERE origin = e.origin)
FROM events e
WHERE NOT EXISTS (SELECT 1 FROM events f WHERE f.origin = e.origin AND f.seq = e.seq + 1)
GROUP BY e.origin
"""


def _contiguous_seqs(conn: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    return {origin: (run_end if first == 1 else 0, last) for origin, run_end, first, last in conn.execute(_CONTIGUOUS)}


def _resolve(future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    def set_it() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    future.get_loop().call_soon_threadsafe(set_it)


def _kind(change: Change) -> str:
    return change.__struct_config__.tag  # type: ignore[return-value]


def _is_state(change: Change) -> bool:
    return not is_event(change)
