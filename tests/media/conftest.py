"""Media tests: their helpers (mediakit) from this folder, and a node in this process with one sim feed
(cam1, 320x180) for the WHEP, WHIP and relay tests."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kit import LocalNode, kit_config, start_local, stop_local
from whep_client import SIM_FEED

from edge.auth import Role

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
async def cam_node(tmp_path: Path) -> AsyncIterator[LocalNode]:
    node, task = await start_local(kit_config(tmp_path, media={"feeds": [SIM_FEED]}))
    tokens = {role: node.tokens.create(role, f"{role.name.lower()} tester") for role in Role}
    assert node.api_url is not None and node.media is not None
    try:
        yield LocalNode(node, node.api_url, tokens)
    finally:
        await stop_local(node, task)
