"""Kafka connection settings: secrets from files and environment, never shown."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftd.config import ConfigError, KafkaSourceConfig, mask_secrets, parse_config
from driftd.sources.kafka import client_options


def config(tmp_path: Path, **security: Any) -> dict[str, Any]:
    profile = tmp_path / "p.json"
    return {
        "models": [{"name": "m", "reference": str(profile),
                    "columns": [{"name": "x", "kind": "numeric"}],
                    "windows": [{"name": "w", "type": "count", "size": 10, "step": 10}]}],
        "sources": [{"type": "kafka", "bootstrap_servers": "k1:9093,k2:9093",
                     "topics": [{"name": "preds"}], "security": security}],
    }


def test_sasl_ssl_settings_reach_the_client_with_the_password_from_a_file(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    parsed = parse_config(config(tmp_path, protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
                                 sasl_username="driftd", sasl_password_file=str(secret),
                                 ssl_cafile="/etc/ca.pem"), environ={})
    source = parsed.sources[0]
    assert isinstance(source, KafkaSourceConfig)
    options = client_options(source.bootstrap_servers, "driftd", source.security)
    assert options == {
        "bootstrap_servers": ["k1:9093", "k2:9093"], "client_id": "driftd",
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "driftd", "sasl_plain_password": "s3cret",
        "ssl_check_hostname": True, "ssl_cafile": "/etc/ca.pem",
    }


def test_environment_supplies_address_and_password_and_they_are_masked(tmp_path: Path) -> None:
    environ = {"DRIFTD_KAFKA_BOOTSTRAP_SERVERS": "10.0.0.1:9092",
               "DRIFTD_KAFKA_SASL_PASSWORD": "from-env"}
    parsed = parse_config(config(tmp_path, protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN",
                                 sasl_username="u"), environ=environ)
    source = parsed.sources[0]
    assert isinstance(source, KafkaSourceConfig)
    assert source.bootstrap_servers == "10.0.0.1:9092"
    assert source.security.password() == "from-env"
    shown = json.dumps(mask_secrets(parsed.model_dump(mode="json")))
    assert "from-env" not in shown and '"sasl_password": "***"' in shown


def test_incomplete_security_settings_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(config(tmp_path, protocol="SASL_SSL"), environ={})
    assert error.value.problems == [
        "sources.0.security: protocol SASL_* needs sasl_mechanism"]
