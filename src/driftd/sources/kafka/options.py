"""What every driftd Kafka client shares: connection and security options, error texts."""

from __future__ import annotations

from typing import Any

from driftd.config import KafkaSecurityConfig
from driftd.sources.base import SourceSetupError, SourceUnavailable


class KafkaSetupError(SourceSetupError):
    """A Kafka client that could not be created (bad settings, no broker at start-up)."""


class KafkaUnreachable(KafkaSetupError, SourceUnavailable):
    """No bootstrap server answered in time: retried until broker_timeout_seconds."""


def client_options(bootstrap: str, client_id: str, security: KafkaSecurityConfig) -> dict[str, Any]:
    """kafka-python keyword arguments for the connection and security settings."""
    options: dict[str, Any] = {"bootstrap_servers": bootstrap.split(","), "client_id": client_id,
                               "security_protocol": security.protocol}
    if security.sasl_mechanism is not None:
        options |= {"sasl_mechanism": security.sasl_mechanism,
                    "sasl_plain_username": security.sasl_username,
                    "sasl_plain_password": security.password()}
    if security.protocol.endswith("SSL"):
        options |= {"ssl_check_hostname": security.ssl_check_hostname}
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(security, name)
            if value is not None:
                options[name] = str(value)
    return options


def describe_error(error: object) -> str:
    """``Type: message`` for an exception (kafka-python's messages often start with it)."""
    text = str(error)
    if not isinstance(error, Exception) or text.startswith(type(error).__name__):
        return text
    return f"{type(error).__name__}: {text}"
