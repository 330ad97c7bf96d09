"""The deployment commands of `fieldkit`: ``certs``, ``doctor`` and ``service`` (wired into edge/cli.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge.config import load
from edge.deploy import certs, doctor, service

COMMANDS = ("certs", "doctor", "service")


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the deployment subcommands to the `fieldkit` parser."""
    c = sub.add_parser("certs", help="the incident certificate authority and node certificates")
    csub = c.add_subparsers(dest="certs_command", required=True)
    init = csub.add_parser("init", help="create the incident authority (ca.pem, ca.key)")
    init.add_argument("--dir", type=Path, default=Path("fieldkit-ca"), help="where to keep it (default: fieldkit-ca)")
    init.add_argument("--name", default="fieldkit incident CA", help="the authority's name, as browsers show it")
    init.add_argument("--days", type=float, default=3650.0, help="validity (default: 10 years)")
    init.add_argument("--force", action="store_true", help="replace the authority (its certificates stop working)")
    issue = csub.add_parser("issue", help="issue a node certificate (NODE.pem, NODE.key) from the authority")
    issue.add_argument("node", help="the node id (node.id in kit.toml)")
    issue.add_argument("--dir", type=Path, default=Path("fieldkit-ca"), help="the authority's folder")
    issue.add_argument("--name", action="append", default=[], dest="names", metavar="HOST_OR_IP",
                       help="a host name or IP address the node is reached at (repeat); loopback is always included")
    issue.add_argument("--days", type=float, default=365.0, help="validity (default: 1 year, never past the authority)")
    check = csub.add_parser("check", help="say whether a certificate is valid now and issued by the authority")
    check.add_argument("cert", type=Path)
    check.add_argument("--ca", type=Path, help="the authority's ca.pem")

    d = sub.add_parser("doctor", help="check this kit (serial devices, ports, clock, disk, links, certificates)")
    d.add_argument("--config", type=Path, help="the kit's configuration (e.g. /etc/fieldkit/kit.toml)")
    d.add_argument("--min-free-mb", type=float, default=512.0, help="free disk space the journal needs (default 512)")
    d.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for each peer (default 2)")
    d.add_argument("--gps-wait", type=float, default=3.0,
                   help="seconds to listen to each MAVLink link for GPS time (default 3; 0: skip)")

    s = sub.add_parser("service", help="install or remove the systemd service that starts the node at boot")
    ssub = s.add_subparsers(dest="service_command", required=True)
    for name, text in (("install", "write, enable and start the unit"), ("uninstall", "stop, disable, remove it")):
        p = ssub.add_parser(name, help=text)
        p.add_argument("--root", type=Path, help="write under this folder instead of / (no user, no systemctl)")
        p.add_argument("--dry-run", action="store_true", help="print the unit and change nothing")
    install = ssub.choices["install"]
    install.add_argument("--user", default=service.USER, help=f"the system user to run as (default {service.USER})")
    install.add_argument("--exec", dest="exec_start", help="the fieldkit command (default: this installation's)")
    install.add_argument("--node-id", help="node.id for a starter configuration (default: the host name)")


def run(args: argparse.Namespace) -> int:
    """Run one deployment command; the exit code."""
    try:
        if args.command == "certs":
            return _certs(args)
        if args.command == "doctor":
            return _doctor(args)
        if args.command == "service":
            return _service(args)
    except (certs.CertError, service.ServiceError, OSError) as exc:
        print(f"fieldkit: {exc}", file=sys.stderr)
        return 1
    return 2


def _certs(args: argparse.Namespace) -> int:
    if args.certs_command == "init":
        path = certs.init_ca(args.dir, args.name, days=args.days, force=args.force)
        print(f"fieldkit: authority {path} (key {args.dir / certs.CA_KEY}, 0600: keep it off the kits)")
        print(f"fieldkit: import {path} once into each command-post browser as a trusted authority")
    elif args.certs_command == "issue":
        cert, key = certs.issue(args.dir, args.node, args.names, days=args.days)
        print(f"fieldkit: {cert} and {key} for {args.node}; copy them and {args.dir / certs.CA_CERT} to the kit")
    else:
        errors, warnings = certs.problems(args.cert, args.ca)
        for line in [*errors, *warnings]:
            print(f"fieldkit: {line}", file=sys.stderr)
        if errors:
            return 1
        print(f"fieldkit: {args.cert} is valid" + (f" and issued by {args.ca}" if args.ca else ""))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    findings = doctor.examine(load(args.config), min_free_mb=args.min_free_mb, timeout_s=args.timeout,
                              gps_wait_s=args.gps_wait)
    for finding in findings:
        print(finding)
    failed = sum(f.status is doctor.Status.FAIL for f in findings)
    warned = sum(f.status is doctor.Status.WARN for f in findings)
    if failed:
        print(f"fieldkit doctor: {failed} problem(s) would stop this kit from working; {warned} warning(s)")
        return 1
    print(f"fieldkit doctor: nothing stops this kit; {warned} warning(s)")
    return 0


def _service(args: argparse.Namespace) -> int:
    root = args.root or Path("/")
    if args.service_command == "uninstall":
        if args.dry_run:
            print(f"would stop, disable and remove {root / service.UNIT_DIR / service.UNIT_NAME}")
            return 0
        lines = service.uninstall(root, activate=args.root is None)
    else:
        exec_start = args.exec_start or service.default_exec_start()
        if args.dry_run:
            sys.stdout.write(service.unit_text(exec_start=exec_start, user=args.user))
            return 0
        node_id = args.node_id or load(None).node.id
        lines = service.install(root, exec_start=exec_start, node_id=node_id, user=args.user,
                                activate=args.root is None)
    for line in lines:
        print(f"fieldkit: {line}")
    return 0
