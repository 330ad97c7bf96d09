"""This kit's health for its ``node:`` entity: CPU, memory, power source and battery, uplinks.

Read from Linux's own files (/proc, /sys) with no extra package; anything a kit cannot read (no
battery, a container without /sys/class/power_supply) is left None rather than guessed. The
parsers are pure (text in, numbers out) so tests feed them recorded files; ``HealthReader`` owns
the paths and the previous CPU sample. Uplinks are only *reported*: addresses are read with an
ioctl on an unbound socket, nothing is bound or sent.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import struct
from pathlib import Path

from edge.scene import NodeHealth, Uplink

log = logging.getLogger(__name__)

_SIOCGIFADDR = 0x8915  # linux/sockios.h
_MAX_UPLINKS = 32


def cpu_times(stat_text: str) -> tuple[int, int] | None:
    """``(busy, total)`` jiffies from /proc/stat's first ``cpu`` line."""
    for line in stat_text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            try:
                values = [int(v) for v in parts[1:]]
            except ValueError:
                return None
            idle = sum(values[3:5])  # idle + iowait
            return sum(values) - idle, sum(values)
    return None


def cpu_pct(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """Busy share between two ``cpu_times`` samples, in percent."""
    total = after[1] - before[1]
    if total <= 0:
        return None
    return round(max(0.0, min(100.0, 100.0 * (after[0] - before[0]) / total)), 1)


def memory(meminfo_text: str) -> tuple[float, int] | None:
    """``(used_pct, total_mb)`` from /proc/meminfo (used = total - available)."""
    kb: dict[str, int] = {}
    for line in meminfo_text.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            kb[name] = int(fields[0])
    total, available = kb.get("MemTotal"), kb.get("MemAvailable")
    if not total or available is None:
        return None
    return round(100.0 * (total - min(available, total)) / total, 1), total // 1024


def power(supplies: dict[str, dict[str, str]]) -> tuple[str | None, float | None]:
    """``(power, battery_pct)`` from /sys/class/power_supply entries (name -> {file: text}).

    Mains when any non-battery supply is online; battery when a battery exists and none is.
    """
    batteries = [s for s in supplies.values() if s.get("type") == "Battery"]
    mains_known = [s for s in supplies.values() if s.get("type") != "Battery" and "online" in s]
    on_mains = any(s.get("online") == "1" for s in mains_known)
    pct: float | None = None
    for battery in batteries:
        with contextlib.suppress(ValueError, KeyError):
            pct = max(0.0, min(100.0, float(battery["capacity"])))
            break
    if on_mains:
        return "mains", pct
    return ("battery" if batteries else None), pct


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


class HealthReader:
    """Reads the kit's health; CPU is the busy share since the previous read."""

    def __init__(self, proc: Path = Path("/proc"), sys: Path = Path("/sys")) -> None:
        self._proc = proc
        self._sys = sys
        self._cpu_before = cpu_times(_read(proc / "stat") or "")  # so the first read can give a share
        self._cpu_last: float | None = None

    def read(self) -> NodeHealth:
        """The health now (best effort: unreadable parts are None)."""
        cpu = self._cpu_last
        sample = cpu_times(_read(self._proc / "stat") or "")
        if sample is not None and self._cpu_before is not None:
            # Two reads within one clock tick measure nothing: keep the last share and the older sample.
            if (now := cpu_pct(self._cpu_before, sample)) is not None:
                cpu = self._cpu_last = now
                self._cpu_before = sample
        else:
            self._cpu_before = sample or self._cpu_before
        mem = memory(_read(self._proc / "meminfo") or "")
        source, battery = power(self._supplies())
        return NodeHealth(
            cpu_pct=cpu,
            mem_pct=mem[0] if mem else None,
            mem_total_mb=mem[1] if mem else None,
            power=source,
            battery_pct=battery,
            uplinks=self._uplinks(),
        )

    def _supplies(self) -> dict[str, dict[str, str]]:
        root = self._sys / "class" / "power_supply"
        out: dict[str, dict[str, str]] = {}
        with contextlib.suppress(OSError):
            for entry in sorted(root.iterdir())[:16]:
                values = {f: v for f in ("type", "online", "capacity", "status") if (v := _read(entry / f)) is not None}
                out[entry.name] = {k: v.title() if k == "type" else v for k, v in values.items()}
        return out

    def _uplinks(self) -> list[Uplink]:
        """Interfaces that are up (loopback left out), with their IPv4 and global IPv6 addresses."""
        v6 = _ipv6_addresses(_read(self._proc / "net" / "if_inet6") or "")
        out = []
        with contextlib.suppress(OSError):
            for name in sorted(os.listdir(self._sys / "class" / "net"))[:64]:
                if name == "lo" or _read(self._sys / "class" / "net" / name / "operstate") not in ("up", "unknown"):
                    continue
                addrs = [a for a in (_ipv4_address(name),) if a] + v6.get(name, [])
                if addrs:
                    out.append(Uplink(name=name[:200], addrs=addrs[:16]))
        return out[:_MAX_UPLINKS]


def _ipv4_address(ifname: str) -> str | None:
    # An unbound datagram socket is only a handle for the ioctl: nothing is bound or sent.
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", ifname.encode()[:15]))
        return socket.inet_ntoa(packed[20:24])
    return None


def _ipv6_addresses(text: str) -> dict[str, list[str]]:
    """Global-scope addresses per interface from /proc/net/if_inet6."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 6 or parts[3] != "00" or len(parts[0]) != 32:  # scope 00 = global
            continue
        with contextlib.suppress(ValueError, OSError):
            addr = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(parts[0]))
            out.setdefault(parts[5], []).append(addr)
    return out
