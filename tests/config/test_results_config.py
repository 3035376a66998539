"""The ``results`` section: off by default, paths next to the config file, Kafka checks.

Broken ``results`` sections (one line each, with the field path) are cases of
test_broken_configs.py; this file checks what valid ones mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from driftd import config as cfg

Raw = dict[str, Any]


def raw_config(**sections: Any) -> Raw:
    """A valid document (no file is read: parse_config only validates)."""
    raw: Raw = {
        "models": [{"name": "fraud", "reference": "profiles/fraud.json",
                    "columns": [{"name": "amount", "kind": "numeric"}],
                    "windows": [{"name": "c", "type": "count", "size": 100, "step": 10}]}],
        "sources": [{"type": "jsonl", "path": "events.jsonl"}],
    }
    return raw | sections


KAFKA = {"type": "kafka", "bootstrap_servers": "kafka-1:9092", "topics": [{"name": "p"}]}


def test_the_results_history_is_off_unless_configured() -> None:
    """No results section: no file, no topic; rotation bounds 100 MiB and 5 backups."""
    results = cfg.parse_config(raw_config(), environ={}).results

    assert results == cfg.ResultsConfig()
    assert (results.path, results.kafka_topic) == (None, None)
    assert (results.max_bytes, results.backups) == (100 * 1024 * 1024, 5)


def test_a_relative_results_path_is_next_to_the_config_file(tmp_path: Path) -> None:
    """Steps: a config in etc/ with results.path var/results.jsonl, loaded from another
    working directory. Expected: the path is etc/var/results.jsonl; an absolute path is
    kept as it is."""
    etc = tmp_path / "etc"

    relative = cfg.parse_config(raw_config(results={"path": "var/results.jsonl"}),
                                base=etc, environ={})
    absolute = cfg.parse_config(raw_config(results={"path": "/srv/results.jsonl"}),
                                base=etc, environ={})

    assert relative.results.path == etc / "var" / "results.jsonl"
    assert absolute.results.path == Path("/srv/results.jsonl")


def test_a_results_topic_with_a_kafka_source_is_valid() -> None:
    """results.kafka_topic, backups 0 (only the current file) and a 1-byte bound are
    all accepted alongside a Kafka source."""
    config = cfg.parse_config(raw_config(
        sources=[KAFKA], results={"path": "/srv/r.jsonl", "max_bytes": 1, "backups": 0,
                                  "kafka_topic": "driftd.results"}), environ={})

    assert config.results.kafka_topic == "driftd.results"
    assert (config.results.max_bytes, config.results.backups) == (1, 0)


@pytest.mark.parametrize("topic", ["", "x" * 250])
def test_a_results_topic_name_must_be_a_kafka_topic_name_length(topic: str) -> None:
    with pytest.raises(cfg.ConfigError) as raised:
        cfg.parse_config(raw_config(sources=[KAFKA], results={"kafka_topic": topic}),
                         environ={})

    (problem,) = raised.value.problems
    assert problem.startswith("results.kafka_topic: String should have")
