"""A crash while a batch holding a poison message is in flight, against a real broker.

The daemons run in-process, built as ``driftd run`` builds them (``build_sources``,
``build_extras``), so the test can make the ingest of one batch raise. The fault is
injected by wrapping the ``ingest`` of the pipeline object the daemon holds (pytest's
``monkeypatch``): it puts half of the batch into the real windows and then raises, which
is the worst case for both failure modes at once (offsets past events never ingested
lose them; a checkpoint of the half-ingested state counts them twice). A constructor
parameter for a test-only fault would widen the daemon's API for no user.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import yaml

from driftd.commands.run import build_extras, build_sources
from driftd.preflight import load_checked
from driftd.service.checkpoint import CheckpointStore
from driftd.service.daemon import EXIT_CRASHED, Daemon
from driftd.sources.base import RawBatch
from driftd.telemetry import counted
from kafka_e2e.support import produce, workload, write_config

pytestmark = pytest.mark.kafka

POISON = b'{"model": "bench", "ts": '  # truncated: rejected as malformed_json
PHASE = 2000  # good events before the first checkpoint, and again after it
WINDOWS = [{"name": "all", "type": "count", "size": 2 * PHASE, "step": 2 * PHASE}]


def daemon_for(config_path: Path) -> Daemon:
    """A daemon composed exactly as ``driftd run --config`` composes it."""
    config, profiles = load_checked(config_path)
    return Daemon(config, profiles, build_sources(config),
                  exit_when_drained=True, extras=build_extras(config))


def saved(path: Path) -> tuple[float, dict[tuple[str, int], int]]:
    """When the last checkpoint at ``path`` was written, and its offsets."""
    store = CheckpointStore(path)
    try:
        checkpoint = store.load()
    finally:
        store.close()
    assert checkpoint is not None
    return checkpoint.created_at, dict(checkpoint.offsets)


def test_a_crash_with_a_poison_batch_in_flight_loses_and_double_counts_nothing(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """1. 2,000 good events on 3 partitions; daemon A reads them to the end and exits 0
          with its checkpoint.
       2. 2,000 more good events with one poison message among them; daemon B resumes
          from A's checkpoint and its ingest raises on the batch holding the poison,
          after half of that batch reached the windows.
       3. Daemon C resumes from the same checkpoint and reads to the end.

    Expected: B exits 1 and writes no checkpoint from the crash on (the last one does
    not pass the poison batch); C counts exactly the 2,000
    events after A's checkpoint (none lost, none twice), the one poison message as
    malformed_json, and its count window over all 4,000 events is published once.
    """
    topic = kafka_topic(partitions=3)
    events = [orjson.dumps(e) for e in workload.events(2 * PHASE, drift_after=10**9)]
    config_path = write_config(tmp_path, bootstrap=kafka_bootstrap, topic=topic,
                               group="crash", windows=WINDOWS, checkpoint=True)
    raw = yaml.safe_load(config_path.read_text())
    raw["checkpoint"]["interval_seconds"] = 3600  # only A's final checkpoint is written
    config_path.write_text(yaml.safe_dump(raw))

    produce(kafka_bootstrap, topic, events[:PHASE], partitions=3)
    first = daemon_for(config_path)
    assert first.run() == 0
    assert first.telemetry.snapshot().events == {("predictions", "bench"): PHASE}

    second_half = events[PHASE:]
    second_half.insert(random.Random(9).randrange(len(second_half)), POISON)
    produce(kafka_bootstrap, topic, second_half, partitions=3)
    crashing = daemon_for(config_path)
    real_ingest = crashing._pipeline.ingest
    in_flight: list[RawBatch] = []
    crashed_at: list[float] = []

    def ingest_half_then_crash(batch: RawBatch, now: float) -> int:
        if POISON not in batch.messages or in_flight:
            return real_ingest(batch, now)
        in_flight.append(batch)
        crashed_at.append(time.time())
        half = len(batch.messages) // 2
        real_ingest(RawBatch(batch.stream, batch.messages[:half], batch.origins[:half],
                             key=batch.key, partition=batch.partition), now)
        raise RuntimeError("injected crash while the poison batch is in flight")

    monkeypatch.setattr(crashing._pipeline, "ingest", ingest_half_then_crash)
    assert crashing.run() == EXIT_CRASHED
    (batch,) = in_flight
    assert len(batch.messages) > 100  # the poison came with many good events
    assert crashing.telemetry.snapshot().events[("predictions", "bench")] > 0
    written, offsets = saved(tmp_path / "state.sqlite")
    assert written < crashed_at[0]  # nothing checkpointed from the crash on
    assert sum(offsets.values()) <= PHASE + len(second_half) - len(batch.messages)

    resumed = daemon_for(config_path)
    assert resumed.run() == 0
    snapshot = resumed.telemetry.snapshot()
    assert snapshot.events == {("predictions", "bench"): PHASE}
    assert counted(snapshot.invalid) == {"malformed_json": 1}
    published = resumed.board.latest()
    assert published is not None
    (window,) = [w for w in published.windows if w.window == "all"]
    assert window.events == 2 * PHASE
