"""Run one fieldkit node with the mesh component in this process: ``python node_main.py node.json``.

``node.json`` holds ``{"config": <Config>, "mesh": <MeshSection>}`` (the mesh section replaces the
config's); the node logs ``serving <url>`` on stdout once its API is up, like ``fieldkit run``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import msgspec

from edge.config import Config
from edge.node import EdgeNode
from mesh import MeshSection


class NodeFile(msgspec.Struct, frozen=True):
    config: Config
    mesh: MeshSection


def main() -> None:
    spec = msgspec.json.decode(Path(sys.argv[1]).read_bytes(), type=NodeFile)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    node = EdgeNode(msgspec.structs.replace(spec.config, mesh=spec.mesh))
    asyncio.run(node.run(handle_signals=True))


if __name__ == "__main__":
    main()
