"""The window lifecycle through the daemon: every window once, the end of the data,
SIGTERM, alignment, and the results history across runs."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from driftd.config import Config, JsonlSourceConfig, TimeWindowConfig, parse_config
from driftd.reference.build import build_profile
from driftd.reference.profile import Profile
from driftd.service.checkpoint import CheckpointStore
from driftd.service.daemon import Daemon, Extras
from driftd.sinks.results_file import ResultsFile
from driftd.sources.base import RawBatch
from driftd.sources.jsonl import JsonlSource

START = 1_750_000_000.0  # 2025-06-15, a Sunday, 15:06:40 UTC


def config_for(tmp_path: Path, windows: list[dict[str, Any]], **sections: Any) -> Config:
    return parse_config({
        "models": [{"name": "m", "reference": str(tmp_path / "m.json"),
                    "columns": [{"name": "x", "kind": "numeric"}], "windows": windows,
                    "min_window_events": 0}],
        "sources": [{"type": "jsonl", "path": str(tmp_path / "events.jsonl")}],
        "http": {"address": "127.0.0.1:0"},
        "checkpoint": {"path": str(tmp_path / "state.sqlite"), "interval_seconds": 3600},
        **sections,
    }, environ={})


def profile_for(config: Config) -> Profile:
    rng = np.random.default_rng(0)
    return build_profile("m", config.models[0].columns, {"x": rng.normal(size=1000)}, {},
                         rows=1000, metadata={})


def lines(timestamps: list[float] | np.ndarray) -> bytes:
    return b"".join(orjson.dumps({"model": "m", "ts": float(t), "features": {"x": i % 7}})
                    + b"\n" for i, t in enumerate(timestamps))


def replay(config: Config, profile: Profile, results: Path) -> list[dict[str, Any]]:
    """One `driftd run --exit-when-drained` of the config's JSONL file, in process,
    with its checkpoint and results file; the records this run published."""
    source = config.sources[0]
    assert isinstance(source, JsonlSourceConfig) and config.checkpoint.path is not None
    store = CheckpointStore(config.checkpoint.path)
    sink = ResultsFile(results, max_bytes=10**9, backups=0)
    daemon = Daemon(config, {"m": profile}, [JsonlSource(source.path)],
                    exit_when_drained=True, keep_history=True,
                    extras=Extras(store=store, results={"file": sink}))
    assert daemon.run() == 0
    return daemon.history.records or []


def read(results: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in results.read_text().splitlines()]
    for record in records:
        record.pop("evaluated_at")
    return records


def test_a_replay_closes_every_window_once_and_the_last_at_the_end_of_the_data(
        tmp_path: Path) -> None:
    """600 events over 10 minutes in one batch, 2-minute windows sliding by 1 minute.

    Expected: 11 windows, in order (the first and the last hold one minute of data),
    each with its events; the last ones closed only because the data ended."""
    config = config_for(tmp_path, [{"name": "2m", "type": "time", "duration_seconds": 120,
                                    "slide_seconds": 60}])
    base = (START // 60) * 60
    (tmp_path / "events.jsonl").write_bytes(lines(base + np.arange(600)))
    records = replay(config, profile_for(config), tmp_path / "results.jsonl")
    assert [(r["start"] - base, r["end"] - base, r["events"]) for r in records] == [
        (-60.0, 60.0, 60)] + [(60.0 * i, 60.0 * i + 120, 120) for i in range(9)] + [
        (540.0, 660.0, 60)]
    assert read(tmp_path / "results.jsonl") == [
        {k: v for k, v in r.items() if k != "evaluated_at"} for r in records]


def test_a_replay_resumed_after_more_data_arrived_equals_one_replay_of_everything(
        tmp_path: Path) -> None:
    """Replay the first 250 events to their end (the open windows are closed and
    published), append 350 more, replay again from the checkpoint.

    Expected: the results file equals that of one replay of all 600: the windows the
    first end of the data closed early are cut from the file and closed again, whole."""
    windows = [{"name": "2m", "type": "time", "duration_seconds": 120, "slide_seconds": 60}]
    timestamps = (START // 60) * 60 + np.arange(600) * 1.0
    once = tmp_path / "once"
    once.mkdir()
    config = config_for(once, windows)
    profile = profile_for(config)
    (once / "events.jsonl").write_bytes(lines(timestamps))
    replay(config, profile, once / "results.jsonl")

    twice = tmp_path / "twice"
    twice.mkdir()
    config = config_for(twice, windows)
    (twice / "events.jsonl").write_bytes(lines(timestamps[:250]))
    first = replay(config, profile, twice / "results.jsonl")
    assert first[-1]["end"] - timestamps[0] == 360.0  # [240, 360) closed at the end
    with (twice / "events.jsonl").open("ab") as handle:
        handle.write(lines(timestamps)[len(lines(timestamps[:250])):])
    replay(config, profile, twice / "results.jsonl")
    assert read(twice / "results.jsonl") == read(once / "results.jsonl")


class Trickle:
    """A live source: a few batches, then empty polls until the daemon stops."""

    name = "trickle"

    def __init__(self, batches: list[bytes], drained: threading.Event) -> None:
        self._batches, self._drained = list(batches), drained

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        del max_messages
        if self._batches:
            return RawBatch("predictions", self._batches.pop(0).splitlines(), key=self.name)
        self._drained.set()
        threading.Event().wait(min(timeout_seconds, 0.01))
        return RawBatch("predictions", [], key=self.name)

    def close(self) -> None:
        pass


def test_sigterm_checkpoints_open_windows_and_the_next_run_resumes_them(
        tmp_path: Path) -> None:
    """A live daemon reads events of 0-90 s into 60 s tumbling windows and is stopped
    (as on SIGTERM); the next one reads 90-150 s and reaches the end of its data.

    Expected: the first run publishes [0, 60) only; [60, 120) stays open through the
    stop, and the second run publishes it with the events of both runs."""
    config = config_for(tmp_path, [{"name": "1m", "type": "time", "duration_seconds": 60,
                                    "slide_seconds": 60}])
    profile = profile_for(config)
    base = (START // 60) * 60
    published = []
    for part in (np.arange(0, 90), np.arange(90, 150)):
        assert config.checkpoint.path is not None
        drained = threading.Event()
        source = Trickle([lines(base + part)], drained)
        daemon = Daemon(config, {"m": profile}, [source], keep_history=True,
                        extras=Extras(store=CheckpointStore(config.checkpoint.path)))
        runner = threading.Thread(target=daemon.run)
        runner.start()
        assert drained.wait(30)
        if part[0] == 90:
            daemon._finish()  # what the end of the data does (a live source never ends)
        daemon.request_stop("SIGTERM")
        runner.join(30)
        published.append([(r["start"] - base, r["events"]) for r in daemon.history.records or []])
    assert published == [[(0.0, 60)], [(60.0, 60), (120.0, 30)]]


def test_weekly_windows_start_on_the_configured_weekday() -> None:
    """Epoch-aligned weeks start on Thursdays; ``week_starts_on: monday`` moves them to
    Monday 00:00 UTC, and ``utc_offset_hours: 2`` to Monday 00:00 at UTC+2."""
    week = {"name": "w", "duration_seconds": 604800, "slide_seconds": 604800}

    def first_start(**alignment: Any) -> dt.datetime:
        spec = TimeWindowConfig(**week, **alignment)
        start = (START - spec.offset) // spec.slide_seconds * spec.slide_seconds + spec.offset
        return dt.datetime.fromtimestamp(start, dt.UTC)

    assert first_start().strftime("%A %H:%M") == "Thursday 00:00"
    assert first_start(week_starts_on="monday").strftime("%A %H:%M") == "Monday 00:00"
    assert first_start(week_starts_on="monday", utc_offset_hours=2).strftime(
        "%A %H:%M") == "Sunday 22:00"


def test_a_weekly_window_aligned_to_monday_starts_on_monday_in_the_daemon(
        tmp_path: Path) -> None:
    config = config_for(tmp_path, [{"name": "week", "type": "time",
                                    "duration_seconds": 604800, "slide_seconds": 604800,
                                    "week_starts_on": "monday"}])
    (tmp_path / "events.jsonl").write_bytes(lines(START + np.arange(0, 14 * 86400, 3600)))
    records = replay(config, profile_for(config), tmp_path / "results.jsonl")
    starts = [dt.datetime.fromtimestamp(r["start"], dt.UTC) for r in records]
    assert len(starts) == 3 and {s.strftime("%A %H:%M:%S") for s in starts} == {
        "Monday 00:00:00"}
    assert sum(r["events"] for r in records) == 14 * 24
