"""Real Prometheus and Alertmanager processes, and a webhook receiver, for alerting tests.

Every server listens on a free port of 127.0.0.1, writes its files and log under the
given work directory, and is a context manager: ``with Prometheus(...) as prometheus:``
starts it and waits until it is ready; leaving the block stops it. A server that fails
to start raises :class:`ServerError` with the tail of its log.

The binaries come from Debian's ``prometheus`` and ``prometheus-alertmanager`` packages
(``.ci/run`` installs them). Only the standard library talks HTTP here.
"""

from __future__ import annotations

import functools
import json
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self, TypeVar

import yaml

INSTALL_HINT = "install with: apt-get install prometheus prometheus-alertmanager"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

T = TypeVar("T")


class ServerError(RuntimeError):
    """A server process failed to start or answer."""


class PrometheusAPIError(RuntimeError):
    """Prometheus answered a query with ``"status": "error"``."""


def find_binary(*names: str) -> str:
    """The path of the first of ``names`` found on PATH."""
    for name in names:
        path = shutil.which(name)
        if path is not None:
            return path
    raise FileNotFoundError(f"{' or '.join(names)} not found on PATH; {INSTALL_HINT}")


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.2) -> T:
    """Call ``check`` until it returns something truthy, and return that; bounded by timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s (last result: {result!r})")
        time.sleep(interval)


def urlopen(request: urllib.request.Request | str, timeout: float) -> Any:
    """``urllib.request.urlopen``, ignoring any ``http_proxy``: every server here is local."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return opener.open(request, timeout=timeout)


def http_json(url: str, data: Any = None, timeout: float = 5.0) -> Any:
    """GET ``url`` (POST when ``data`` is given, as JSON) and decode the JSON answer.

    An HTTP error status still returns the decoded body when it is JSON (Prometheus
    explains bad queries that way); otherwise it raises ``urllib.error.HTTPError``.
    """
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            text = error.read()
        try:
            return json.loads(text)
        except ValueError:
            raise error from None


# --- promtool --------------------------------------------------------------------------


def promtool_check_rules(*paths: Path | str) -> subprocess.CompletedProcess[str]:
    """``promtool check rules PATHS``; errors are in ``.stderr``, never raised."""
    return _promtool("check", "rules", *paths)


def promtool_test_rules(*paths: Path | str) -> subprocess.CompletedProcess[str]:
    """``promtool test rules PATHS`` (rule unit-test files); failures are in the output."""
    return _promtool("test", "rules", *paths)


def _promtool(*args: Path | str) -> subprocess.CompletedProcess[str]:
    command = [find_binary("promtool"), *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


# --- webhook receiver ------------------------------------------------------------------


class HTTPServerThread:
    """A threaded ``http.server`` on a free port of 127.0.0.1, served from a thread."""

    def __init__(self, handler: Callable[..., BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=STOP_TIMEOUT_S)
        self._server.server_close()

    def __enter__(self) -> HTTPServerThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _WebhookHandler(BaseHTTPRequestHandler):
    def __init__(self, receiver: WebhookReceiver, *args: Any) -> None:
        self.receiver = receiver
        super().__init__(*args)

    def do_POST(self) -> None:
        received_at = time.time()
        length = int(self.headers.get("Content-Length", 0))
        try:
            payload = json.loads(self.rfile.read(length))
        except ValueError:
            self.send_error(400, "body is not JSON")
            return
        self.receiver._record(payload, received_at)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # Alertmanager's requests are recorded; a line per request is only noise.


class WebhookReceiver:
    """Records every Alertmanager webhook notification, with the time it arrived.

    Point an Alertmanager ``webhook_configs`` entry at ``.url``.
    """

    def __init__(self) -> None:
        self._http = HTTPServerThread(functools.partial(_WebhookHandler, self))
        self.url = self._http.url
        self._notifications: list[dict[str, Any]] = []
        self._changed = threading.Condition()

    def _record(self, payload: dict[str, Any], received_at: float) -> None:
        with self._changed:
            self._notifications.append({**payload, "received_at": received_at})
            self._changed.notify_all()

    def notifications(self) -> list[dict[str, Any]]:
        """The webhook payloads received so far, oldest first, each with ``received_at``."""
        with self._changed:
            return list(self._notifications)

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert of every notification, oldest first.

        Each is Alertmanager's alert (``status``, ``labels``, ``annotations``, ``startsAt``,
        ``endsAt``, ...) plus ``receiver`` and ``received_at`` (``time.time()``).
        """
        return [
            {**alert, "receiver": note["receiver"], "received_at": note["received_at"]}
            for note in self.notifications()
            for alert in note["alerts"]
        ]

    def wait_for_alert(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30.0
    ) -> dict[str, Any]:
        """The first received alert for which ``predicate`` holds, waiting up to timeout."""

        def first_match() -> dict[str, Any] | None:
            return next((alert for alert in self.alerts() if predicate(alert)), None)

        with self._changed:
            found = self._changed.wait_for(first_match, timeout=timeout)
        if found is None:
            raise TimeoutError(
                f"no matching alert within {timeout:g} s; received: {self.alerts()!r}"
            )
        return found

    def start(self) -> None:
        self._http.start()

    def stop(self) -> None:
        self._http.stop()

    def __enter__(self) -> WebhookReceiver:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- server processes ------------------------------------------------------------------


class _ServerProcess:
    """A server binary run on a free port, logging to ``<workdir>/<name>.log``."""

    name = "server"

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.workdir / f"{self.name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        """Start the process and wait until ``/-/ready`` answers 200."""
        assert self._process is None, f"{self.name} already started"
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = self._command()
        with open(self.log_path, "wb") as log:
            # The child keeps its own descriptor of the log; ours can close right away.
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until(self._ready, timeout, f"{self.name} ready at {self.url}/-/ready")
        except (ServerError, TimeoutError) as error:
            self.stop()
            raise ServerError(f"{error}\n{self._describe(command)}") from None

    def _ready(self) -> bool:
        assert self._process is not None
        code = self._process.poll()
        if code is not None:
            raise ServerError(f"{self.name} exited with code {code} while starting")
        try:
            with urlopen(f"{self.url}/-/ready", timeout=1.0) as response:
                return bool(response.status == 200)
        except urllib.error.HTTPError as error:
            error.close()  # 503 until the server is ready
            return False
        except OSError:
            return False

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period; safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _describe(self, command: Sequence[str]) -> str:
        return f"command: {' '.join(command)}\nlog {self.log_path}:\n{self.log_tail()}"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _write_yaml(path: Path, config: str | Mapping[str, Any]) -> Path:
    text = config if isinstance(config, str) else yaml.safe_dump(dict(config), sort_keys=False)
    path.write_text(text)
    return path


def alertmanager_config(
    webhook_url: str,
    receiver: str = "webhook",
    group_by: Sequence[str] = ("alertname",),
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
) -> dict[str, Any]:
    """An Alertmanager config routing every alert to one webhook, with test-speed timers."""
    return {
        "route": {
            "receiver": receiver,
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [
            {"name": receiver, "webhook_configs": [{"url": webhook_url, "send_resolved": True}]}
        ],
    }


class Alertmanager(_ServerProcess):
    """``prometheus-alertmanager`` with clustering off and its storage in ``workdir``."""

    name = "alertmanager"

    def __init__(
        self,
        config: str | Mapping[str, Any],
        workdir: Path,
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir)
        self.config = config
        self.extra_args = list(extra_args)

    def _command(self) -> list[str]:
        config_path = _write_yaml(self.workdir / "alertmanager.yml", self.config)
        return [
            find_binary("prometheus-alertmanager", "alertmanager"),
            f"--config.file={config_path}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            # An empty address turns off the HA cluster (gossip on 0.0.0.0:9094 otherwise).
            "--cluster.listen-address=",
            *self.extra_args,
        ]

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager holds now (``GET /api/v2/alerts``)."""
        alerts: list[dict[str, Any]] = http_json(f"{self.url}/api/v2/alerts")
        return alerts


def prometheus_config(
    scrape_targets: Mapping[str, Sequence[str]],
    alertmanager_url: str | None = None,
    rule_files: Sequence[Path | str] = (),
    scrape_interval: str = "1s",
    evaluation_interval: str = "1s",
) -> dict[str, Any]:
    """A Prometheus config: one static scrape job per ``{job: ["host:port", ...]}``."""
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            # Prometheus rejects a timeout longer than the interval (10 s by default).
            "scrape_timeout": scrape_interval,
            "evaluation_interval": evaluation_interval,
        },
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]}
            for job, targets in scrape_targets.items()
        ],
    }
    if rule_files:
        config["rule_files"] = [str(Path(path).resolve()) for path in rule_files]
    if alertmanager_url is not None:
        url = urllib.parse.urlsplit(alertmanager_url)
        manager: dict[str, Any] = {
            "scheme": url.scheme,
            "api_version": "v2",
            "static_configs": [{"targets": [url.netloc]}],
        }
        if url.path.strip("/"):
            manager["path_prefix"] = url.path
        config["alerting"] = {"alertmanagers": [manager]}
    return config


class Prometheus(_ServerProcess):
    """``prometheus`` with its TSDB in ``workdir``; ``rule_files`` join the config's own."""

    name = "prometheus"

    def __init__(
        self,
        config: Mapping[str, Any],
        rule_files: Sequence[Path | str],
        workdir: Path,
        extra_args: Sequence[str] = (),
    ) -> None:
        super().__init__(workdir)
        extra_rules = [str(Path(path).resolve()) for path in rule_files]
        self.config = {**config, "rule_files": [*config.get("rule_files", []), *extra_rules]}
        self.extra_args = list(extra_args)

    def _command(self) -> list[str]:
        config_path = _write_yaml(self.workdir / "prometheus.yml", self.config)
        return [
            find_binary("prometheus"),
            f"--config.file={config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            *self.extra_args,
        ]

    def api(self, path: str, **params: Any) -> Any:
        """``GET /api/v1/<path>?params``: the ``data`` of a successful answer."""
        sent = {name: value for name, value in params.items() if value is not None}
        answer = http_json(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(sent)}")
        if answer.get("status") != "success":
            raise PrometheusAPIError(
                f"{path} {sent}: {answer.get('errorType')}: {answer.get('error')}"
            )
        return answer["data"]

    def query(self, expr: str, time: float | str | None = None) -> list[dict[str, Any]]:
        """Instant query: ``[{"metric": {...}, "value": [ts, "text"]}, ...]``.

        A scalar or string result comes back as one item with an empty ``metric``.
        """
        data = self.api("query", query=expr, time=time)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(
        self, expr: str, start: float | str, end: float | str, step: float | str = 1
    ) -> list[dict[str, Any]]:
        """Range query: ``[{"metric": {...}, "values": [[ts, "text"], ...]}, ...]``."""
        result: list[dict[str, Any]] = self.api(
            "query_range", query=expr, start=start, end=end, step=step
        )["result"]
        return result

    def alerts(self) -> list[dict[str, Any]]:
        """Pending and firing alerts (``/api/v1/alerts``): ``labels``, ``state``, ``activeAt``."""
        alerts: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return alerts

    def rules(self, type: str | None = None) -> list[dict[str, Any]]:
        """Rule groups (``/api/v1/rules``), each with its ``rules``; type "alert" or "record"."""
        groups: list[dict[str, Any]] = self.api("rules", type=type)["groups"]
        return groups

    def targets(self) -> list[dict[str, Any]]:
        """Active scrape targets (``/api/v1/targets``): ``labels``, ``health``, ``lastError``."""
        targets: list[dict[str, Any]] = self.api("targets")["activeTargets"]
        return targets

    def wait_for_target_up(self, job: str, timeout: float = 15.0) -> dict[str, Any]:
        """The first target of ``job`` once a scrape of it succeeded."""

        def jobs_targets() -> list[dict[str, Any]]:
            return [t for t in self.targets() if t["labels"].get("job") == job]

        def up_target() -> dict[str, Any] | None:
            return next((t for t in jobs_targets() if t["health"] == "up"), None)

        try:
            return wait_until(up_target, timeout, f"a target of job {job!r} up")
        except TimeoutError as error:
            raise TimeoutError(f"{error}; the job's targets: {jobs_targets()!r}") from None

    def wait_for_alert(
        self, name: str, state: str = "firing", timeout: float = 30.0
    ) -> dict[str, Any]:
        """The alert ``name`` once Prometheus shows it in ``state`` (pending or firing)."""

        def matching() -> dict[str, Any] | None:
            alerts = self.alerts()
            return next(
                (a for a in alerts if a["labels"]["alertname"] == name and a["state"] == state),
                None,
            )

        return wait_until(matching, timeout, f"alert {name} {state} in Prometheus")

    def reload(self) -> None:
        """Re-read the config and rule files (``POST /-/reload``)."""
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urlopen(request, timeout=10.0):
            pass
