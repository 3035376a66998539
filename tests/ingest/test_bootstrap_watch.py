"""The bootstrap watch reads kafka-python's log records and names the cause at once.

The real-broker scenarios are in tests/kafka_e2e/test_security.py; this one pins the
case a loaded broker produces only sometimes: the connection dropped in answer to the
SASL credentials, with no error response.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from kafka.errors import KafkaConnectionError

from driftd.config import KafkaSecurityConfig
from driftd.sources.kafka.bootstrap import _BootstrapWatch

SECURITY = KafkaSecurityConfig(protocol="SASL_SSL", sasl_mechanism="PLAIN",
                               sasl_username="driftd", sasl_password="x")


@dataclass
class Connection:
    node_id: str


class SaslAuthenticateRequest:  # named like kafka-python's request class
    pass


class MetadataRequest:
    pass


def record(level: int, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("kafka.net", level, __file__, 1, msg, args, None)


def failed(node: str) -> logging.LogRecord:
    return record(logging.WARNING, "Bootstrap connection to %s failed: %s (backoff %.2f secs)",
                  node, KafkaConnectionError("socket disconnected"), 1.0)


def test_a_connection_dropped_in_answer_to_the_credentials_is_about_the_credentials() -> None:
    done = threading.Event()
    watch = _BootstrapWatch("127.0.0.1:9093", SECURITY, done)
    watch.emit(record(logging.DEBUG, "%s Request %d: %s", Connection("bootstrap-0"), 3,
                      SaslAuthenticateRequest()))
    watch.emit(failed("bootstrap-0"))
    assert done.is_set() and watch.fatal is not None
    assert watch.fatal.startswith("Kafka at 127.0.0.1:9093 closed the connection in answer to "
                                  "the credentials instead of accepting them (SASL user "
                                  "'driftd', mechanism PLAIN)")


def test_a_connection_dropped_after_authenticating_is_not_blamed_on_the_credentials() -> None:
    done = threading.Event()
    watch = _BootstrapWatch("127.0.0.1:9093", SECURITY, done)
    for request in (SaslAuthenticateRequest(), MetadataRequest()):
        watch.emit(record(logging.DEBUG, "%s Request %d: %s", Connection("bootstrap-0"), 3,
                          request))
    watch.emit(failed("bootstrap-0"))
    assert not done.is_set() and watch.fatal is None
    assert watch.last == "KafkaConnectionError: socket disconnected"
