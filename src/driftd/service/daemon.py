"""The daemon: composition root, run loop and ordered shutdown.

startup (HTTP, scheduler) -> main loop (poll -> decode -> ingest, on the main thread)
-> shutdown (stop polling, final evaluation, scheduler, sources, HTTP), each step logged.
Signal handlers only call ``request_stop``; the loop has one exit condition.
"""

from __future__ import annotations

import functools
import logging
import platform
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from driftd import __version__
from driftd.config import Config
from driftd.events import Decoder
from driftd.monitor.monitor import Monitor
from driftd.monitor.results import ResultBoard
from driftd.reference.profile import Profile
from driftd.service.health import Health
from driftd.service.pipeline import Pipeline, RejectionLog
from driftd.service.scheduler import Scheduler
from driftd.sinks.http import HttpServer
from driftd.sinks.prometheus import DriftdCollector, build_registry, render
from driftd.sources.base import Source
from driftd.telemetry import Telemetry

logger = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 0.2
MAX_BATCH = 5000


class Daemon:
    """One driftd process: sources in, metrics out."""

    def __init__(
        self, config: Config, profiles: Mapping[str, Profile], sources: Sequence[Source], *,
        clock: Callable[[], float] = time.time, exit_when_drained: bool = False,
    ) -> None:
        self.config, self._clock = config, clock
        self._sources = list(sources)
        self._exit_when_drained = exit_when_drained
        self._stop = threading.Event()
        self.telemetry = Telemetry()
        self.board = ResultBoard()
        self.monitor = Monitor(config.models, profiles, self.telemetry)
        self.health = Health(["sources"])
        decoder = Decoder({m.name: m.columns for m in config.models},
                          strict_non_finite=[m.name for m in config.models
                                             if m.non_finite == "invalid"])
        self._pipeline = Pipeline(decoder, self.monitor, self.telemetry, RejectionLog(clock))
        references = {name: {"reference": p.version, "rows": str(p.rows)}
                      for name, p in profiles.items()}
        build = {"version": __version__, "python": platform.python_version()}
        registry = build_registry(DriftdCollector(self.board, self.telemetry,
                                                  references=references, build=build))
        self.http = HttpServer(config.http.host, config.http.port,
                               metrics=functools.partial(render, registry), health=self.health)
        self._scheduler = Scheduler()

    def request_stop(self, reason: str) -> None:
        """Ask the run loop to finish; safe from a signal handler."""
        if not self._stop.is_set():
            logger.info("stop requested (%s)", reason)
            self._stop.set()

    def run(self) -> int:
        self._startup()
        try:
            self._main_loop()
        finally:
            self._shutdown()
        return 0

    def evaluate(self) -> None:
        self.board.publish(self.monitor.evaluate(self._clock()))

    def _startup(self) -> None:
        self.http.start()
        logger.info("serving /metrics, /healthz and /readyz on %s", self.http.url)
        self._scheduler.every("evaluate", self.config.evaluation.interval_seconds, self.evaluate)
        self._scheduler.start()
        self.health.set("sources", True)

    def _main_loop(self) -> None:
        active = list(self._sources)
        while not self._stop.is_set():
            if not active:
                if self._exit_when_drained:
                    break
                self._stop.wait(POLL_TIMEOUT_SECONDS)
                continue
            for source in list(active):
                raw = source.poll(MAX_BATCH, POLL_TIMEOUT_SECONDS / len(active))
                if raw is None:
                    logger.info("source %s is exhausted", source.name)
                    active.remove(source)
                    self.evaluate()
                    continue
                self._pipeline.ingest(raw, self._clock())

    def _shutdown(self) -> None:
        logger.info("shutdown: final evaluation")
        self.evaluate()
        logger.info("shutdown: stopping the scheduler")
        self._scheduler.shutdown(wait=True)
        logger.info("shutdown: closing %d source(s)", len(self._sources))
        for source in self._sources:
            source.close()
        logger.info("shutdown: stopping the HTTP server")
        self.http.stop()
        logger.info("shutdown complete")
