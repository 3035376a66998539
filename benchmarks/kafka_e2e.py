"""End-to-end throughput from a real Kafka broker (issue 3), outside `make test`.

The standard workload's 1,000,000 events are produced to a 3-partition topic twice:
once as one event per message, once as JSON arrays of 100 events. For each topic, in
the same run:
  * bare: a kafka-python consumer that only reads the messages (the ceiling);
  * driftd: the real Kafka source, decoder, monitor and windows (a count window of
    10,000 / 1,000 and a 10-minute event-time window), with evaluation and
    checkpoints as in production, until every partition is drained.

Usage: python benchmarks/kafka_e2e.py [--rows 1000000] [--bootstrap HOST:PORT]
Without --bootstrap a local broker is started (scripts/kafka_local.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", category=DeprecationWarning)  # kafka-python on 3.11

import orjson  # noqa: E402
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer  # noqa: E402

import workload  # noqa: E402
from driftd.config import parse_config  # noqa: E402
from driftd.reference.build import build_profile  # noqa: E402
from driftd.service.checkpoint import CheckpointStore  # noqa: E402
from driftd.service.daemon import Daemon, Extras  # noqa: E402
from driftd.sources.kafka import KafkaSource  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def local_broker(directory: Path) -> Any:
    spec = importlib.util.spec_from_file_location("kafka_local",
                                                  REPO / "scripts" / "kafka_local.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.fetch()
    broker = module.KafkaBroker(directory)
    broker.start()
    return broker


def produce(bootstrap: str, topic: str, rows: int, per_message: int) -> int:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": 3}})
        admin.wait_for_topics([topic], timeout_ms=30_000)
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=50, batch_size=1 << 20,
                             max_request_size=8 << 20, acks=1)
    chunk: list[dict[str, Any]] = []
    messages = 0
    for event in workload.events(rows, drift_after=rows // 2):
        chunk.append(event)
        if len(chunk) == per_message:
            value = orjson.dumps(chunk[0] if per_message == 1 else chunk)
            producer.send(topic, value=value, partition=messages % 3)
            messages += 1
            chunk = []
    producer.flush(timeout=300)
    producer.close()
    return messages


def bare(bootstrap: str, topic: str, messages: int, *, parse: bool = False) -> float:
    """Seconds a plain consumer takes to read every message (values untouched, or only
    parsed with orjson: the least any JSON-consuming monitor has to do)."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap,
                             group_id=f"bare-{parse}-{topic}", auto_offset_reset="earliest",
                             enable_auto_commit=False, max_poll_records=5000)
    seen, started = 0, time.perf_counter()
    while seen < messages:
        for records in consumer.poll(timeout_ms=500).values():
            seen += len(records)
            if parse:
                for record in records:
                    orjson.loads(record.value)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed


def driftd(bootstrap: str, topic: str, directory: Path) -> tuple[float, int]:
    """Seconds driftd takes from start to drained, and the events it counted."""
    profile_path = directory / "bench.json"
    config = parse_config({
        "models": [{"name": "bench", "reference": str(profile_path),
                    "columns": [{"name": c.name, "kind": c.kind} for c in workload.columns()],
                    "windows": [{"name": "10k", "type": "count", "size": 10_000,
                                 "step": 1_000},
                                {"name": "10m", "type": "time", "duration_seconds": 600,
                                 "slide_seconds": 60, "allowed_lateness_seconds": 5}]}],
        "sources": [{"type": "kafka", "bootstrap_servers": bootstrap,
                     "group_id": f"driftd-{topic}", "topics": [{"name": topic}]}],
        "http": {"address": "127.0.0.1:0"},
        "evaluation": {"interval_seconds": 5},
        "checkpoint": {"path": str(directory / f"{topic}.sqlite"), "interval_seconds": 30},
    }, environ={})
    data = workload.reference()
    profile = build_profile(
        "bench", workload.columns(), {n: data[n] for n in workload.NUMERIC},
        {n: data[n].tolist() for n in workload.CATEGORICAL}, rows=len(data["x00"]),
        metadata={})
    source = config.sources[0]
    store = config.checkpoint.path
    assert store is not None
    daemon = Daemon(config, {"bench": profile}, [KafkaSource(source)],  # type: ignore[arg-type]
                    exit_when_drained=True, extras=Extras(store=CheckpointStore(store)))
    started = time.perf_counter()
    daemon.run()
    elapsed = time.perf_counter() - started
    return elapsed, daemon.telemetry.snapshot().events.get(("predictions", "bench"), 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bootstrap")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        broker = None if args.bootstrap else local_broker(directory / "kafka")
        bootstrap = args.bootstrap or broker.bootstrap
        try:
            for per_message in (1, 100):
                topic = f"bench-{per_message}-{int(time.time())}"
                messages = produce(bootstrap, topic, args.rows, per_message)
                bare_s = bare(bootstrap, topic, messages)
                parsed_s = bare(bootstrap, topic, messages, parse=True)
                driftd_s, events = driftd(bootstrap, topic, directory)
                assert events == args.rows, (events, args.rows)
                rate = args.rows / driftd_s
                print(f"{per_message:>3} event(s)/message: bare consumer "
                      f"{args.rows / bare_s:>9,.0f} events/s; bare + orjson.loads "
                      f"{args.rows / parsed_s:>9,.0f} events/s; driftd {rate:>9,.0f} events/s "
                      f"(start-up and group join included); driftd / bare = "
                      f"{bare_s / driftd_s:.2f}; driftd / (bare + parse) = "
                      f"{parsed_s / driftd_s:.2f}")
        finally:
            if broker is not None:
                broker.stop()


if __name__ == "__main__":
    main()
