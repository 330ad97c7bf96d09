"""Bearer tokens with roles, stored hashed.

A token reads ``fk_<id>_<secret>``: the id finds the record, the secret is checked against its
SHA-256 in constant time. Secrets carry 256 bits of entropy, so a fast hash is enough (a slow
password hash protects low-entropy secrets, which these are not). The store file holds hashes only
and is written 0600; a token is shown once, when it is created, and never logged.

Another process (``fieldkit token revoke``) may change the file while a node runs: the store notices
the change on its next ``verify`` or ``refresh`` (a ``stat``, no read unless it changed), and a
revoked token's watchers (its open WebSockets) are told at once. A file's modification time ticks
coarsely (a few milliseconds) and a replaced file's inode number is soon reused, so a stamp taken
within ``RACY_S`` of the file's last change proves nothing: the next look reads the file again (the
"racy git" rule). Writers always re-read under the lock.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

log = logging.getLogger(__name__)


class Role(enum.IntEnum):
    """What a token may do; each role includes the ones below it."""

    VIEWER = 1  # read the picture
    PILOT = 2  # operator actions: acknowledge, message, draw, command drones
    ADMIN = 3  # configuration and tokens

    @classmethod
    def parse(cls, name: str) -> Role:
        """The role called ``name`` (case-insensitive)."""
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r} (viewer, pilot or admin)") from None


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the token's id, its label and its role."""

    token_id: str
    label: str
    role: Role


class _Record(msgspec.Struct, frozen=True):
    id: str
    label: str
    role: str
    sha256: str
    created: float
    expires: float | None = None


class TokenInfo(msgspec.Struct, frozen=True):
    """What may be shown about a token: never its secret or hash."""

    id: str
    role: str
    label: str
    created: float
    expires: float | None


_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}

RACY_S = 1.0  # a stamp this close to the file's change may miss a second change in the same tick


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``8h`` or ``7d`` (a bare number is seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 30m, 8h, 7d)")
    return float(match.group(1)) * _UNITS_S[match.group(2) or "s"]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """Tokens of one node: persistent (a file) plus ephemeral ones held in memory only."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._ephemeral: set[str] = set()
        self._watchers: dict[str, set[Callable[[str], None]]] = {}
        self._stamp: tuple[int, int, int] | None = None  # (mtime_ns, inode, size), or None for no file
        self._racy = False  # the stamp was taken too soon after the change to trust
        if self._take_stamp() is not None and path is not None:
            self._records = {r.id: r for r in self._read(path)}

    @staticmethod
    def _read(path: Path) -> list[_Record]:
        try:
            return msgspec.json.decode(path.read_bytes(), type=list[_Record])
        except (OSError, msgspec.DecodeError) as exc:
            raise ValueError(f"token store {path} is unreadable: {exc}") from exc

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self.path.stat() if self.path is not None else None
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size) if st is not None else None

    def _take_stamp(self) -> tuple[int, int, int] | None:
        """Stamp the file as just read or written; a stamp too close to the change is marked racy."""
        self._stamp = self._file_stamp()
        self._racy = self._stamp is not None and time.time_ns() - self._stamp[0] < RACY_S * 1e9
        return self._stamp

    def refresh(self, *, force: bool = False) -> None:
        """Pick up changes another process made to the file; revoked tokens' watchers are told.

        ``force`` reads the file even if its stamp did not change (a writer, under the lock).
        """
        if self.path is None:
            return
        if not (force or self._racy) and self._file_stamp() == self._stamp:
            return
        stamp = self._take_stamp()  # before reading: a change made meanwhile shows on the next look
        try:
            on_disk = {r.id: r for r in self._read(self.path)} if stamp is not None else {}
        except ValueError as exc:
            log.warning("%s; keeping the tokens known before", exc)
            return
        persistent = {i for i in self._records if i not in self._ephemeral}
        gone = persistent - on_disk.keys()
        self._records = {**on_disk, **{i: self._records[i] for i in self._ephemeral}}
        for token_id in gone:
            log.info("token %s was revoked in %s", token_id, self.path)
            self._notify(token_id)

    def watch(self, token_id: str, on_revoked: Callable[[str], None]) -> Callable[[], None]:
        """Call ``on_revoked(token_id)`` when the token is revoked; returns the function that stops watching."""
        self._watchers.setdefault(token_id, set()).add(on_revoked)

        def unwatch() -> None:
            watchers = self._watchers.get(token_id)
            if watchers is not None:
                watchers.discard(on_revoked)
                if not watchers:
                    del self._watchers[token_id]

        return unwatch

    def seconds_left(self, token_id: str) -> float | None:
        """Seconds until the token expires (0 once it has), or None if it never does."""
        record = self._records.get(token_id)
        if record is None or record.expires is None:
            return None
        return max(0.0, record.expires - self._clock())

    def _notify(self, token_id: str) -> None:
        for callback in list(self._watchers.get(token_id, ())):
            try:
                callback(token_id)
            except Exception:
                log.exception("a watcher of token %s failed", token_id)

    def create(self, role: Role, label: str, *, ttl_s: float | None = None, persist: bool = True) -> str:
        """A new token for ``role``; returned once, stored hashed."""
        token_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        now = self._clock()
        record = _Record(token_id, label, role.name.lower(), _hash(secret), now, now + ttl_s if ttl_s else None)
        if not persist:
            self._ephemeral.add(token_id)
            self._records[token_id] = record
            return f"fk_{token_id}_{secret}"
        with self._writing():
            self._records[token_id] = record
            self._save()
        return f"fk_{token_id}_{secret}"

    def revoke(self, token_id: str) -> bool:
        """Remove a token; True if it existed. Its watchers (open WebSockets) are told at once."""
        with self._writing():
            if self._records.pop(token_id, None) is None:
                return False
            if token_id in self._ephemeral:
                self._ephemeral.discard(token_id)
            else:
                self._save()
        log.info("token %s revoked", token_id)
        self._notify(token_id)
        return True

    def verify(self, token: str) -> Principal | None:
        """The principal behind ``token``, or None if it is unknown, wrong or expired."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "fk":
            return None
        self.refresh()
        record = self._records.get(parts[1])
        if record is None or not hmac.compare_digest(record.sha256, _hash(parts[2])):
            return None
        if record.expires is not None and self._clock() > record.expires:
            return None
        return Principal(record.id, record.label, Role.parse(record.role))

    def list(self) -> list[TokenInfo]:
        """Every persistent token (expired ones too, until revoked), oldest first."""
        self.refresh()
        records = sorted(self._records.values(), key=lambda r: r.created)
        return [TokenInfo(r.id, r.role, r.label, r.created, r.expires) for r in records if r.id not in self._ephemeral]

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the store's lock file while reading the latest file and writing it back.

        A running node (API) and ``fieldkit token`` (another process) may both change the file; the
        lock and the re-read inside it keep either from writing back a list that misses the other's change.
        """
        if self.path is None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Read-only is enough for flock, and lets another user of the folder share a lock file it did not make.
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self.refresh(force=True)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        keep = [r for r in self._records.values() if r.id not in self._ephemeral]
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(msgspec.json.format(msgspec.json.encode(keep)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            self._take_stamp()  # our own write is no news
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
