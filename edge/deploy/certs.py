"""The incident certificate authority: one CA per incident or team, node certificates issued from it.

No outside certificate service is reachable at a scene, so each kit set carries its own authority:
``fieldkit certs init`` makes it (EC P-256, as every browser and rustls accept), ``fieldkit certs
issue NODE`` makes a node's certificate for both HTTPS and Zenoh mutual TLS (server and client
use), with the node's names and addresses as subject alternative names. Private keys are written
0600 and never leave the folder they were made in; the CA certificate (``ca.pem``) is what a
command-post browser imports once.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
NODE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,40}$")
SOON_S = 7 * 86400.0  # a certificate this close to its end is worth a warning


class CertError(Exception):
    """A certificate or key cannot be made, read or trusted; the message says why in plain words."""


_CA_USAGE = x509.KeyUsage(
    digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False, key_encipherment=False,
    data_encipherment=False, key_agreement=False, encipher_only=False, decipher_only=False,
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """Create ``path`` 0600 from the start (never world-readable, not even for a moment)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def init_ca(folder: Path, name: str, *, days: float = 3650.0, force: bool = False) -> Path:
    """Create ``ca.pem`` and ``ca.key`` in ``folder``; returns the CA certificate's path."""
    cert_path, key_path = folder / CA_CERT, folder / CA_KEY
    if not force and (cert_path.exists() or key_path.exists()):
        raise CertError(f"{folder} already holds an authority ({CA_CERT}); keep it, or pass --force to replace it")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fieldkit")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # kits' clocks drift before GPS time arrives
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_CA_USAGE, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    for path in (cert_path, key_path):
        path.unlink(missing_ok=True)
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path


def _load_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((folder / CA_CERT).read_bytes())
        key = serialization.load_pem_private_key((folder / CA_KEY).read_bytes(), password=None)
    except FileNotFoundError as exc:
        missing = exc.filename
        raise CertError(f"no authority in {folder}: run `fieldkit certs init` first ({missing} is missing)") from exc
    except (OSError, ValueError) as exc:
        raise CertError(f"the authority in {folder} is unreadable: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertError(f"{folder / CA_KEY} is not an EC key")
    return cert, key


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def issue(folder: Path, node: str, names: list[str], *, days: float = 365.0,
          valid_from: dt.datetime | None = None) -> tuple[Path, Path]:
    """Issue ``<node>.pem`` and ``<node>.key`` from the authority in ``folder``; returns (cert, key) paths.

    ``names`` are the host names and IP addresses browsers and kits use to reach the node; the node
    id, ``localhost`` and the loopback addresses are always included.
    """
    if not NODE_NAME.match(node):
        raise CertError(f"node name {node!r}: use letters, digits, '.', '_' or '-' (as node.id)")
    ca_cert, ca_key = _load_ca(folder)
    cert_path, key_path = folder / f"{node}.pem", folder / f"{node}.key"
    key = ec.generate_private_key(ec.SECP256R1())
    start = valid_from or _now() - dt.timedelta(minutes=5)
    end = min(start + dt.timedelta(days=days), ca_cert.not_valid_after_utc)
    if end <= start:
        raise CertError(f"the authority in {folder} expired on {ca_cert.not_valid_after_utc:%Y-%m-%d}: "
                        "make a new one (fieldkit certs init --force) and issue every kit's certificate again")
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node),
                                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fieldkit")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_san([node, "localhost", "127.0.0.1", "::1", *names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    for path in (cert_path, key_path):
        path.unlink(missing_ok=True)
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def problems(cert_path: Path, ca_path: Path | None, *, now: dt.datetime | None = None) -> tuple[list[str], list[str]]:
    """(errors, warnings) about a certificate: unreadable, expired, not yet valid, from another authority."""
    now = now or _now()
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        return [f"certificate {cert_path} is unreadable: {exc}"], []
    errors: list[str] = []
    warnings: list[str] = []
    end = cert.not_valid_after_utc
    if now > end:
        errors.append(f"certificate {cert_path} expired on {end:%Y-%m-%d %H:%M} UTC: issue a new one "
                      "(fieldkit certs issue)")
    elif now < cert.not_valid_before_utc:
        errors.append(f"certificate {cert_path} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC "
                      "(is the clock right?)")
    elif (end - now).total_seconds() < SOON_S:
        warnings.append(f"certificate {cert_path} expires on {end:%Y-%m-%d %H:%M} UTC")
    if ca_path is not None:
        errors += _issued_by(cert, cert_path, ca_path)
    return errors, warnings


def _issued_by(cert: x509.Certificate, cert_path: Path, ca_path: Path) -> list[str]:
    try:
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    except (OSError, ValueError) as exc:
        return [f"authority certificate {ca_path} is unreadable: {exc}"]
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return [f"certificate {cert_path} was not issued by the authority {ca_path} "
                f"({cert.issuer.rfc4514_string()} is not {ca.subject.rfc4514_string()})"]
    return []
