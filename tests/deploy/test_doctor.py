"""`fieldkit doctor` against real things: a missing device node, a pseudo-terminal, a taken port, a full
filesystem (a size-limited tmpfs when root), a closed MAVLink port, a mesh peer of another authority."""

from __future__ import annotations

import asyncio
import contextlib
import grp
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
import zenoh
from kit import FIELDKIT, kit_config, spawn_node, stop_process, write_config

from edge.auth import Role, TokenStore
from edge.config import load
from edge.deploy import certs
from edge.deploy.doctor import Status, _user_name, examine
from edge.node import EdgeNode
from mesh.config import MeshSection
from mesh.discovery import Announcement, Discovery
from mesh.session import zenoh_config


def toml(table: dict[str, object], prefix: str = "") -> str:
    """TOML for a configuration (arrays of tables included, which kit.write_config leaves out)."""
    def tables(v: object) -> bool:
        return isinstance(v, dict) or (isinstance(v, list) and bool(v) and isinstance(v[0], dict))

    lines = [f"{k} = {json.dumps(v)}" for k, v in table.items() if v is not None and not tables(v)]
    for key, value in table.items():
        if isinstance(value, dict):
            lines += [f"[{prefix}{key}]", toml(value, f"{prefix}{key}.")]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines += [f"[[{prefix}{key}]]", toml(item, f"{prefix}{key}.")]
    return "\n".join(lines)


def doctor(tmp_path: Path, *extra: str, **sections: dict[str, object]) -> tuple[int, list[str]]:
    config = tmp_path / "kit.toml"
    built = kit_config(tmp_path, **sections)
    config.write_text(toml(msgspec.to_builtins(built)) + "\n", encoding="utf-8")
    assert load(config) == built
    out = subprocess.run([*FIELDKIT, "doctor", "--config", str(config), "--timeout", "1", *extra],
                         capture_output=True, text=True, timeout=60)
    assert out.stderr == "", out.stderr
    return out.returncode, out.stdout.splitlines()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_healthy_kit_passes(tmp_path: Path) -> None:
    port = free_port()
    code, lines = doctor(tmp_path, api={"port": port})
    assert code == 0
    assert lines[0] == f"ok    port tcp 127.0.0.1:{port} (api.port): free"
    assert lines[-1] == "fieldkit doctor: nothing stops this kit; 0 warning(s)"


def test_missing_serial_device(tmp_path: Path) -> None:
    device = tmp_path / "ttyUSB9"
    master, slave = os.openpty()
    try:
        present = os.ttyname(slave)
        group = grp.getgrgid(os.stat(present).st_gid).gr_name
        code, lines = doctor(
            tmp_path, radio={"enabled": True, "transport": "serial", "device": str(device)},
            drones={"enabled": True, "endpoints": [{"name": "radio-modem", "kind": "serial", "device": present}]},
        )
    finally:
        os.close(master)
        os.close(slave)
    assert code == 1
    assert lines[0] == (f"FAIL  serial {device} (radio.device): missing: is the cable plugged in? "
                        "(`ls /dev/serial/by-id/` lists what is)")
    assert lines[1] == (f"ok    serial {present} (drones.endpoints 'radio-modem'): present, readable and writable "
                        f"(group {group})")
    assert lines[-1] == "fieldkit doctor: 1 problem(s) would stop this kit from working; 0 warning(s)"


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, lines = doctor(tmp_path, api={"port": port})
    assert code == 1
    assert lines[0] == (f"FAIL  port tcp 127.0.0.1:{port} (api.port): in use by another program "
                        f"(`ss -lntup 'sport = :{port}'` shows who)")


def test_ports_held_by_the_kits_own_running_node_are_fine(tmp_path: Path) -> None:
    port = free_port()
    node = spawn_node(write_config(tmp_path, kit_config(tmp_path, api={"port": port})))
    try:
        code, lines = doctor(tmp_path, api={"port": port})
    finally:
        stop_process(node.proc)
    assert code == 0
    assert lines[0] == f"ok    port tcp 127.0.0.1:{port} (api.port): in use by this kit's running node (kit-test)"


@contextlib.contextmanager
def full_filesystem(folder: Path) -> Iterator[bool]:
    """A 1 MB tmpfs at ``folder``, filled up (True), or, when mounting is not allowed, a plain folder (False)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        if mounted:
            with open(folder / "filler", "wb") as f, contextlib.suppress(OSError):
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(folder)], check=True)


def test_full_disk(tmp_path: Path) -> None:
    data = tmp_path / "small"
    with full_filesystem(data) as mounted:
        code, lines = doctor(tmp_path, "--min-free-mb", "5" if mounted else "1e12", node={"data_dir": str(data)})
    assert code == 1
    [line] = [x for x in lines if x.startswith("FAIL  disk")]
    if mounted:
        assert line == (f"FAIL  disk {data} (journal): only 0.0 MB free, fieldkit needs at least 5 MB: "
                        "free some space or move node.data_dir to a larger disk")
    else:  # not root: the same check against a minimum larger than any disk
        assert line.startswith(f"FAIL  disk {data} (journal): only ")
        assert line.endswith(" MB free, fieldkit needs at least 1e+12 MB: free some space or move node.data_dir to "
                             "a larger disk")


def test_clock_before_any_plausible_date() -> None:
    config = kit_config(Path("/nonexistent"))
    [clock] = [f for f in examine(config, now=946684800.0, timeout_s=0.5) if f.topic == "clock"]
    assert clock.status is Status.FAIL
    assert clock.text.startswith("the system clock says 2000-01-01 00:00:00 UTC, which cannot be right")


def test_unreachable_mavlink_source_is_a_warning(tmp_path: Path) -> None:
    port = free_port()
    code, lines = doctor(tmp_path, drones={"enabled": True, "endpoints": [
        {"name": "gcs", "kind": "tcp-client", "host": "127.0.0.1", "port": port}]})
    assert code == 0
    assert (f"warn  MAVLink 'gcs' at 127.0.0.1:{port}: does not answer (connection refused); "
            "fieldkit keeps trying once it runs") in lines


def test_mesh_peer_of_another_authority_is_named(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ca", tmp_path / "theirs"
    certs.init_ca(ours, "ours")
    certs.init_ca(theirs, "theirs")
    certs.issue(ours, "kit-test", [])
    certs.issue(theirs, "hub", [])
    endpoint = f"tls/127.0.0.1:{free_port()}"
    hub_mesh = MeshSection(listen=[endpoint], tls_ca=str(theirs / "ca.pem"), tls_cert=str(theirs / "hub.pem"),
                           tls_key=str(theirs / "hub.key"))
    hub = zenoh.open(zenoh.Config.from_json5(json.dumps(zenoh_config(hub_mesh, "edge"))))
    try:
        mesh = {"enabled": True, "connect": [endpoint], "tls_ca": str(ours / "ca.pem"),
                "tls_cert": str(ours / "kit-test.pem"), "tls_key": str(ours / "kit-test.key")}
        code, lines = doctor(tmp_path, mesh=mesh)
    finally:
        hub.close()
    assert code == 0, "the kit itself can run; the link is what fails"
    assert (f"warn  mesh peer {endpoint}: cannot link: its certificate was not issued by our authority "
            "(unable to get local issuer certificate)") in lines
    assert lines[-2] == f"ok    certificate: valid and issued by {ours / 'ca.pem'}"


class Autopilot(threading.Thread):
    """Sends SYSTEM_TIME (pymavlink's own encoder) over UDP five times a second: first without GPS time
    (``time_unix_usec`` 0, as before a GPS fix), then GPS time ``offset_s`` away from this machine's clock."""

    def __init__(self, port: int, offset_s: float) -> None:
        super().__init__(daemon=True)
        self.port, self.offset_s = port, offset_s
        self.stop = threading.Event()

    def run(self) -> None:
        from pymavlink.dialects.v20 import ardupilotmega as mavlink  # noqa: PLC0415

        mav = mavlink.MAVLink(None, srcSystem=1, srcComponent=1)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(200):  # bounded: 40 s at most
                usec = 0 if i < 3 else int((time.time() + self.offset_s) * 1e6)
                sock.sendto(mav.system_time_encode(usec, i * 200).pack(mav), ("127.0.0.1", self.port))
                if self.stop.wait(0.2):
                    return


@pytest.mark.parametrize(("offset_s", "expected"), [
    (-300.0, "FAIL  clock vs GPS time (MAVLink 'autopilot'): the system clock is 300 s ahead of GPS time: set it "
             "(date -s @"),
    (0.0, "ok    clock vs GPS time (MAVLink 'autopilot'): within 2 s"),
])
def test_clock_is_compared_with_gps_time_from_the_autopilot(tmp_path: Path, offset_s: float, expected: str) -> None:
    port = free_port()
    autopilot = Autopilot(port, offset_s)
    autopilot.start()
    try:
        code, lines = doctor(tmp_path, "--gps-wait", "5", drones={"enabled": True, "endpoints": [
            {"name": "autopilot", "kind": "udp-listen", "host": "127.0.0.1", "port": port}]})
    finally:
        autopilot.stop.set()
        autopilot.join(5)
    [line] = [x for x in lines if x.split(maxsplit=1)[1].startswith("clock vs GPS")]
    assert line.startswith(expected)
    assert code == (1 if offset_s else 0)
    if offset_s:
        shown = float(line.rsplit("@", 1)[1].rstrip(")"))
        assert abs(shown - (time.time() + offset_s)) < 30


def test_serial_device_of_another_group_is_explained(tmp_path: Path) -> None:
    """As root: the device belongs to dialout and the doctor runs as nobody, without and then with that group.
    Otherwise: a device this user may not open."""
    master, slave = os.openpty()
    device = os.ttyname(slave)
    folder = Path(tempfile.mkdtemp(prefix="fieldkit-doctor-"))  # readable by nobody, unlike pytest's tmp_path
    try:
        folder.chmod(0o755)
        config = folder / "kit.toml"
        config.write_text(f'[node]\ndata_dir = "{folder}/data"\n[api]\nport = 0\n'
                          f'[radio]\nenabled = true\ndevice = "{device}"\n')
        config.chmod(0o644)
        base = [*FIELDKIT, "doctor", "--config", str(config), "--gps-wait", "0"]
        if os.geteuid() == 0:
            dialout = grp.getgrnam("dialout").gr_gid
            os.chown(device, 0, dialout)
            os.chmod(device, 0o660)
            as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup"]
            refused = subprocess.run([*as_nobody, "--clear-groups", *base], capture_output=True, text=True, timeout=60)
            allowed = subprocess.run([*as_nobody, f"--groups={dialout}", *base], capture_output=True, text=True,
                                     timeout=60)
            user, group = "nobody", "dialout"
            assert allowed.stdout.splitlines()[0] == (f"ok    serial {device} (radio.device): present, readable and "
                                                      "writable (group dialout)")
        else:
            os.chmod(device, 0)
            refused = subprocess.run(base, capture_output=True, text=True, timeout=60)
            user, group = _user_name(), grp.getgrgid(os.stat(device).st_gid).gr_name
    finally:
        os.close(master)
        os.close(slave)
        shutil.rmtree(folder)
    assert refused.returncode == 1
    assert refused.stdout.splitlines()[0] == (
        f"FAIL  serial {device} (radio.device): present but user {user} cannot read and write it; it belongs to "
        f"group {group}: add the user to it (usermod -aG {group} {user}) and restart")


async def test_a_clock_that_went_back_behind_the_journal(tmp_path: Path) -> None:
    """The kit journaled a message an hour from now (its clock was ahead then); now the clock is behind it."""
    config = kit_config(tmp_path)
    node = EdgeNode(config, tokens=TokenStore(config.tokens_path), clock=lambda: time.time() + 3600)
    task = asyncio.create_task(node.run())
    await asyncio.wait_for(node.ready.wait(), 10)
    pilot = node.tokens.create(Role.PILOT, "p")
    async with httpx.AsyncClient(base_url=node.api_url or "", headers={"Authorization": f"Bearer {pilot}"}) as client:
        assert (await client.post("/api/messages", json={"text": "前方塌方"})).status_code == 201
    node.stop()
    await asyncio.wait_for(task, 10)
    [clock] = [f for f in examine(config, gps_wait_s=0) if f.topic == "clock"]
    assert clock.status is Status.FAIL
    assert re.fullmatch(r"the system clock says \S+ \S+ UTC but this kit journaled an event at \S+ \S+ UTC: the clock "
                        r"went back; set it before starting", clock.text)


async def test_kits_found_over_mdns_are_listed(tmp_path: Path) -> None:
    """Another kit announces itself (mesh/discovery.py) on loopback; the doctor browses and names it."""
    other = Discovery(Announcement(node_id="kit-b", name="二号车", role="edge", zenoh="tcp/127.0.0.1:7447"),
                      lambda _: None, interfaces=["127.0.0.1"])
    config = tmp_path / "kit.toml"
    built = kit_config(tmp_path, mesh={"enabled": True, "discovery": True, "discovery_interfaces": ["127.0.0.1"]})
    config.write_text(toml(msgspec.to_builtins(built)) + "\n", encoding="utf-8")
    await other.start()
    try:
        proc = await asyncio.create_subprocess_exec(*FIELDKIT, "doctor", "--config", str(config), "--timeout", "5",
                                                    stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        await other.aclose()
    assert "ok    mesh discovery: found kit-b (edge) at tcp/127.0.0.1:7447" in out.decode().splitlines()


def test_no_kit_on_mdns_is_a_warning(tmp_path: Path) -> None:
    code, lines = doctor(tmp_path, mesh={"enabled": True, "discovery": True, "discovery_interfaces": ["127.0.0.1"]})
    assert code == 0
    assert "warn  mesh discovery: no other kit answered on mDNS (127.0.0.1) within 1 s" in lines


def test_video_sources_are_checked(tmp_path: Path) -> None:
    camera_port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        downlink_port = taken.getsockname()[1]
        code, lines = doctor(tmp_path, media={"feeds": [
            {"name": "gate", "source": "rtsp", "url": f"rtsp://user:secret@127.0.0.1:{camera_port}/stream1"},
            {"name": "uav1", "source": "rtp", "url": f"udp://127.0.0.1:{downlink_port}"},
        ]})
    assert code == 1, "a downlink port taken by another program stops the feed"
    assert (f"warn  camera 'gate' (RTSP) at 127.0.0.1:{camera_port}: does not answer (connection refused); "
            "fieldkit keeps trying once it runs") in lines
    taken_line = f"FAIL  port udp 127.0.0.1:{downlink_port} (media.feeds 'uav1'): in use"
    assert any(line.startswith(taken_line) for line in lines)
    assert not any("secret" in line for line in lines), "never a camera's password"
