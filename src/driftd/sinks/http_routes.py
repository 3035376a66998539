"""What the metrics server answers: the web config's checks first (rate limit, basic
auth, extra headers), then the routes: ``/`` (a landing page), ``/metrics`` (negotiated:
OpenMetrics or text, gzip, ``name[]``), ``/healthz``, ``/readyz`` and ``/-/reload``."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

import h11

from driftd.sinks.http_connection import Body, Reply
from driftd.sinks.web_security import WebConfigWatch, WebSettings

logger = logging.getLogger("driftd.sinks.http")

HTML = "text/html; charset=utf-8"
PROBES = frozenset({"/healthz", "/readyz"})
RELOAD = "/-/reload"
GET = ("GET", "HEAD")
LANDING_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>driftd</title></head>
<body>
<h1>driftd</h1>
<p>Model drift and accuracy decay, as Prometheus metrics.</p>
<ul>
<li><a href="metrics">/metrics</a>: the metrics (Prometheus text or OpenMetrics)</li>
<li><a href="healthz">/healthz</a>: liveness</li>
<li><a href="readyz">/readyz</a>: readiness, with the reasons when not ready</li>
</ul>
</body>
</html>
"""


class HealthCheck(Protocol):
    """What the probes ask; ``driftd.service.health.Health`` provides it."""

    def live(self) -> bool: ...

    def ready(self) -> tuple[bool, list[str]]: ...


class Exposition(Protocol):
    """Renders the metrics for a scraper's Accept header and ``name[]`` filter."""

    def __call__(self, accept: str, names: Sequence[str]) -> tuple[bytes, str]: ...


@dataclasses.dataclass(frozen=True)
class Routes:
    """What the endpoints serve; ``reload`` None answers /-/reload with 403."""

    exposition: Exposition
    health: HealthCheck
    web: WebConfigWatch | None = None
    authenticate_probes: bool = False
    reload: Callable[[], str | None] | None = None


class Endpoints:
    """Answers requests on the loop; renders, bcrypt and reloads run on worker threads."""

    def __init__(self, routes: Routes) -> None:
        self._routes = routes
        self._render = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftd-metrics")
        self._auth = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftd-auth")
        self._reload = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftd-reload")

    def close(self) -> None:
        for pool in (self._render, self._auth, self._reload):
            pool.shutdown(wait=False, cancel_futures=True)

    async def answer(self, request: h11.Request, request_body: Body) -> Reply:
        del request_body  # none is read: the connection closes after the reply if one came
        web = self._routes.web.current() if self._routes.web is not None else None
        reply = await self._checked(request, web)
        if web is not None and web.headers:
            reply = dataclasses.replace(reply, headers=(*reply.headers, *web.headers))
        return reply

    async def _checked(self, request: h11.Request, web: WebSettings | None) -> Reply:
        path = urlsplit(request.target.decode("ascii", "replace")).path
        if web is not None:
            if web.limiter is not None and not web.limiter.allow():
                return Reply(HTTPStatus.TOO_MANY_REQUESTS, b"Too Many Requests\n")
            exempt = path in PROBES and not self._routes.authenticate_probes
            if web.auth and not exempt and not await self._authorized(web, request):
                return Reply(HTTPStatus.UNAUTHORIZED, b"Unauthorized\n",
                             headers=(("WWW-Authenticate", "Basic"),))
        return await self._route(request, path)

    async def _authorized(self, web: WebSettings, request: h11.Request) -> bool:
        authorization = header(request, b"authorization")
        known = web.auth.cached(authorization)
        if known is not None:
            return known
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._auth, web.auth.check, authorization)

    async def _route(self, request: h11.Request, path: str) -> Reply:
        method = request.method.decode("ascii", "replace")
        if path == RELOAD:
            if method not in ("POST", "PUT"):
                return _not_allowed("POST, PUT")
            return await self._reload_config()
        if method not in GET:
            return _not_allowed("GET, HEAD")
        if path == "/metrics":
            return await self._metrics(request)
        if path == "/":
            return Reply(HTTPStatus.OK, LANDING_PAGE, HTML)
        if path == "/healthz":
            if self._routes.health.live():
                return Reply(HTTPStatus.OK, b"ok\n")
            return Reply(HTTPStatus.SERVICE_UNAVAILABLE, b"not live\n")
        if path == "/readyz":
            ready, reasons = self._routes.health.ready()
            if ready:
                return Reply(HTTPStatus.OK, b"ready\n")
            text = "".join(f"{reason}\n" for reason in reasons)
            return Reply(HTTPStatus.SERVICE_UNAVAILABLE, text.encode("utf-8"))
        return Reply(HTTPStatus.NOT_FOUND, b"not found\n")

    async def _metrics(self, request: h11.Request) -> Reply:
        accept = header(request, b"accept") or ""
        compress = accepts_gzip(header(request, b"accept-encoding"))
        query = urlsplit(request.target.decode("ascii", "replace")).query
        names = parse_qs(query).get("name[]", [])
        exposition = self._routes.exposition

        def render() -> tuple[bytes, str]:
            body, content_type = exposition(accept, names)
            return (gzip.compress(body, compresslevel=6) if compress else body), content_type

        loop = asyncio.get_running_loop()
        try:
            body, content_type = await loop.run_in_executor(self._render, render)
        except Exception:
            logger.exception("collecting metrics failed")
            return Reply(HTTPStatus.INTERNAL_SERVER_ERROR, b"metrics collection failed\n")
        encoding = (("Content-Encoding", "gzip"),) if compress else ()
        return Reply(HTTPStatus.OK, body, content_type,
                     headers=(*encoding, ("Vary", "Accept-Encoding")))

    async def _reload_config(self) -> Reply:
        reload = self._routes.reload
        if reload is None:
            return Reply(HTTPStatus.FORBIDDEN, b"lifecycle API is not enabled\n")
        loop = asyncio.get_running_loop()
        try:
            problem = await loop.run_in_executor(self._reload, reload)
        except Exception:
            logger.exception("reload failed")
            return Reply(HTTPStatus.INTERNAL_SERVER_ERROR, b"reload failed\n")
        if problem is None:
            return Reply(HTTPStatus.OK, b"reloaded\n")
        return Reply(HTTPStatus.INTERNAL_SERVER_ERROR, f"{problem.rstrip()}\n".encode())


def header(request: h11.Request, name: bytes) -> str | None:
    """The request's header ``name`` (lower case), repeated ones joined by commas."""
    values = [value.decode("latin-1") for key, value in request.headers if key == name]
    return ", ".join(values) if values else None


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (named, or ``*``, with q above 0).

    >>> accepts_gzip("gzip"), accepts_gzip("br, gzip;q=0"), accepts_gzip("*;q=0.5")
    (True, False, True)
    """
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[coding.lower()] = weight
    return weights.get("gzip", weights.get("*", 0.0)) > 0


def _not_allowed(allow: str) -> Reply:
    return Reply(HTTPStatus.METHOD_NOT_ALLOWED, b"method not allowed\n",
                 headers=(("Allow", allow),))
