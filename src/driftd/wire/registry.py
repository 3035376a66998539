"""A client of a Confluent-compatible schema registry (Confluent, Apicurio's ccompat API,
Redpanda, Karapace) over urllib: schemas by id and the schemas they reference."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCEPT = "application/vnd.schemaregistry.v1+json, application/json"
MAX_RESPONSE_BYTES = 8 * 1024 * 1024


class UnknownSchema(LookupError):
    """The registry answered that it has no such schema (HTTP 404)."""


class RegistryUnavailable(OSError):
    """The registry did not answer in time, could not be reached, or failed (5xx)."""


class RegistryError(ValueError):
    """The registry answered something that is not a schema (the detail says what)."""


@dataclass(frozen=True, slots=True)
class Reference:
    """A schema a schema imports: its import name, and where it is registered."""

    name: str
    subject: str
    version: int


@dataclass(frozen=True, slots=True)
class RegisteredSchema:
    """A schema as the registry returns it. ``schema_type`` is AVRO, PROTOBUF or JSON;
    ``text`` is the schema (for ``format=serialized``: a base64 FileDescriptorProto)."""

    schema_type: str
    text: str
    references: tuple[Reference, ...] = ()


class SchemaRegistry:
    """``GET /schemas/ids/{id}`` and ``GET /subjects/{subject}/versions/{version}``."""

    def __init__(self, url: str, *, username: str | None = None, password: str | None = None,
                 ca_file: Path | None = None) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Accept": ACCEPT, "User-Agent": "driftd"}
        if username is not None:
            token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        self._context = (ssl.create_default_context(cafile=str(ca_file))
                         if ca_file is not None else None)

    def by_id(self, schema_id: int, timeout: float, format: str = "") -> RegisteredSchema:
        """The schema registered under ``schema_id``."""
        query = f"?format={format}" if format else ""
        return _schema(self._get(f"/schemas/ids/{schema_id}{query}", timeout))

    def by_version(self, reference: Reference, timeout: float,
                   format: str = "") -> RegisteredSchema:
        """The schema a reference points to."""
        subject = urllib.parse.quote(reference.subject, safe="")
        query = f"?format={format}" if format else ""
        return _schema(self._get(f"/subjects/{subject}/versions/{reference.version}{query}",
                                 timeout))

    def _get(self, path: str, timeout: float) -> Any:
        request = urllib.request.Request(self.url + path, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout,
                                        context=self._context) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            detail = _error_message(error)
            if error.code == 404:
                raise UnknownSchema(f"{path}: {detail}") from None
            if error.code in (401, 403):  # every id would fail alike: not the schema's fault
                raise RegistryUnavailable(f"HTTP {error.code} for {path}: {detail} (check "
                                          "username and password_file)") from None
            if (error.code >= 500 and error.code != 501) or error.code == 429:  # 501: a format
                raise RegistryUnavailable(f"HTTP {error.code} for {path}: {detail}") from None
            raise RegistryError(f"HTTP {error.code} for {path}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:  # refused, DNS, TLS, timeout
            reason = getattr(error, "reason", error)
            raise RegistryUnavailable(f"{self.url}: {reason}") from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise RegistryError(f"{path}: response over {MAX_RESPONSE_BYTES} bytes")
        try:
            return json.loads(body)
        except ValueError as error:
            raise RegistryError(f"{path}: not JSON: {error}") from None


def _schema(body: Any) -> RegisteredSchema:
    if not isinstance(body, dict) or not isinstance(body.get("schema"), str):
        raise RegistryError("the response holds no schema")
    references = []
    for item in body.get("references") or ():
        try:
            references.append(Reference(str(item["name"]), str(item["subject"]),
                                        int(item["version"])))
        except (KeyError, TypeError, ValueError):
            raise RegistryError(f"a malformed reference: {str(item)[:200]}") from None
    return RegisteredSchema(str(body.get("schemaType") or "AVRO").upper(), body["schema"],
                            tuple(references))


def _error_message(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read(4096))
        return str(body.get("message", body))[:200]
    except (ValueError, AttributeError, OSError):
        return str(error.reason)[:200]
