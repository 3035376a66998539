"""Shared fixtures: a real Kafka broker (scripts/kafka_local.py), started only when asked for.

- ``kafka_bootstrap``: the session broker's address; ``$KAFKA_BOOTSTRAP_SERVERS`` if set
  (an existing cluster), else one local broker for the whole session.
- ``kafka_topic``: ``make_topic(partitions=3)`` creates a uniquely named topic there.
- ``kafka_broker_factory``: dedicated brokers a test may stop, start and kill (outages).
- ``kafka_sasl_ssl_broker``: one local broker for the session with a SASL_SSL listener
  (users ``SASL_USERS`` for SASL PLAIN and SCRAM-SHA-512, a certificate signed by a CA
  made at test time).
- ``schema_registry_url``: base URL of a Confluent-compatible schema registry
  (``$SCHEMA_REGISTRY_URL`` if set, else Apicurio from scripts/schema_registry.py).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

with warnings.catch_warnings():
    # kafka-python 3.0.12 loads its protocol schemas with importlib.resources.read_text,
    # deprecated on Python 3.11 and 3.12, while defining its classes: the warning comes
    # at import only, so import it once here, before filterwarnings=error can fail it.
    warnings.filterwarnings(
        "ignore", message=r".* is deprecated\. Use files\(\) instead", category=DeprecationWarning
    )
    from kafka import KafkaAdminClient

from kafka_clients import close_kafka_client  # noqa: E402


def _load_kafka_local() -> ModuleType:
    # scripts/ is not a package: load the file by path, once per session.
    path = REPO_ROOT / "scripts" / "kafka_local.py"
    spec = importlib.util.spec_from_file_location("kafka_local", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


kafka_local = _load_kafka_local()
KafkaBroker = kafka_local.KafkaBroker


def _load_schema_registry() -> ModuleType:
    # Loaded like kafka_local.py: by path, once per session.
    path = REPO_ROOT / "scripts" / "schema_registry.py"
    spec = importlib.util.spec_from_file_location("schema_registry_local", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


schema_registry_local = _load_schema_registry()


@pytest.fixture(scope="session")
def schema_registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Confluent-compatible schema registry (``.../apis/ccompat/v7``)
    shared by the whole session: tests register under subject names of their own."""
    existing = os.environ.get("SCHEMA_REGISTRY_URL")
    if existing:
        yield existing.rstrip("/")
        return
    schema_registry_local.fetch()
    registry = schema_registry_local.SchemaRegistry(tmp_path_factory.mktemp("schema-registry"))
    registry.start()
    try:
        yield registry.url
    finally:
        registry.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of a Kafka cluster shared by the whole session."""
    existing = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if existing:
        yield existing
        return
    kafka_local.fetch()
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka-session"))
    broker.start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


SASL_USERS = {"driftd": "driftd-secret"}


@pytest.fixture(scope="session")
def kafka_sasl_ssl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """A broker with PLAINTEXT (``bootstrap``, for setting up topics) and SASL_SSL
    (``sasl_ssl_bootstrap``, verified with ``ca_file``) listeners, started once."""
    kafka_local.fetch()
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka-sasl-ssl"), sasl_users=SASL_USERS)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def make_ca() -> Callable[..., Path]:
    """``make_ca(directory, name)``: a new self-signed CA; returns its PEM certificate."""
    make: Callable[..., Path] = kafka_local.make_ca
    return make


@pytest.fixture
def kafka_broker_factory(tmp_path: Path) -> Iterator[Callable[..., KafkaBroker]]:
    """``make_broker(start=True)``: a dedicated broker with its own data dir and ports.

    Always a local broker, even when ``$KAFKA_BOOTSTRAP_SERVERS`` is set; every one is
    stopped when the test ends.
    """
    brokers: list[KafkaBroker] = []

    def make_broker(start: bool = True) -> KafkaBroker:
        broker = KafkaBroker(tmp_path / f"kafka-{len(brokers)}")
        brokers.append(broker)
        if start:
            broker.start()
        return broker

    yield make_broker
    for broker in reversed(brokers):
        broker.stop()


@pytest.fixture
def kafka_topic(kafka_bootstrap: str) -> Iterator[Callable[..., str]]:
    """``make_topic(partitions=3, **configs)``: a new, uniquely named topic on the
    session cluster, with topic-level configs (``max_message_bytes="10000"`` sets
    ``max.message.bytes``).

    It returns once metadata shows a leader for every partition; the topics are deleted
    when the test ends.
    """
    created: list[str] = []

    def make_topic(partitions: int = 3, **configs: str) -> str:
        name = f"driftd-test-{uuid.uuid4().hex[:12]}"
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="driftd-tests")
        try:
            admin.create_topics({name: {"num_partitions": partitions, "configs": {
                key.replace("_", "."): value for key, value in configs.items()}}})
            created.append(name)
            admin.wait_for_topics([name], timeout_ms=20_000)
            (topic,) = admin.describe_topics([name])
        finally:
            close_kafka_client(admin)
        assert len(topic["partitions"]) == partitions, topic
        return name

    yield make_topic
    if created:
        admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="driftd-tests")
        try:
            admin.delete_topics(created)
        finally:
            close_kafka_client(admin)
