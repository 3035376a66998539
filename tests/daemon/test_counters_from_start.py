"""Every counter the config determines is on /metrics at 0 before the first event.

A counter that appears at its first increment is invisible to ``increase()`` for that
increment, and its dashboard panel says "No data" on a healthy run; so a daemon that has
read nothing yet already exports every model's, window's and reason's series at 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from daemon.test_daemon import scrape
from driftd import events
from driftd.config import Config, parse_config
from driftd.reference.build import build_profile
from driftd.service import oip_topics
from driftd.service.daemon import Daemon
from driftd.service.series import expected_reasons
from driftd.sinks.metric_families import FAMILIES, JOIN_COUNTERS

# Their label values come from what happened, not from the config (driftd.service.series).
COUNTED_WHEN_SEEN = {"driftd_model_version_events", "driftd_evaluation_errors"}
# Filled by the Kafka dead-letter producer, which this config has none of.
NEEDS_KAFKA = {"driftd_dead_letters"}


def make_config(tmp_path: Path, sources: list[dict[str, Any]] | None = None,
                **extra: Any) -> Config:
    return parse_config({
        "models": [
            {"name": "fraud", "reference": str(tmp_path / "fraud.json"),
             "columns": [{"name": "x", "kind": "numeric"},
                         {"name": "score", "kind": "numeric", "role": "prediction"},
                         {"name": "label", "kind": "categorical", "role": "label"}],
             "windows": [{"name": "hourly", "type": "time", "duration_seconds": 3600,
                          "slide_seconds": 600},
                         {"name": "last-1k", "type": "count", "size": 1000, "step": 500}],
             "performance": {"task": "binary", "prediction": "score", "label": "label",
                             "baseline": {"accuracy": 0.7}}},
            {"name": "churn", "reference": str(tmp_path / "churn.json"),
             "columns": [{"name": "x", "kind": "numeric"}],
             "windows": [{"name": "daily", "type": "time", "duration_seconds": 86400,
                          "slide_seconds": 3600}]},
        ],
        "sources": sources or [{"type": "jsonl", "path": "-"}],
        "http": {"address": "127.0.0.1:0"},
        **extra,
    }, environ={})


def start_scraped(config: Config) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The first scrape of a daemon that has read nothing (its HTTP server only)."""
    rng = np.random.default_rng(1)
    profiles = {
        model.name: build_profile(model.name, model.columns,
                                  {c.name: rng.random(300) for c in model.columns
                                   if c.kind == "numeric"},
                                  {c.name: rng.choice(["0", "1"], 300).tolist()
                                   for c in model.columns if c.kind == "categorical"},
                                  rows=300, metadata={})
        for model in config.models}
    daemon = Daemon(config, profiles, [])
    daemon.http.start()
    try:
        return scrape(daemon.http.url)
    finally:
        daemon.http.stop()


def series(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float],
           name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {labels: value for (sample, labels), value in samples.items() if sample == name}


def test_every_counter_family_is_exported_at_zero_before_any_event(tmp_path: Path) -> None:
    samples = start_scraped(make_config(tmp_path))
    counters = [f for f in FAMILIES if f.kind == "counter"
                and f.name not in COUNTED_WHEN_SEEN | NEEDS_KAFKA]
    for family in counters:
        found = series(samples, f"{family.name}_total")
        if family.name == "driftd_http_ingest_requests":  # no HTTP ingest in this config
            assert found == {}
            continue
        assert found, f"{family.name}_total is not exported before its first increment"
        assert set(found.values()) == {0.0}, family.name


def test_the_zero_series_follow_the_config(tmp_path: Path) -> None:
    samples = start_scraped(make_config(tmp_path))
    invalid = series(samples, "driftd_events_invalid_total")
    assert {dict(labels)["reason"] for labels in invalid} == set(events.GENERAL_REASONS)
    late = series(samples, "driftd_events_late_total")
    # Only a time window can count an event late.
    assert {(dict(ls)["model"], dict(ls)["window"]) for ls in late} == {
        ("fraud", "hourly"), ("churn", "daily")}
    for counter in JOIN_COUNTERS:  # only the model with performance joins outcomes
        assert series(samples, f"driftd_{counter}_total") == {(("model", "fraud"),): 0.0}
    assert set(series(samples, "driftd_events_total")) == {
        (("model", "fraud"), ("stream", "predictions")),
        (("model", "fraud"), ("stream", "outcomes")),
        (("model", "churn"), ("stream", "predictions"))}


def test_http_ingest_answers_are_exported_at_zero(tmp_path: Path) -> None:
    config = make_config(tmp_path, [{"type": "http", "listen": "127.0.0.1:0",
                                     "spool_dir": str(tmp_path / "spool")}],
                         checkpoint={"path": str(tmp_path / "state.db")})
    samples = start_scraped(config)
    requests = series(samples, "driftd_http_ingest_requests_total")
    assert {dict(labels)["code"] for labels in requests} == {
        "202", "400", "401", "413", "429", "503"}
    reasons = {dict(ls)["reason"] for ls in series(samples, "driftd_events_invalid_total")}
    assert reasons == set(events.GENERAL_REASONS) | set(events.HTTP_REASONS)


@pytest.mark.parametrize(("topics", "extra"), [
    ([{"name": "events"}], ()),
    ([{"name": "events", "format": "avro"}], events.WIRE_REASONS),
    ([{"name": "fraud.inputs", "format": "oip", "models": ["fraud"],
       "oip": {"role": "request", "model": "fraud"}},
      {"name": "fraud.outputs", "format": "oip", "models": ["fraud"],
       "oip": {"role": "response"}}], oip_topics.REASONS),
])
def test_each_format_adds_the_reasons_it_can_give(
    tmp_path: Path, topics: list[dict[str, Any]], extra: tuple[str, ...],
) -> None:
    source: dict[str, Any] = {"type": "kafka", "bootstrap_servers": "127.0.0.1:9",
                              "group_id": "g", "topics": topics}
    if any(t.get("format") == "avro" for t in topics):
        source["schema_registry"] = {"url": "http://127.0.0.1:9"}
    reasons = expected_reasons(make_config(tmp_path, [source]))
    assert set(reasons) == set(events.GENERAL_REASONS) | set(extra)
