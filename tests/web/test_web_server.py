"""The metrics server with a web config: TLS, basic auth, probes, headers, reload of the
file, exposition negotiation and /-/reload; a real server on a free port of 127.0.0.1."""

from __future__ import annotations

import gzip
import logging
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from driftd.monitor.results import ResultBoard
from driftd.service.health import Health
from driftd.sinks.http import HttpServer
from driftd.sinks.prometheus import DriftdCollector, build_registry, render
from driftd.telemetry import Telemetry
from web.client import basic, call, tls_context
from web.pki import PASSWORD, PASSWORD_HASH, USER, Pki, make_pki

AUTH = {"Authorization": basic(USER, PASSWORD)}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def write_web(path: Path, **sections: Any) -> Path:
    path.write_text(yaml.safe_dump(sections))
    return path


@pytest.fixture
def serve() -> Iterator[Callable[..., HttpServer]]:
    """Start metrics servers on 127.0.0.1:0 (real driftd metrics); stop them afterwards."""
    servers: list[HttpServer] = []
    registry = build_registry(DriftdCollector(ResultBoard(), Telemetry(), references={},
                                              build={"version": "0.1.0"}))
    health = Health(["sources"])
    health.set("sources", True)

    def start(web: Path | None = None, **options: Any) -> HttpServer:
        options.setdefault("exposition", lambda accept, names: render(registry, accept, names))
        server = HttpServer("127.0.0.1", 0, health=health, web_config=web, **options)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


def tls_section(pki: Pki, **more: Any) -> dict[str, Any]:
    return {"cert_file": str(pki.server.cert), "key_file": str(pki.server.key), **more}


def test_basic_auth_guards_every_endpoint_but_the_probes(
    serve: Callable[..., HttpServer], tmp_path: Path
) -> None:
    """Steps: a web config with one user, no TLS; requests without, with wrong and with
    right credentials.

    Expected: /metrics, / and /-/reload answer 401 with ``WWW-Authenticate: Basic``
    without or with wrong credentials, 200 (403 for the disabled reload) with them;
    /healthz and /readyz answer 200 without credentials.
    """
    server = serve(write_web(tmp_path / "web.yml", basic_auth_users={USER: PASSWORD_HASH}))
    for path, method in (("/metrics", "GET"), ("/", "GET"), ("/-/reload", "POST")):
        for headers in ({}, {"Authorization": basic(USER, "wrong")},
                        {"Authorization": basic("mallory", PASSWORD)},
                        {"Authorization": "Bearer x"}):
            denied = call(server.url + path, method, headers)
            assert (denied.status, denied.headers["www-authenticate"]) == (401, "Basic"), path
    assert call(server.url + "/metrics", headers=AUTH).status == 200
    assert call(server.url + "/", headers=AUTH).status == 200
    assert call(server.url + "/-/reload", "POST", AUTH).status == 403
    assert call(server.url + "/healthz").status == 200
    assert call(server.url + "/readyz").status == 200


def test_authenticate_probes_puts_the_probes_behind_auth(
    serve: Callable[..., HttpServer], tmp_path: Path
) -> None:
    server = serve(write_web(tmp_path / "web.yml", basic_auth_users={USER: PASSWORD_HASH}),
                   authenticate_probes=True)
    assert call(server.url + "/healthz").status == 401
    assert call(server.url + "/readyz", headers=AUTH).status == 200


def test_tls_with_client_certificates(
    serve: Callable[..., HttpServer], tmp_path: Path, pki: Pki
) -> None:
    """Steps: TLS with RequireAndVerifyClientCert on the client CA; connect with the
    signed client certificate, with a self-signed one, with none; plain HTTP.

    Expected: only the signed certificate gets an answer; the others fail the handshake;
    plain HTTP gets a plain 400 saying the port speaks HTTPS.
    """
    web = write_web(tmp_path / "web.yml", tls_server_config=tls_section(
        pki, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(pki.client_ca)))
    server = serve(web)
    assert server.url.startswith("https://")

    signed = call(server.url + "/metrics",
                  context=tls_context(pki.ca, pki.client.cert, pki.client.key))
    assert signed.status == 200 and b"process_resident_memory_bytes" in signed.body
    for context in (tls_context(pki.ca, pki.stranger.cert, pki.stranger.key),
                    tls_context(pki.ca)):
        with pytest.raises((ssl.SSLError, ConnectionError)):
            call(server.url + "/metrics", context=context)
    plain = call(server.url.replace("https", "http") + "/metrics")
    assert (plain.status, plain.body) == (400, b"Client sent an HTTP request to an HTTPS "
                                                b"server.\n")


def test_client_allowed_sans(serve: Callable[..., HttpServer], tmp_path: Path,
                             pki: Pki) -> None:
    """A verified client certificate without an allowed SAN is cut after the handshake."""
    def server_allowing(san: str) -> HttpServer:
        return serve(write_web(tmp_path / f"{san}.yml", tls_server_config=tls_section(
            pki, client_auth_type="RequireAndVerifyClientCert",
            client_ca_file=str(pki.client_ca), client_allowed_sans=[san])))

    client = tls_context(pki.ca, pki.client.cert, pki.client.key)
    assert call(server_allowing("prometheus.example").url + "/healthz",
                context=client).status == 200
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        call(server_allowing("other.example").url + "/healthz", context=client)


def test_headers_of_the_web_config_are_on_every_answer(
    serve: Callable[..., HttpServer], tmp_path: Path
) -> None:
    server = serve(write_web(tmp_path / "web.yml", http_server_config={"headers": {
        "X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=31536000"}},
        basic_auth_users={USER: PASSWORD_HASH}))
    for answer in (call(server.url + "/metrics"), call(server.url + "/healthz"),
                   call(server.url + "/nope", headers=AUTH)):
        assert answer.headers["x-frame-options"] == "deny"
        assert answer.headers["strict-transport-security"] == "max-age=31536000"


def test_a_changed_web_config_applies_to_the_next_request(
    serve: Callable[..., HttpServer], tmp_path: Path, pki: Pki,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Steps: serve with user prometheus; replace its hash by another password's; break
    the file; fix it with the first password again.

    Expected: the new password works at once and the old one fails; the broken file is
    logged as an error and the previous users stay in force; the fixed file applies.
    """
    import bcrypt

    web = write_web(tmp_path / "web.yml", tls_server_config=tls_section(pki),
                    basic_auth_users={USER: PASSWORD_HASH})
    server = serve(web)
    context = tls_context(pki.ca)

    def status(password: str) -> int:
        return call(server.url + "/metrics", headers={"Authorization": basic(USER, password)},
                    context=context).status

    assert status(PASSWORD) == 200
    other = bcrypt.hashpw(b"rotated", bcrypt.gensalt(4)).decode()
    write_web(web, tls_server_config=tls_section(pki), basic_auth_users={USER: other})
    assert (status("rotated"), status(PASSWORD)) == (200, 401)

    with caplog.at_level(logging.ERROR, logger="driftd.sinks.http"):
        web.write_text("basic_auth_users: {prometheus: not-a-hash}\n")
        assert status("rotated") == 200
    assert any("cannot be used, keeping the previous one" in r.getMessage()
               and "basic_auth_users.prometheus" in r.getMessage() for r in caplog.records)

    write_web(web, tls_server_config=tls_section(pki), basic_auth_users={USER: PASSWORD_HASH})
    assert status(PASSWORD) == 200


def test_a_rotated_certificate_serves_the_next_connection(
    serve: Callable[..., HttpServer], tmp_path: Path, pki: Pki
) -> None:
    """Steps: serve the first CA's certificate; overwrite cert and key files with a
    certificate of another CA (the web config file itself unchanged).

    Expected: a client trusting only the second CA fails before and succeeds after.
    """
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    cert.write_bytes(pki.server.cert.read_bytes())
    key.write_bytes(pki.server.key.read_bytes())
    server = serve(write_web(tmp_path / "web.yml", tls_server_config={
        "cert_file": str(cert), "key_file": str(key)}))
    other = make_pki(tmp_path / "other")
    trusts_other = tls_context(other.ca)
    with pytest.raises(ssl.SSLError):
        call(server.url + "/healthz", context=trusts_other)

    key.write_bytes(other.server.key.read_bytes())
    cert.write_bytes(other.server.cert.read_bytes())

    assert call(server.url + "/healthz", context=trusts_other).status == 200


def test_a_wrong_key_after_start_keeps_the_served_certificate(
    serve: Callable[..., HttpServer], tmp_path: Path, pki: Pki,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Steps: serve TLS; overwrite the key file with a different key's PEM.

    Expected: the mismatch is logged once as an error naming the key; new connections
    still get the old certificate.
    """
    key = tmp_path / "server.key"
    key.write_bytes(pki.server.key.read_bytes())
    server = serve(write_web(tmp_path / "web.yml", tls_server_config={
        "cert_file": str(pki.server.cert), "key_file": str(key)}))
    context = tls_context(pki.ca)
    assert call(server.url + "/healthz", context=context).status == 200
    with caplog.at_level(logging.ERROR, logger="driftd.sinks.http"):
        key.write_bytes(pki.client.key.read_bytes())
        assert call(server.url + "/healthz", context=context).status == 200
        assert call(server.url + "/healthz", context=context).status == 200
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "cannot use the certificate and key" in errors[0]


def test_landing_page_links_the_endpoints(serve: Callable[..., HttpServer]) -> None:
    answer = call(serve().url + "/")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/html")
    for link in (b'href="metrics"', b'href="healthz"', b'href="readyz"'):
        assert link in answer.body


def test_exposition_negotiation(serve: Callable[..., HttpServer]) -> None:
    """Steps: scrape plain; with Accept-Encoding gzip; with Accept OpenMetrics; with
    name[] filters.

    Expected: the text format by default with the process, platform and GC families;
    a gzip body that decompresses to the same families; OpenMetrics ending in # EOF;
    only the named families (samples named by their full name).
    """
    server = serve()
    plain = call(server.url + "/metrics")
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name for f in text_string_to_metric_families(plain.body.decode())}
    assert {"process_resident_memory_bytes", "python_info", "python_gc_objects_collected",
            "driftd_build_info"} <= families

    zipped = call(server.url + "/metrics", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    unzipped = gzip.decompress(zipped.body).decode()
    assert {f.name for f in text_string_to_metric_families(unzipped)} == families
    assert "content-encoding" not in call(
        server.url + "/metrics", headers={"Accept-Encoding": "br, gzip;q=0"}).headers

    open_metrics = call(server.url + "/metrics", headers={
        "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"})
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.body.endswith(b"# EOF\n")
    assert "driftd_build_info" in {f.name for f in openmetrics_families(
        open_metrics.body.decode())}

    only = call(server.url + "/metrics?name[]=driftd_build_info"
                "&name[]=process_resident_memory_bytes")
    assert {f.name for f in text_string_to_metric_families(only.body.decode())} == {
        "driftd_build_info", "process_resident_memory_bytes"}


def test_reload_route(serve: Callable[..., HttpServer], tmp_path: Path) -> None:
    """Steps: POST and PUT /-/reload with a callable that succeeds, then fails; GET it;
    a server without the callable.

    Expected: 200 "reloaded" (the callable ran on a thread other than the render
    thread), 500 with the callable's text, 405 for GET, 403 without a callable, and
    401 without credentials when the web config has users.
    """
    calls: list[str] = []
    outcome: list[str | None] = [None]

    def reload() -> str | None:
        calls.append(threading.current_thread().name)
        return outcome[0]

    server = serve(write_web(tmp_path / "web.yml", basic_auth_users={USER: PASSWORD_HASH}),
                   reload=reload)
    ok = call(server.url + "/-/reload", "POST", AUTH)
    assert (ok.status, ok.body) == (200, b"reloaded\n")
    outcome[0] = "models[0].name: must be unique"
    failed = call(server.url + "/-/reload", "PUT", AUTH)
    assert (failed.status, failed.body) == (500, b"models[0].name: must be unique\n")
    get = call(server.url + "/-/reload", headers=AUTH)
    assert (get.status, get.headers["allow"]) == (405, "POST, PUT")
    assert call(server.url + "/-/reload", "POST").status == 401
    assert len(calls) == 2 and all(name.startswith("driftd-reload") for name in calls)

    disabled = call(serve().url + "/-/reload", "POST")
    assert (disabled.status, disabled.body) == (403, b"lifecycle API is not enabled\n")


def test_rate_limit(serve: Callable[..., HttpServer], tmp_path: Path) -> None:
    server = serve(write_web(tmp_path / "web.yml", rate_limit={"interval": "1h", "burst": 2}))
    statuses = [call(server.url + "/healthz").status for _ in range(3)]
    assert statuses == [200, 200, 429]
