"""The demo stream through real Kafka: `driftd demo --produce-to` and `--consume-from`.

Both sides run as real processes (`python -m driftd demo ...`) against a real broker;
each scenario publishes to its own topics, since the session broker is shared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient

from driftd.service.demo import DemoTopics
from kafka_clients import close_kafka_client
from kafka_e2e.support import (
    REPO,
    Driftd,
    consume_all,
    free_port,
    metric_value,
    wait_for,
)

RATE, DURATION, DRIFT_AFTER, LABEL_DELAY = 500, 12, 5, 2
PUBLISHED = re.compile(r"published (\d+) predictions and (\d+) outcomes \((.+)\)")


class Demo(Driftd):
    """``python -m driftd demo ARGS`` as a real process (``Driftd`` runs ``driftd run``)."""

    def __init__(self, *args: str, log: Path, address: str = "") -> None:
        self.url = f"http://{address}"
        self.log_path = log
        self._log = log.open("ab")
        env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
        self.process = subprocess.Popen([sys.executable, "-m", "driftd", "demo", *args],
                                        stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        cwd=REPO)

    def output(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        """Kill it if it still runs, and close its log: the ``finally`` of a scenario."""
        if self.process.poll() is None:
            self.kill()
        self._log.close()

    def published(self) -> tuple[int, int, str]:
        """(predictions, outcomes, why it stopped) from the producer's last log line."""
        found = PUBLISHED.search(self.output())
        assert found is not None, self.output()[-3000:]
        return int(found[1]), int(found[2]), found[3]


@pytest.fixture
def demo_topics(kafka_bootstrap: str) -> Iterator[DemoTopics]:
    """Unique topic names for the demo's two streams, deleted afterwards if created."""
    suffix = uuid.uuid4().hex[:12]
    topics = DemoTopics(f"demo-{suffix}.predictions", f"demo-{suffix}.outcomes")
    yield topics
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="driftd-tests")
    try:
        created = set(admin.list_topics()) & {topics.predictions, topics.outcomes}
        if created:
            admin.delete_topics(sorted(created))
    finally:
        close_kafka_client(admin)


def topic_flags(topics: DemoTopics) -> list[str]:
    return ["--predictions-topic", topics.predictions, "--outcomes-topic", topics.outcomes]


@pytest.mark.kafka
def test_the_demo_stream_goes_through_kafka_into_the_daemon(
    kafka_bootstrap: str, demo_topics: DemoTopics, tmp_path: Path,
) -> None:
    """Start `demo --consume-from` and `demo --produce-to` (500 events/s for 12 s,
    drift after 5 s, labels 2 s later) at the same time, the topics not existing yet.

    Expected: the producer creates the topics, logs the drift start and exits 0; the
    topics hold about 500 x 12 predictions and 500 x 10 outcomes, exactly as many as it
    logged, the outcomes being the labels of the first predictions in order; the daemon
    counts every one of them in driftd_events_total and fills the model's windows.
    """
    address = f"127.0.0.1:{free_port()}"
    consumer = Demo("--consume-from", kafka_bootstrap, *topic_flags(demo_topics),
                    "--address", address, "--group-id", f"driftd-demo-{uuid.uuid4().hex[:8]}",
                    "--checkpoint", str(tmp_path / "demo.sqlite"),
                    log=tmp_path / "consumer.log", address=address)
    producer = Demo("--produce-to", kafka_bootstrap, *topic_flags(demo_topics),
                    "--rate", str(RATE), "--drift-after", str(DRIFT_AFTER),
                    "--duration", str(DURATION), "--label-delay", str(LABEL_DELAY),
                    log=tmp_path / "producer.log")
    try:
        consumer.wait_ready(timeout=30)
        assert producer.wait(timeout=45) == 0, producer.output()[-3000:]
        predictions, outcomes, reason = producer.published()
        assert reason == "duration reached"
        assert "drift starts at " in producer.output()
        assert abs(predictions - RATE * DURATION) <= 0.05 * RATE * DURATION
        assert abs(outcomes - RATE * (DURATION - LABEL_DELAY)) <= 0.05 * RATE * DURATION

        sent = [orjson.loads(r.value) for r in
                consume_all(kafka_bootstrap, demo_topics.predictions, predictions, timeout=20)]
        labels = [orjson.loads(r.value) for r in
                  consume_all(kafka_bootstrap, demo_topics.outcomes, outcomes, timeout=20)]
        assert len(sent) == predictions and len(labels) == outcomes
        assert {e["model"] for e in sent + labels} == {"demo"}
        assert [e["id"] for e in labels] == [e["id"] for e in sent[:outcomes]]

        def counted(stream: str) -> float | None:
            return metric_value(consumer.metrics(), "driftd_events_total", stream=stream,
                                model="demo")

        wait_for(lambda: counted("predictions") == predictions
                 and counted("outcomes") == outcomes, "the daemon to count every event",
                 timeout=30)
        def window_events(window: str) -> float:
            return metric_value(consumer.metrics(), "driftd_window_events", model="demo",
                                window=window) or 0.0

        wait_for(lambda: window_events("last-5k") == 5000, "the last-5k window", timeout=20)
        wait_for(lambda: window_events("1m") > 0, "the first 1m window", timeout=20)
        assert consumer.terminate(timeout=30) == 0, consumer.output()[-3000:]
    finally:
        producer.stop()
        consumer.stop()


@pytest.mark.kafka
def test_sigterm_stops_the_producer_after_flushing(
    kafka_bootstrap: str, demo_topics: DemoTopics, tmp_path: Path,
) -> None:
    """`demo --produce-to` without a duration, sent SIGTERM once it has published.

    Expected: exit code 0, and the topic holds exactly the predictions it logged.
    """
    producer = Demo("--produce-to", kafka_bootstrap, *topic_flags(demo_topics),
                    "--rate", "1000", log=tmp_path / "producer.log")
    try:
        assert consume_all(kafka_bootstrap, demo_topics.predictions, 1, timeout=30)
        assert producer.terminate(timeout=30) == 0, producer.output()[-3000:]
    finally:
        producer.stop()
    predictions, _, reason = producer.published()
    assert reason == "stop requested" and predictions > 0
    records = consume_all(kafka_bootstrap, demo_topics.predictions, predictions, timeout=20)
    assert len(records) == predictions


@pytest.mark.kafka
def test_a_broker_outage_ends_the_producer_with_a_clear_message(
    kafka_broker_factory: Callable[..., Any], tmp_path: Path,
) -> None:
    """A dedicated broker is stopped while `demo --produce-to --broker-timeout 3` runs.

    Expected: within a bounded time the producer exits 3, saying the records were not
    taken within 3 s and what to check.
    """
    broker = kafka_broker_factory()
    producer = Demo("--produce-to", broker.bootstrap, "--rate", "200", "--broker-timeout", "3",
                    log=tmp_path / "producer.log")
    try:
        wait_for(lambda: "publishing the demo stream" in producer.output(),
                 "the producer to start publishing", timeout=30)
        broker.stop()
        assert producer.wait(timeout=30) == 3, producer.output()[-3000:]
    finally:
        producer.stop()
    assert "did not take the records within 3 s" in producer.output()
    assert "Check that the broker is up" in producer.output()


def test_an_unreachable_broker_ends_the_producer_with_a_clear_message(tmp_path: Path) -> None:
    """`demo --produce-to` a port where no broker listens, with --broker-timeout 2.

    Expected: exit code 3 within a bounded time, naming the address and what to check.
    """
    bootstrap = f"127.0.0.1:{free_port()}"
    producer = Demo("--produce-to", bootstrap, "--broker-timeout", "2",
                    log=tmp_path / "producer.log")
    try:
        assert producer.wait(timeout=30) == 3, producer.output()[-3000:]
    finally:
        producer.stop()
    assert f"Kafka at {bootstrap} did not answer within 2 s" in producer.output()
    assert "Check that the broker is up" in producer.output()
