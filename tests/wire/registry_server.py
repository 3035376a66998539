"""A Confluent-compatible schema registry for tests: a real HTTP server on a free port
serving the API driftd uses (schemas by id, subject versions, registering a schema),
counting requests, with switches for basic auth, slowness, outages and whether it
serves ``format=serialized`` (Protobuf descriptors)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


@dataclass
class Registered:
    schema: str
    schema_type: str
    references: list[dict[str, Any]]
    serialized: str | None = None  # base64 FileDescriptorProto (Protobuf)


@dataclass
class RegistryState:
    schemas: dict[int, Registered] = field(default_factory=dict)
    subjects: dict[tuple[str, int], int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    auth: tuple[str, str] | None = None
    delay_seconds: float = 0.0
    failing: bool = False  # answer 503
    serves_serialized: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, subject: str, schema: str, schema_type: str = "AVRO",
                 references: list[dict[str, Any]] | None = None,
                 serialized: bytes | None = None) -> int:
        with self.lock:
            schema_id = len(self.schemas) + 1
            self.schemas[schema_id] = Registered(
                schema, schema_type, references or [],
                base64.b64encode(serialized).decode() if serialized is not None else None)
            version = 1 + sum(1 for s, _ in self.subjects if s == subject)
            self.subjects[(subject, version)] = schema_id
            return schema_id


class _Handler(BaseHTTPRequestHandler):
    state: RegistryState

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _allowed(self) -> bool:
        state = self.state
        with state.lock:
            state.requests.append(f"{self.command} {self.path}")
        if state.delay_seconds:
            time.sleep(state.delay_seconds)
        if state.failing:
            self._send(503, {"error_code": 50301, "message": "unavailable"})
            return False
        if state.auth is not None:
            token = base64.b64encode(":".join(state.auth).encode()).decode()
            if self.headers.get("Authorization") != f"Basic {token}":
                self._send(401, {"error_code": 40101, "message": "Unauthorized"})
                return False
        return True

    def _body(self, registered: Registered, fmt: str) -> dict[str, Any]:
        schema = registered.schema
        if fmt == "serialized":
            schema = registered.serialized or schema
        return {"schema": schema, "schemaType": registered.schema_type,
                "references": registered.references}

    def do_GET(self) -> None:  # noqa: N802
        if not self._allowed():
            return
        url = urlsplit(self.path)
        fmt = parse_qs(url.query).get("format", [""])[0]
        if fmt == "serialized" and not self.state.serves_serialized:
            self._send(501, {"error_code": 501, "message": "format not supported"})
            return
        parts = [unquote(p) for p in url.path.strip("/").split("/")]
        registered = None
        if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
            registered = self.state.schemas.get(int(parts[2]))
        elif len(parts) == 4 and parts[0] == "subjects" and parts[2] == "versions":
            schema_id = self.state.subjects.get((parts[1], int(parts[3])))
            registered = self.state.schemas.get(schema_id) if schema_id else None
        if registered is None:
            self._send(404, {"error_code": 40403, "message": "Schema not found"})
            return
        self._send(200, self._body(registered, fmt))

    def do_POST(self) -> None:  # noqa: N802
        if not self._allowed():
            return
        parts = [unquote(p) for p in urlsplit(self.path).path.strip("/").split("/")]
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        if len(parts) != 3 or parts[0] != "subjects" or parts[2] != "versions":
            self._send(404, {"error_code": 404, "message": "no such endpoint"})
            return
        schema_id = self.state.register(parts[1], body["schema"],
                                        body.get("schemaType", "AVRO"),
                                        body.get("references"))
        self._send(200, {"id": schema_id})


@contextmanager
def registry_server(state: RegistryState | None = None) -> Iterator[tuple[str, RegistryState]]:
    """``(url, state)`` of a registry on a free 127.0.0.1 port, stopped at the end."""
    state = state or RegistryState()
    handler = type("Handler", (_Handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
