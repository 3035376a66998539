"""driftd consuming a real Kafka broker: windows equal `driftd check`, bad input to DLQ.

Every scenario runs driftd as a real process (`python -m driftd run`) against the
session's real broker; nothing about Kafka is mocked.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
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
    """The standard workload (1M events over 1,000 s of event time, drifting half-way),
    as 100-event arrays spread over 3 partitions, all produced before driftd starts: a
    catch-up from about 100 windows behind.

    Each partition is in event-time order, but partitions are read in whatever order
    the consumer fetches them, and the watermark must wait for the slowest one.
    Expected: every 60 s window sliding by 10 s is published once, in order, up to the
    last one holding an event (closed at the end of the data); each holds exactly the
    events with start <= ts < end; and the statistics of full windows before, across
    and after the drift, and of the last window, equal `driftd check` over those events.
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
    history = [w for w in results["history"] if w["window"] == "5m"]
    ends = [w["end"] for w in history]
    first_ts, last_ts = workload.START_TS, workload.START_TS + (ROWS - 1) / 1000
    assert ends[0] == (first_ts // 10 + 1) * 10 and ends[-1] == (last_ts // 10 + 6) * 10
    assert ends == [ends[0] + 10 * i for i in range(len(ends))] and len(ends) >= 100
    timestamps = workload.START_TS + np.arange(ROWS) / 1000
    for published in history:
        inside = np.count_nonzero((timestamps >= published["start"])
                                  & (timestamps < published["end"]))
        assert published["events"] == inside, published["end"]
    full = [w for w in history if w["events"] == 60_000]
    assert len(full) >= 90
    for published in (full[0], full[len(full) // 2], full[len(full) // 2 + 3], full[-1],
                      history[-1]):
        assert_equals_check(published, tmp_path, config, capsys)


def assert_equals_check(published: dict[str, Any], tmp_path: Path, config: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    """The window's statistics and decisions equal `driftd check` over its events."""
    start, end = published["start"], published["end"]
    selected = [e for e in workload.events(ROWS, drift_after=ROWS // 2)
                if start <= e["ts"] < end]
    assert published["events"] == len(selected)
    data = tmp_path / "window.jsonl"
    data.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in selected))
    capsys.readouterr()
    code = main(["check", "--reference", str(tmp_path / "bench.json"), "--data", str(data),
                 "--config", str(config), "--format", "json"])
    assert code in (0, 1)
    checked = json.loads(capsys.readouterr().out)
    assert checked["rows"] == len(selected)
    by_column = {c["column"]: c for c in checked["columns"]}
    for column in published["columns"]:
        expected = by_column[column["column"]]["statistics"]
        assert column["statistics"] == pytest.approx(expected, rel=1e-9, abs=1e-12), column
        if published["events"] >= 1000:  # min_window_events: smaller windows do not decide
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
