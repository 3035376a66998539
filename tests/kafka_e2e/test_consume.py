"""driftd consuming a real Kafka broker: windows equal `driftd check`, bad input to DLQ.

Every scenario runs driftd as a real process (`python -m driftd run`) against the
session's real broker; nothing about Kafka is mocked.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from driftd.cli import main
from kafka_e2e.support import (
    Driftd,
    consume_all,
    load_results,
    produce,
    workload,
    write_config,
)

pytestmark = pytest.mark.kafka

ROWS = 1_000_000  # the standard workload: 20 numeric + 4 categorical columns
WINDOWS = [
    {"name": "5m", "type": "time", "duration_seconds": 60, "slide_seconds": 10,
     "allowed_lateness_seconds": 0, "idle_timeout_seconds": 30},
]


def window(results: dict[str, object], name: str) -> dict[str, object]:
    found = [w for w in results["windows"] if w["window"] == name]  # type: ignore[attr-defined]
    assert len(found) == 1, results
    return found[0]  # type: ignore[no-any-return]


def test_event_time_windows_equal_check_over_the_same_events(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The standard workload (1M events, drifting half-way), as 100-event arrays spread
    over 3 partitions, read by driftd.

    Each partition is in event-time order, but partitions are read in whatever order
    the consumer fetches them, and the watermark must wait for the slowest one.
    Expected: driftd's last complete 60 s window holds exactly the events with
    start <= ts < end, and every statistic equals `driftd check` over those events.
    """
    topic = kafka_topic(partitions=3)
    events = workload.events(ROWS, drift_after=ROWS // 2)  # seeded: regenerated below
    arrays = (orjson.dumps([next(events) for _ in range(100)]) for _ in range(ROWS // 100))
    produce(kafka_bootstrap, topic, arrays, partitions=3)
    config = write_config(tmp_path, bootstrap=kafka_bootstrap, topic=topic, group="equal",
                          windows=WINDOWS)
    dump = tmp_path / "results.json"
    driftd = Driftd(config, drain=True, dump=dump, log=tmp_path / "driftd.log")
    assert driftd.wait(timeout=300) == 0, (tmp_path / "driftd.log").read_text()[-3000:]
    results = load_results(dump)
    assert results["events"] == {"predictions/bench": ROWS}
    assert results["invalid"] == {} and results["late"] == {}
    streamed = window(results, "5m")
    start, end = streamed["start"], streamed["end"]
    assert isinstance(start, float) and isinstance(end, float)
    selected = [e for e in workload.events(ROWS, drift_after=ROWS // 2)
                if start <= e["ts"] < end]
    assert streamed["events"] == len(selected) == 60_000

    data = tmp_path / "window.jsonl"
    data.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in selected))
    capsys.readouterr()
    code = main(["check", "--reference", str(tmp_path / "bench.json"), "--data", str(data),
                 "--config", str(config), "--format", "json"])
    assert code in (0, 1)
    checked = json.loads(capsys.readouterr().out)
    assert checked["rows"] == len(selected)
    by_column = {c["column"]: c for c in checked["columns"]}
    for column in streamed["columns"]:  # type: ignore[attr-defined]
        expected = by_column[column["column"]]["statistics"]
        assert column["statistics"] == pytest.approx(expected, rel=1e-9, abs=1e-12), column
        assert column["drift"] == {t: v["drift"] for t, v in
                                   by_column[column["column"]]["tests"].items()
                                   if v["drift"] is not None}


def test_bad_messages_are_counted_by_reason_and_copied_to_the_dead_letter_topic(
    kafka_bootstrap: str, kafka_topic: Callable[..., str], tmp_path: Path,
) -> None:
    """Malformed, truncated, oversized and wrong-type messages among 3,000 good ones.

    Expected: every good event counted; every bad message counted under its reason and
    present in the dead-letter topic with that reason in its headers.
    """
    topic, dead = kafka_topic(partitions=3), kafka_topic(partitions=1)
    good = list(workload.events(3000, drift_after=10**9))
    wrong_type = dict(good[0], features={**good[0]["features"], "x00": "lots"})
    bad = {
        "malformed_json": [b"{not json", b"[1, 2"],
        "truncated": [orjson.dumps(good[1])[:40]],
        "oversized": [orjson.dumps(dict(good[2], padding="x" * 5000))],
        "wrong_type": [orjson.dumps(wrong_type)],
        "not_an_object": [b'"a string"'],
        "unknown_model": [orjson.dumps(dict(good[3], model="other"))],
    }
    messages = [orjson.dumps(e) for e in good]
    rng = random.Random(5)
    for payloads in bad.values():
        for payload in payloads:
            messages.insert(rng.randrange(len(messages)), payload)
    produce(kafka_bootstrap, topic, messages, partitions=3)
    config = write_config(tmp_path, bootstrap=kafka_bootstrap, topic=topic, group="dlq",
                          windows=[{"name": "all", "type": "count", "size": 1000,
                                    "step": 1000}],
                          extra_source={"dead_letter_topic": dead, "max_message_bytes": 4000})
    dump = tmp_path / "results.json"
    driftd = Driftd(config, drain=True, dump=dump, log=tmp_path / "driftd.log")
    assert driftd.wait(timeout=120) == 0, (tmp_path / "driftd.log").read_text()[-3000:]
    results = load_results(dump)
    assert results["events"] == {"predictions/bench": 3000}
    assert results["invalid"] == {"malformed_json": 3, "oversized": 1, "wrong_type": 1,
                                  "not_an_object": 1, "unknown_model": 1}
    letters = consume_all(kafka_bootstrap, dead, expected=7)
    reasons = sorted(dict(r.headers)["driftd-reason"].decode() for r in letters)
    assert reasons == sorted(["malformed_json"] * 3 + ["oversized", "wrong_type",
                                                      "not_an_object", "unknown_model"])
    origins = {dict(r.headers)["driftd-origin"].decode().split("[")[0] for r in letters}
    assert origins == {topic}
    assert {r.value for r in letters} >= {b"{not json", b"[1, 2", bad["truncated"][0],
                                          bad["oversized"][0]}
