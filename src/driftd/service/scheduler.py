"""Periodic jobs (evaluation, housekeeping) on a background thread.

This is the only module importing ``apscheduler``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC

from apscheduler.schedulers.background import BackgroundScheduler

logger = logging.getLogger(__name__)


class Scheduler:
    """Runs named jobs every N seconds; a failing run is logged and the job stays scheduled."""

    def __init__(self) -> None:
        # UTC avoids looking up the host's zone (absent in many containers); interval
        # triggers do not depend on it anyway.
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._lock = threading.Lock()
        self._names: set[str] = set()
        self._started = False
        self._stopped = False

    def every(self, name: str, interval_seconds: float, fn: Callable[[], object]) -> None:
        """Run ``fn`` every ``interval_seconds``, first one interval from now."""
        if not interval_seconds > 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds!r}")
        with self._lock:
            if name in self._names:
                raise ValueError(f"name must be unique, a job {name!r} is already scheduled")
            self._names.add(name)
        self._scheduler.add_job(
            _logged(name, fn),
            trigger="interval",
            seconds=interval_seconds,
            id=name,
            name=name,
            # A slow run is never overlapped by the next one, and runs missed while it
            # was busy collapse into one instead of bursting; none is dropped for being late.
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def start(self) -> None:
        """Start the background thread; jobs added later are scheduled too."""
        with self._lock:
            if self._started:
                raise RuntimeError("scheduler already started")
            self._started = True
        self._scheduler.start()
        logger.info("scheduler started with jobs: %s", ", ".join(sorted(self._names)))

    def shutdown(self, wait: bool = True) -> None:
        """Stop scheduling; with ``wait``, let running jobs finish first. Idempotent."""
        with self._lock:
            if not self._started or self._stopped:
                return
            self._stopped = True
        logger.info("scheduler stopping (wait=%s)", wait)
        self._scheduler.shutdown(wait=wait)
        logger.info("scheduler stopped")


def _logged(name: str, fn: Callable[[], object]) -> Callable[[], None]:
    """``fn`` with its exceptions logged under the job's name instead of raised."""

    def run() -> None:
        try:
            fn()
        except Exception:
            # One failed evaluation must not stop the next; the traceback goes to the log.
            logger.exception("scheduled job %s failed", name)

    return run
