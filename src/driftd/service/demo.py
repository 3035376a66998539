"""The demo set-up: a config and a reference profile for the synthetic demo stream.

The stream runs in-process, or goes through Kafka: ``driftd demo --produce-to`` publishes
it to one topic per stream (``DemoTopics``), ``driftd demo --consume-from`` monitors it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftd.config import Config, DemoSourceConfig, ModelConfig, parse_config
from driftd.reference.build import build_profile
from driftd.reference.profile import Profile
from driftd.sources.demo import CATEGORICAL, NUMERIC, DemoGenerator

REFERENCE_ROWS = 20_000


@dataclass(frozen=True, slots=True)
class DemoTopics:
    """The Kafka topic of each demo stream."""

    predictions: str = "demo.predictions"
    outcomes: str = "demo.outcomes"

    def for_stream(self, stream: str) -> str:
        if stream not in ("predictions", "outcomes"):
            raise ValueError(f"stream must be predictions or outcomes, not {stream!r}")
        topic: str = getattr(self, stream)
        return topic


def demo_config(
    *, address: str = "127.0.0.1:9108", drift_after_seconds: float = 120.0,
    events_per_second: float = 2000.0, seed: int = 0, label_delay_seconds: float = 30.0,
    kafka_bootstrap: str | None = None, topics: DemoTopics = DemoTopics(),
    group_id: str = "driftd-demo", broker_timeout_seconds: float | None = None,
    checkpoint_path: Path | None = None, environ: dict[str, str] | None = None,
) -> Config:
    """A one-model config whose windows fill within seconds at the demo's rate.

    With ``kafka_bootstrap`` the events come from ``topics`` on that cluster (as
    published by ``driftd demo --produce-to``) instead of an in-process generator.
    """
    columns: list[dict[str, Any]] = [{"name": n, "kind": "numeric"} for n in NUMERIC]
    columns += [{"name": n, "kind": "categorical"} for n in CATEGORICAL]
    columns += [{"name": "score", "kind": "numeric", "role": "prediction"},
                {"name": "label", "kind": "categorical", "role": "label"}]
    reference = DemoGenerator(seed=seed + 1_000_003).rows(REFERENCE_ROWS, drifted=False)
    baseline = float(np.mean((reference.score >= 0.5) == (reference.label == 1)))
    raw = {
        "models": [{
            "name": "demo", "version": "1", "reference": "<built-in demo reference>",
            "columns": columns,
            "windows": [{"name": "last-5k", "type": "count", "size": 5000, "step": 1000},
                        {"name": "1m", "type": "time", "duration_seconds": 60,
                         "slide_seconds": 10, "allowed_lateness_seconds": 2}],
            "performance": {"task": "binary", "prediction": "score", "label": "label",
                            "label_ttl_seconds": 600, "baseline": {"accuracy": baseline},
                            "tolerance": {"accuracy": 0.02}},
        }],
        "sources": [{"type": "demo", "model": "demo", "events_per_second": events_per_second,
                     "drift_after_seconds": drift_after_seconds, "seed": seed,
                     "label_delay_seconds": label_delay_seconds}],
        "http": {"address": address},
        "evaluation": {"interval_seconds": 5},
    }
    if kafka_bootstrap is not None:
        raw["sources"] = [_kafka_source(kafka_bootstrap, topics, group_id,
                                        broker_timeout_seconds)]
    if checkpoint_path is not None:
        raw["checkpoint"] = {"path": str(checkpoint_path)}
    return parse_config(raw, source="<demo>", environ=environ)


def _kafka_source(bootstrap: str, topics: DemoTopics, group_id: str,
                  broker_timeout_seconds: float | None) -> dict[str, Any]:
    source: dict[str, Any] = {
        "type": "kafka", "bootstrap_servers": bootstrap, "group_id": group_id,
        "client_id": "driftd-demo",
        "topics": [{"name": topics.predictions, "stream": "predictions"},
                   {"name": topics.outcomes, "stream": "outcomes"}]}
    if broker_timeout_seconds is not None:
        source["broker_timeout_seconds"] = broker_timeout_seconds
    return source


def demo_profile(model: ModelConfig, source: DemoSourceConfig) -> Profile:
    """The reference profile of an in-process demo source."""
    return demo_reference(model, seed=source.seed)


def demo_reference(model: ModelConfig, *, seed: int) -> Profile:
    """The reference profile: the demo's pre-drift distribution, seeded apart."""
    rows = DemoGenerator(seed=seed + 1_000_003).rows(REFERENCE_ROWS, drifted=False)
    numeric = dict(rows.numeric) | {"score": rows.score}
    return build_profile(model.name, model.columns, numeric, rows.categorical,
                         rows=REFERENCE_ROWS,
                         metadata={"source": "built-in demo", "seed": seed})
