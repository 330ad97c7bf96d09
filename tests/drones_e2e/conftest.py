"""Fixtures for the drones end-to-end tests: our SITL, a fieldkit node routing for it, real ground software.

Every test here puts a fieldkit node *between* a simulated ArduCopter and the ground software, so
what the pilots' tools see has crossed our framer and router. The SITL helpers come from
``tests/sitl/conftest.py`` and the node rig from ``tests/drones_io/mavpeer.py``; nothing is mocked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from sitl.conftest import SitlProcess, peer_env, sitl_process


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``e2e`` marker (``-m "not e2e"`` leaves these slow tests out)."""
    config.addinivalue_line("markers", "e2e: a fieldkit node routing between our SITL and real ground software")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``e2e``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture
def sitl(tmp_path: Path) -> Callable[..., contextlib.AbstractContextManager[SitlProcess]]:
    """``with sitl("--port", "0") as s:`` runs ``python -m sim.sitl`` in a subprocess for the block."""
    return lambda *args, **kw: sitl_process(tmp_path, *args, **kw)


@pytest.fixture
def env() -> dict[str, str]:
    """Environment for ground-software subprocesses (this venv first on PATH)."""
    return peer_env()
