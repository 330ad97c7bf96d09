"""Small real-world probes for ``fieldkit doctor``: can a port be bound, does a peer answer, does it trust us.

Each returns None when all is well, else the reason in plain words (no stack traces: the reader is a
comms technician at a scene, not a developer).
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
import ssl
import time
import urllib.request
from pathlib import Path

from zeroconf import InterfaceChoice, IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

from mesh.discovery import SERVICE_TYPE, Announcement, parse_txt, split_endpoint
from mesh.errors import MeshError

_ALERTS = {  # what a peer's TLS alert means for a kit (RFC 8446 section 6.2)
    "UNKNOWN_CA": "it does not trust our authority (it belongs to another incident, or our certificate is foreign)",
    "CERTIFICATE_EXPIRED": "it says our certificate has expired",
    "CERTIFICATE_REQUIRED": "it wants a client certificate and we sent none",
    "BAD_CERTIFICATE": "it refused our certificate",
}


def parse_endpoint(endpoint: str) -> tuple[str, str, int] | None:
    """(protocol, host, port) of a Zenoh locator such as ``tls/127.0.0.1:7447``, or None."""
    try:
        return split_endpoint(endpoint)
    except MeshError:
        return None


def browse_kits(interfaces: list[str], wait_s: float) -> list[Announcement]:
    """The fieldkit nodes announcing themselves over mDNS within ``wait_s`` (as mesh/discovery.py finds them)."""
    zc = Zeroconf(interfaces=interfaces or InterfaceChoice.All, ip_version=IPVersion.V4Only)
    names: set[str] = set()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is not ServiceStateChange.Removed:
            names.add(name)

    try:
        browser = ServiceBrowser(zc, SERVICE_TYPE, handlers=[on_change])
        time.sleep(wait_s)
        browser.cancel()
        infos = [zc.get_service_info(SERVICE_TYPE, name, timeout=1000) for name in sorted(names)]
    finally:
        zc.close()
    found = [parse_txt(i.properties, i.parsed_addresses()) for i in infos if i is not None]
    return [a for a in found if a is not None]


def node_at(host: str, port: int, *, https: bool, timeout_s: float) -> str | None:
    """The node id a fieldkit node serving on ``host:port`` reports on /healthz, or None if none answers.

    Only identifies who holds a port (nothing secret is sent), so the certificate is not checked here.
    """
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - an address to dial, not to bind
    url = f"{'https' if https else 'http'}://{f'[{host}]' if ':' in host else host}:{port}/healthz"
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=context) as answer:  # noqa: S310 - http(s) only
            body = json.loads(answer.read(65536))
    except (OSError, ValueError):
        return None
    node_id = body.get("node_id") if isinstance(body, dict) else None
    return node_id if isinstance(node_id, str) else None


def port_in_use(host: str, port: int, *, udp: bool = False) -> str | None:
    """Why ``host:port`` cannot be bound now, or None if a server could bind it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as sock:
        if not udp:  # as the servers do; a port only in TIME_WAIT is then free
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "in use by another program"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"{host} is not an address of this machine (is the network interface up?)"
            if exc.errno == errno.EACCES:
                return "needs privileges (ports below 1024)"
            return exc.strerror or str(exc)
    return None


def tcp_unreachable(host: str, port: int, timeout_s: float) -> str | None:
    """Why a TCP connection to ``host:port`` fails, or None if it opens."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()


def tls_refusal(host: str, port: int, *, ca: Path, cert: Path, key: Path, timeout_s: float) -> str | None:
    """Why a mutual-TLS link to ``host:port`` with our certificate fails, or None if both sides accept."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # as the mesh: the authority is the check (mesh/session.py)
    try:
        context.load_verify_locations(cafile=str(ca))
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        return f"our own certificate files cannot be used: {exc}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw, \
                context.wrap_socket(raw) as tls:
            # TLS 1.3 finishes our side of the handshake before the peer checks our certificate:
            # its verdict comes as an alert on the first read, or not at all (the peer waits for us).
            tls.settimeout(min(timeout_s, 1.0))
            with contextlib.suppress(TimeoutError):
                tls.recv(1)
    except ssl.SSLCertVerificationError as exc:
        if exc.verify_code == 10:  # X509_V_ERR_CERT_HAS_EXPIRED
            return "its certificate has expired"
        return f"its certificate was not issued by our authority ({exc.verify_message})"
    except ssl.SSLError as exc:
        reason = str(exc.reason or "")
        return next((text for alert, text in _ALERTS.items() if alert in reason), f"TLS failed ({reason or exc})")
    except TimeoutError:
        return f"no answer within {timeout_s:g} s"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()
    return None
