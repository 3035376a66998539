"""Helpers of the Kafka end-to-end scenarios: producing, running driftd, reading results."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
import yaml
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from driftd.config import ColumnConfig
from driftd.reference.build import build_profile
from kafka_clients import close_kafka_client

REPO = Path(__file__).resolve().parents[2]


def _load_workload() -> ModuleType:
    spec = importlib.util.spec_from_file_location("workload", REPO / "benchmarks" / "workload.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("workload", module)
    spec.loader.exec_module(module)
    return module


workload = _load_workload()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    """Create ``name`` on a dedicated broker and wait until it is served."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics({name: {"num_partitions": partitions}})
        admin.wait_for_topics([name], timeout_ms=20_000)
    finally:
        close_kafka_client(admin)


def produce(bootstrap: str, topic: str, messages: Iterable[bytes], *,
            partitions: int | None = None) -> int:
    """Send messages (round-robin over ``partitions`` when given); returns the count."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, acks="all",
                             batch_size=512 * 1024, max_request_size=8 * 1024 * 1024)
    count = 0
    try:
        for count, message in enumerate(messages, start=1):
            partition = (count - 1) % partitions if partitions else None
            producer.send(topic, value=message, partition=partition)
        producer.flush(timeout=60)
    finally:
        close_kafka_client(producer, timeout=10)
    return count


def consume_all(bootstrap: str, topic: str, expected: int,
                timeout: float = 30.0) -> list[Any]:
    """Every record of ``topic`` (bounded in time), for checking dead letters."""
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             group_id=f"check-{time.monotonic_ns()}", enable_auto_commit=False)
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
    finally:
        close_kafka_client(consumer)
    return records


def write_profile(path: Path, columns: Sequence[ColumnConfig], rows: int = 50_000) -> None:
    data = workload.reference(rows)
    numeric = {c.name: data[c.name] for c in columns if c.kind == "numeric"}
    categorical = {c.name: data[c.name].tolist() for c in columns if c.kind == "categorical"}
    build_profile("bench", columns, numeric, categorical, rows=rows, metadata={}).save(path)


def write_config(directory: Path, *, bootstrap: str, topic: str, group: str,
                 windows: list[dict[str, Any]], checkpoint: bool = False,
                 extra_source: dict[str, Any] | None = None,
                 http_port: int | None = None, results: bool = False) -> Path:
    """A config for model "bench" on the standard workload's columns, reading ``topic``;
    with ``results``, the results history goes to ``results.jsonl`` in ``directory``."""
    profile = directory / "bench.json"
    if not profile.exists():
        write_profile(profile, workload.columns())
    source = {"type": "kafka", "bootstrap_servers": bootstrap, "group_id": group,
              "topics": [{"name": topic}], "poll_timeout_ms": 100,
              "session_timeout_ms": 6000,
              **(extra_source or {})}
    raw: dict[str, Any] = {
        "models": [{"name": "bench", "reference": str(profile),
                    "columns": [c.model_dump(exclude_defaults=True)
                                | {"kind": c.kind} for c in workload.columns()],
                    "windows": windows}],
        "sources": [source],
        "http": {"address": f"127.0.0.1:{http_port or free_port()}"},
        "evaluation": {"interval_seconds": 0.5},
        "checkpoint": {"path": str(directory / "state.sqlite"), "interval_seconds": 0.3}
        if checkpoint else {},
        "logging": {"level": "INFO"},
        "shutdown_grace_seconds": 30,
    }
    if results:
        raw["results"] = {"path": str(directory / "results.jsonl")}
    path = directory / f"driftd-{group}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


class Driftd:
    """``python -m driftd run`` as a real process."""

    def __init__(self, config: Path, *, drain: bool = False, dump: Path | None = None,
                 log: Path) -> None:
        args = [sys.executable, "-m", "driftd", "run", "--config", str(config)]
        if drain:
            args.append("--exit-when-drained")
        if dump is not None:
            args += ["--dump-results", str(dump)]
        self.config = yaml.safe_load(config.read_text())
        self.url = f"http://{self.config['http']['address']}"
        self._log = log.open("ab")
        env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
        self.process = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                        env=env, cwd=REPO)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "driftd exited during start-up"
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        raise AssertionError("driftd did not start serving in time")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            return response.read().decode()

    def ready(self) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def wait(self, timeout: float = 120.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def terminate(self, timeout: float = 60.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)
        self._log.close()


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the one sample of ``name`` with ``labels`` in an exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v
                                           for k, v in labels.items()):
                return float(sample.value)
    return None


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` every 0.2 s until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def load_results(path: Path) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(path.read_text())
    return results


def results_history(path: Path) -> list[dict[str, Any]]:
    """The records of a results file, without when each was evaluated (processing time)."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record.pop("evaluated_at")
    return records


def assert_same_history(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    """The same windows in the same order, with the same counts and decisions, and
    statistics equal to 1e-9 relative."""
    assert [(r["model"], r["window"], r["start"], r["end"], r["revision"], r["events"])
            for r in got] == [(r["model"], r["window"], r["start"], r["end"], r["revision"],
                               r["events"]) for r in want]
    for a, b in zip(got, want, strict=True):
        for x, y in zip(a["columns"], b["columns"], strict=True):
            assert x["drift"] == y["drift"], (a["end"], x["column"])
            assert x["statistics"] == pytest.approx(y["statistics"], rel=1e-9, abs=1e-12)


def jsonl_bytes(events: Iterable[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(e) for e in events]
