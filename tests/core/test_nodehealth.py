"""A kit's health read from recorded /proc and /sys files (edge/nodehealth.py), and from this machine."""

from __future__ import annotations

from pathlib import Path

from edge.nodehealth import HealthReader, cpu_pct, cpu_times, memory, power

STAT_1 = "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\n"
STAT_2 = "cpu  150 0 150 750 150 0 0 0 0 0\n"
MEMINFO = "MemTotal:        2048000 kB\nMemFree:          100000 kB\nMemAvailable:     512000 kB\n"


def test_cpu_is_the_busy_share_between_two_reads() -> None:
    before, after = cpu_times(STAT_1), cpu_times(STAT_2)
    assert before == (200, 1000) and after == (300, 1200)
    assert cpu_pct(before, after) == 50.0  # 100 busy of 200 jiffies
    assert cpu_times("garbage\ncpu x y\n") is None
    assert cpu_pct((5, 10), (5, 10)) is None


def test_memory_used_is_total_minus_available() -> None:
    assert memory(MEMINFO) == (75.0, 2000)
    assert memory("MemTotal: 0 kB\n") is None


def test_power_source_and_battery() -> None:
    on_battery = {"AC": {"type": "Mains", "online": "0"}, "BAT0": {"type": "Battery", "capacity": "64"}}
    assert power(on_battery) == ("battery", 64.0)
    assert power({**on_battery, "AC": {"type": "Mains", "online": "1"}}) == ("mains", 64.0)
    assert power({"AC": {"type": "Mains", "online": "1"}}) == ("mains", None)
    assert power({}) == (None, None)  # a machine without /sys/class/power_supply entries says nothing


def _fake_root(tmp: Path, stat: str) -> HealthReader:
    proc, sys = tmp / "proc", tmp / "sys"
    (proc / "net").mkdir(parents=True, exist_ok=True)
    (proc / "stat").write_text(stat)
    (proc / "meminfo").write_text(MEMINFO)
    (proc / "net" / "if_inet6").write_text(
        "fd000000000000000000000000000002 02 40 00 80   wlan9\nfe800000000000000000000000000001 02 40 20 80   wlan9\n"
    )
    bat = sys / "class" / "power_supply" / "BAT0"
    bat.mkdir(parents=True, exist_ok=True)
    (bat / "type").write_text("Battery\n")
    (bat / "capacity").write_text("81\n")
    for name, state in (("lo", "unknown"), ("wlan9", "up"), ("eth7", "down")):
        (sys / "class" / "net" / name).mkdir(parents=True, exist_ok=True)
        (sys / "class" / "net" / name / "operstate").write_text(state + "\n")
    return HealthReader(proc=proc, sys=sys)


def test_the_reader_puts_it_together_from_files(tmp_path: Path) -> None:
    reader = _fake_root(tmp_path, STAT_1)
    first = reader.read()
    assert first.cpu_pct is None  # one sample is not a share yet
    (tmp_path / "proc" / "stat").write_text(STAT_2)
    health = reader.read()
    assert health.cpu_pct == 50.0 and health.mem_pct == 75.0 and health.mem_total_mb == 2000
    assert (health.power, health.battery_pct) == ("battery", 81.0)
    assert reader.read().cpu_pct == 50.0  # read again within the same tick: the last share, not None
    (tmp_path / "proc" / "stat").write_text("cpu  300 0 150 800 150 0 0 0 0 0\n")
    assert reader.read().cpu_pct == 75.0  # 150 busy of 200 more, measured from STAT_2 (not from STAT_1: 62.5)
    # Only interfaces that are up, loopback left out, global addresses only (no fe80::).
    assert [(u.name, u.addrs) for u in health.uplinks] == [("wlan9", ["fd00::2"])]


def test_this_machine_s_health_reads() -> None:
    reader = HealthReader()
    reader.read()
    health = reader.read()
    assert health.mem_pct is not None and 0 < health.mem_pct <= 100
    assert health.cpu_pct is None or 0 <= health.cpu_pct <= 100
