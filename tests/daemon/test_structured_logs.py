"""driftd's own log lines: ``--log-format json`` (or ``logging.format``) writes one JSON
object per stderr line; the effective config is logged at DEBUG only, secrets masked.

Every test runs ``python -m driftd`` as a real process and reads what it wrote to stderr.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.support import write_profile
from driftd.logs import formatter
from kafka_e2e.support import free_port, produce

EVENTS = 120
BAD_LINE = 3  # the line of events.jsonl that is not an event
# RFC 3339 in UTC, as the JSON lines write it: 2026-12-02T14:05:21.458Z
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SECRET = "hunter2-not-in-logs"


def event_lines() -> list[str]:
    """120 events, and "{not json" as line 3."""
    lines = [json.dumps({"model": "fraud", "id": f"p-{i}", "ts": 1_790_000_000 + i,
                         "features": {"amount": float(i % 17)}, "prediction": 0.5})
             for i in range(EVENTS)]
    lines.insert(BAD_LINE - 1, "{not json")
    return lines


def write_events(path: Path) -> Path:
    path.write_text("\n".join(event_lines()) + "\n", encoding="utf-8")
    return path


def write_config(directory: Path, source: dict[str, Any], **sections: Any) -> Path:
    """A one-model config reading ``source``, with ``sections`` (e.g. logging) added."""
    reference = write_profile(directory / "fraud.json", {"amount": "input"})
    raw: dict[str, Any] = {
        "models": [{"name": "fraud", "reference": str(reference),
                    "columns": [{"name": "amount", "kind": "numeric"}],
                    "windows": [{"name": "100", "type": "count", "size": 100,
                                 "step": 100}]}],
        "sources": [source],
        "http": {"address": f"127.0.0.1:{free_port()}"},
        "ingest": {"max_future_seconds": None},
        **sections,
    }
    path = directory / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def run_driftd(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "driftd", *args], capture_output=True,
                          text=True, timeout=timeout)


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every stderr line as a JSON object with ts, level, logger and msg (asserted)."""
    records = []
    for line in stderr.splitlines():
        record = json.loads(line)  # fails the test on a line that is not JSON
        assert isinstance(record, dict), line
        assert {"ts", "level", "logger", "msg"} <= record.keys(), line
        assert RFC3339_UTC.fullmatch(record["ts"]), line
        assert datetime.fromisoformat(record["ts"]).utcoffset() == UTC.utcoffset(None)
        records.append(record)
    return records


def test_json_logs_are_one_object_a_line_and_a_rejection_carries_its_origin(
        tmp_path: Path) -> None:
    """Steps: ``driftd run --log-format json --exit-when-drained`` on a JSONL file of 120
    events whose line 3 is not JSON (the config says nothing of the format).

    Expected: exit 0; every stderr line is a JSON object with ts (RFC 3339, UTC), level,
    logger and msg; the rejection's line carries origin ``events.jsonl:3`` and its reason
    as keys; "serving /metrics" once; the INFO config line names the file, model and
    source; the effective config is not there (INFO).
    """
    events = write_events(tmp_path / "events.jsonl")
    config = write_config(tmp_path, {"type": "jsonl", "path": str(events)})

    result = run_driftd("run", "--config", str(config), "--log-format", "json",
                        "--exit-when-drained")

    assert result.returncode == 0, result.stderr
    records = json_lines(result.stderr)
    (rejected,) = [r for r in records if r["msg"].startswith("invalid event at")]
    assert rejected["origin"] == f"{events}:{BAD_LINE}", rejected
    assert rejected["reason"] == "malformed_json", rejected
    assert rejected["level"] == "WARNING"
    assert rejected["logger"] == "driftd.service.pipeline"
    assert "topic" not in rejected
    serving = [r for r in records if r["msg"].startswith("serving /metrics")]
    assert len(serving) == 1, serving
    (summary,) = [r for r in records if r["msg"].startswith("config ")]
    assert summary["msg"] == f"config {config}: models fraud; sources jsonl {events}"
    assert not [r for r in records if "effective config" in r["msg"]]


@pytest.mark.kafka
def test_a_rejected_kafka_record_carries_topic_partition_and_offset(
        tmp_path: Path, kafka_bootstrap: str, kafka_topic: Callable[..., str]) -> None:
    """Steps: the same 121 messages on a one-partition topic of the real broker (the bad
    one at offset 2); ``driftd run --log-format json --exit-when-drained`` reads it.

    Expected: exit 0; every stderr line is JSON; the rejection's line has origin
    ``TOPIC[0]@2`` and topic, partition 0 and offset 2 as keys; "serving /metrics" once;
    the INFO config line names the topic and the bootstrap servers.
    """
    topic = kafka_topic(partitions=1)
    produce(kafka_bootstrap, topic, [line.encode() for line in event_lines()])
    kafka = {"type": "kafka", "bootstrap_servers": kafka_bootstrap, "group_id": topic,
             "topics": [{"name": topic}], "poll_timeout_ms": 100}
    config = write_config(tmp_path, kafka)

    result = run_driftd("run", "--config", str(config), "--log-format", "json",
                        "--exit-when-drained", timeout=120)

    assert result.returncode == 0, result.stderr
    records = json_lines(result.stderr)
    (rejected,) = [r for r in records if r["msg"].startswith("invalid event at")]
    offset = BAD_LINE - 1
    assert {key: rejected[key] for key in ("origin", "topic", "partition", "offset",
                                           "reason")} == {
        "origin": f"{topic}[0]@{offset}", "topic": topic, "partition": 0, "offset": offset,
        "reason": "malformed_json"}, rejected
    assert len([r for r in records if r["msg"].startswith("serving /metrics")]) == 1
    assert any(r["msg"].endswith(f"sources kafka {topic} on {kafka_bootstrap}")
               for r in records), records


def test_the_text_format_stays_the_default(tmp_path: Path) -> None:
    """Steps: the same run without --log-format and without logging.format.

    Expected: text lines "TIME LEVEL LOGGER: MESSAGE", the rejection among them with its
    origin in the text; no JSON.
    """
    events = write_events(tmp_path / "events.jsonl")
    config = write_config(tmp_path, {"type": "jsonl", "path": str(events)})

    result = run_driftd("run", "--config", str(config), "--exit-when-drained")

    assert result.returncode == 0, result.stderr
    assert not result.stderr.lstrip().startswith("{")
    assert re.search(rf"^\S+ \S+ WARNING driftd\.service\.pipeline: invalid event at "
                     rf"{re.escape(str(events))}:{BAD_LINE}: malformed_json: ",
                     result.stderr, re.M), result.stderr


def test_the_effective_config_is_logged_at_debug_with_the_password_masked(
        tmp_path: Path) -> None:
    """Steps: ``logging: {level: DEBUG, format: json}`` (the format from the config this
    time) and a Kafka source with a sasl_password, whose broker port is closed:
    driftd starts, logs its config and waits for the broker; it is stopped with SIGTERM
    once the effective config is logged.

    Expected: one DEBUG line "effective config: {...}" whose JSON has the password as
    ``***``; the password appears nowhere in stderr; every line is JSON.
    """
    kafka = {"type": "kafka", "bootstrap_servers": f"127.0.0.1:{free_port()}",
             "topics": [{"name": "fraud.predictions"}], "broker_timeout_seconds": 60,
             "security": {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                          "sasl_username": "driftd", "sasl_password": SECRET}}
    config = write_config(tmp_path, kafka, logging={"level": "DEBUG", "format": "json"})

    stderr = stderr_until(["run", "--config", str(config)], "effective config: ")

    assert SECRET not in stderr
    records = json_lines(stderr)
    (effective,) = [r for r in records if r["msg"].startswith("effective config: ")]
    assert effective["level"] == "DEBUG"
    shown = json.loads(effective["msg"].removeprefix("effective config: "))
    assert shown["sources"][0]["security"]["sasl_password"] == "***"
    assert shown["logging"] == {"level": "DEBUG", "format": "json"}


def test_a_bad_log_format_in_the_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Steps: ``logging: {format: yaml}``; ``driftd run``, then ``driftd config validate``.

    Expected: both exit 2 with one stderr line naming logging.format and the choices, no
    traceback.
    """
    events = write_events(tmp_path / "events.jsonl")
    config = write_config(tmp_path, {"type": "jsonl", "path": str(events)},
                          logging={"format": "yaml"})

    for command in (["run", "--config", str(config)], ["config", "validate", str(config)]):
        result = run_driftd(*command)

        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        (line,) = result.stderr.splitlines()
        assert "logging.format" in line and "'text' or 'json'" in line, line


def test_a_bad_log_format_flag_is_refused_by_the_command_line(tmp_path: Path) -> None:
    """Steps: ``driftd run --log-format xml``.

    Expected: exit 2, argparse's message naming the choices.
    """
    result = run_driftd("run", "--config", str(tmp_path / "driftd.yaml"), "--log-format",
                        "xml")

    assert result.returncode == 2
    assert "--log-format: invalid choice: 'xml' (choose from 'text', 'json')" in result.stderr


def test_the_demo_takes_the_flag_too(tmp_path: Path) -> None:
    """Steps: ``driftd demo --log-format json``, stopped with SIGTERM once it serves.

    Expected: every stderr line is JSON; the INFO config line says the config is built in.
    """
    stderr = stderr_until(["demo", "--log-format", "json", "--address",
                           f"127.0.0.1:{free_port()}"], "serving /metrics")

    records = json_lines(stderr)
    assert any(r["msg"].startswith("config (built in): models demo; sources demo")
               for r in records), records


def test_an_exception_goes_in_its_own_key() -> None:
    """Steps: format a record logged with exc_info.

    Expected: one line; ``exception`` holds the traceback text, ``msg`` only the message.
    """
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("driftd.x", logging.ERROR, __file__, 1, "failed: %s",
                                   ("step",), sys.exc_info())

    line = formatter("json").format(record)

    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["msg"] == "failed: step"
    assert parsed["exception"].startswith("Traceback (most recent call last):")
    assert parsed["exception"].endswith("ValueError: boom")


def stderr_until(arguments: list[str], needle: str, timeout: float = 30) -> str:
    """Start ``python -m driftd ARGUMENTS``; once a stderr line holds ``needle`` (or after
    ``timeout`` seconds), SIGTERM it; return all it wrote to stderr."""
    process = subprocess.Popen([sys.executable, "-m", "driftd", *arguments],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if needle in line:
                seen.set()
        seen.set()  # end of output: nothing more will come

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        found = seen.wait(timeout)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        reader.join(5)
        process.stderr.close()
    text = "".join(lines)
    assert found and needle in text, f"no {needle!r} within {timeout:g} s:\n{text}"
    return text
