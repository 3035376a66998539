"""`driftd run` fed on stdin by a writer that keeps the pipe open: events are ingested as
they come, not at the end of the input."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import yaml

from kafka_e2e.support import REPO, free_port, metric_value, workload, write_profile

LINES = 461
DEADLINE_SECONDS = 20.0  # typically well under 1 s once /metrics answers


def write_stdin_config(directory: Path) -> Path:
    profile = directory / "bench.json"
    write_profile(profile, workload.columns(), rows=5000)
    raw = {
        "models": [{"name": "bench", "reference": str(profile),
                    "columns": [c.model_dump(exclude_defaults=True) | {"kind": c.kind}
                                for c in workload.columns()],
                    "windows": [{"name": "all", "type": "count", "size": 500, "step": 500}]}],
        "sources": [{"type": "jsonl", "path": "-"}],
        "http": {"address": f"127.0.0.1:{free_port()}"},
        "ingest": {"max_future_seconds": None},
        "logging": {"level": "INFO"},
    }
    path = directory / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def events_ingested(url: str) -> float | None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url + "/metrics", timeout=2) as response:
            text = response.read().decode()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
    return metric_value(text, "driftd_events_total", stream="predictions", model="bench")


def test_lines_piped_to_an_open_stdin_are_ingested_within_seconds(tmp_path: Path) -> None:
    """``driftd run --exit-when-drained`` reads stdin; a writer sends 461 events and keeps
    the pipe open (a batch would need 5,000 lines); then it closes the pipe.

    Expected: driftd_events_total reaches 461 within the deadline while the pipe is still
    open and driftd still running (an open pipe is not drained; the time is printed);
    after the close, driftd closes its windows and exits 0, with no traceback.
    """
    config = write_stdin_config(tmp_path)
    url = f"http://{yaml.safe_load(config.read_text())['http']['address']}"
    log = (tmp_path / "driftd.log").open("wb")
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    process = subprocess.Popen([sys.executable, "-m", "driftd", "run", "--config", str(config),
                                "--exit-when-drained"],
                               stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                               env=env, cwd=REPO)
    assert process.stdin is not None
    try:
        process.stdin.write(b"".join(orjson.dumps(e) + b"\n" for e in
                                     workload.events(LINES, drift_after=10**9)))
        process.stdin.flush()
        written = time.monotonic()
        deadline = written + DEADLINE_SECONDS
        while (count := events_ingested(url)) != LINES:
            assert process.poll() is None, "driftd exited"
            assert time.monotonic() < deadline, f"{count} of {LINES} events ingested"
            time.sleep(0.05)  # polling a metric: there is no event to wait on
        took = time.monotonic() - written
        assert process.poll() is None
        process.stdin.close()
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        log.close()
    print(f"\n{LINES} lines on an open stdin ingested {took:.2f} s after the write returned "
          "(a pipe holds 64 KiB: the write ends as driftd reads)")
    text = (tmp_path / "driftd.log").read_text()
    assert code == 0, text[-3000:]
    assert "Traceback" not in text
    assert "end of the data: every open window closed and published" in text
