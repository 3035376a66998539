"""A web config put to use (TLS context, users, headers, rate limit), and kept current.

Exporter-toolkit re-reads its web config on every request. Here the files are checked
(``os.stat``: microseconds) on every request and connection, and read again only when
the config file, or a certificate, key or CA file it names, changed. A change that
cannot be used is logged once and the previous settings stay in force.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from driftd.config.loading import ConfigError
from driftd.config.web import WebConfig, load_web_config
from driftd.sinks.web_auth import BasicAuth
from driftd.sinks.web_tls import ServerTls, server_tls

logger = logging.getLogger("driftd.sinks.http")


class RateLimiter:
    """A token bucket: ``burst`` requests at once, then one per ``interval`` seconds."""

    def __init__(self, interval: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._burst = max(burst, 1)
        self._tokens = float(self._burst)
        self._clock = clock
        self._at = clock()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._at) / self._interval)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


@dataclass(frozen=True)
class WebSettings:
    """What one version of a web config asks of every connection and request."""

    tls: ServerTls | None
    auth: BasicAuth
    headers: tuple[tuple[str, str], ...] = ()
    limiter: RateLimiter | None = None


def load_web(path: Path) -> WebSettings:
    """Validate ``path`` and everything it names; ConfigError says what cannot be used."""
    return _settings(load_web_config(path), str(path))


def _settings(config: WebConfig, source: str) -> WebSettings:
    tls = config.tls_server_config
    limit = config.rate_limit
    return WebSettings(
        tls=server_tls(tls, source) if tls.enabled else None,
        auth=BasicAuth(config.basic_auth_users),
        headers=tuple(config.http_server_config.headers.items()),
        limiter=RateLimiter(limit.interval, limit.burst) if limit.interval > 0 else None)


def _named_files(config: WebConfig) -> tuple[Path, ...]:
    tls = config.tls_server_config
    return tuple(p for p in (tls.cert_file, tls.key_file, tls.client_ca_file) if p is not None)


Signature = tuple[tuple[str, int, int, int] | None, ...]


def _signature(paths: tuple[Path, ...]) -> Signature:
    def one(path: Path) -> tuple[str, int, int, int] | None:
        try:
            stat = os.stat(path)
        except OSError:
            return None
        return (str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
    return tuple(one(path) for path in paths)


class WebConfigWatch:
    """The settings of a web config file, read again when it or a file it names changes.

    Raises ConfigError at construction when the file cannot be used (start-up fails).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        config = load_web_config(path)
        self._settings = _settings(config, str(path))
        self._watched = (path, *_named_files(config))
        self._seen = _signature(self._watched)
        self._lock = threading.Lock()

    def current(self) -> WebSettings:
        """The settings in force, re-read first if a watched file changed."""
        with self._lock:
            now = _signature(self._watched)
            if now != self._seen:
                self._reload(now)
            return self._settings

    def _reload(self, changed: Signature) -> None:
        self._seen = changed
        try:
            config = load_web_config(self.path)
        except ConfigError as error:
            logger.error("web config %s changed but cannot be used, keeping the previous "
                         "one: %s", self.path, "; ".join(error.problems))
            return
        # Watch the files the new version names, even if they cannot be used yet.
        self._watched = (self.path, *_named_files(config))
        self._seen = _signature(self._watched)
        try:
            settings = _settings(config, str(self.path))
        except ConfigError as error:
            logger.error("web config %s changed but cannot be used, keeping the previous "
                         "one: %s", self.path, "; ".join(error.problems))
            return
        if (settings.tls is None) != (self._settings.tls is None):
            logger.error("web config %s changed but cannot be used, keeping the previous "
                         "one: turning TLS on or off takes a restart", self.path)
            return
        self._settings = settings
        logger.info("web config %s reloaded (TLS %s, %d basic auth user(s))", self.path,
                    "on" if self._settings.tls else "off",
                    len(config.basic_auth_users))
