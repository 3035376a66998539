"""A hostile producer against a running driftd on a real broker.

Every kind of poison message in tests/poison.py, interleaved with good events over three
partitions of a real topic, read by `driftd run` with a dead-letter topic whose records
are limited to the broker's default size (1 MB).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from kafka import KafkaAdminClient, KafkaProducer

from driftd.config import ColumnConfig
from driftd.reference.build import build_profile
from kafka_clients import close_kafka_client
from kafka_e2e.support import Driftd, consume_all, free_port, load_results
from poison import MODEL, Poison, corpus, expected_invalid, good

pytestmark = pytest.mark.kafka

GOOD = 8_000
# Peak resident memory of the daemon while it reads the corpus (290 MiB measured): the
# 10 MB and 35 MB messages pass through the consumer's fetch and are never parsed.
MEMORY_BOUND_BYTES = 512 * 1024 * 1024
COLUMNS = (ColumnConfig(name="amount", kind="numeric"),
           ColumnConfig(name="country", kind="categorical"),
           ColumnConfig(name="score", kind="numeric", role="prediction", path="prediction"))


def _topic(bootstrap: str, partitions: int, configs: dict[str, str]) -> str:
    name = f"driftd-poison-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="driftd-tests")
    try:
        admin.create_topics({name: {"num_partitions": partitions, "configs": configs}},
                            wait_for_metadata=True)
    finally:
        close_kafka_client(admin)
    return name


def _produce(bootstrap: str, topic: str, messages: list[bytes], partitions: int = 3) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20,
                             max_request_size=64 * 1024 * 1024, batch_size=1024 * 1024)
    try:
        for index, message in enumerate(messages):
            producer.send(topic, value=message, partition=index % partitions)
        producer.flush(timeout=120)
    finally:
        close_kafka_client(producer, timeout=10)


def _config(tmp_path: Path, bootstrap: str, topic: str, dead: str, valid: int) -> Path:
    rng = np.random.default_rng(3)
    profile = build_profile(
        MODEL, COLUMNS, {"amount": rng.uniform(0, 97, 5000), "score": rng.uniform(0, 1, 5000)},
        {"country": ["DE"] * 4000 + ["FR"] * 1000}, rows=5000, metadata={})
    profile.save(tmp_path / "fraud.json")
    raw: dict[str, Any] = {
        "models": [{"name": MODEL, "reference": str(tmp_path / "fraud.json"),
                    "columns": [c.model_dump(exclude_defaults=True) | {"kind": c.kind}
                                for c in COLUMNS],
                    # One tumbling window of exactly the valid events: it completes only
                    # if not one of them is lost.
                    "windows": [{"name": "all", "type": "count", "size": valid,
                                 "step": valid}]}],
        "sources": [{"type": "kafka", "bootstrap_servers": bootstrap, "group_id": "poison",
                     "topics": [{"name": topic}], "dead_letter_topic": dead,
                     "poll_timeout_ms": 100, "session_timeout_ms": 6000}],
        "http": {"address": f"127.0.0.1:{free_port()}"},
        "evaluation": {"interval_seconds": 0.5},
        "logging": {"level": "INFO"},
    }
    path = tmp_path / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


class PeakMemory:
    """Polls a process's high-water resident set size (VmHWM) until it ends."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._pid = pid
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                status = Path(f"/proc/{self._pid}/status").read_text()
            except OSError:
                return
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)
            time.sleep(0.1)

    def join(self) -> int:
        self._thread.join(timeout=5)
        return self.peak


@pytest.fixture
def poisons() -> Iterator[list[Poison]]:
    yield corpus(time.time() - 60)


def test_a_hostile_producer_never_stops_driftd_nor_costs_a_good_event(
    kafka_bootstrap: str, tmp_path: Path, poisons: list[Poison],
) -> None:
    """8,000 good events with every poison of the corpus placed among them at random.

    Expected: driftd reads to the end and exits 0; every good event (and every valid
    event a poison still carries) is counted and fills the one window; each rejection
    is counted under its reason and is in the dead-letter topic with that reason, the
    oversized ones cut to the topic's limit with their origin; peak memory stays under
    the bound.
    """
    topic = _topic(kafka_bootstrap, 3, {"max.message.bytes": str(64 * 1024 * 1024)})
    dead = _topic(kafka_bootstrap, 1, {})  # the broker's default 1 MB record limit
    now = time.time() - 30
    messages = [good(now, i) for i in range(GOOD)]
    rng = random.Random(9)
    for poison in poisons:
        messages.insert(rng.randrange(len(messages) + 1), poison.message)
    _produce(kafka_bootstrap, topic, messages)
    valid = GOOD + sum(p.valid for p in poisons)
    dump = tmp_path / "results.json"
    driftd = Driftd(_config(tmp_path, kafka_bootstrap, topic, dead, valid), drain=True,
                    dump=dump, log=tmp_path / "driftd.log")
    memory = PeakMemory(driftd.process.pid)
    code = driftd.wait(timeout=300)
    log = (tmp_path / "driftd.log").read_text()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log
    results = load_results(dump)
    assert results["events"] == {f"predictions/{MODEL}": valid}
    invalid = expected_invalid(poisons)
    assert results["invalid"] == dict(invalid)
    (window,) = results["windows"]
    assert (window["window"], window["events"]) == ("all", valid)

    letters = consume_all(kafka_bootstrap, dead, expected=sum(invalid.values()), timeout=60)
    headers = [dict(r.headers) for r in letters]
    assert Counter(h["driftd-reason"].decode() for h in headers) == invalid
    assert all(len(r.value or b"") <= 1_000_000 for r in letters)
    assert {h["driftd-origin"].decode().split("[")[0] for h in headers} == {topic}
    oversized = [h for h in headers if h["driftd-reason"] == b"oversized"]
    assert len(oversized) == 2 and all(h["driftd-truncated"] == b"true" for h in oversized)
    peak = memory.join()
    assert 0 < peak < MEMORY_BOUND_BYTES, f"peak RSS {peak / 2**20:.0f} MiB"


def test_an_event_from_the_far_future_does_not_make_the_good_ones_late(
    kafka_bootstrap: str, tmp_path: Path,
) -> None:
    """100 good events, one stamped ten years ahead, 200 more good ones; then a restart
    from the checkpoint and 100 more.

    Expected: the far-future event is counted as timestamp_in_future and never moves the
    watermark: not one good event is late, before or after the restart.
    """
    topic = _topic(kafka_bootstrap, 1, {})
    dead = _topic(kafka_bootstrap, 1, {})
    base = time.time() - 3600
    first = [good(base + i, i) for i in range(100)]
    first.append(good(time.time() + 10 * 365 * 86_400, 100))
    first += [good(base + i, i) for i in range(100, 300)]
    _produce(kafka_bootstrap, topic, first, partitions=1)
    config = _config(tmp_path, kafka_bootstrap, topic, dead, valid=100)
    raw = yaml.safe_load(config.read_text())
    raw["models"][0]["windows"] = [{"name": "1m", "type": "time", "duration_seconds": 60,
                                    "slide_seconds": 10, "idle_timeout_seconds": 30}]
    raw["checkpoint"] = {"path": str(tmp_path / "state.sqlite"), "interval_seconds": 0.3}
    config.write_text(yaml.safe_dump(raw))

    for run, expected in (("first", 300), ("restarted", 400)):
        if run == "restarted":
            _produce(kafka_bootstrap, topic, [good(base + i, i) for i in range(300, 400)],
                     partitions=1)
        dump = tmp_path / f"{run}.json"
        driftd = Driftd(config, drain=True, dump=dump, log=tmp_path / f"{run}.log")
        assert driftd.wait(timeout=120) == 0, (tmp_path / f"{run}.log").read_text()[-3000:]
        results = load_results(dump)
        assert results["late"] == {}, run
        assert results["invalid"] == ({"timestamp_in_future": 1} if run == "first" else {})
        # Closed by the good events alone: the last window holds the last good event.
        assert max(w["end"] for w in results["history"]) <= base + expected + 60, run
        assert min(w["start"] for w in results["history"]) >= base - 60, run
