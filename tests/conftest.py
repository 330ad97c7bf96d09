"""Shared fixtures: a node in this process and a node in a subprocess (helpers in kit.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from kit import (
    LocalNode,
    NodeProcess,
    kit_config,
    spawn_node,
    start_local,
    stop_local,
    stop_process,
    write_config,
)

from edge.auth import Role


@pytest.fixture
async def local_node(tmp_path: Path) -> AsyncIterator[LocalNode]:
    config = kit_config(tmp_path)
    node, task = await start_local(config)
    tokens = {role: node.tokens.create(role, f"{role.name.lower()} tester") for role in Role}
    assert node.api_url is not None
    try:
        yield LocalNode(node, node.api_url, tokens)
    finally:
        await stop_local(node, task)


@pytest.fixture
def node_process(tmp_path: Path) -> Iterator[NodeProcess]:
    config_path = write_config(tmp_path, kit_config(tmp_path))
    node = spawn_node(config_path)
    try:
        yield node
    finally:
        stop_process(node.proc)
