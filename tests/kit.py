"""Test helpers: configs, a node in this process (real sockets), a node in a subprocess (real signals)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec

from edge.auth import Role, TokenStore
from edge.config import Config, parse
from edge.node import EdgeNode

FIELDKIT = [sys.executable, "-m", "edge.cli"]


def kit_config(tmp: Path, **sections: dict[str, object]) -> Config:
    """A config rooted in ``tmp`` listening on a free loopback port; ``sections`` override keys."""
    base: dict[str, dict[str, object]] = {
        "node": {"id": "kit-test", "data_dir": str(tmp / "data")},
        "api": {"host": "127.0.0.1", "port": 0},
        "journal": {"synchronous": "NORMAL", "flush_interval_s": 0.2},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return msgspec.convert(base, type=Config)


def write_config(tmp: Path, config: Config) -> Path:
    """Write ``config`` as TOML and check that it parses back the same."""
    lines = []
    for section in (f.name for f in msgspec.structs.fields(Config)):
        lines.append(f"[{section}]")
        tables: list[str] = []
        for key, value in msgspec.to_builtins(getattr(config, section)).items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:  # a list of tables: [[section.key]]
                    tables.append(f"[[{section}.{key}]]")
                    tables += [f"{k} = {_toml(v)}" for k, v in item.items() if v is not None]
            elif value is not None:
                lines.append(f"{key} = {_toml(value)}")
        lines += tables
    text = "\n".join(lines) + "\n"
    assert parse(text) == config
    path = tmp / "kit.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, dict):  # an inline table
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items() if v is not None) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


@dataclass
class LocalNode:
    """A node running in the test's event loop, with one token per role."""

    node: EdgeNode
    url: str
    tokens: dict[Role, str] = field(default_factory=dict)

    def client(self, role: Role | None = Role.PILOT) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10.0)


async def start_local(config: Config) -> tuple[EdgeNode, asyncio.Task[None]]:
    """Start a node in this loop and wait until it serves."""
    node = EdgeNode(config, tokens=TokenStore(config.tokens_path))
    task = asyncio.create_task(node.run())
    ready = asyncio.create_task(node.ready.wait())
    done, _ = await asyncio.wait([task, ready], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what stopped it
    assert ready in done, "node did not become ready"
    return node, task


async def stop_local(node: EdgeNode, task: asyncio.Task[None]) -> None:
    node.stop()
    await asyncio.wait_for(task, 5)


@dataclass
class NodeProcess:
    """A `fieldkit` node in a subprocess."""

    proc: subprocess.Popen[str]
    url: str
    config_path: Path
    tokens: dict[Role, str]
    lines: list[str]

    def client(self, role: Role | None = Role.PILOT) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10.0)

    def keep_reading(self) -> threading.Thread:
        """Keep reading the node's output into ``lines``, so its pipe never fills and stalls it."""

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line)

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread


def create_token(config_path: Path, role: Role) -> str:
    out = subprocess.run(
        [
            *FIELDKIT,
            "token",
            "create",
            "--role",
            role.name.lower(),
            "--label",
            f"{role.name.lower()} tester",
            "--config",
            str(config_path),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return out.stdout.strip()


def spawn_node(
    config_path: Path,
    *args: str,
    command: str = "run",
    timeout: float = 20.0,
    prefix: tuple[str, ...] = (),
    tokens: dict[Role, str] | None = None,
) -> NodeProcess:
    """Start `fieldkit run|sim --config ...` (after ``prefix``, e.g. ``nsenter ...``) and wait for 'serving'.

    ``tokens``: those of an earlier start on the same config (a restart), instead of new ones.
    """
    tokens = tokens or {role: create_token(config_path, role) for role in Role}
    proc = subprocess.Popen(
        [*prefix, *FIELDKIT, command, "--config", str(config_path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"serving (https?://\S+/)", line)
        if match:
            return NodeProcess(proc, match.group(1), config_path, tokens, lines)
    proc.kill()
    proc.wait()
    raise AssertionError("node did not start:\n" + "".join(lines))


def stop_process(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
