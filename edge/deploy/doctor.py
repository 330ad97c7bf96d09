"""``fieldkit doctor``: what would stop this kit from working, said in plain words.

Every check reads the node's configuration and looks at the real thing: the serial device node,
the port, the filesystem, the journal, the peer. A FAIL is something that stops the kit (or one of
its main functions) from working and makes the command exit 1; a WARN is worth knowing but the
kit runs (a drone link that is not up yet reconnects by itself).
"""

from __future__ import annotations

import datetime as dt
import enum
import errno
import grp
import os
import pwd
import shutil
import sqlite3
import stat
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from drones.gpstime import listen_offset
from edge.config import Config
from edge.deploy import probes
from edge.deploy.tls import certificate_problems

# A clock before this day is certainly wrong (a kit that lost its RTC battery boots in 1970 or 2000).
EARLIEST_PLAUSIBLE = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
CLOCK_AHEAD_S = 60.0
GPS_CLOCK_OK_S = 2.0  # MAVLink SYSTEM_TIME is sent at 1 Hz or so; closer than this is not measurable here
GPS_CLOCK_FAIL_S = 60.0  # beyond this, tracks and alerts of this kit are misplaced against other kits'


class Status(enum.Enum):
    """How bad a finding is."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


class Finding(msgspec.Struct, frozen=True):
    """One line of the doctor's report."""

    status: Status
    topic: str
    text: str

    def __str__(self) -> str:
        return f"{self.status.value:<4}  {self.topic}: {self.text}"


def examine(
    config: Config,
    *,
    min_free_mb: float = 512.0,
    timeout_s: float = 2.0,
    gps_wait_s: float = 3.0,
    now: float | None = None,
) -> list[Finding]:
    """Every finding about this kit, in a fixed order."""
    wall = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    serial, ports = _serial(config), _ports(config, timeout_s)
    return [
        *serial,
        *ports,
        *_clock(config, wall),
        *(_gps_clock(config, gps_wait_s) if gps_wait_s > 0 and not _failed(serial, ports) else []),
        *_disk(config, min_free_mb),
        *_sources(config, timeout_s),
        *_mesh(config, timeout_s),
        *_certificates(config),
    ]


def _serial(config: Config) -> list[Finding]:
    devices = []
    if config.radio.enabled and config.radio.transport == "serial":
        devices.append(("radio.device", config.radio.device))
    if config.drones.enabled:
        devices += [(f"drones.endpoints '{e.name}'", e.device) for e in config.drones.endpoints if e.kind == "serial"]
    return [_device(where, Path(path)) for where, path in devices]


def _device(where: str, path: Path) -> Finding:
    topic = f"serial {path} ({where})"
    try:
        st = path.stat()
    except FileNotFoundError:
        return Finding(Status.FAIL, topic, "missing: is the cable plugged in? (`ls /dev/serial/by-id/` lists what is)")
    except OSError as exc:
        return Finding(Status.FAIL, topic, f"cannot be looked at: {exc.strerror}")
    if not stat.S_ISCHR(st.st_mode):
        return Finding(Status.FAIL, topic, "is not a serial device (not a character device)")
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    if not os.access(path, os.R_OK | os.W_OK):
        user = _user_name()
        return Finding(Status.FAIL, topic, f"present but user {user} cannot read and write it; it belongs to group "
                                           f"{group}: add the user to it (usermod -aG {group} {user}) and restart")
    return Finding(Status.OK, topic, f"present, readable and writable (group {group})")


def _user_name() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def _ports(config: Config, timeout_s: float) -> list[Finding]:
    wanted: list[tuple[str, str, int, bool]] = [("api.port", config.api.host, config.api.port, False)]
    if config.tak.enabled:
        wanted.append(("tak.port", config.tak.host, config.tak.port, False))
    if config.radio.enabled and config.radio.transport == "udp":
        wanted.append(("radio.port", config.radio.host, config.radio.port, True))
    if config.drones.enabled:
        wanted += [(f"drones.endpoints '{e.name}'", e.host, e.port, e.kind == "udp-listen")
                   for e in config.drones.endpoints if e.kind in ("udp-listen", "tcp-server")]
    if config.media.enabled:  # RTP and MPEG-TS downlinks are sent to a port this kit listens on
        wanted += [(f"media.feeds '{f.name}'", *_udp_target(f.url), True)
                   for f in config.media.feeds if f.source in ("rtp", "mpegts") and f.url.startswith("udp://")]
    if config.mesh.enabled:
        for endpoint in config.mesh.listen:
            parsed = probes.parse_endpoint(endpoint)
            if parsed is not None:
                wanted.append((f"mesh.listen {endpoint}", parsed[1], parsed[2], parsed[0] == "udp"))
    # The doctor may run while the kit's own service does: then its ports are taken by the kit itself.
    running = config.api.port != 0 and probes.node_at(
        config.api.host, config.api.port, https=bool(config.api.tls_cert), timeout_s=timeout_s) == config.node.id
    found = []
    for where, host, port, udp in wanted:
        if port == 0:
            continue  # any free port
        topic = f"port {'udp' if udp else 'tcp'} {host}:{port} ({where})"
        why = probes.port_in_use(host, port, udp=udp)
        if why is None:
            found.append(Finding(Status.OK, topic, "free"))
        elif running and why.startswith("in use"):
            found.append(Finding(Status.OK, topic, f"in use by this kit's running node ({config.node.id})"))
        else:
            hint = f" (`ss -lntup 'sport = :{port}'` shows who)"
            found.append(Finding(Status.FAIL, topic, why + (hint if why.startswith("in use") else "")))
    return found


def _clock(config: Config, now: float) -> list[Finding]:
    shown = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if now < EARLIEST_PLAUSIBLE.timestamp():
        return [Finding(Status.FAIL, "clock", f"the system clock says {shown}, which cannot be right: set it (from "
                                              "GPS, or `date -s`); times in alerts, tracks and replay depend on it")]
    newest = _newest_own_event(config)
    if newest is not None and newest > now + CLOCK_AHEAD_S:
        ahead = dt.datetime.fromtimestamp(newest, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return [Finding(Status.FAIL, "clock", f"the system clock says {shown} but this kit journaled an event at "
                                              f"{ahead}: the clock went back; set it before starting")]
    return [Finding(Status.OK, "clock", f"{shown}")]


def _failed(*groups: list[Finding]) -> bool:
    return any(f.status is Status.FAIL for group in groups for f in group)


def _gps_clock(config: Config, wait_s: float) -> list[Finding]:
    """Compare the clock with GPS time an autopilot sends (SYSTEM_TIME), listening briefly to each link."""
    if not config.drones.enabled:
        return []
    heard_from = [e for e in config.drones.endpoints if e.kind in ("udp-listen", "tcp-client", "serial")]
    for endpoint in heard_from:
        try:
            offset = listen_offset(endpoint, wait_s)
        except OSError:
            continue  # the port, serial or source checks already say why
        if offset is None:
            continue
        topic = f"clock vs GPS time (MAVLink '{endpoint.name}')"
        side = "behind" if offset > 0 else "ahead of"
        if abs(offset) <= GPS_CLOCK_OK_S:
            return [Finding(Status.OK, topic, f"within {GPS_CLOCK_OK_S:g} s")]
        text = f"the system clock is {abs(offset):.0f} s {side} GPS time: set it (date -s @{time.time() + offset:.0f})"
        return [Finding(Status.FAIL if abs(offset) > GPS_CLOCK_FAIL_S else Status.WARN, topic, text)]
    if heard_from:
        return [Finding(Status.OK, "clock vs GPS time", f"no GPS time heard on the MAVLink links within {wait_s:g} s "
                                                        "(not compared)")]
    return []


def _newest_own_event(config: Config) -> float | None:
    if not config.journal_path.is_file():
        return None
    try:
        with sqlite3.connect(f"file:{config.journal_path}?mode=ro", uri=True, timeout=1.0) as db:
            row = db.execute("SELECT max(ts) FROM events WHERE origin = ?", (config.node.id,)).fetchone()
    except sqlite3.Error:
        return None  # the node itself reports an unreadable journal, with the reason
    return float(row[0]) if row and row[0] is not None else None


def _disk(config: Config, min_free_mb: float) -> list[Finding]:
    places = [("journal", config.journal_path.parent)]
    if config.drones.enabled and config.drones.tlog_dir:
        places.append(("drone recordings (drones.tlog_dir)", Path(config.drones.tlog_dir)))
    return [_space(what, folder, min_free_mb) for what, folder in places]


def _space(what: str, folder: Path, min_free_mb: float) -> Finding:
    existing = next(p for p in [folder, *folder.absolute().parents] if p.exists())
    topic = f"disk {folder} ({what})"
    problem = _write_problem(existing)
    if problem == errno.EROFS:
        return Finding(Status.FAIL, topic, f"{existing} is on a read-only file system, so nothing can be stored: "
                                           "remount it read-write (after fsck, if the kernel made it read-only "
                                           "after an error)")
    if not os.access(existing, os.W_OK):
        return Finding(Status.FAIL, topic, f"{existing} is not writable by this user")
    if problem is not None:
        return Finding(Status.FAIL, topic, f"{existing} cannot be written: {os.strerror(problem)}")
    free_mb = shutil.disk_usage(existing).free / 1e6
    if free_mb < min_free_mb:
        return Finding(Status.FAIL, topic, f"only {free_mb:.1f} MB free, fieldkit needs at least {min_free_mb:g} MB: "
                                           "free some space or move node.data_dir to a larger disk")
    return Finding(Status.OK, topic, f"{free_mb:.0f} MB free")


def _write_problem(folder: Path) -> int | None:
    """The errno of writing a file in ``folder`` (None: it can be written).

    Asking is not enough: ext4 turned read-only by an error (``errors=remount-ro``) still shows
    ``rw`` in its mount flags, and access() says yes, yet every write fails with EROFS.
    """
    if os.statvfs(folder).f_flag & os.ST_RDONLY:
        return errno.EROFS
    try:
        with tempfile.TemporaryFile(dir=folder):
            return None
    except OSError as exc:
        return exc.errno or errno.EIO


def _sources(config: Config, timeout_s: float) -> list[Finding]:
    dial: list[tuple[str, str, int]] = []
    if config.radio.enabled and config.radio.transport == "tcp":
        dial.append(("radio gateway (radio.host)", config.radio.host, config.radio.port))
    if config.drones.enabled:
        dial += [(f"MAVLink '{e.name}'", e.host, e.port) for e in config.drones.endpoints if e.kind == "tcp-client"]
    if config.media.enabled:
        for feed in config.media.feeds:
            if feed.source == "rtsp" and (url := urlsplit(feed.url)).hostname:
                dial.append((f"camera '{feed.name}' (RTSP)", url.hostname, url.port or 554))
    found = []
    for what, host, port in dial:
        why = probes.tcp_unreachable(host, port, timeout_s)
        topic = f"{what} at {host}:{port}"
        found.append(Finding(Status.OK, topic, "answers") if why is None else
                     Finding(Status.WARN, topic, f"does not answer ({why}); fieldkit keeps trying once it runs"))
    return found


def _udp_target(url: str) -> tuple[str, int]:
    """(host, port) of ``udp://HOST:PORT``."""
    parts = urlsplit(url)
    return parts.hostname or "0.0.0.0", parts.port or 0  # noqa: S104 - a port to check, not to bind


def _mesh(config: Config, timeout_s: float) -> list[Finding]:
    if not config.mesh.enabled:
        return []
    if not config.mesh.connect and not config.mesh.discovery:
        return [Finding(Status.OK, "mesh", "no peers configured (a kit on its own, or peers dial this one)")]
    found = _discovered(config, timeout_s) if config.mesh.discovery else []
    for endpoint in config.mesh.connect:
        parsed = probes.parse_endpoint(endpoint)
        if parsed is None or parsed[0] not in ("tcp", "tls"):
            continue
        proto, host, port = parsed
        if proto == "tls" and config.mesh.tls_cert:
            why = probes.tls_refusal(host, port, ca=Path(config.mesh.tls_ca), cert=Path(config.mesh.tls_cert),
                                     key=Path(config.mesh.tls_key), timeout_s=timeout_s)
        else:
            why = probes.tcp_unreachable(host, port, timeout_s)
        topic = f"mesh peer {endpoint}"
        found.append(Finding(Status.OK, topic, "reachable" + (" and trusts our certificate" if proto == "tls" else ""))
                     if why is None else Finding(Status.WARN, topic, f"cannot link: {why}"))
    return found


def _discovered(config: Config, wait_s: float) -> list[Finding]:
    interfaces = list(config.mesh.discovery_interfaces)
    kits = [k for k in probes.browse_kits(interfaces, wait_s) if k.node_id != config.node.id]
    where = ", ".join(interfaces) or "every interface"
    if not kits:
        return [Finding(Status.WARN, "mesh discovery", f"no other kit answered on mDNS ({where}) within {wait_s:g} s")]
    return [Finding(Status.OK, "mesh discovery", f"found {k.node_id} ({k.role}) at {k.zenoh}") for k in kits]


def _certificates(config: Config) -> list[Finding]:
    errors, warnings = certificate_problems(config)
    found = [Finding(Status.FAIL, "certificate", e) for e in errors]
    found += [Finding(Status.WARN, "certificate", w) for w in warnings]
    for key in dict.fromkeys(k for k in (config.api.tls_key, config.mesh.tls_key) if k):
        if Path(key).exists() and Path(key).stat().st_mode & 0o077:
            found.append(Finding(Status.WARN, "certificate", f"private key {key} is readable by others: chmod 600"))
    if not found and (config.api.tls_cert or config.mesh.tls_cert):
        by = f" and issued by {config.mesh.tls_ca}" if config.mesh.tls_ca else ""
        found.append(Finding(Status.OK, "certificate", f"valid{by}"))
    return found
