"""The HTTP ingest endpoints: what a request gets answered, and what reaches the spool.

``POST /v1/events`` takes driftd events (one object, an array, or JSON lines with
``Content-Type: application/x-ndjson``); ``POST /`` and ``POST /cloudevents`` take
CloudEvents in binary, structured or batched mode (``sources.cloudevents``). A body is
answered 202 only once it is appended to the spool and fsync'd. Refused: 401 without the
bearer token, 413 beyond ``max_body_bytes``, 429 while the spool holds ``max_queue_bytes``
not yet ingested, 503 while stopping or when the spool cannot be written, 400 for a body
that is not JSON, whose top level is neither an object nor an array, or a CloudEvent
without its required attributes. 400 and 413 count under ``driftd_events_invalid_total``
by reason; every answer counts under ``driftd_http_ingest_requests_total{code}``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus

import h11

from driftd.messages import MessageLimits
from driftd.sinks.http_connection import Body, Reply
from driftd.sources import cloudevents, event_bodies
from driftd.sources.spool import Record, Spool, SpoolError
from driftd.telemetry import Telemetry

logger = logging.getLogger(__name__)

EVENTS_PATH = "/v1/events"
CLOUDEVENTS_PATHS = ("/", "/cloudevents")
INVALID_ATTRIBUTES = "missing_attribute"  # a CloudEvent without id, type, source... (REASONS)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may hold, and how much may wait in the spool."""

    max_body_bytes: int
    max_queue_bytes: int
    messages: MessageLimits
    retry_after_seconds: int = 1


class Refused(Exception):
    """A request answered without touching the spool."""

    def __init__(self, status: HTTPStatus, text: str, reason: str | None = None,
                 headers: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(text)
        self.status, self.text, self.reason, self.headers = status, text, reason, headers


class Endpoints:
    """Answers ingest requests on the listener's loop; appends on one writer thread.

    ``queued`` tells how many spool bytes are not yet ingested (checked before a body
    is read and again before it is appended).
    """

    def __init__(self, spool: Spool, limits: Limits, queued: Callable[[], int], *,
                 token: str | None = None) -> None:
        self._spool, self._limits, self._queued = spool, limits, queued
        self._token = token.encode() if token is not None else None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftd-spool")
        self.telemetry = Telemetry()  # the daemon's, once the source is instrumented
        self.stopping = False

    def close(self) -> None:
        """Wait for the append in progress (its client may never see the 202)."""
        self._writer.shutdown(wait=True, cancel_futures=True)

    async def answer(self, request: h11.Request, body: Body) -> Reply:
        try:
            reply = await self._answer(request, body)
        except Refused as refused:
            if refused.reason is not None:
                self.telemetry.count_invalid(refused.reason)
                logger.debug("refused a request: %s: %s", refused.reason, refused.text)
            reply = Reply(refused.status, (refused.text + "\n").encode(),
                          headers=refused.headers)
        self.telemetry.count_http_request(int(reply.status))
        return reply

    async def _answer(self, request: h11.Request, body: Body) -> Reply:
        path = request.target.decode("ascii", "replace").partition("?")[0]
        if path != EVENTS_PATH and path not in CLOUDEVENTS_PATHS:
            raise Refused(HTTPStatus.NOT_FOUND, f"not found: POST events to {EVENTS_PATH}, "
                          "CloudEvents to / or /cloudevents")
        if request.method != b"POST":
            raise Refused(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed",
                          headers=(("Allow", "POST"),))
        headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                   for name, value in request.headers}
        self._authorize(headers)
        self._admit(0)
        data = await body.read(self._limits.max_body_bytes)
        if data is None:
            raise Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                          f"body larger than max_body_bytes ({self._limits.max_body_bytes})",
                          "oversized")
        self._admit(len(data))
        now = time.time()
        if path == EVENTS_PATH:
            records = [self._events(headers, data, now)]
        else:
            records = self._cloudevents(headers, data, now)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._writer, self._append, records)
        except SpoolError as error:
            logger.error("%s; answering 503", error)
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, "cannot write the spool",
                          headers=self._retry_after()) from error
        except RuntimeError as error:  # the writer was shut down: stopping
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down",
                          headers=self._retry_after()) from error
        return Reply(HTTPStatus.ACCEPTED, b"accepted\n")

    def _authorize(self, headers: dict[str, str]) -> None:
        if self._token is None:
            return
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), self._token):
            raise Refused(HTTPStatus.UNAUTHORIZED, "a bearer token is required",
                          headers=(("WWW-Authenticate", 'Bearer realm="driftd"'),))

    def _admit(self, size: int) -> None:
        """Refuse while stopping, or when ``size`` more bytes would overfill the queue."""
        if self.stopping:
            raise Refused(HTTPStatus.SERVICE_UNAVAILABLE, "shutting down",
                          headers=self._retry_after())
        if self._queued() + size > self._limits.max_queue_bytes:
            raise Refused(HTTPStatus.TOO_MANY_REQUESTS,
                          f"queue full (max_queue_bytes {self._limits.max_queue_bytes} "
                          "accepted and not yet ingested): retry later",
                          headers=self._retry_after())

    def _retry_after(self) -> tuple[tuple[str, str], ...]:
        return (("Retry-After", str(self._limits.retry_after_seconds)),)

    def _events(self, headers: dict[str, str], data: bytes, now: float) -> Record:
        content_type = headers.get("content-type", "application/json")
        ndjson = cloudevents.media_type(content_type) in event_bodies.NDJSON_TYPES
        found = event_bodies.problem(event_bodies.split_events(data, ndjson=ndjson),
                                     self._limits.messages)
        if found is not None:
            raise Refused(HTTPStatus.BAD_REQUEST, f"{found[0]}: {found[1]}", found[0])
        return Record(data, {"t": now, "h": {"content-type": content_type}})

    def _cloudevents(self, headers: dict[str, str], data: bytes, now: float) -> list[Record]:
        kind = cloudevents.media_type(headers.get("content-type", ""))
        try:
            if kind in (cloudevents.STRUCTURED, cloudevents.BATCH):
                events = cloudevents.from_structured(data, batch=kind == cloudevents.BATCH)
            else:
                events = [cloudevents.from_binary(headers, data)]
        except cloudevents.CloudEventError as error:
            reason = "malformed_json" if str(error).startswith("not JSON") else (
                INVALID_ATTRIBUTES)
            raise Refused(HTTPStatus.BAD_REQUEST, str(error), reason) from error
        for event in events:
            if event.kind == "events":  # driftd events as the data: judged as posted ones
                self._events(event.headers, event.data, now)
        return [Record(e.data, {"t": now, "h": e.headers}) for e in events]

    def _append(self, records: list[Record]) -> None:
        self._spool.append(*records)
