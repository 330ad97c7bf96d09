"""`fieldkit service`: the unit passes `systemd-analyze verify`, and the node logs structured journal lines."""

from __future__ import annotations

import logging
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from kit import FIELDKIT, kit_config, stop_process, write_config

from edge.deploy.journal_log import JournalFormatter

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


def fieldkit(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FIELDKIT, *args], capture_output=True, text=True, timeout=60, env=env)


def verify(unit: Path) -> str:
    """What `systemd-analyze verify` says about ``unit`` (it exits 0 even for bad lines, so read its output)."""
    assert SYSTEMD_ANALYZE is not None, "systemd-analyze is missing: `make test` installs Debian's systemd package"
    out = subprocess.run([SYSTEMD_ANALYZE, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout + out.stderr


def test_install_writes_a_unit_systemd_accepts(tmp_path: Path) -> None:
    root = tmp_path / "root"
    out = fieldkit("service", "install", "--root", str(root), "--node-id", "kit-7")
    assert out.returncode == 0, out.stderr
    unit = root / "etc/systemd/system/fieldkit.service"
    assert out.stdout.splitlines()[0] == f"fieldkit: wrote {unit}"
    text = unit.read_text()
    for line in ("User=fieldkit", "SupplementaryGroups=dialout", "Restart=on-failure", "StateDirectory=fieldkit",
                 "WantedBy=multi-user.target", "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert line in text.splitlines()
    [exec_start] = [x for x in text.splitlines() if x.startswith("ExecStart=")]
    program = exec_start.removeprefix("ExecStart=").split()[0]
    assert os.access(program, os.X_OK)
    assert exec_start.endswith(" run --config /etc/fieldkit/kit.toml")
    assert verify(unit) == ""
    starter = root / "etc/fieldkit/kit.toml"
    assert stat.S_IMODE(starter.stat().st_mode) == 0o644, "the service's own user must be able to read it"
    checked = fieldkit("config", "check", str(starter))
    assert checked.stdout.strip() == f"{starter}: OK (node kit-7, serving 127.0.0.1:8080)"

    # The check can fail: systemd names a bad line.
    bad = tmp_path / "bad.service"
    bad.write_text(text.replace("Restart=on-failure", "Restart=sometimes"))
    assert "Failed to parse service restart specifier, ignoring: sometimes" in verify(bad)

    again = fieldkit("service", "install", "--root", str(root))
    assert f"fieldkit: kept the existing configuration {starter}" in again.stdout.splitlines()
    removed = fieldkit("service", "uninstall", "--root", str(root))
    assert removed.returncode == 0 and not unit.exists() and starter.exists()


def test_dry_run_prints_the_unit_and_writes_nothing(tmp_path: Path) -> None:
    out = fieldkit("service", "install", "--dry-run", "--root", str(tmp_path), "--exec", "/opt/fieldkit/bin/fieldkit")
    assert out.returncode == 0
    assert "ExecStart=/opt/fieldkit/bin/fieldkit run --config /etc/fieldkit/kit.toml" in out.stdout.splitlines()
    assert list(tmp_path.iterdir()) == []


def test_the_node_logs_one_structured_line_per_record_for_the_journal(tmp_path: Path) -> None:
    config = write_config(tmp_path, kit_config(tmp_path))
    proc = subprocess.Popen([*FIELDKIT, "run", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "FIELDKIT_LOG_FORMAT": "journal", "PYTHONUNBUFFERED": "1"})
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "serving" in line and "logger=" in line:
                break
    finally:
        stop_process(proc)
    logged = [x for x in lines if x.startswith("<")]
    assert logged, lines
    assert all(re.fullmatch(r'<[2-7]>level=\w+ logger=[\w.]+ msg=("(?:[^"\\]|\\.)*"|\S+)\n', x) for x in logged), logged
    assert re.fullmatch(r'<6>level=info logger=edge\.api\.app msg="serving http://127\.0\.0\.1:\d+/"\n', logged[-1])


def test_a_traceback_stays_on_one_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("edge.x", logging.ERROR, __file__, 1, 'bad "frame"\nnext', None, sys.exc_info())
    line = JournalFormatter().format(record)
    assert "\n" not in line
    assert line.startswith('<3>level=error logger=edge.x msg="bad \\"frame\\"\\nnext" exc="Traceback')
    assert line.endswith('ValueError: boom"')
