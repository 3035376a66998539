"""The web config file: TLS, basic auth and response headers of the HTTP endpoints.

The format is Prometheus exporter-toolkit's (``--web.config.file``), so one file serves
driftd and the exporters next to it. Relative paths are relative to the file's own
directory, unknown fields are errors, and every problem is reported with its field path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, field_validator, model_validator

from driftd.config.base import _Frozen
from driftd.config.loading import ConfigError, format_validation_error

TlsVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]
ClientAuthType = Literal["NoClientCert", "RequestClientCert", "RequireAnyClientCert",
                         "RequireClientCert", "VerifyClientCertIfGiven",
                         "RequireAndVerifyClientCert"]
# The cipher suites Go's crypto/tls implements (tls.CipherSuites and the insecure ones),
# by their IANA names, with their IANA code points; TLS 1.3 suites are not configurable.
CIPHER_SUITES = {
    "TLS_RSA_WITH_RC4_128_SHA": 0x0005,
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA": 0x000A,
    "TLS_RSA_WITH_AES_128_CBC_SHA": 0x002F,
    "TLS_RSA_WITH_AES_256_CBC_SHA": 0x0035,
    "TLS_RSA_WITH_AES_128_CBC_SHA256": 0x003C,
    "TLS_RSA_WITH_AES_128_GCM_SHA256": 0x009C,
    "TLS_RSA_WITH_AES_256_GCM_SHA384": 0x009D,
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA": 0xC007,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": 0xC009,
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": 0xC00A,
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA": 0xC011,
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA": 0xC012,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": 0xC013,
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": 0xC014,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256": 0xC023,
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256": 0xC027,
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": 0xC02F,
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": 0xC02B,
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": 0xC030,
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": 0xC02C,
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA8,
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": 0xCCA9,
}
CURVES = ("CurveP256", "CurveP384", "CurveP521", "X25519")
# The response headers exporter-toolkit lets a web config set, with their allowed values
# (None: any value).
HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
_BCRYPT = re.compile(r"\$2[abxy]?\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                 "h": 3600.0}


def _bcrypt_hash(value: str) -> str:
    if not _BCRYPT.fullmatch(value):
        raise ValueError("is not a bcrypt hash ($2y$10$ and 53 characters; see "
                         "`htpasswd -nBC 10 \"\" | tr -d ':\\n'`)")
    return value


BcryptHash = Annotated[str, AfterValidator(_bcrypt_hash)]


class TlsServerConfig(_Frozen):
    """``tls_server_config``: TLS is served when a certificate, key or client CA is set."""

    cert: str | None = Field(default=None, min_length=1, description="PEM, inline.")
    key: str | None = Field(default=None, min_length=1, description="PEM, inline.")
    client_ca: str | None = Field(default=None, min_length=1, description="PEM, inline.")
    cert_file: Path | None = None
    key_file: Path | None = None
    client_auth_type: ClientAuthType | None = None
    client_ca_file: Path | None = None
    client_allowed_sans: tuple[str, ...] | None = None
    min_version: TlsVersion = "TLS12"
    max_version: TlsVersion = "TLS13"
    cipher_suites: tuple[str, ...] = ()
    prefer_server_cipher_suites: bool = True
    curve_preferences: tuple[str, ...] = ()

    @property
    def enabled(self) -> bool:
        return any(value is not None for value in (
            self.cert, self.key, self.client_ca, self.cert_file, self.key_file,
            self.client_auth_type, self.client_ca_file))

    @property
    def client_auth(self) -> ClientAuthType:
        return "NoClientCert" if self.client_auth_type is None else self.client_auth_type

    @property
    def has_client_ca(self) -> bool:
        return self.client_ca is not None or self.client_ca_file is not None

    @field_validator("cipher_suites")
    @classmethod
    def _known_ciphers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in CIPHER_SUITES:
                raise ValueError(f"unknown cipher suite {name!r} (Go's names, e.g. "
                                 "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)")
        return value

    @field_validator("curve_preferences")
    @classmethod
    def _curves(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in CURVES:
                raise ValueError(f"unknown curve {name!r} (one of {', '.join(CURVES)})")
        if value:
            raise ValueError("is not supported by driftd (Python's ssl module cannot order "
                             "the key exchange groups); remove it to use OpenSSL's defaults")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TlsServerConfig:
        if not self.enabled:
            return self
        for inline, file, name in ((self.cert, self.cert_file, "cert"),
                                   (self.key, self.key_file, "key"),
                                   (self.client_ca, self.client_ca_file, "client_ca")):
            if inline is not None and file is not None:
                raise ValueError(f"set {name} or {name}_file, not both")
        if self.cert is None and self.cert_file is None:
            raise ValueError("missing one of cert or cert_file")
        if self.key is None and self.key_file is None:
            raise ValueError("missing one of key or key_file")
        auth = self.client_auth
        if self.has_client_ca and auth == "NoClientCert":
            raise ValueError("client_ca_file is set without a client_auth_type "
                             "(RequireAndVerifyClientCert to verify client certificates)")
        if auth in ("RequireAnyClientCert", "RequireClientCert"):
            raise ValueError(f"client_auth_type {auth} is not supported by driftd (Python's "
                             "ssl module cannot require a certificate without verifying "
                             "it); use RequireAndVerifyClientCert with client_ca_file")
        if auth in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert") \
                and not self.has_client_ca:
            raise ValueError(f"client_auth_type {auth} needs client_ca_file (or client_ca)")
        if self.client_allowed_sans is not None and not self.has_client_ca:
            raise ValueError("client_allowed_sans needs verified client certificates "
                             "(client_ca_file and client_auth_type RequireAndVerifyClientCert)")
        if self.min_version > self.max_version:  # TLS1x names sort as their versions
            raise ValueError(f"min_version {self.min_version} is above max_version "
                             f"{self.max_version}")
        return self


class HttpServerConfig(_Frozen):
    """``http_server_config``: driftd speaks HTTP/1.1 only, so ``http2`` changes nothing."""

    http2: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _allowed_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if name not in HEADERS:
                raise ValueError(f"HTTP header {name!r} can not be configured (one of "
                                 f"{', '.join(HEADERS)})")
            allowed = HEADERS[name]
            if allowed is not None and text not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {text!r}")
        return value


class RateLimitConfig(_Frozen):
    """``rate_limit``: a token bucket over every request; interval 0 turns it off."""

    interval: float = Field(default=0.0, ge=0, description="Seconds between two requests "
                            "(a Go duration such as 1s or 250ms).")
    burst: int = Field(default=0, ge=0)

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        if isinstance(value, str):
            return parse_duration(value)
        return value


class WebConfig(_Frozen):
    """A whole web config file; an empty file serves plain HTTP without auth."""

    tls_server_config: TlsServerConfig = TlsServerConfig()
    http_server_config: HttpServerConfig = HttpServerConfig()
    basic_auth_users: dict[str, BcryptHash] = Field(default_factory=dict)
    rate_limit: RateLimitConfig = RateLimitConfig()


def parse_duration(text: str) -> float:
    """Seconds in a Go duration (``1m30s``, ``250ms``, ``0``).

    >>> parse_duration("1m30s"), parse_duration("250ms"), parse_duration("0")
    (90.0, 0.25, 0.0)
    """
    if text == "0":
        return 0.0
    parts = _DURATION.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise ValueError(f"{text!r} is not a duration (e.g. 1s, 250ms, 1m30s)")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def load_web_config(path: Path) -> WebConfig:
    """Read and validate a web config file; ConfigError lists every problem by field."""
    try:
        raw = yaml.safe_load(path.read_bytes().decode("utf-8"))
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read file: {error.strerror}"]) from None
    except UnicodeDecodeError:
        raise ConfigError(str(path), ["(top level): not UTF-8 text"]) from None
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"(top level): not valid YAML: {error}"]) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(str(path), ["(top level): expected a mapping of settings"])
    tls = raw.get("tls_server_config")
    if isinstance(tls, dict):  # files named relative to the web config's directory
        raw = {**raw, "tls_server_config": {
            key: str(path.parent / value)
            if key.endswith("_file") and isinstance(value, str) and value else value
            for key, value in tls.items()}}
    try:
        return WebConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(str(path), format_validation_error(error, raw)) from None
