"""The file source and time zones in the config: what is accepted, and one line per
problem, naming its field, from `driftd config validate` and `driftd run` alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from config.support import write_profile
from driftd import config as cfg
from driftd.cli import main as driftd
from driftd.commands import run as run_command
from driftd.sources.files import FileSource
from driftd.sources.jsonl import JsonlSource


@pytest.fixture(autouse=True)
def _no_driftd_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in cfg.ENV_OVERRIDES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def serve_calls(monkeypatch: pytest.MonkeyPatch) -> list[cfg.Config]:
    """The configs `run` would serve (it never starts a daemon here)."""
    calls: list[cfg.Config] = []
    monkeypatch.setattr(run_command, "serve",
                        lambda config, *args, **kwargs: calls.append(config) or 0)
    return calls


def write_config(etc: Path, sources: list[dict[str, Any]], **sections: Any) -> Path:
    """A config of one model with a real profile in ``etc``, and ``sources``."""
    write_profile(etc / "fraud.json", {"amount": "input"})
    raw = {"models": [{"name": "fraud", "reference": "fraud.json",
                       "columns": [{"name": "amount", "kind": "numeric"}],
                       "windows": [{"name": "1h", "type": "time", "duration_seconds": 3600,
                                    "slide_seconds": 300}]}],
           "sources": sources, "http": {"address": "127.0.0.1:0"}, **sections}
    path = etc / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def refusals(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[list[str], list[str]]:
    """The stderr lines of `config validate` and of `run`, each of which must exit 2."""
    assert driftd(["config", "validate", str(path)]) == 2
    validate = capsys.readouterr().err.splitlines()
    assert driftd(["run", "--config", str(path)]) == 2
    return validate, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(("name", "expected"), [
    ("a.jsonl", "jsonl"), ("a.ndjson", "jsonl"), ("a.json", "jsonl"), ("a.csv", "csv"),
    ("a.parquet", "parquet"), ("A.PQ", "parquet")])
def test_the_format_follows_the_suffix(tmp_path: Path, name: str, expected: str) -> None:
    """Each known suffix, in any case, gives its format; stream defaults to predictions."""
    (tmp_path / name).touch()
    config = cfg.load_config(write_config(tmp_path, [{"type": "file", "path": name}]))

    [source] = config.sources
    assert isinstance(source, cfg.FileSourceConfig)
    assert (source.file_format, source.stream, source.format) == (expected, "predictions",
                                                                  "auto")
    assert source.path == str(tmp_path / name)  # relative to the config file


def test_a_backtest_config_runs_with_its_streams_and_zones(
    tmp_path: Path, serve_calls: list[cfg.Config], capsys: pytest.CaptureFixture[str],
) -> None:
    """Steps: a CSV read as predictions with its own zone, a JSONL file read as outcomes
    (`stream: outcomes` on a jsonl source), ingest.timezone set; validate, then run.

    Expected: both accept it; run's sources are a FileSource and a JsonlSource of those
    streams.
    """
    (tmp_path / "predictions.csv").write_text("model,ts,amount\n")
    (tmp_path / "outcomes.jsonl").write_text("")
    path = write_config(tmp_path, [
        {"type": "file", "path": "predictions.csv", "timezone": "+02:00", "batch_size": 100},
        {"type": "jsonl", "path": "outcomes.jsonl", "stream": "outcomes"}],
        ingest={"timezone": "Europe/Berlin"})

    assert driftd(["config", "validate", str(path)]) == 0
    assert driftd(["run", "--config", str(path)]) == 0

    assert capsys.readouterr().err == ""
    [config] = serve_calls
    assert config.ingest.timezone == "Europe/Berlin"
    sources = run_command.build_sources(config)
    try:
        assert [type(s) for s in sources] == [FileSource, JsonlSource]
        # Empty files (the JSONL reader thread tells the end within the timeout).
        assert [s.poll(10, 2.0) for s in sources] == [None, None]
        assert sources[0].name == f"file:{tmp_path / 'predictions.csv'}[predictions]"
    finally:
        for source in sources:
            source.close()


@pytest.mark.parametrize(("source", "ingest", "expected"), [
    pytest.param({"path": "export.xlsx"}, {},
                 "sources.0.format: cannot tell the format of {etc}/export.xlsx from its "
                 "suffix; set format to jsonl, csv or parquet", id="unknown suffix"),
    pytest.param({"path": "events.jsonl", "format": "excel"}, {},
                 "sources.0.format: Input should be 'auto', 'jsonl', 'csv' or 'parquet'",
                 id="unknown format"),
    pytest.param({"path": "events.jsonl", "timezone": "CEST"}, {},
                 "sources.0.timezone: 'CEST' is neither an IANA time zone name (e.g. "
                 "Europe/Berlin) nor a UTC offset (e.g. +02:00)", id="unknown zone"),
    pytest.param({"path": "events.jsonl"}, {"timezone": "+25:00"},
                 "ingest.timezone: '+25:00': a UTC offset is -23:59 to +23:59",
                 id="offset out of range"),
    pytest.param({"path": "events.jsonl", "stream": "labels"}, {},
                 "sources.0.stream: Input should be 'features', 'predictions' or 'outcomes'",
                 id="unknown stream"),
    pytest.param({"path": "-", "format": "jsonl"}, {},
                 'sources.0.path: stdin is read by a jsonl source (type: jsonl, path: "-")',
                 id="stdin"),
    pytest.param({"path": "missing.parquet"}, {},
                 "sources.0.path: file not found: {etc}/missing.parquet", id="missing file"),
])
def test_a_broken_file_source_is_one_line_naming_its_field(
    tmp_path: Path, serve_calls: list[cfg.Config], capsys: pytest.CaptureFixture[str],
    source: dict[str, Any], ingest: dict[str, Any], expected: str,
) -> None:
    """Steps: a file source with one thing wrong; `driftd config validate`, `driftd run`.

    Expected: both exit 2 with exactly that one line (run's after "driftd run: F: ");
    run never serves.
    """
    (tmp_path / "events.jsonl").write_text("")
    (tmp_path / "export.xlsx").write_text("")
    path = write_config(tmp_path, [{"type": "file", **source}], ingest=ingest)
    line = expected.format(etc=tmp_path)

    validate, run = refusals(path, capsys)

    assert validate == [line]
    assert run == [f"driftd run: {path}: {line}"]
    assert serve_calls == []


def test_the_backtest_example_reads_outcomes_then_predictions_from_files() -> None:
    """config/backtest.example.yaml loads; its sources are the outcome JSONL file and the
    prediction Parquet file, in that order, next to the example; naive times in Berlin."""
    example = Path(__file__).resolve().parents[2] / "config" / "backtest.example.yaml"

    config = cfg.load_config(example, environ={})

    assert [(s.type, s.stream, s.file_format, s.path) for s in config.sources
            if isinstance(s, cfg.FileSourceConfig)] == [
        ("file", "outcomes", "jsonl", str(example.parent / "backtest" / "outcomes.jsonl")),
        ("file", "predictions", "parquet",
         str(example.parent / "backtest" / "predictions.parquet"))]
    assert config.ingest.timezone == "Europe/Berlin"


def test_a_file_that_is_not_what_its_format_says_is_refused_before_the_replay(
    tmp_path: Path, serve_calls: list[cfg.Config], capsys: pytest.CaptureFixture[str],
) -> None:
    """Steps: a text file named predictions.parquet; validate, run.

    Expected: both exit 2 with one line, under sources.0.path, saying the file cannot be
    read as Parquet (pyarrow's reason follows); run never serves.
    """
    (tmp_path / "predictions.parquet").write_text("model,ts\nm,1\n")
    path = write_config(tmp_path, [{"type": "file", "path": "predictions.parquet"}])

    validate, run = refusals(path, capsys)

    start = f"sources.0.path: {tmp_path / 'predictions.parquet'}: cannot read parquet: "
    assert len(validate) == 1 and validate[0].startswith(start)
    assert run == [f"driftd run: {path}: {validate[0]}"]
    assert serve_calls == []
