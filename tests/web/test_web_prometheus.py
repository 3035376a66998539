"""A real Prometheus scrapes a running `driftd run` through its web config: TLS with
basic auth, then mutual TLS; promtool checks what it scrapes.

Two driftd processes on free ports of 127.0.0.1, each fed on an open stdin (so they keep
running), each with its own web config:

- ``tls``: TLS with the test CA's server certificate and basic auth (user prometheus);
- ``mtls``: the same plus client_auth_type RequireAndVerifyClientCert on the client CA.

One Prometheus scrapes them with four jobs, each with Prometheus' own ``tls_config``
(ca_file) and ``basic_auth``: the right password, a wrong password, a signed client
certificate and a certificate no trusted CA signed.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.servers import Prometheus, find_binary, free_port, prometheus_config, wait_until
from kafka_e2e.support import REPO
from web.client import basic, call, tls_context
from web.daemon import write_driftd_config
from web.pki import PASSWORD, PASSWORD_HASH, USER, Pki, make_pki

START_TIMEOUT_S = 60.0
SCRAPE_TIMEOUT_S = 30.0
# What Prometheus 2.x sends: it prefers OpenMetrics.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
                     "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


@dataclass
class Driftd:
    address: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"https://{self.address}"


def start_driftd(directory: Path, web: dict[str, Any], ca: Path,
                 client: tuple[Path, Path] | None = None) -> Driftd:
    """`driftd run --web.config.file` on stdin; returns once /healthz answers over TLS."""
    directory.mkdir()
    address = f"127.0.0.1:{free_port()}"
    config = write_driftd_config(directory, address=address)
    (directory / "web.yml").write_text(yaml.safe_dump(web))
    log = directory / "driftd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "driftd", "run", "--config", str(config),
             "--web.config.file", str(directory / "web.yml")],
            stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            env={**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"})
    driftd = Driftd(address, process, log)
    context = tls_context(ca, *client) if client else tls_context(ca)

    def healthy() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            return call(driftd.url + "/healthz", context=context, timeout=2).status == 200
        except OSError:
            return False

    wait_until(healthy, START_TIMEOUT_S, f"driftd on {address} answering /healthz")
    return driftd


def stop_driftd(driftd: Driftd) -> None:
    if driftd.process.poll() is None:
        driftd.process.send_signal(signal.SIGTERM)
        try:
            driftd.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            driftd.process.kill()
            driftd.process.wait(timeout=30)
    if driftd.process.stdin is not None:
        driftd.process.stdin.close()


@dataclass
class Setup:
    pki: Pki
    tls: Driftd
    mtls: Driftd
    prometheus: Prometheus


def job(name: str, target: Driftd, pki: Pki, password: str,
        client: tuple[Path, Path] | None = None) -> dict[str, Any]:
    tls_config: dict[str, Any] = {"ca_file": str(pki.ca)}
    if client is not None:
        tls_config |= {"cert_file": str(client[0]), "key_file": str(client[1])}
    return {"job_name": name, "scheme": "https", "tls_config": tls_config,
            "basic_auth": {"username": USER, "password": password},
            "static_configs": [{"targets": [target.address]}]}


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with tempfile.TemporaryDirectory(prefix="driftd-web-") as name:
        directory = Path(name)
        pki = make_pki(directory / "pki")
        tls = {"cert_file": str(pki.server.cert), "key_file": str(pki.server.key)}
        users = {USER: PASSWORD_HASH}
        started: list[Driftd] = []
        try:
            started.append(start_driftd(directory / "tls", {
                "tls_server_config": tls, "basic_auth_users": users}, pki.ca))
            started.append(start_driftd(directory / "mtls", {
                "tls_server_config": tls | {"client_auth_type": "RequireAndVerifyClientCert",
                                            "client_ca_file": str(pki.client_ca)},
                "basic_auth_users": users}, pki.ca, (pki.client.cert, pki.client.key)))
            plain, mutual = started
            config = prometheus_config({})
            config["scrape_configs"] = [
                job("tls", plain, pki, PASSWORD),
                job("wrong_password", plain, pki, "not-the-password"),
                job("signed_client", mutual, pki, PASSWORD, (pki.client.cert, pki.client.key)),
                job("stranger_client", mutual, pki, PASSWORD,
                    (pki.stranger.cert, pki.stranger.key)),
            ]
            with Prometheus(config, (), directory / "prometheus") as prometheus:
                yield Setup(pki, plain, mutual, prometheus)
        finally:
            for driftd in started:
                stop_driftd(driftd)


def target(setup: Setup, name: str, health: str) -> dict[str, Any]:
    """The target of job ``name`` once Prometheus reports ``health`` for it."""
    def reported() -> dict[str, Any] | None:
        return next((t for t in setup.prometheus.targets()
                     if t["labels"]["job"] == name and t["health"] == health), None)

    found: dict[str, Any] = wait_until(reported, SCRAPE_TIMEOUT_S, f"job {name} {health}")
    return found


def test_prometheus_scrapes_driftd_over_tls_with_basic_auth(setup: Setup) -> None:
    """Expected: the target is up; driftd's own and the process series are in
    Prometheus (process_resident_memory_bytes, python_info)."""
    assert target(setup, "tls", "up")["lastError"] == ""
    for series in ("driftd_build_info", "process_resident_memory_bytes", "python_info"):
        found = wait_until(lambda s=series: setup.prometheus.query(f'{s}{{job="tls"}}'),
                           SCRAPE_TIMEOUT_S, f"{series} in Prometheus")
        assert float(found[0]["value"][1]) > 0


def test_a_wrong_password_is_refused_with_401(setup: Setup) -> None:
    """Expected: the wrong-password target is down with a 401 in its last error, and a
    direct request with that password (or none) gets 401 and WWW-Authenticate: Basic."""
    down = target(setup, "wrong_password", "down")
    assert "401" in down["lastError"], down
    context = tls_context(setup.pki.ca)
    for headers in ({"Authorization": basic(USER, "not-the-password")}, {}):
        answer = call(setup.tls.url + "/metrics", headers=headers, context=context)
        assert (answer.status, answer.headers["www-authenticate"]) == (401, "Basic")


def test_client_certificates_are_verified(setup: Setup) -> None:
    """Expected: the job presenting the client CA's certificate is up; the one with a
    certificate no trusted CA signed is down on a TLS error, not on an HTTP status."""
    assert target(setup, "signed_client", "up")["lastError"] == ""
    refused = target(setup, "stranger_client", "down")
    assert refused["lastError"] and "server returned HTTP status" not in refused["lastError"]


def scrape(setup: Setup, **headers: str) -> Any:
    return call(setup.tls.url + "/metrics" + headers.pop("query", ""),
                headers={"Authorization": basic(USER, PASSWORD), **headers},
                context=tls_context(setup.pki.ca))


def promtool_check_metrics(text: bytes) -> subprocess.CompletedProcess[str]:
    return subprocess.run([find_binary("promtool"), "check", "metrics"], input=text.decode(),
                          capture_output=True, text=True, timeout=60, check=False)


def test_promtool_checks_what_driftd_serves(setup: Setup) -> None:
    """``promtool check metrics`` on a scrape in the text format, plain and gzip-decoded.

    Expected: exit 0 and no lint problem for either.
    """
    plain = scrape(setup)
    zipped = scrape(setup, **{"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    for body in (plain.body, gzip.decompress(zipped.body)):
        checked = promtool_check_metrics(body)
        assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")


def test_negotiation_over_tls(setup: Setup) -> None:
    """Prometheus' own Accept header gets OpenMetrics, none gets the text format, and
    name[] keeps only the named families."""
    open_metrics = scrape(setup, Accept=PROMETHEUS_ACCEPT)
    assert open_metrics.headers["content-type"].startswith(
        "application/openmetrics-text; version=1.0.0")
    assert open_metrics.body.endswith(b"# EOF\n")
    assert scrape(setup).headers["content-type"].startswith("text/plain; version=0.0.4")
    only = scrape(setup, query="?name[]=process_resident_memory_bytes")
    lines = [line for line in only.body.decode().splitlines() if not line.startswith("#")]
    assert len(lines) == 1 and lines[0].startswith("process_resident_memory_bytes ")
