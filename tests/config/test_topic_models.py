"""``models`` on a Kafka topic: the models whose windows wait for its partitions."""

from __future__ import annotations

from typing import Any

import pytest

from driftd.config import ConfigError, parse_config


def raw(*topics: dict[str, Any]) -> dict[str, Any]:
    model = {"columns": [{"name": "x", "kind": "numeric"}],
             "windows": [{"name": "w", "type": "count", "size": 10, "step": 10}]}
    return {"models": [{"name": "fraud", "reference": "f.json", **model},
                       {"name": "churn", "reference": "c.json", **model}],
            "sources": [{"type": "kafka", "bootstrap_servers": "kafka:9092",
                         "topics": list(topics)}]}


def test_a_topic_may_name_the_models_it_carries() -> None:
    config = parse_config(raw({"name": "a", "models": ["fraud"]}, {"name": "b"}), environ={})
    assert [t.models for t in config.sources[0].topics] == [("fraud",), None]


@pytest.mark.parametrize(("models", "problems"), [
    (["fraud", "frud", "chrn"],
     ["sources.0.topics.1.models.1: 'frud' is not a configured model (models: fraud, churn)",
      "sources.0.topics.1.models.2: 'chrn' is not a configured model (models: fraud, churn)"]),
    ([], ["sources.0.topics.1.models: Tuple should have at least 1 item after validation, "
          "not 0"]),
])
def test_a_topic_naming_an_unknown_model_is_one_line_per_name_with_its_path(
    models: list[str], problems: list[str],
) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(raw({"name": "a"}, {"name": "b", "models": models}), environ={})
    assert error.value.problems == problems
