"""The server-side ``ssl.SSLContext`` of a web config's ``tls_server_config``."""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from driftd.config.loading import ConfigError
from driftd.config.web import CIPHER_SUITES, TlsServerConfig

_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
             "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    # driftd never looks at a certificate it did not verify, so asking for one and
    # ignoring it is the same to a client as not asking.
    "RequestClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_SAN_KINDS = {"DNS", "IP Address", "email", "URI"}


@dataclass(frozen=True)
class ServerTls:
    """A context for new connections and the client SANs they must present (if any)."""

    context: ssl.SSLContext
    allowed_sans: frozenset[str] | None = None

    def admits(self, peercert: Any) -> bool:
        """Whether a verified client certificate carries an allowed SAN."""
        if self.allowed_sans is None:
            return True
        names = peercert.get("subjectAltName", ()) if isinstance(peercert, dict) else ()
        return any(kind in _SAN_KINDS and _san(kind, value) in self.allowed_sans
                   for kind, value in names)


def _san(kind: str, value: str) -> str:
    """A SAN as Go prints it (Python writes IPv6 addresses in full, upper case)."""
    value = value.strip()
    if kind == "IP Address":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    return value


def server_tls(tls: TlsServerConfig, source: str) -> ServerTls:
    """The context ``tls`` describes; ConfigError names the field that cannot be used
    (an unreadable file, a key that does not match its certificate, a bad CA)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _VERSIONS[tls.min_version]
    context.maximum_version = _VERSIONS[tls.max_version]
    context.set_alpn_protocols(["http/1.1"])  # HTTP/2 is not served
    if tls.prefer_server_cipher_suites:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    if tls.cipher_suites:
        _set_ciphers(context, tls.cipher_suites, source)
    _load_chain(context, tls, source)
    context.verify_mode = _CLIENT_AUTH[tls.client_auth]
    if tls.has_client_ca:
        field = "client_ca_file" if tls.client_ca_file is not None else "client_ca"
        try:
            if tls.client_ca_file is not None:
                context.load_verify_locations(cafile=str(tls.client_ca_file))
            else:
                context.load_verify_locations(cadata=tls.client_ca)
        except (OSError, ssl.SSLError) as error:
            raise _problem(source, field, tls.client_ca_file, error) from None
    sans = None if tls.client_allowed_sans is None else frozenset(tls.client_allowed_sans)
    return ServerTls(context, sans)


def _load_chain(context: ssl.SSLContext, tls: TlsServerConfig, source: str) -> None:
    for field, path in (("cert_file", tls.cert_file), ("key_file", tls.key_file)):
        if path is not None:
            try:
                path.read_bytes()
            except OSError as error:
                raise _problem(source, field, path, error) from None
    with _pem_file(tls.cert_file, tls.cert) as cert, _pem_file(tls.key_file, tls.key) as key:
        try:
            context.load_cert_chain(str(cert), str(key))
        except ssl.SSLError as error:
            raise ConfigError(source, [
                f"tls_server_config: cannot use the certificate and key ({_reason(error)}; "
                "is key_file the key of cert_file, both PEM?)"]) from None


@contextmanager
def _pem_file(path: Path | None, inline: str | None) -> Iterator[Path]:
    """``path``, or a private temporary file holding ``inline`` PEM (ssl loads files)."""
    if path is not None:
        yield path
        return
    assert inline is not None
    descriptor, name = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(inline)
        yield Path(name)
    finally:
        os.unlink(name)


def _set_ciphers(context: ssl.SSLContext, names: tuple[str, ...], source: str) -> None:
    """OpenSSL's names for Go's (IANA) names, matched by code point; TLS 1.3 suites
    are left as they are, as in Go."""
    by_code = {cipher["id"] & 0xFFFF: cipher["name"] for cipher in _all_ciphers()}
    missing = [name for name in names if CIPHER_SUITES[name] not in by_code]
    if missing:
        raise ConfigError(source, [f"tls_server_config.cipher_suites: {', '.join(missing)} "
                                   "not available in this OpenSSL build"])
    context.set_ciphers(":".join(by_code[CIPHER_SUITES[name]] for name in names))


def _all_ciphers() -> list[dict[str, Any]]:
    every = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    every.set_ciphers("ALL:@SECLEVEL=0")
    return [dict(cipher) for cipher in every.get_ciphers()]


def _problem(source: str, field: str, path: Path | None, error: Exception) -> ConfigError:
    where = f" {path}" if path is not None else ""
    reason = error.strerror if isinstance(error, OSError) and error.strerror else _reason(error)
    return ConfigError(source, [f"tls_server_config.{field}: cannot use{where}: {reason}"])


def _reason(error: Exception) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason).lower().replace("_", " ")
    return str(error)
