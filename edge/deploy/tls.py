"""TLS settings of a node: checking them in the configuration, and saying plainly what is wrong at startup.

HTTPS (``[api] tls_cert/tls_key``) and the mesh's mutual TLS (``[mesh] tls_ca/tls_cert/tls_key``)
use certificates from the incident authority (``certs.py``). A certificate that has expired, is not
valid yet or comes from another authority would be refused by every browser and every other kit, so
the node says so in one log line at startup rather than leaving the operator with silent refusals.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from edge.deploy.certs import problems as cert_problems
from edge.deploy.probes import parse_endpoint, tls_refusal

if TYPE_CHECKING:
    from edge.config import ApiSection, Config
    from mesh.config import MeshSection

log = logging.getLogger(__name__)


def problems(api: ApiSection, mesh: MeshSection) -> list[str]:
    """Configuration problems of the TLS options (files missing, half-given settings)."""
    found: list[str] = []
    if bool(api.tls_cert) != bool(api.tls_key):
        found.append("api.tls_cert / api.tls_key: give both or neither")
    mesh_set = {"tls_ca": mesh.tls_ca, "tls_cert": mesh.tls_cert, "tls_key": mesh.tls_key}
    if any(mesh_set.values()) and not all(mesh_set.values()):
        found.append("mesh.tls_ca / mesh.tls_cert / mesh.tls_key: give all three or none")
    uses_tls = [e for e in [*mesh.listen, *mesh.connect] if e.startswith("tls/")]
    if uses_tls and not mesh.tls_cert:
        found.append(f"mesh: {uses_tls[0]} is a tls/ endpoint: set mesh.tls_ca, mesh.tls_cert and mesh.tls_key")
    files = {"api.tls_cert": api.tls_cert, "api.tls_key": api.tls_key, **{f"mesh.{k}": v for k, v in mesh_set.items()}}
    found += [f"{key}: no such file {value}" for key, value in files.items() if value and not Path(value).is_file()]
    return found


def certificate_problems(config: Config) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the node's configured certificates (expiry, authority)."""
    ca = Path(config.mesh.tls_ca) if config.mesh.tls_ca else None
    errors: list[str] = []
    warnings: list[str] = []
    for cert in dict.fromkeys(c for c in (config.api.tls_cert, config.mesh.tls_cert) if c):
        e, w = cert_problems(Path(cert), ca)
        errors += e
        warnings += w
    return errors, warnings


def log_certificates(config: Config) -> None:
    """One clear log line per certificate problem, at startup."""
    errors, warnings = certificate_problems(config)
    for line in errors:
        log.error("%s; browsers and other kits will refuse this node", line)
    for line in warnings:
        log.warning(line)


class MeshTlsWatch:
    """Component: probe each ``tls/`` mesh peer with this kit's certificate and say plainly why a link fails.

    Zenoh retries a refused TLS link quietly, for ever; this says once (and again only when it changes)
    that the peer belongs to another authority, refuses ours, or has an expired certificate.
    """

    name = "mesh-tls-watch"

    def __init__(self, mesh: MeshSection, *, interval_s: float = 60.0, timeout_s: float = 3.0) -> None:
        self._mesh = mesh
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self.verdicts: dict[str, str | None] = {}  # endpoint -> why it fails (None: it links)

    async def run(self) -> None:
        peers = [(e, parsed) for e in self._mesh.connect if (parsed := parse_endpoint(e)) and parsed[0] == "tls"]
        while peers:
            for endpoint, (_, host, port) in peers:
                why = await asyncio.to_thread(
                    tls_refusal, host, port, ca=Path(self._mesh.tls_ca), cert=Path(self._mesh.tls_cert),
                    key=Path(self._mesh.tls_key), timeout_s=self._timeout_s,
                )
                self._report(endpoint, why)
            await asyncio.sleep(self._interval_s)

    def _report(self, endpoint: str, why: str | None) -> None:
        known = endpoint in self.verdicts
        if known and self.verdicts[endpoint] == why:
            return
        self.verdicts[endpoint] = why
        if why is not None:
            log.warning("mesh peer %s cannot link with this kit: %s", endpoint, why)
        elif known:
            log.info("mesh peer %s accepts this kit's certificate now", endpoint)
