"""Mesh test fixtures; the helpers live in meshkit.py beside this file (made importable here)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from meshkit import MeshNet


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[MeshNet]:
    """Nodes, proxies and subprocesses of one test, all closed at its end."""
    mesh_net = MeshNet(tmp_path)
    try:
        yield mesh_net
    finally:
        await mesh_net.aclose()
