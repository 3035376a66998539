"""Seldon-shaped OIP topics through the daemon's ingest path (no broker): pairing into
rows, rejections, watermarks of request and response partitions, lone requests, and
pending halves across a restart from the checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from driftd.config import ConfigError, parse_config
from driftd.reference.profile import load_profile
from driftd.service.checkpoint import CheckpointStore
from driftd.service.daemon import Daemon, Extras
from driftd.sources.base import RawBatch
from driftd.telemetry import counted
from oip.seldon import Exchange, columns, exchanges, write_profile

REQUESTS = "seldon.default.model.iris.inputs"
RESPONSES = "seldon.default.model.iris.outputs"
T0 = 1_764_000_000_000  # ms


def config(tmp_path: Path, lateness: float = 5, **oip: Any) -> Any:
    profile = tmp_path / "iris.json"
    if not profile.exists():
        write_profile(profile)
    return parse_config(raw(tmp_path, profile, oip, lateness), environ={})


def raw(tmp_path: Path, profile: Path, oip: dict[str, Any],
        lateness: float = 5) -> dict[str, Any]:
    return {
        "models": [{"name": "iris", "reference": str(profile), "columns": columns(flat=False),
                    "windows": [{"name": "10s", "type": "time", "duration_seconds": 10,
                                 "slide_seconds": 10, "allowed_lateness_seconds": lateness,
                                 "idle_timeout_seconds": 1000}]}],
        "sources": [{"type": "kafka", "bootstrap_servers": "127.0.0.1:9", "topics": [
            {"name": REQUESTS, "format": "oip", "models": ["iris"],
             "oip": {"role": "request", "model": "iris", "pair_timeout_seconds": 20, **oip}},
            {"name": RESPONSES, "format": "oip", "models": ["iris"],
             "oip": {"role": "response"}}]}],
        "http": {"address": "127.0.0.1:0"},
        "ingest": {"max_future_seconds": None},
    }


def daemon(tmp_path: Path, store: CheckpointStore | None = None, lateness: float = 5,
           **oip: Any) -> Daemon:
    cfg = config(tmp_path, lateness, **oip)
    made = Daemon(cfg, {"iris": _profile(tmp_path)}, [], clock=lambda: 0.0,
                  extras=Extras(store=store), keep_history=True)
    made._inputs.expect_partitions([(t, p) for t in (REQUESTS, RESPONSES) for p in (0, 1)], 0.0)
    return made


def _profile(tmp_path: Path) -> Any:
    return load_profile(tmp_path / "iris.json")


def batch(topic: str, partition: int, items: list[Exchange], *, role: str,
          first_offset: int = 0, messages: list[bytes] | None = None) -> RawBatch:
    bodies = messages or [x.request if role == "request" else x.response for x in items]
    return RawBatch("predictions", bodies,
                    [f"{topic}[{partition}]@{first_offset + i}" for i in range(len(bodies))],
                    key=topic, partition=f"{topic}[{partition}]",
                    headers=[{"x-request-id": x.request_id.encode()} for x in items]
                    or [{} for _ in bodies],
                    times=[(x.time_ms + (0 if role == "request" else 30)) / 1000
                           for x in items] or [T0 / 1000] * len(bodies))


def window_events(made: Daemon) -> list[tuple[float, int]]:
    made._publish()
    assert made.history.records is not None
    return [(r["start"], r["events"]) for r in made.history.records]


def test_requests_first_then_responses_close_windows_without_stalling(tmp_path: Path) -> None:
    """Scenario: 40 exchanges 0.5 s apart (20 s), requests on inputs[0] and [1] in one
    batch each (they only wait: no events), then the responses on outputs[0] and [1].
    Expected: requests alone publish nothing and do not hold the windows back once the
    responses come: the first 10 s window closes with exactly its rows, no rejections."""
    made = daemon(tmp_path)
    items = exchanges(40, seed=1, start_ms=T0, every_ms=500)
    even, odd = items[0::2], items[1::2]
    assert made._pipeline.ingest(batch(REQUESTS, 0, even, role="request"), 0.0) == 0
    assert made._pipeline.ingest(batch(REQUESTS, 1, odd, role="request"), 0.0) == 0
    assert window_events(made) == []
    rows = made._pipeline.ingest(batch(RESPONSES, 0, even, role="response"), 0.0)
    rows += made._pipeline.ingest(batch(RESPONSES, 1, odd, role="response"), 0.0)
    assert rows == sum(x.rows for x in items)
    first = sum(x.rows for x in items if x.time_ms < T0 + 10_000)
    assert window_events(made) == [(T0 / 1000, first)]
    assert counted(made.telemetry.snapshot().invalid) == {}


def test_a_partition_whose_halves_wait_holds_the_windows_back(tmp_path: Path) -> None:
    """Scenario: 40 exchanges over 20 s, half on partitions 0, half on 1. Partition 0's
    requests and responses are read; then partition 1's requests only (they wait: no
    rows yet); then partition 1's responses. Expected: until partition 1's responses
    come, no window closes (its requests are not taken for a partition without the
    model's events); then the first window closes with the rows of both partitions,
    none late. Rows count on the request partitions: the response partitions are not
    waited for."""
    made = daemon(tmp_path)
    items = exchanges(40, seed=6, start_ms=T0, every_ms=500)
    zero, one = items[0::2], items[1::2]
    made._pipeline.ingest(batch(REQUESTS, 0, zero, role="request"), 0.0)
    made._pipeline.ingest(batch(RESPONSES, 0, zero, role="response"), 0.0)
    assert made._pipeline.ingest(batch(REQUESTS, 1, one, role="request"), 0.0) == 0
    assert window_events(made) == []
    made._pipeline.ingest(batch(RESPONSES, 1, one, role="response"), 0.0)
    first = sum(x.rows for x in items if x.time_ms < T0 + 10_000)
    assert window_events(made) == [(T0 / 1000, first)]
    assert counted(made.telemetry.snapshot().late) == {}


def test_responses_before_requests_pair_alike(tmp_path: Path) -> None:
    """Scenario: the same 40 exchanges, responses read first, then requests. Expected:
    the same windows with the same counts as requests first; rows are then completed on
    the request partitions (event time: the request's record time)."""
    items = exchanges(40, seed=1, start_ms=T0, every_ms=500)
    results = []
    for order in (("request", "response"), ("response", "request")):
        made = daemon(tmp_path)
        for role in order:
            topic = REQUESTS if role == "request" else RESPONSES
            made._pipeline.ingest(batch(topic, 0, items[0::2], role=role), 0.0)
            made._pipeline.ingest(batch(topic, 1, items[1::2], role=role), 0.0)
        made._publish(finish=True)
        assert made.history.records is not None
        results.append([(r["start"], r["events"], [c["statistics"] for c in r["columns"]])
                        for r in made.history.records])
    assert results[0] == results[1] and len(results[0]) == 2


def test_bad_messages_are_counted_never_fatal(tmp_path: Path) -> None:
    """Scenario: on the request topic, garbage bytes, a request without an id header,
    a request whose inputs disagree in rows, and a good one; its response then has the
    wrong row count. Expected: oip_undecodable 2, missing_request_id 1,
    oip_rows_mismatch 1; no rows; nothing raised."""
    made = daemon(tmp_path)
    (good,) = exchanges(1, seed=2, start_ms=T0)
    (other,) = [x for x in exchanges(8, seed=3, start_ms=T0) if x.rows != good.rows][:1]
    from driftd.oip import protobuf

    uneven = protobuf.ModelInferRequest()
    uneven.inputs.add(name="a", datatype="FP32", shape=[2]).contents.fp32_contents.extend([1, 2])
    uneven.inputs.add(name="b", datatype="FP32", shape=[1]).contents.fp32_contents.extend([1])
    messages = [b"\xff\x00garbage", good.request, uneven.SerializeToString(), good.request]
    raw = batch(REQUESTS, 0, [], role="request", messages=messages)
    raw.headers[:] = [{"x-request-id": b"g"}, {}, {"x-request-id": b"u"},
                      {"x-request-id": good.request_id.encode()}]
    assert made._pipeline.ingest(raw, 0.0) == 0
    wrong = batch(RESPONSES, 0, [good], role="response", messages=[other.response])
    assert made._pipeline.ingest(wrong, 0.0) == 0
    assert counted(made.telemetry.snapshot().invalid) == {
        "oip_undecodable": 2, "missing_request_id": 1, "oip_rows_mismatch": 1}


def test_lone_requests_count_their_inputs_when_configured(tmp_path: Path) -> None:
    """Scenario: timeout 20 s; request A at t0 without a response, then 60 answered
    exchanges over 30 s; unpaired_requests inputs with allowed lateness 30 s and 5 s,
    and the default (drop). Expected: with inputs, A's rows come once the pairing clock
    passes t0 + 20 s, not counted invalid, their prediction missing; they count in the
    window with a lateness of at least the timeout, and are counted late with 5 s. With
    drop, A is counted unpaired_request and no row of it comes."""
    for mode, lateness in (("inputs", 30), ("inputs", 5), ("drop", 30)):
        made = daemon(tmp_path, unpaired_requests=mode, lateness=lateness)
        made.monitor.forget([f"{REQUESTS}[1]", f"{RESPONSES}[1]"])  # partitions 0 only
        lone, *answered = exchanges(61, seed=4, start_ms=T0, every_ms=500)
        made._pipeline.ingest(batch(REQUESTS, 0, [lone], role="request"), 0.0)
        rows = 0
        for item in answered:
            rows += made._pipeline.ingest(batch(REQUESTS, 0, [item], role="request"), 0.0)
            rows += made._pipeline.ingest(batch(RESPONSES, 0, [item], role="response"), 0.0)
        made._publish(finish=True)
        assert made.history.records is not None
        first = made.history.records[0]
        missing = next(c for c in first["columns"] if c["column"] == "species")
        snapshot = made.telemetry.snapshot()
        paired = sum(x.rows for x in answered)
        in_first = sum(x.rows for x in answered if x.time_ms < T0 + 10_000)
        if mode == "drop":
            assert rows == paired and counted(snapshot.invalid) == {"unpaired_request": 1}
            assert first["events"] == in_first
        elif lateness == 30:
            assert rows == paired + lone.rows and counted(snapshot.invalid) == {}
            assert first["events"] == in_first + lone.rows
            assert missing["statistics"]["missing_ratio"] == lone.rows / first["events"]
        else:
            assert rows == paired + lone.rows and counted(snapshot.invalid) == {}
            assert first["events"] == in_first
            assert dict(snapshot.late) == {("iris", "10s"): lone.rows}


def test_pending_halves_survive_a_restart_from_the_checkpoint(tmp_path: Path) -> None:
    """Scenario: a daemon with a checkpoint file reads 30 requests, checkpoints, reads 10
    more (not checkpointed) and stops without a checkpoint (a crash). A new daemon on
    the same file reads the 10 requests again and all 40 responses. Expected: each of
    the 40 exchanges' rows is counted exactly once."""
    items = exchanges(40, seed=5, start_ms=T0, every_ms=200)
    path = tmp_path / "state.sqlite"
    first = daemon(tmp_path, store=CheckpointStore(path))
    first._pipeline.ingest(batch(REQUESTS, 0, items[:30], role="request"), 0.0)
    first.checkpoint()
    first._pipeline.ingest(batch(REQUESTS, 0, items[30:], role="request", first_offset=30), 0)
    first._join_store.close()  # type: ignore[union-attr]  # the crash: no checkpoint
    second = daemon(tmp_path, store=CheckpointStore(path))
    second._pipeline.ingest(batch(REQUESTS, 0, items[30:], role="request", first_offset=30), 0)
    rows = second._pipeline.ingest(batch(RESPONSES, 0, items, role="response"), 0.0)
    assert rows == sum(x.rows for x in items)
    assert counted(second.telemetry.snapshot().invalid) == {}


@pytest.mark.parametrize(("topics", "message"), [
    ([{"name": REQUESTS, "format": "oip"}], "format oip needs oip settings"),
    ([{"name": REQUESTS, "oip": {"role": "request"}}], "oip settings need format oip"),
    ([{"name": REQUESTS, "format": "oip", "oip": {"role": "request"}}],
     f"its responses' topic {RESPONSES} must be configured too"),
    ([{"name": "reqs", "format": "oip", "oip": {"role": "request"}}],
     "oip.pair_with must name the response topic"),
    ([{"name": REQUESTS, "format": "oip", "oip": {"role": "request"}},
      {"name": RESPONSES, "format": "oip", "oip": {"role": "response",
                                                   "pair_timeout_seconds": 5}}],
     "pair_timeout_seconds belong on the request topic"),
    ([{"name": "x.outputs", "format": "oip", "oip": {"role": "response"}}],
     "no request topic pairs with it"),
    ([{"name": REQUESTS, "format": "oip", "oip": {"role": "request"}},
      {"name": RESPONSES, "format": "oip", "fields": {"ts": "parameters.t"},
       "oip": {"role": "response"}}], "give both the same fields"),
    ([{"name": REQUESTS, "format": "oip", "stream": "outcomes", "oip": {"role": "request"}}],
     "not outcomes"),
])
def test_bad_oip_topic_settings_name_the_topic_and_the_problem(
        tmp_path: Path, topics: list[dict[str, Any]], message: str) -> None:
    """Scenario: oip settings without format oip and vice versa, a request topic without
    its response topic, pairing settings on the response topic, different fields.
    Expected: a config error saying which topic and what to do."""
    document = raw(tmp_path, tmp_path / "iris.json", {})
    document["sources"][0]["topics"] = topics
    with pytest.raises(ConfigError, match=message):
        parse_config(document, environ={})
