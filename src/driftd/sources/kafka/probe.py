"""The broker probe: whether the cluster answers metadata requests, on its own thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from kafka import KafkaAdminClient
from kafka.errors import KafkaError

from driftd.config import KafkaSourceConfig
from driftd.sources.kafka.options import client_options, describe_error

logger = logging.getLogger("driftd.sources.kafka")  # the package's name, as before the split


class BrokerProbe:
    """Asks the cluster for its metadata every ``interval`` seconds on its own thread.

    Reachable means the last check answered and the one in flight, if any, has not taken
    longer than ``check_timeout``: a check that hangs counts as down without waiting for
    kafka-python to give up. Seconds unreachable count from the last successful answer
    (from construction until the first one).
    """

    def __init__(self, config: KafkaSourceConfig, *, interval: float = 1.0,
                 check_timeout: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if interval <= 0 or check_timeout <= 0:
            raise ValueError("interval and check_timeout must be positive")
        self._options = client_options(config.bootstrap_servers, f"{config.client_id}-probe",
                                       config.security)
        self._interval, self._check_timeout, self._clock = interval, check_timeout, clock
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._answered = False  # whether the last finished check got an answer
        self._last_answer = clock()
        self._check_started: float | None = None
        self._error = "not checked yet"
        self._admin: KafkaAdminClient | None = None
        self._thread = threading.Thread(target=self._run, name="kafka-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def status(self) -> tuple[bool, float, str]:
        """(reachable, seconds unreachable, last error)."""
        with self._lock:
            now = self._clock()
            waited = 0.0 if self._check_started is None else now - self._check_started
            if self._answered and waited <= self._check_timeout:
                return True, 0.0, ""
            error = (self._error if not self._answered
                     else f"no answer to a metadata request for {waited:.1f} s")
            return False, now - self._last_answer, error

    def _run(self) -> None:
        while not self._stop.is_set():
            self._check()
            self._stop.wait(self._interval)

    def _check(self) -> None:
        timeout_ms = round(self._check_timeout * 1000)
        with self._lock:
            self._check_started = self._clock()
        try:
            if self._admin is None:
                self._admin = KafkaAdminClient(request_timeout_ms=timeout_ms,
                                               bootstrap_timeout_ms=timeout_ms, **self._options)
            self._admin.describe_cluster()
        except (KafkaError, OSError, ValueError) as error:
            self._close_admin()
            with self._lock:
                self._answered, self._check_started = False, None
                self._error = describe_error(error)
            return
        with self._lock:
            self._answered, self._check_started = True, None
            self._last_answer = self._clock()
            self._error = ""

    def _close_admin(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            except (KafkaError, OSError):
                pass
            self._admin = None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self._check_timeout + 1.0)
        if self._thread.is_alive():  # a check still hanging: its client is the thread's
            logger.info("the broker probe is still waiting for an answer; not waiting more")
            return
        self._close_admin()
