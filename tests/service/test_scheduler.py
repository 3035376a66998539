"""The scheduler: periodic jobs on a background thread, failures logged, clean shutdown."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from driftd.service.scheduler import Scheduler

DEADLINE_SECONDS = 5.0


class Calls:
    """Counts a job's runs and the most runs in progress at once."""

    def __init__(self, action: Callable[[], None] = lambda: None) -> None:
        self._lock = threading.Lock()
        self._action = action
        self.count = 0
        self.running = 0
        self.max_running = 0

    def __call__(self) -> None:
        with self._lock:
            self.count += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            self._action()
        finally:
            with self._lock:
                self.running -= 1


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def scheduler() -> Iterator[Scheduler]:
    scheduler = Scheduler()
    yield scheduler
    scheduler.shutdown(wait=True)


def test_job_runs_repeatedly(scheduler: Scheduler) -> None:
    """A 0.05 s job runs at least three times well within the deadline."""
    calls = Calls()
    scheduler.every("evaluate", 0.05, calls)

    scheduler.start()

    assert wait_until(lambda: calls.count >= 3)


def test_a_raising_job_is_logged_and_stays_scheduled(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    """A job that always raises keeps running; each failure is logged with its name."""

    def fail() -> None:
        raise RuntimeError("evaluation blew up")

    calls = Calls(fail)
    scheduler.every("evaluate", 0.05, calls)

    with caplog.at_level(logging.ERROR, logger="driftd.service.scheduler"):
        scheduler.start()
        assert wait_until(lambda: calls.count >= 3)
        scheduler.shutdown(wait=True)

    failures = [r for r in caplog.records if r.name == "driftd.service.scheduler"]
    assert len(failures) >= 3
    assert failures[0].getMessage() == "scheduled job evaluate failed"
    assert failures[0].exc_info is not None
    assert str(failures[0].exc_info[1]) == "evaluation blew up"


def test_a_slow_job_never_overlaps_itself(scheduler: Scheduler) -> None:
    """A run lasting four intervals: runs are serialised (max_instances=1), not stacked."""
    calls = Calls(lambda: time.sleep(0.2))
    scheduler.every("checkpoint", 0.05, calls)

    scheduler.start()

    assert wait_until(lambda: calls.count >= 2)
    assert calls.max_running == 1


def test_shutdown_stops_jobs_and_threads(scheduler: Scheduler) -> None:
    """Steps: run a job; shutdown(wait=True); wait several intervals.

    Expected: no run after shutdown, the scheduler thread is gone, and a second shutdown
    is a no-op.
    """
    calls = Calls()
    scheduler.every("housekeeping", 0.05, calls)
    scheduler.start()
    assert wait_until(lambda: calls.count >= 1)

    scheduler.shutdown(wait=True)
    count = calls.count
    time.sleep(0.25)

    assert calls.count == count
    assert calls.running == 0
    assert not any(t.name == "APScheduler" for t in threading.enumerate())
    scheduler.shutdown(wait=True)


def test_shutdown_before_start_is_a_no_op() -> None:
    Scheduler().shutdown()


def test_jobs_can_be_added_after_start(scheduler: Scheduler) -> None:
    scheduler.start()
    calls = Calls()

    scheduler.every("late", 0.05, calls)

    assert wait_until(lambda: calls.count >= 1)


def test_invalid_arguments_are_rejected(scheduler: Scheduler) -> None:
    with pytest.raises(ValueError, match="interval_seconds"):
        scheduler.every("evaluate", 0, Calls())
    scheduler.every("evaluate", 1, Calls())
    with pytest.raises(ValueError, match="name"):
        scheduler.every("evaluate", 1, Calls())
    scheduler.start()
    with pytest.raises(RuntimeError):
        scheduler.start()
