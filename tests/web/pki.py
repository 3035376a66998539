"""Certificates for the web config tests, made with ``cryptography``: a server CA and
its localhost certificate, a client CA with a client certificate, and a stranger's
client certificate (self-signed: signed by no CA the server trusts)."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import bcrypt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

USER, PASSWORD = "prometheus", "s3cret-scrape"
# Cost 4 (the minimum) keeps the tests fast; the cache is what the tests look at.
PASSWORD_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Pki:
    ca: Path  # signs the server's certificate: what scrapers trust
    server: Pair
    client_ca: Path  # what the server trusts client certificates from
    client: Pair
    stranger: Pair  # a client certificate no trusted CA signed


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _build(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
           issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
           usage: x509.ObjectIdentifier | None = None,
           sans: list[x509.GeneralName] | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate,
           key: ec.EllipticCurvePrivateKey | None = None) -> Path:
    path = directory / f"{name}.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        (directory / f"{name}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    return path


def _leaf(directory: Path, name: str, issuer: str, issuer_key: ec.EllipticCurvePrivateKey,
          usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]) -> Pair:
    key = _key()
    cert = _build(name, key, issuer, issuer_key, ca=False, usage=usage, sans=sans)
    return Pair(_write(directory, name, cert, key), directory / f"{name}.key")


def make_pki(directory: Path) -> Pki:
    """Write every certificate and key into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, client_ca_key, stranger_key = _key(), _key(), _key()
    ca = _write(directory, "ca", _build("test server CA", ca_key, "test server CA", ca_key,
                                        ca=True))
    client_ca = _write(directory, "client-ca", _build(
        "test client CA", client_ca_key, "test client CA", client_ca_key, ca=True))
    server = _leaf(directory, "server", "test server CA", ca_key, ExtendedKeyUsageOID.SERVER_AUTH,
                   [x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    client = _leaf(directory, "client", "test client CA", client_ca_key,
                   ExtendedKeyUsageOID.CLIENT_AUTH, [x509.DNSName("prometheus.example")])
    stranger_cert = _build("stranger", stranger_key, "stranger", stranger_key, ca=True,
                           sans=[x509.DNSName("prometheus.example")])
    stranger = Pair(_write(directory, "stranger", stranger_cert, stranger_key),
                    directory / "stranger.key")
    return Pki(ca, server, client_ca, client, stranger)
