"""`driftd run` with an http source killed with SIGKILL right after acknowledged posts, and
started again: every acknowledged event counts once."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml

from driftd.service.demo import demo_config, demo_profile
from http_ingest.support import WINDOW, config, events, jsonl, post, wait_for
from http_ingest.test_daemon_ingest import replayed, statistics
from kafka_e2e.support import REPO, free_port

EVENTS = 3000
FIRST = 1700  # posted before the kill


def write_config(tmp_path: Path, port: int) -> Path:
    cfg = config(tmp_path, source={"listen": f"127.0.0.1:{port}"})
    raw = cfg.model_dump(mode="json", exclude_none=True)
    reference = tmp_path / "demo.json"
    demo = demo_config(address="127.0.0.1:0", environ={}).sources[0]
    demo_profile(cfg.models[0], demo).save(reference)  # type: ignore[arg-type]
    raw["models"][0]["reference"] = str(reference)
    raw["http"] = {"address": f"127.0.0.1:{free_port()}"}
    raw["results"] = {"path": str(tmp_path / "results.jsonl")}
    raw["logging"] = {"level": "INFO"}
    path = tmp_path / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def start(path: Path, log: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    with log.open("ab") as output:  # the child holds its own copy
        process = subprocess.Popen([sys.executable, "-m", "driftd", "run", "--config",
                                    str(path)], stdout=output, stderr=subprocess.STDOUT,
                                   env=env, cwd=REPO)

    def listening() -> bool:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(listening, lambda: "the ingest listener did not open")
    return process


def checkpointed(tmp_path: Path) -> int:
    """The spool position in the checkpoint (0 before the first)."""
    path = tmp_path / "state.sqlite"
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        try:
            rows = db.execute("SELECT * FROM offsets").fetchall()
        except sqlite3.OperationalError:  # not created yet
            return 0
    return max((row[-1] for row in rows), default=0)


def results(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "results.jsonl"
    if not path.exists():
        return []
    return [r for r in map(orjson.loads, path.read_bytes().splitlines()) if r["window"] == WINDOW]


def test_acknowledged_events_survive_a_kill_and_count_once(tmp_path: Path) -> None:
    """driftd runs with an http source (checkpoint every 0.2 s, results file). 500
    events are posted as JSON lines of 100, each answered 202, until a checkpoint holds
    them; 1,200 more are posted and driftd is killed with SIGKILL right after the last
    202 (some were not ingested, or not checkpointed, yet).
    driftd starts again; the other 1,300 events are posted; once the windows are
    published driftd gets SIGTERM.

    Expected: the results file holds exactly the six windows of 500 of a JSONL replay
    of the 3,000 events, statistic for statistic: no acknowledged event lost, none
    counted twice; driftd exits 0 after SIGTERM; the spool holds one segment.
    """
    found = events(0, EVENTS)
    port = free_port()
    path = write_config(tmp_path, port)
    log = tmp_path / "driftd.log"
    process = start(path, log, port)
    try:
        for begin in range(0, FIRST, 100):
            status, _, _ = post(port, "/v1/events", jsonl(found[begin:begin + 100]),
                                {"Content-Type": "application/x-ndjson"})
            assert status == 202
            if begin == 400:
                wait_for(lambda: checkpointed(tmp_path) > 0, lambda: "no checkpoint")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        process = start(path, log, port)
        for begin in range(FIRST, EVENTS, 100):
            status, _, _ = post(port, "/v1/events", jsonl(found[begin:begin + 100]),
                                {"Content-Type": "application/x-ndjson"})
            assert status == 202
        wait_for(lambda: len(results(tmp_path)) >= 6,
                 lambda: f"{len(results(tmp_path))} windows in the results file")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert "Traceback" not in log.read_text()
    assert statistics(results(tmp_path)) == replayed(tmp_path, found)
    assert len(list((tmp_path / "spool").iterdir())) == 1
