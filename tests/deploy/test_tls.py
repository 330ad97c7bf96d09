"""The incident authority: HTTPS served with its node certificate, and Zenoh links with mutual TLS.

Real peers: httpx (Python's ssl) against a `fieldkit run` process, and Zenoh sessions over TLS on
loopback. Every certificate is generated here; none is committed.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import zenoh
from kit import NodeProcess, kit_config, spawn_node, stop_process, write_config

from edge.deploy import certs
from mesh.config import MeshSection
from mesh.session import zenoh_config


@pytest.fixture
def authorities(tmp_path: Path) -> tuple[Path, Path]:
    """The kit's authority and a foreign one, each with node certificates."""
    ours, foreign = tmp_path / "ca", tmp_path / "other-ca"
    certs.init_ca(ours, "Weifang fire incident CA")
    certs.init_ca(foreign, "someone else's CA")
    for node in ("kit-a", "kit-b"):
        certs.issue(ours, node, ["kit.example"])
    certs.issue(foreign, "kit-x", [])
    return ours, foreign


def trusting(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca / certs.CA_CERT))


def test_keys_are_private_and_certificates_name_the_node(authorities: tuple[Path, Path]) -> None:
    ours, _ = authorities
    for key in (ours / "ca.key", ours / "kit-a.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert certs.problems(ours / "kit-a.pem", ours / "ca.pem") == ([], [])
    from cryptography import x509  # noqa: PLC0415

    cert = x509.load_pem_x509_certificate((ours / "kit-a.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["kit-a", "localhost", "kit.example"]
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    with pytest.raises(certs.CertError, match="already holds an authority"):
        certs.init_ca(ours, "again")


def test_foreign_and_expired_certificates_are_named(authorities: tuple[Path, Path]) -> None:
    ours, foreign = authorities
    errors, _ = certs.problems(foreign / "kit-x.pem", ours / "ca.pem")
    assert errors == [
        f"certificate {foreign / 'kit-x.pem'} was not issued by the authority {ours / 'ca.pem'} "
        "(O=fieldkit,CN=someone else's CA is not O=fieldkit,CN=Weifang fire incident CA)"
    ]
    past = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    certs.issue(ours, "old-kit", [], days=2, valid_from=past)
    errors, _ = certs.problems(ours / "old-kit.pem", ours / "ca.pem")
    assert errors == [
        f"certificate {ours / 'old-kit.pem'} expired on 2025-01-03 00:00 UTC: issue a new one (fieldkit certs issue)"
    ]


@contextmanager
def https_node(tmp_path: Path, ca: Path, node_dir: Path, node: str) -> Iterator[NodeProcess]:
    """A `fieldkit run` serving HTTPS with ``node``'s certificate, its mesh trusting ``ca``."""
    cert, key = str(node_dir / f"{node}.pem"), str(node_dir / f"{node}.key")
    config = kit_config(
        tmp_path, api={"tls_cert": cert, "tls_key": key}, mesh={"tls_ca": str(ca / "ca.pem"), "tls_cert": cert,
                                                                 "tls_key": key},
    )
    proc = spawn_node(write_config(tmp_path, config))
    try:
        yield proc
    finally:
        stop_process(proc.proc)


def output(proc: NodeProcess) -> str:
    """Everything the (stopped) node printed."""
    assert proc.proc.stdout is not None
    return "".join(proc.lines) + proc.proc.stdout.read()


def test_https_with_the_kits_authority_and_not_another(tmp_path: Path, authorities: tuple[Path, Path]) -> None:
    ours, foreign = authorities
    with https_node(tmp_path, ours, ours, "kit-a") as node:
        assert node.url.startswith("https://127.0.0.1:")
        with httpx.Client(verify=trusting(ours)) as client:
            assert client.get(node.url + "healthz").json()["node_id"] == "kit-test"
        with httpx.Client(verify=trusting(foreign)) as client, pytest.raises(httpx.ConnectError, match="VERIFY_FAIL"):
            client.get(node.url + "healthz")
        with pytest.raises(httpx.RemoteProtocolError):  # plain HTTP to the TLS port gets nothing it can read
            httpx.get(node.url.replace("https://", "http://") + "healthz")
    assert "edge.deploy.tls" not in output(node), "a good certificate gets no complaint"


def test_a_foreign_certificate_is_logged_and_refused(tmp_path: Path, authorities: tuple[Path, Path]) -> None:
    ours, foreign = authorities
    with (
        https_node(tmp_path, ours, foreign, "kit-x") as node,
        httpx.Client(verify=trusting(ours)) as client,
        pytest.raises(httpx.ConnectError, match="VERIFY_FAIL"),
    ):
        client.get(node.url + "healthz")
    log = output(node)
    assert (f"ERROR edge.deploy.tls: certificate {foreign / 'kit-x.pem'} was not issued by the authority "
            f"{ours / 'ca.pem'}") in log
    assert "browsers and other kits will refuse this node" in log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def open_kit(ca: Path, node_dir: Path, node: str, *, listen: str = "", connect: str = "") -> zenoh.Session:
    mesh = MeshSection(
        listen=[listen] if listen else [], connect=[connect] if connect else [], retry_min_s=0.1, retry_max_s=0.2,
        tls_ca=str(ca / "ca.pem"), tls_cert=str(node_dir / f"{node}.pem"), tls_key=str(node_dir / f"{node}.key"),
    )
    text = json.dumps(zenoh_config(mesh, "edge"))
    return zenoh.open(zenoh.Config.from_json5(text))


def test_zenoh_links_only_kits_holding_a_certificate_from_the_authority(authorities: tuple[Path, Path]) -> None:
    ours, foreign = authorities
    certs.issue(ours, "old-kit", [], days=1, valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    endpoint = f"tls/127.0.0.1:{free_port()}"
    received: list[tuple[str, bytes]] = []
    hub = open_kit(ours, ours, "kit-a", listen=endpoint)
    sessions = [hub]
    try:
        hub.declare_subscriber("fk/**", lambda s: received.append((str(s.key_expr), s.payload.to_bytes())))
        # A kit from another incident; one that trusts our authority but holds another's certificate
        # (only mutual TLS stops it); one whose certificate from us expired; and one of ours.
        intruders = [open_kit(foreign, foreign, "kit-x", connect=endpoint),
                     open_kit(ours, foreign, "kit-x", connect=endpoint),
                     open_kit(ours, ours, "old-kit", connect=endpoint)]
        sessions += intruders
        friend = open_kit(ours, ours, "kit-b", connect=endpoint)
        sessions.append(friend)
        deadline = time.monotonic() + 10
        while str(friend.zid()) not in {str(z) for z in hub.info.peers_zid()} and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # the intruders have dialed (every 0.1-0.2 s) several times meanwhile
        assert {str(z) for z in hub.info.peers_zid()} == {str(friend.zid())}
        for i, intruder in enumerate(intruders):
            intruder.put(f"fk/intruder-{i}/event/alert", b"fake")
        friend.put("fk/kit-b/event/alert", b"real")
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        assert received == [("fk/kit-b/event/alert", b"real")]
    finally:
        for session in reversed(sessions):
            session.close()


def mesh_node(tmp_path: Path, ca: Path, node_dir: Path, node: str, endpoint: str) -> NodeProcess:
    """A `fieldkit run` whose mesh trusts ``ca``, holds ``node``'s certificate and dials ``endpoint``."""
    cert, key = str(node_dir / f"{node}.pem"), str(node_dir / f"{node}.key")
    config = kit_config(tmp_path, mesh={"enabled": True, "connect": [endpoint], "tls_ca": str(ca / "ca.pem"),
                                        "tls_cert": cert, "tls_key": key})
    return spawn_node(write_config(tmp_path, config))


def wait_for_line(node: NodeProcess, text: str, timeout_s: float = 20.0) -> str:
    """The first line of the node's output containing ``text`` (bounded wait)."""
    assert node.proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = node.proc.stdout.readline()
        node.lines.append(line)
        if text in line:
            return line
    raise AssertionError(f"no {text!r} in:\n" + "".join(node.lines))


@pytest.mark.parametrize(
    ("hub_ca", "kit_trusts", "kit_cert", "reason"),
    [  # the hub is of another incident; our certificate expired; ours comes from another authority
        ("other-ca", "ca", "ca/kit-a", "its certificate was not issued by our authority "
                                       "(unable to get local issuer certificate)"),
        ("ca", "ca", "ca/old-kit", "it says our certificate has expired"),
        ("ca", "ca", "other-ca/kit-x", "it does not trust our authority (it belongs to another incident, or our "
                                       "certificate is foreign)"),
    ],
)
def test_a_kit_says_plainly_why_a_mesh_peer_refuses_it(
    tmp_path: Path, authorities: tuple[Path, Path], hub_ca: str, kit_trusts: str, kit_cert: str, reason: str
) -> None:
    ours, _ = authorities
    certs.issue(ours, "old-kit", [], days=1, valid_from=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    certs.issue(tmp_path / "other-ca", "hub", [])
    endpoint = f"tls/127.0.0.1:{free_port()}"
    hub_dir = tmp_path / hub_ca
    hub = open_kit(hub_dir, hub_dir, "hub" if hub_ca == "other-ca" else "kit-b", listen=endpoint)
    try:
        cert_dir, cert_name = kit_cert.split("/")
        node = mesh_node(tmp_path, tmp_path / kit_trusts, tmp_path / cert_dir, cert_name, endpoint)
        try:
            line = wait_for_line(node, "mesh peer")
        finally:
            stop_process(node.proc)
    finally:
        hub.close()
    assert line.rstrip().endswith(f"WARNING edge.deploy.tls: mesh peer {endpoint} cannot link with this kit: {reason}")


def test_no_complaint_about_a_peer_of_the_same_authority(tmp_path: Path, authorities: tuple[Path, Path]) -> None:
    ours, _ = authorities
    endpoint = f"tls/127.0.0.1:{free_port()}"
    hub = open_kit(ours, ours, "kit-b", listen=endpoint)
    try:
        node = mesh_node(tmp_path, ours, ours, "kit-a", endpoint)
        deadline = time.monotonic() + 10
        while not hub.info.peers_zid() and time.monotonic() < deadline:
            time.sleep(0.05)
        linked = [str(z) for z in hub.info.peers_zid()]
        time.sleep(1.5)  # the first probe has run meanwhile (it starts with the node)
        stop_process(node.proc)
    finally:
        hub.close()
    assert len(linked) == 1, "the kit linked to the hub over mutual TLS"
    assert "edge.deploy.tls" not in output(node)


def test_an_expired_authority_issues_nothing(tmp_path: Path) -> None:
    certs.init_ca(tmp_path, "short-lived", days=0.0001)  # ~9 s
    with pytest.raises(certs.CertError, match=r"expired on .*: make a new one \(fieldkit certs init --force\)"):
        certs.issue(tmp_path, "kit-a", [], valid_from=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
