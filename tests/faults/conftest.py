"""Fault-campaign fixtures; the helpers live beside this file (made importable here).

Each test runs ``cycles()`` fault cycles: 3 by default (the bounded subset in ``make test``),
``FIELDKIT_FAULT_CYCLES`` of them under ``make faults`` (100), which also collects each test's
counts through ``FIELDKIT_FAULT_REPORT`` (see campaign.py).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "mesh"))  # meshkit, test_process, test_netns

from meshkit import MeshNet


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[MeshNet]:
    """Mesh nodes and proxies of one test (tests/mesh/meshkit.py), all closed at its end."""
    mesh_net = MeshNet(tmp_path)
    try:
        yield mesh_net
    finally:
        await mesh_net.aclose()
