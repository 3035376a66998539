"""The model version an event carries, at ``fields.model_version``: counted, never judged."""

from __future__ import annotations

import orjson

from driftd.config import ColumnConfig, EventFields
from driftd.events import Decoder
from driftd.monitor.results import ResultBoard
from driftd.sinks.prometheus import DriftdCollector, build_registry, render
from driftd.telemetry import MAX_MODEL_VERSIONS, Telemetry

COLUMNS = (ColumnConfig(name="amount", kind="numeric"),)
FIELDS = EventFields(model="model_name", model_version="parameters.version")


def oip_like(version: object, amount: float = 1.0) -> bytes:
    return orjson.dumps({"model_name": "fraud", "id": "r", "ts": 1_700_000_000,
                         "parameters": {"version": version}, "amount": amount})


def test_versions_are_counted_per_accepted_event_and_never_reject() -> None:
    """Given events carrying their serving version at a nested path (strings, integers,
    a list, none at all) and one event rejected for its amount,
    when a batch is decoded,
    then every event with a usable amount is kept and the kept ones with a string or
    integer version are counted by it; the odd versions are not counted."""
    decoder = Decoder({"fraud": COLUMNS}, fields=FIELDS)
    messages = [oip_like("v2"), oip_like("v2"), oip_like(3), oip_like(["v9"]),
                orjson.dumps({"model_name": "fraud", "id": "r", "ts": 1_700_000_000,
                              "amount": 5.0}),
                oip_like("v2", amount="many")]  # type: ignore[arg-type]

    batch = decoder.decode(messages, now=1_700_000_100).models["fraud"]

    assert len(batch) == 5
    assert batch.versions == {"v2": 2, "3": 1}


def test_unset_model_version_reads_nothing() -> None:
    """Without ``fields.model_version`` nothing is counted, whatever the events hold."""
    decoder = Decoder({"fraud": COLUMNS}, fields=EventFields(model="model_name"))

    batch = decoder.decode([oip_like("v2")], now=1_700_000_100).models["fraud"]

    assert not batch.versions


def test_version_series_are_capped_per_model_and_exported() -> None:
    """Given a model whose events carry more distinct versions than the cap,
    when they are counted,
    then the first ``MAX_MODEL_VERSIONS`` keep their own series and every later one counts
    as ``other``; another model has a cap of its own; the scrape shows the counter."""
    telemetry = Telemetry()
    for n in range(MAX_MODEL_VERSIONS + 5):
        telemetry.count_versions("fraud", "predictions", {f"v{n}": 2})
    telemetry.count_versions("fraud", "predictions", {"v0": 1})
    telemetry.count_versions("churn", "predictions", {"v99": 4})

    versions = telemetry.snapshot().versions
    assert len([k for k in versions if k[0] == "fraud"]) == MAX_MODEL_VERSIONS + 1
    assert versions[("fraud", "predictions", "v0")] == 3
    assert versions[("fraud", "predictions", "other")] == 10
    assert versions[("churn", "predictions", "v99")] == 4

    collector = DriftdCollector(ResultBoard(), telemetry, references={}, build={})
    text = render(build_registry(collector))[0].decode()
    assert ('driftd_model_version_events_total{model="fraud",stream="predictions",'
            'version="other"} 10.0') in text
