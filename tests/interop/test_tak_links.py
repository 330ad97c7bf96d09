"""TAK links over real loopback sockets: our client pushing to a TAK-server stand-in (plain TCP and
TLS with client certificates made here), and multicast SA on the loopback interface. The peers are
independent: pytak reads and writes the CoT, takproto decodes and encodes the protobuf."""

from __future__ import annotations

import asyncio
import configparser
import datetime
import logging
import socket
import ssl
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import takproto
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf.internal.decoder import _DecodeVarint  # type: ignore[attr-defined]
from kit import kit_config, start_local, stop_local
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from edge.metrics import registry_for
from edge.node import EdgeNode
from edge.scene import Position, Unit

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak

pytestmark = pytest.mark.asyncio


# -- a CA, a server and a client certificate, made for each test ---------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    cn: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer[0] if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        key_path = path.with_suffix(".key")
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        key_path.chmod(0o600)
    return path


class Pki:
    """A TAK-Server-like PKI: one CA signs the server's and our client's certificates."""

    def __init__(self, root: Path) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _cert("fieldkit test CA", ca_key, None, ca=True)
        self.ca = _write(root / "ca.pem", ca)
        server_key = ec.generate_private_key(ec.SECP256R1())
        self.server = _write(
            root / "server.pem", _cert("localhost", server_key, (ca.subject, ca_key), False), server_key
        )
        client_key = ec.generate_private_key(ec.SECP256R1())
        self.client = _write(
            root / "client.pem", _cert("kit-test", client_key, (ca.subject, ca_key), False), client_key
        )
        other_key = ec.generate_private_key(ec.SECP256R1())
        self.other_ca = _write(root / "other-ca.pem", _cert("someone else", other_key, None, ca=True))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca))
        context.load_cert_chain(self.server, self.server.with_suffix(".key"))
        context.verify_mode = ssl.CERT_REQUIRED  # as TAK Server's 8089: no client certificate, no connection
        return context


# -- a TAK server stand-in: accepts connections, hands each to the test -------------------------------------


class Peer:
    """A listening socket whose accepted connections the test reads with pytak and writes to."""

    def __init__(self) -> None:
        self.connections: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self, context: ssl.SSLContext | None = None) -> None:
        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self.connections.put((reader, writer))

        self.server = await asyncio.start_server(accepted, "127.0.0.1", 0, ssl=context)
        self.port = self.server.sockets[0].getsockname()[1]

    async def accept(self, timeout: float = 10.0) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.wait_for(self.connections.get(), timeout)

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        while not self.connections.empty():
            _r, w = self.connections.get_nowait()
            w.transport.abort()


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    made = Peer()
    yield made
    await made.close()


async def _node(tmp_path: Path, **tak: object) -> tuple[EdgeNode, asyncio.Task[None]]:
    node, task = await start_local(kit_config(tmp_path, tak={"resend_s": 5.0, **tak}))
    return node, task


def _unit(uid: str, lat: float) -> Unit:
    return Unit(id=uid, origin="kit-test", ts=time.time(), name="Rescue 7", pos=Position(lat=lat, lon=119.2))


async def _pytak_event(reader: asyncio.StreamReader, uid: str, timeout: float = 10.0) -> ET.Element:
    """Read with pytak's own receiver until the event ``uid`` arrives."""
    parser = configparser.ConfigParser()
    parser["t"] = {"COT_URL": "tcp://127.0.0.1:1"}
    rx = pytak.RXWorker(asyncio.Queue(), parser["t"], reader)

    async def loop() -> ET.Element:
        while True:
            raw = await rx.readcot()
            assert raw, "connection closed"
            event = ET.fromstring(raw.strip())
            if event.get("uid") == uid:
                return event

    return await asyncio.wait_for(loop(), timeout)


async def _eventually(check, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def _control(kind: str, uid: str, body: str) -> bytes:
    """A TAK Protocol negotiation event, written as ATAK-CIV's takproto README shows it."""
    now = pytak.cot_time()
    return (
        f"<?xml version='1.0'?>\n<event version='2.0' uid='{uid}' type='{kind}' time='{now}' start='{now}' "
        f"stale='{pytak.cot_time(60)}' how='m-g'><point lat='0.0' lon='0.0' hae='0.0' ce='999999' le='999999'/>"
        f"<detail><TakControl>{body}</TakControl></detail></event>"
    ).encode()


def _pli(uid: str, callsign: str, lat: float) -> bytes:
    data = pytak.gen_cot(lat=lat, lon=119.3, uid=uid, cot_type="a-f-G-U-C", callsign=callsign, stale=600)
    assert data is not None
    return data


# -- the client -----------------------------------------------------------------------------------------------


async def test_client_pushes_over_tls_with_a_client_certificate_and_takes_in_what_the_server_sends(
    tmp_path: Path, peer: Peer
) -> None:
    pki = Pki(tmp_path)
    await peer.start(pki.server_context())
    server = {
        "name": "tak8089",
        "host": "127.0.0.1",
        "port": peer.port,
        "tls": True,
        "server_name": "localhost",
        "ca": str(pki.ca),
        "cert": str(pki.client),
        "key": str(pki.client.with_suffix(".key")),
    }
    node, task = await _node(tmp_path, servers=[server])
    try:
        assert node.scene is not None and node.tak_links is not None
        node.scene.apply_state(_unit("unit:pdt:1007", 36.7))
        reader, writer = await peer.accept()
        assert writer.get_extra_info("peercert")["subject"] == ((("commonName", "kit-test"),),)
        event = await _pytak_event(reader, "unit:pdt:1007")
        assert (event.get("type"), event.find("detail/contact").get("callsign")) == ("a-f-G-U-C", "Rescue 7")  # type: ignore[union-attr]
        # The server relays one of its ATAK users: it becomes a unit in our picture.
        writer.write(_pli("ANDROID-77", "HAWK", 36.71))
        await writer.drain()
        await _eventually(lambda: node.scene.get("unit:tak:ANDROID-77") is not None)  # type: ignore[union-attr]
        (client,) = node.tak_links.clients
        assert client.counts["taken_states"] == 1
        scrape = generate_latest(registry_for(node, lambda: 0)).decode()
        families = {f.name: f for f in text_string_to_metric_families(scrape)}
        assert families["fieldkit_tak_link_up"].samples[0].labels == {"link": "tak-server:tak8089"}
        assert families["fieldkit_tak_link_up"].samples[0].value == 1
        taken = [s for s in families["fieldkit_tak_link"].samples if s.labels["kind"] == "taken_states"]
        assert taken[0].value == 1
        # ... and is not sent back to the server it came from, though new changes of ours are.
        node.scene.apply_state(_unit("unit:pdt:1008", 36.8))
        seen = [e.get("uid") for e in [await _pytak_event(reader, "unit:pdt:1008")]]
        assert "unit:tak:ANDROID-77" not in seen
        # The server goes away: the link reconnects by itself (the supervisor's backoff) and resends the picture.
        writer.transport.abort()
        reader2, writer2 = await peer.accept(15.0)
        await _pytak_event(reader2, "unit:pdt:1007")
        assert client.counts["connects"] == 2
        writer2.transport.abort()
    finally:
        await stop_local(node, task)


async def test_tls_with_a_wrong_ca_is_refused_with_a_clear_log_line(
    tmp_path: Path, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    pki = Pki(tmp_path)
    await peer.start(pki.server_context())
    server = {
        "host": "127.0.0.1",
        "port": peer.port,
        "tls": True,
        "server_name": "localhost",
        "ca": str(pki.other_ca),
        "cert": str(pki.client),
        "key": str(pki.client.with_suffix(".key")),
    }
    caplog.set_level(logging.ERROR, logger="edge.tak.client")
    node, task = await _node(tmp_path, servers=[server])
    try:
        assert node.tak_links is not None
        (client,) = node.tak_links.clients
        await _eventually(lambda: client.counts["tls_refused"] >= 1)
        assert not client.connected.is_set()
        lines = [r.getMessage() for r in caplog.records if r.name == "edge.tak.client"]
        assert any("certificate is not trusted" in line and "tak.servers ca" in line for line in lines), lines
        health = node.health()[client.name]
        assert "not trusted" in str(health["last_error"])
    finally:
        await stop_local(node, task)


async def test_protobuf_link_sends_stream_frames_takproto_decodes_and_reads_theirs(tmp_path: Path, peer: Peer) -> None:
    await peer.start()
    node, task = await _node(tmp_path, servers=[{"host": "127.0.0.1", "port": peer.port, "protocol": "protobuf"}])
    try:
        assert node.scene is not None and node.tak_links is not None
        node.scene.apply_state(_unit("unit:pdt:2001", 36.65))
        reader, writer = await peer.accept()
        # Every connection starts in XML (pytak reads it) until the server offers TAK Protocol.
        await _pytak_event(reader, "unit:pdt:2001")
        writer.write(_control("t-x-takp-v", "proto-1", '<TakProtocolSupport version="1"/>'))
        await writer.drain()
        request = await _pytak_event(reader, "proto-1")
        assert request.get("type") == "t-x-takp-q"
        assert request.find("detail/TakControl/TakRequest").get("version") == "1"  # type: ignore[union-attr]
        node.scene.apply_state(_unit("unit:pdt:2001", 36.65))  # a change while we have not answered yet
        await asyncio.sleep(0.3)
        assert reader._buffer == b""  # type: ignore[attr-defined]  # nothing may follow the request
        writer.write(_control("t-x-takp-r", "proto-1", '<TakResponse status="true"/>'))
        await writer.drain()
        buffer = b""
        found = None
        deadline = time.monotonic() + 10
        while found is None:
            assert time.monotonic() < deadline
            buffer += await asyncio.wait_for(reader.read(65536), 10)
            while buffer[:1] == b"\xbf" and len(buffer) > 2:  # stream frames, cut with protobuf's own varint
                length, body = _DecodeVarint(buffer, 1)
                if len(buffer) < body + length:
                    break
                message = takproto.parse_proto(bytearray(buffer[: body + length]))
                assert message is not None
                buffer = buffer[body + length :]
                if message.cotEvent.uid == "unit:pdt:2001":
                    found = message
            assert buffer[:1] in (b"", b"\xbf"), buffer[:80]  # protobuf only, after the switch
        assert found.cotEvent.type == "a-f-G-U-C"
        assert (round(found.cotEvent.lat, 7), found.cotEvent.detail.contact.callsign) == (36.65, "Rescue 7")
        (client,) = node.tak_links.clients
        assert (client.framing, client.counts["protocol_protobuf"]) == ("stream", 1)
        # The server answers in protobuf (takproto encodes it) and, as FreeTAKServer does, in XML too.
        writer.write(bytes(takproto.xml2proto(_pli("ANDROID-P", "PROTO", 36.6), takproto.TAKProtoVer.STREAM)))
        writer.write(_pli("ANDROID-X", "XML", 36.61))
        await writer.drain()
        await _eventually(
            lambda: (
                node.scene.get("unit:tak:ANDROID-P") is not None  # type: ignore[union-attr]
                and node.scene.get("unit:tak:ANDROID-X") is not None
            )  # type: ignore[union-attr]
        )
        assert node.scene.get("unit:tak:ANDROID-P").name == "PROTO"  # type: ignore[union-attr]
        # Hostile input from the server: garbage, an entity bomb, a bad frame, an oversized frame, a bad point.
        # (a DTD before an event is garbage to the framer: only an entity reference reaches the parser)
        bomb = b'<!DOCTYPE e [<!ENTITY a "aaaa">]><event uid="x" type="a-f"><point lat="1" lon="1"/>&a;</event>'
        bad_point = _pli("ANDROID-Q", "Q", 36.6).replace(b'lat="36.6', b'lat="96.6')
        writer.write(b"\x00junk\xff" + bomb + b"\xbf\x05\x12\x03\xff\xff\xff" + b"\xbf\x80\x80\x10" + b"x" * 300_000)
        writer.write(bad_point + _pli("ANDROID-R", "AFTER", 36.62))
        await writer.drain()
        await _eventually(lambda: node.scene.get("unit:tak:ANDROID-R") is not None)  # type: ignore[union-attr]
        counts = client.counts
        assert counts["rejected_bad_xml"] == 1 and counts["rejected_bad_proto"] == 1, counts
        assert counts["framer_oversize"] == 1 and counts["rejected_bad_point"] == 1, counts
        assert counts["framer_garbage_bytes"] > 0
        assert client.connected.is_set()  # none of it ended the link
        writer.transport.abort()
    finally:
        await stop_local(node, task)


# -- multicast SA ---------------------------------------------------------------------------------------------


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _pytak_udp(port: int, ttl: int = 0) -> configparser.SectionProxy:
    parser = configparser.ConfigParser()
    parser["t"] = {
        "COT_URL": f"udp://239.2.3.1:{port}",
        "PYTAK_MULTICAST_LOCAL_ADDR": "127.0.0.1",  # loopback only
        "PYTAK_MULTICAST_TTL": str(ttl),
    }
    return parser["t"]


@pytest.mark.parametrize("protocol", ["xml", "protobuf"])
async def test_multicast_sa_on_loopback_both_ways_with_pytak(tmp_path: Path, protocol: str) -> None:
    port = _free_udp_port()
    sa = {"enabled": True, "group": "239.2.3.1", "port": port, "interface": "127.0.0.1", "ttl": 0, "protocol": protocol}
    node, task = await _node(tmp_path, multicast=sa, max_event_bytes=8192, enabled=True, port=0)
    config = _pytak_udp(port)
    if protocol == "protobuf":
        config["TAK_PROTO"] = "1"
    reader, writer = await pytak.protocol_factory(config)
    try:
        assert node.scene is not None and node.tak_links is not None and node.tak_links.multicast is not None
        multicast = node.tak_links.multicast
        await asyncio.wait_for(multicast.ready.wait(), 5)
        # pytak (an independent sender) announces a position on the group: it becomes a unit.
        tx = pytak.TXWorker(asyncio.Queue(), config, writer)
        await tx.handle_data(_pli("ANDROID-MC", "GULL", 36.69))
        await _eventually(lambda: node.scene.get("unit:tak:ANDROID-MC") is not None)  # type: ignore[union-attr]
        # ... and reaches the ATAK users on the streaming port (another link), though not the group again.
        assert node.tak is not None
        await asyncio.wait_for(node.tak.listening.wait(), 5)
        port_reader, port_writer = await asyncio.open_connection("127.0.0.1", node.tak.port)
        relayed = await _pytak_event(port_reader, "unit:tak:ANDROID-MC")
        assert relayed.find("detail/contact").get("callsign") == "GULL"  # type: ignore[union-attr]
        port_writer.close()
        # Our PLI goes out on the group; pytak's multicast receiver gets it.
        node.scene.apply_state(_unit("unit:pdt:3003", 36.68))

        async def ours() -> bytes:
            while True:
                data, _addr = await reader.recv()
                if b"unit:pdt:3003" in data:
                    return bytes(data)

        data = await asyncio.wait_for(ours(), 10)
        if protocol == "protobuf":
            assert data[:3] == b"\xbf\x01\xbf"
            assert takproto.parse_proto(bytearray(data)).cotEvent.uid == "unit:pdt:3003"  # type: ignore[union-attr]
        else:
            assert ET.fromstring(data).get("type") == "a-f-G-U-C"
        # Garbage and oversized datagrams on the group are dropped and counted.
        junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        junk.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
        junk.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 0)
        junk.sendto(b"\xbf\x01\xbf\xff\xff\xff", ("239.2.3.1", port))
        junk.sendto(b"<event><not-closed", ("239.2.3.1", port))
        junk.sendto(b"<" + b"x" * 9000 + b">", ("239.2.3.1", port))
        junk.close()
        await _eventually(
            lambda: (
                multicast.counts["rejected_bad_proto"] == 1
                and multicast.counts["rejected_bad_xml"] == 1
                and multicast.counts["rejected_oversize"] == 1
            )
        )
        assert multicast.counts["ignored_own"] >= 1  # our own datagrams looped back, recognised
    finally:
        writer.close()
        reader.close()
        await stop_local(node, task)
