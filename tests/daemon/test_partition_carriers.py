"""Which partitions each model's time windows wait for, from the config's topics."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from driftd.config import parse_config
from driftd.events import ModelBatch
from driftd.reference.build import build_profile
from driftd.service.daemon import Daemon


def two_models(tmp_path: Path) -> Daemon:
    """alpha and beta, each a 10 s time window; topic a lists alpha, topic b lists
    nothing, topic o carries outcomes."""
    model = {"reference": str(tmp_path / "ref.json"),
             "columns": [{"name": "x", "kind": "numeric"}],
             "windows": [{"name": "10s", "type": "time", "duration_seconds": 10,
                          "slide_seconds": 10}]}
    config = parse_config({
        "models": [{"name": "alpha", **model}, {"name": "beta", **model}],
        "sources": [{"type": "kafka", "bootstrap_servers": "127.0.0.1:9", "topics": [
            {"name": "a", "models": ["alpha"]}, {"name": "b"},
            {"name": "o", "stream": "outcomes"}]}],
        "http": {"address": "127.0.0.1:0"},
    }, environ={})
    rng = np.random.default_rng(1)
    profile = build_profile("m", config.models[0].columns, {"x": rng.normal(size=500)}, {},
                            rows=500, metadata={})
    return Daemon(config, {"alpha": profile, "beta": profile}, [], clock=lambda: 0.0)


def batch(model: str, *timestamps: float) -> ModelBatch:
    n = len(timestamps)
    return ModelBatch(model, np.array(timestamps), [None] * n, {"x": np.zeros(n)}, {})


def windows(daemon: Daemon, now: float) -> list[tuple[str, float | None]]:
    """The windows closed since the last call."""
    return [(w.model, w.end) for w in daemon.monitor.results(now)]


def test_a_topic_that_lists_its_models_is_waited_for_by_those_only(tmp_path: Path) -> None:
    """Assigned: a[0] (lists alpha), b[0] (lists nothing), o[0] (outcomes: no window).

    Expected: beta's window closes as soon as b[0] sends beta events, without waiting
    for a[0], which is not beta's; that batch also tells alpha that b[0] does not carry
    it, so alpha's window closes on a[0]'s first batch.
    """
    daemon = two_models(tmp_path)
    daemon.assigned([("a", 0), ("b", 0), ("o", 0)])
    daemon.monitor.ingest("predictions", {"beta": batch("beta", 3.0, 21.0)}, "b[0]", now=1.0)
    assert windows(daemon, now=1.0) == [("beta", 10.0)]  # [10, 20) holds no event
    daemon.monitor.ingest("predictions", {"alpha": batch("alpha", 5.0, 25.0)}, "a[0]", now=2.0)
    assert windows(daemon, now=2.0) == [("alpha", 10.0)]
