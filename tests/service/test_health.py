"""Health: liveness, and readiness as named conditions with reasons."""

from __future__ import annotations

import logging
import threading

import pytest

from driftd.service.health import Health


def test_no_conditions_means_ready_and_alive() -> None:
    health = Health()

    assert health.live()
    assert health.ready() == (True, [])


def test_declared_conditions_start_pending() -> None:
    """The daemon is not ready until every declared part has reported in."""
    health = Health(["references_loaded", "source_connected"])

    assert health.ready() == (
        False,
        ["references_loaded: not checked yet", "source_connected: not checked yet"],
    )
    assert health.live()


def test_conditions_flip_with_reasons() -> None:
    """Steps: references load; source fails; source recovers.

    Expected: failing reasons list only the failing conditions, in declaration order.
    """
    health = Health(["references_loaded", "source_connected"])

    health.set("references_loaded", True)
    health.set("source_connected", False, "broker kafka:9092 unreachable")
    assert health.ready() == (False, ["source_connected: broker kafka:9092 unreachable"])

    health.set("source_connected", True)
    assert health.ready() == (True, [])
    assert health.conditions() == {"references_loaded": None, "source_connected": None}


def test_undeclared_conditions_can_be_added() -> None:
    health = Health()

    health.set("draining", False)

    assert health.ready() == (False, ["draining: not ready"])


def test_invalid_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="name"):
        Health([""])
    with pytest.raises(ValueError, match="name"):
        Health().set(" padded ", True)


def test_only_transitions_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Re-asserting the same state on every tick does not flood the log."""
    health = Health(["source_connected"])

    with caplog.at_level(logging.INFO, logger="driftd.service.health"):
        for _ in range(3):
            health.set("source_connected", True)
        for _ in range(3):
            health.set("source_connected", False, "broker down")

    assert [r.getMessage() for r in caplog.records] == [
        "readiness: source_connected ok",
        "readiness: source_connected failing: broker down",
    ]


def test_concurrent_updates_and_reads() -> None:
    """Eight writers flip their own condition while readers read; the end state is exact."""
    names = [f"part_{i}" for i in range(8)]
    health = Health(names)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        for i in range(500):
            health.set(name, i % 2 == 1, f"{name} round {i}")

    def reader() -> None:
        try:
            for _ in range(500):
                ready, reasons = health.ready()
                assert ready == (not reasons)
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in names]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert not errors
    assert not any(thread.is_alive() for thread in threads)
    assert health.ready() == (True, [])
