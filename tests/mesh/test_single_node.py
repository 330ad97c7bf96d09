"""The mesh is on by default; alone, a node's Zenoh session keeps everything in the process."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
from pathlib import Path

import pytest
from kit import kit_config, start_local, stop_local
from meshkit import eventually

from edge.config import Config

LOOPBACK = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")}
TCP_LISTEN = "0A"


def _own_socket_inodes() -> set[str]:
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def _address(hex_addr: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    raw = bytes.fromhex(hex_addr)
    # /proc/net prints addresses as 32-bit words in host (little-endian) order.
    raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6, raw))


def _inet_sockets() -> dict[str, tuple[str, ipaddress.IPv4Address | ipaddress.IPv6Address, str]]:
    """inode -> (table, local address, state) for every TCP/UDP socket in this network namespace."""
    found = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
                fields = line.split()
                found[fields[9]] = (table, _address(fields[1].split(":")[0]), fields[3])
    return found


@pytest.mark.parametrize("role", ["edge", "command-post"])
async def test_a_default_node_runs_the_mesh_with_nothing_beyond_loopback(tmp_path: Path, role: str) -> None:
    config = kit_config(tmp_path, node={"role": role})
    assert config.mesh == Config().mesh and config.mesh.enabled  # the defaults, untouched
    before = _own_socket_inodes()
    node, task = await start_local(config)
    try:
        await eventually(lambda: node.mesh is not None and node.mesh.ready.is_set(), 10, "the mesh is up")
        assert node.mesh is not None and node.mesh.session.is_open
        sockets = _inet_sockets()
        opened = {i: sockets[i] for i in _own_socket_inodes() - before if i in sockets}
        assert opened, "the API's listening socket at least"
        for table, address, state in opened.values():
            # No UDP at all (Zenoh's multicast scouting would need one) and no listener beyond loopback.
            assert table.startswith("tcp"), f"a {table} socket on {address}: scouting or a datagram link"
            assert address in LOOPBACK, f"a {table} socket on {address} (state {state}) leaves loopback"
        listening = [a for t, a, s in opened.values() if s == TCP_LISTEN]
        assert len(listening) == 1, f"only the API listens, not Zenoh: {listening}"
        assert [s.name for s in node.supervised].count("mesh") == 1
    finally:
        await stop_local(node, task)
    assert not node.mesh.session.is_open


async def test_mesh_off_means_no_zenoh_session(tmp_path: Path) -> None:
    node, task = await start_local(kit_config(tmp_path, mesh={"enabled": False}))
    try:
        assert node.mesh is None and "mesh" not in [s.name for s in node.supervised]
    finally:
        await stop_local(node, task)
