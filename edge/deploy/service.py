"""``fieldkit service install|uninstall``: a systemd unit that starts the node at boot, with no one logged in.

The node runs as its own system user (in ``dialout`` for the serial ports, nothing more), reads
``/etc/fieldkit/kit.toml`` and keeps its journal and tokens in ``/var/lib/fieldkit`` (systemd's
StateDirectory creates it, owned by that user). The unit is hardened with the sandboxing options
that cost the node nothing: it needs the network, serial devices and its state folder only.
``--root DIR`` writes the same files under DIR and touches nothing else (for tests and images).
"""

from __future__ import annotations

import logging
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)

UNIT_NAME = "fieldkit.service"
UNIT_DIR = Path("etc/systemd/system")
CONFIG = Path("/etc/fieldkit/kit.toml")
STATE = Path("/var/lib/fieldkit")
USER = "fieldkit"

_UNIT = """\
# Written by `fieldkit service install`; `fieldkit service uninstall` removes it.
[Unit]
Description=fieldkit edge node (emergency comms and drone operations)
Wants=network-online.target
After=network-online.target time-sync.target

[Service]
Type=exec
User={user}
Group={user}
SupplementaryGroups=dialout
ExecStart={exec_start} run --config {config}
Environment=PYTHONUNBUFFERED=1 FIELDKIT_LOG_FORMAT=journal
Restart=on-failure
RestartSec=2
TimeoutStopSec=20
StateDirectory=fieldkit
StateDirectoryMode=0750
ConfigurationDirectory=fieldkit
UMask=0027
# Sandboxing: the node needs the network, serial devices (not PrivateDevices) and its state only.
NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
SystemCallArchitectures=native
SystemCallFilter=@system-service
# Not MemoryDenyWriteExecute: libffi (used by cffi-based wheels) needs writable+executable pages.

[Install]
WantedBy=multi-user.target
"""

_STARTER_CONFIG = """\
# fieldkit kit configuration: `fieldkit config doc` lists every option, `fieldkit config check` checks this file.
[node]
id = "{node_id}"
data_dir = "{state}"

[api]
# 127.0.0.1 serves this machine only. For command-post laptops, put this kit's address here
# and serve HTTPS (tls_cert / tls_key from `fieldkit certs issue`).
host = "127.0.0.1"
port = 8080
"""


class ServiceError(Exception):
    """The service cannot be installed or removed; the message says why."""


def default_exec_start() -> str:
    """The `fieldkit` command of this installation (the venv's script, else this Python with -m)."""
    script = Path(sys.executable).parent / "fieldkit"
    return str(script) if script.is_file() else f"{sys.executable} -m edge.cli"


def unit_text(*, exec_start: str, config: Path = CONFIG, user: str = USER) -> str:
    """The systemd unit file."""
    return _UNIT.format(exec_start=exec_start, config=config, user=user)


def install(root: Path, *, exec_start: str, node_id: str, user: str = USER, activate: bool = True) -> list[str]:
    """Write the unit (and a starter config if none) under ``root``; with ``activate``, add the user and enable.

    Returns what was done, one line each.
    """
    done: list[str] = []
    unit = root / UNIT_DIR / UNIT_NAME
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(unit_text(exec_start=exec_start, user=user), encoding="utf-8")
    unit.chmod(0o644)
    done.append(f"wrote {unit}")
    config = root / CONFIG.relative_to("/")
    if not config.exists():
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(_STARTER_CONFIG.format(node_id=node_id, state=STATE), encoding="utf-8")
        config.chmod(0o644)  # read by the service user; secrets live elsewhere (keys 0600, tokens hashed)
        done.append(f"wrote a starter configuration {config} (edit it, then `fieldkit config check {CONFIG}`)")
    else:
        done.append(f"kept the existing configuration {config}")
    if activate:
        done += _add_user(user)
        _run(["systemctl", "daemon-reload"])
        _run(["systemctl", "enable", "--now", UNIT_NAME])
        done.append(f"enabled and started {UNIT_NAME} (journalctl -u fieldkit -f shows its log)")
    return done


def uninstall(root: Path, *, activate: bool = True) -> list[str]:
    """Stop, disable and remove the unit; the configuration, state and user stay (they hold the incident)."""
    done: list[str] = []
    unit = root / UNIT_DIR / UNIT_NAME
    if activate and unit.exists():
        _run(["systemctl", "disable", "--now", UNIT_NAME])
        done.append(f"stopped and disabled {UNIT_NAME}")
    if unit.exists():
        unit.unlink()
        done.append(f"removed {unit}")
        if activate:
            _run(["systemctl", "daemon-reload"])
    else:
        done.append(f"no {unit} to remove")
    done.append(f"kept {CONFIG} and {STATE} (the incident's journal and tokens); remove them by hand if wanted")
    return done


def _add_user(user: str) -> list[str]:
    try:
        pwd.getpwnam(user)
    except KeyError:
        pass
    else:
        _run(["usermod", "-aG", "dialout", user])
        return [f"user {user} exists; made sure it is in dialout"]
    _run(["useradd", "--system", "--home-dir", str(STATE), "--no-create-home", "--shell", "/usr/sbin/nologin",
          "--groups", "dialout", user])
    return [f"created system user {user} (group dialout for serial ports)"]


def _run(argv: list[str]) -> None:
    program = shutil.which(argv[0])
    if program is None:
        raise ServiceError(f"{argv[0]} is not installed (is this a systemd machine?)")
    # The arguments are our constants and the user name given on our own command line.
    out = subprocess.run([program, *argv[1:]], capture_output=True, text=True, check=False)  # noqa: S603
    if out.returncode != 0:
        raise ServiceError(f"`{' '.join(argv)}` failed: {out.stderr.strip() or out.returncode}")
    log.debug("ran %s", argv)
