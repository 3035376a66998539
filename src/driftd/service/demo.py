"""The demo set-up: a config and a reference profile for the synthetic demo stream."""

from __future__ import annotations

from typing import Any

import numpy as np

from driftd.config import Config, DemoSourceConfig, ModelConfig, parse_config
from driftd.reference.build import build_profile
from driftd.reference.profile import Profile
from driftd.sources.demo import CATEGORICAL, NUMERIC, DemoGenerator

REFERENCE_ROWS = 20_000


def demo_config(
    *, address: str = "127.0.0.1:9108", drift_after_seconds: float = 120.0,
    events_per_second: float = 2000.0, seed: int = 0, environ: dict[str, str] | None = None,
) -> Config:
    """A one-model config whose windows fill within seconds at the demo's rate."""
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
                     "drift_after_seconds": drift_after_seconds, "seed": seed}],
        "http": {"address": address},
        "evaluation": {"interval_seconds": 5},
    }
    return parse_config(raw, source="<demo>", environ=environ)


def demo_profile(model: ModelConfig, source: DemoSourceConfig) -> Profile:
    """The reference profile: the demo's pre-drift distribution, seeded apart."""
    rows = DemoGenerator(seed=source.seed + 1_000_003).rows(REFERENCE_ROWS, drifted=False)
    numeric = dict(rows.numeric) | {"score": rows.score}
    return build_profile(model.name, model.columns, numeric, rows.categorical,
                         rows=REFERENCE_ROWS,
                         metadata={"source": "built-in demo", "seed": source.seed})
