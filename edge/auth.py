"""Bearer tokens with roles, stored hashed.

A token reads ``fk_<id>_<secret>``: the id finds the record, the secret is checked against its
SHA-256 in constant time. Secrets carry 256 bits of entropy, so a fast hash is enough (a slow
password hash protects low-entropy secrets, which these are not). The store file holds hashes only
and is written 0600; a token is shown once, when it is created, and never logged.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable
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


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """Tokens of one node: persistent (a file) plus ephemeral ones held in memory only."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._ephemeral: set[str] = set()
        if path is not None and path.exists():
            try:
                records = msgspec.json.decode(path.read_bytes(), type=list[_Record])
            except (OSError, msgspec.DecodeError) as exc:
                raise ValueError(f"token store {path} is unreadable: {exc}") from exc
            self._records = {r.id: r for r in records}

    def create(self, role: Role, label: str, *, ttl_s: float | None = None, persist: bool = True) -> str:
        """A new token for ``role``; returned once, stored hashed."""
        token_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        now = self._clock()
        record = _Record(token_id, label, role.name.lower(), _hash(secret), now, now + ttl_s if ttl_s else None)
        self._records[token_id] = record
        if persist:
            self._save()
        else:
            self._ephemeral.add(token_id)
        return f"fk_{token_id}_{secret}"

    def revoke(self, token_id: str) -> bool:
        """Remove a token; True if it existed."""
        if self._records.pop(token_id, None) is None:
            return False
        if token_id in self._ephemeral:
            self._ephemeral.discard(token_id)
        else:
            self._save()
        return True

    def verify(self, token: str) -> Principal | None:
        """The principal behind ``token``, or None if it is unknown, wrong or expired."""
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "fk":
            return None
        record = self._records.get(parts[1])
        if record is None or not hmac.compare_digest(record.sha256, _hash(parts[2])):
            return None
        if record.expires is not None and self._clock() > record.expires:
            return None
        return Principal(record.id, record.label, Role.parse(record.role))

    def list(self) -> list[tuple[str, str, str]]:
        """(id, role, label) of every persistent token."""
        return [(r.id, r.role, r.label) for r in self._records.values() if r.id not in self._ephemeral]

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
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
