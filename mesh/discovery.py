"""zeroconf: announce this node as ``_fieldkit._tcp.local.`` and browse for the others.

TXT properties: ``id``, ``name``, ``role``, ``zenoh`` (the endpoint peers dial), ``zid`` (the Zenoh
session id, so a finder can tell it is already linked), ``http`` (API port) and ``version``. A found
peer is handed to ``on_peer``; what to do with it (dial, and who dials) is the caller's choice.
A vanished service is not reported: a node's liveliness token on the mesh is what says it is gone.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence

import ifaddr
import msgspec
from msgspec import Struct
from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from .errors import MeshError

log = logging.getLogger(__name__)

SERVICE_TYPE = "_fieldkit._tcp.local."
RESOLVE_TIMEOUT_MS = 3000
_UNSPECIFIED = {"0.0.0.0", "::", "[::]"}  # noqa: S104 - recognised in endpoints, never bound here


class Announcement(Struct, frozen=True, kw_only=True):
    """What a node tells others about itself."""

    node_id: str
    name: str
    role: str
    zenoh: str  # a Zenoh endpoint; an unspecified host (0.0.0.0) means "the address you found me at"
    zid: str = ""
    http_port: int = 0
    version: str = ""


def txt_properties(a: Announcement) -> dict[str, str]:
    """The TXT record of an announcement."""
    return {
        "id": a.node_id,
        "name": a.name,
        "role": a.role,
        "zenoh": a.zenoh,
        "zid": a.zid,
        "http": str(a.http_port),
        "version": a.version,
    }


def parse_txt(props: dict[bytes, bytes | None], addresses: Sequence[str]) -> Announcement | None:
    """Read a TXT record (and the addresses it was found at); None if it is not a usable fieldkit node."""
    text = {k.decode(errors="replace"): (v or b"").decode(errors="replace") for k, v in props.items()}
    node_id = text.get("id", "")
    endpoint = _fill_host(text.get("zenoh", ""), addresses)
    if not node_id or endpoint is None:
        return None
    try:
        http_port = int(text.get("http", "0") or 0)
    except ValueError:
        http_port = 0
    return Announcement(
        node_id=node_id,
        name=text.get("name", ""),
        role=text.get("role", "edge"),
        zenoh=endpoint,
        zid=text.get("zid", ""),
        http_port=http_port,
        version=text.get("version", ""),
    )


def split_endpoint(endpoint: str) -> tuple[str, str, int]:
    """``tcp/127.0.0.1:7447`` -> (``tcp``, ``127.0.0.1``, 7447); raises MeshError if it is not one."""
    proto, _, rest = endpoint.partition("/")
    rest = rest.split("#", 1)[0]
    host, sep, port = rest.rpartition(":")
    if not proto or not sep or not port.isdigit():
        raise MeshError(f"not a host:port endpoint: {endpoint!r}")
    return proto, host.strip("[]"), int(port)


def _fill_host(endpoint: str, addresses: Sequence[str]) -> str | None:
    try:
        proto, host, port = split_endpoint(endpoint)
    except MeshError:
        return None
    if host not in _UNSPECIFIED and host:
        return endpoint
    v4 = [a for a in addresses if ipaddress.ip_address(a).version == 4]
    if v4:
        return f"{proto}/{v4[0]}:{port}"
    return f"{proto}/[{addresses[0]}]:{port}" if addresses else None


def _announce_addresses(host: str, interfaces: Sequence[str]) -> list[bytes]:
    if host and host not in _UNSPECIFIED:
        return [socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)]
    chosen = list(interfaces) or _local_ipv4()
    return [socket.inet_aton(a) for a in chosen if ipaddress.ip_address(a).version == 4]


def _local_ipv4() -> list[str]:
    """Every IPv4 address of this host but loopback (ifaddr ships with zeroconf)."""
    return [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if isinstance(ip.ip, str) and not ip.ip.startswith("127.")
    ]


class Discovery:
    """Announce ``me`` and report every other fieldkit node found, through ``on_peer``."""

    def __init__(
        self, me: Announcement, on_peer: Callable[[Announcement], None], *, interfaces: Sequence[str] = ()
    ) -> None:
        self.me = me
        self._on_peer = on_peer
        self._interfaces = list(interfaces)
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._info: AsyncServiceInfo | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.found: dict[str, Announcement] = {}

    async def start(self) -> None:
        """Register our service and start browsing."""
        _, host, port = split_endpoint(self.me.zenoh)
        interfaces = self._interfaces or InterfaceChoice.All
        self._zc = AsyncZeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            f"{self.me.node_id}.{SERVICE_TYPE}",
            addresses=_announce_addresses(host, self._interfaces),
            port=port,
            properties=txt_properties(self.me),
            server=f"{self.me.node_id}.local.",
        )
        await self._zc.async_register_service(self._info, allow_name_change=True)
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, [SERVICE_TYPE], handlers=[self._on_change])
        log.info("discovery: announcing %s as %s", self.me.node_id, self.me.zenoh)

    async def update(self, **changes: str) -> None:
        """Announce changed details (e.g. a new Zenoh id after the session reopened)."""
        self.me = msgspec.structs.replace(self.me, **changes)
        if self._zc is None or self._info is None:
            return
        self._info = AsyncServiceInfo(
            SERVICE_TYPE,
            self._info.name,
            addresses=self._info.addresses,
            port=self._info.port,
            properties=txt_properties(self.me),
            server=self._info.server,
        )
        await self._zc.async_update_service(self._info)

    async def aclose(self) -> None:
        """Stop browsing, withdraw the announcement; safe to call twice."""
        for task in list(self._tasks):
            task.cancel()
        browser, self._browser = self._browser, None
        zc, self._zc = self._zc, None
        if browser is not None:
            await browser.async_cancel()
        if zc is not None:
            if self._info is not None:
                async with asyncio.timeout(5.0):
                    await zc.async_unregister_service(self._info)
            await zc.async_close()

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            return
        task = asyncio.get_running_loop().create_task(self._resolve(zeroconf, service_type, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, zeroconf: Zeroconf, service_type: str, name: str) -> None:
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(zeroconf, RESOLVE_TIMEOUT_MS):
            log.debug("discovery: %s did not resolve", name)
            return
        peer = parse_txt(info.properties, info.parsed_addresses())
        if peer is None or peer.node_id == self.me.node_id:
            return
        if self.found.get(peer.node_id) == peer:
            return
        self.found[peer.node_id] = peer
        log.info("discovery: found %s (%s) at %s", peer.node_id, peer.role, peer.zenoh)
        self._on_peer(peer)
