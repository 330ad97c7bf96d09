"""Tokens: roles, hashed storage, expiry, revocation."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from hashlib import sha256
from pathlib import Path

import pytest

from edge.auth import Role, TokenStore, parse_duration


def test_token_verifies_to_its_role_and_only_a_hash_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    store = TokenStore(path)
    token = store.create(Role.PILOT, "张伟 Zhang Wei")
    principal = store.verify(token)
    assert principal is not None and principal.role is Role.PILOT and principal.label == "张伟 Zhang Wei"
    text = path.read_text()
    assert token.split("_", 2)[2] not in text, "the secret must not be stored"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert TokenStore(path).verify(token) == principal, "tokens persist across restarts"
    [record] = json.loads(text)
    assert set(record) == {"id", "label", "role", "sha256", "created", "expires"}


@pytest.mark.parametrize("bad", ["", "fk_", "fk_x_y", "bearer", "fk_00000000_" + "a" * 43])
def test_wrong_tokens_are_refused(tmp_path: Path, bad: str) -> None:
    store = TokenStore(tmp_path / "t.json")
    store.create(Role.ADMIN, "a")
    assert store.verify(bad) is None


def test_tampered_secret_is_refused(tmp_path: Path) -> None:
    store = TokenStore(tmp_path / "t.json")
    token = store.create(Role.ADMIN, "a")
    assert store.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_expiry_and_revocation(tmp_path: Path) -> None:
    now = [1000.0]
    store = TokenStore(tmp_path / "t.json", clock=lambda: now[0])
    token = store.create(Role.VIEWER, "guest", ttl_s=60)
    assert store.verify(token) is not None
    now[0] += 61
    assert store.verify(token) is None
    other = store.create(Role.VIEWER, "v")
    token_id = other.split("_")[1]
    assert store.revoke(token_id) and not store.revoke(token_id)
    assert store.verify(other) is None


def test_ephemeral_tokens_are_never_written(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    store = TokenStore(path)
    token = store.create(Role.PILOT, "sim operator", persist=False)
    assert store.verify(token) is not None
    assert not path.exists()
    store.create(Role.VIEWER, "v")
    assert "sim operator" not in path.read_text()


def test_roles_are_ordered() -> None:
    assert Role.VIEWER < Role.PILOT < Role.ADMIN
    assert Role.parse("Pilot") is Role.PILOT
    with pytest.raises(ValueError, match="unknown role"):
        Role.parse("root")


def test_unreadable_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("{oops")
    with pytest.raises(ValueError, match="unreadable"):
        TokenStore(path)


def test_revocation_by_another_process_reaches_watchers(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    node_store = TokenStore(path)
    token = node_store.create(Role.VIEWER, "v")
    kept = node_store.create(Role.PILOT, "p")
    told: list[str] = []
    node_store.watch(token.split("_")[1], told.append)
    unwatch = node_store.watch(kept.split("_")[1], told.append)
    unwatch()
    assert TokenStore(path).revoke(token.split("_")[1])  # as `fieldkit token revoke` does
    assert told == []  # nothing until the node looks
    node_store.refresh()
    assert told == [token.split("_")[1]]
    assert node_store.verify(token) is None and node_store.verify(kept) is not None


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("8h", 28800), ("1.5d", 129600)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0h", "8x", "-1h", "h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_concurrent_writers_lose_no_token(tmp_path: Path) -> None:
    """Several `fieldkit token create` processes and a node's store write the file at once; every token stays."""
    config = tmp_path / "kit.toml"
    config.write_text(f'[node]\ndata_dir = "{tmp_path}"\n')
    argv = [sys.executable, "-m", "edge.cli", "token", "create", "--role", "viewer", "--config", str(config)]
    procs = [subprocess.Popen([*argv, "--label", f"p{i}"], stdout=subprocess.PIPE, text=True) for i in range(6)]
    store = TokenStore(tmp_path / "tokens.json")
    mine = [store.create(Role.PILOT, f"node {i}") for i in range(6)]
    theirs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    fresh = TokenStore(tmp_path / "tokens.json")
    assert all(fresh.verify(t) is not None for t in mine + theirs)
    assert len(fresh.list()) == 12


def _swap_in_place(path: Path) -> str:
    """Another process's change the stamp cannot see: the file's one token replaced by a new one of
    the same length, written in place, its modification time put back. Returns the new token."""
    st = path.stat()
    [record] = json.loads(path.read_text())
    secret = "s" * 43
    text = path.read_text().replace(record["id"], "feedf00d")
    text = text.replace(record["sha256"], sha256(secret.encode()).hexdigest())
    with path.open("r+") as f:
        f.write(text)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (path.stat().st_mtime_ns, path.stat().st_ino, path.stat().st_size) == (st.st_mtime_ns, st.st_ino, st.st_size)
    return f"fk_feedf00d_{secret}"


def test_a_writer_rereads_the_file_even_when_its_stamp_looks_unchanged(tmp_path: Path) -> None:
    """Two writes in one tick of the file clock, the inode reused: only the re-read under the lock keeps both."""
    path = tmp_path / "tokens.json"
    TokenStore(path).create(Role.VIEWER, "first")
    old = time.time_ns() - 10 * 10**9
    os.utime(path, ns=(old, old))  # long ago: the stamp below is trusted
    store = TokenStore(path)
    theirs = _swap_in_place(path)
    mine = store.create(Role.PILOT, "mine")
    fresh = TokenStore(path)
    assert fresh.verify(theirs) is not None and fresh.verify(mine) is not None


def test_a_stamp_taken_in_the_tick_of_a_change_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    TokenStore(path).create(Role.VIEWER, "first")
    store = TokenStore(path)  # read just after the write: its stamp cannot prove the next change away
    theirs = _swap_in_place(path)
    assert store.verify(theirs) is not None
