"""Backtests from files: JSONL, CSV and Parquet rows through the stream's decoder.

Each scenario writes a real file, reads it with a ``FileSource`` built from a parsed
config and decodes every batch with the decoder ``build_decoders`` gives its key, as the
daemon's pipeline does.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftd.config import ColumnConfig, Config, FileSourceConfig, parse_config
from driftd.events import DecodedBatch, Decoder
from driftd.service.pipeline import build_decoders
from driftd.sources.base import OffsetSource, RawBatch
from driftd.sources.files import FileSource, row_message

NOW = datetime(2027, 1, 1, tzinfo=UTC).timestamp()  # the clock: after every event
NOON = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # winter: Berlin is UTC+1


def file_config(path: Path, *, ingest: dict[str, Any] | None = None, strict: bool = False,
                **source: Any) -> Config:
    """One model ``m`` (numeric x, categorical country, score) and one file source."""
    return parse_config({
        "models": [{"name": "m", "reference": "m.json",
                    "non_finite": "invalid" if strict else "missing",
                    "columns": [{"name": "x", "kind": "numeric"},
                                {"name": "country", "kind": "categorical"},
                                {"name": "score", "kind": "numeric", "role": "prediction"}],
                    "windows": [{"name": "w", "type": "count", "size": 10, "step": 10}]}],
        "sources": [{"type": "file", "path": str(path), **source}],
        "ingest": ingest or {},
    }, environ={})


def rows(count: int, start: int = 0) -> list[dict[str, Any]]:
    """Predictions p<i>, one a minute from NOON, x = i / 4, country DE or FR."""
    return [{"model": "m", "id": f"p{i}", "ts": NOON + timedelta(minutes=i), "x": i / 4,
             "country": "DE" if i % 2 else "FR", "score": 0.5} for i in range(start, count)]


def write_parquet(path: Path, records: list[dict[str, Any]], *,
                  row_group_size: int | None = None) -> Path:
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=row_group_size)
    return path


def source_of(config: Config) -> FileSource:
    spec = config.sources[0]
    assert isinstance(spec, FileSourceConfig)
    return FileSource(spec)


def replay(config: Config, source: FileSource | None = None,
           max_messages: int = 5000) -> tuple[DecodedBatch, list[RawBatch]]:
    """Every batch of the file, decoded; and the raw batches."""
    source = source or source_of(config)
    decoders, decoded, batches = build_decoders(config), DecodedBatch(), []
    while (batch := source.poll(max_messages, 0.0)) is not None:
        batches.append(batch)
        decoded.merge(decoders[batch.key].decode(batch.messages, NOW, batch.origins))
        source.acknowledge(batch)
    source.close()
    return decoded, batches


def test_parquet_timestamps_in_utc_are_read_as_the_same_instants(tmp_path: Path) -> None:
    """A Parquet file of 12 predictions whose ts column is datetime64[us, UTC] (it used
    to be rejected as invalid_timestamp), read in batches of 5.

    Expected: 12 events, each at NOON + i minutes in epoch seconds exactly; batches of
    5, 5, 2 with stream, key, partition, ``file#rowN`` origins and positions 5, 10, 12.
    """
    path = tmp_path / "predictions.parquet"
    frame = pd.DataFrame(rows(12))
    frame["ts"] = frame["ts"].astype("datetime64[us, UTC]")
    frame.to_parquet(path)
    assert str(pq.read_schema(path).field("ts").type) == "timestamp[us, tz=UTC]"
    config = file_config(path, batch_size=5)

    decoded, batches = replay(config)

    assert decoded.rejections == []
    m = decoded.models["m"]
    assert m.timestamps.tolist() == [NOON.timestamp() + 60 * i for i in range(12)]
    assert m.ids == [f"p{i}" for i in range(12)]
    assert m.numeric["x"].tolist() == [i / 4 for i in range(12)]
    name = f"file:{path}[predictions]"
    assert [len(b.messages) for b in batches] == [5, 5, 2]
    assert {(b.stream, b.key, b.partition) for b in batches} == {("predictions", name, name)}
    assert batches[1].origins[0] == "predictions.parquet#row5"
    assert [b.position for b in batches] == [(name, 0, 5), (name, 0, 10), (name, 0, 12)]


def test_naive_parquet_times_are_read_in_the_configured_zone(tmp_path: Path) -> None:
    """Naive timestamps (12:00 local) with ingest.timezone Europe/Berlin, and the same
    file as a source whose own timezone (+05:30) overrides it.

    Expected: 12:00 Berlin in November = 11:00 UTC; 12:00 at +05:30 = 06:30 UTC.
    """
    path = write_parquet(tmp_path / "naive.parquet",
                         [{"model": "m", "ts": datetime(2026, 11, 26, 12, 0), "x": 1.0}])
    assert str(pq.read_schema(path).field("ts").type) == "timestamp[us]"

    berlin, _ = replay(file_config(path, ingest={"timezone": "Europe/Berlin"}))
    india, _ = replay(file_config(path, ingest={"timezone": "Europe/Berlin"},
                                  timezone="+05:30"))

    assert berlin.models["m"].timestamps.tolist() == [NOON.timestamp() - 3600]
    assert india.models["m"].timestamps.tolist() == [NOON.timestamp() - 5.5 * 3600]


def test_a_naive_time_without_a_zone_is_rejected_with_how_to_fix_it(tmp_path: Path) -> None:
    """A CSV whose second row's ts has no UTC offset, and no timezone configured.

    Expected: that event alone is rejected as invalid_timestamp, its detail says to add
    an offset or set ingest.timezone, and its origin is its line in the file.
    """
    path = tmp_path / "predictions.csv"
    path.write_text("model,id,ts,x\n"
                    "m,p0,2026-11-26T12:00:00Z,1.0\n"
                    "m,p1,2026-11-26 12:00:00,2.0\n"
                    "m,p2,2026-11-26T13:00:00+01:00,3.0\n")

    decoded, _ = replay(file_config(path))

    assert decoded.models["m"].ids == ["p0", "p2"]
    assert decoded.models["m"].timestamps.tolist() == [NOON.timestamp()] * 2
    [rejection] = decoded.rejections
    assert (rejection.reason, rejection.origin) == ("invalid_timestamp", "predictions.csv:3")
    assert rejection.detail == ("ts: naive timestamp '2026-11-26 12:00:00' has no UTC "
                                "offset; add one or set ingest.timezone")


def test_a_bad_cell_rejects_its_row_only(tmp_path: Path) -> None:
    """A CSV of 6 predictions: row 3's x is "abc", row 5's id is empty, and pandas would
    read the x column as text and the integer ids as floats.

    Expected: 5 events with their numbers and integer ids (None for the empty one); one
    wrong_type rejection for x at line 4, its payload the row as JSON.
    """
    path = tmp_path / "predictions.csv"
    path.write_text("model,id,ts,x,country,score\n"
                    "m,10,1795694400,1.5,DE,0.1\n"
                    "m,11,1795694460,2,FR,0.2\n"
                    "m,12,1795694520,abc,DE,0.3\n"
                    "m,,1795694580,4.25,,0.4\n"
                    "m,14,1795694640,-5e-1,DE,0.5\n"
                    "m,15,1795694700,,FR,0.6\n")

    decoded, _ = replay(file_config(path))

    m = decoded.models["m"]
    assert m.ids == [10, 11, None, 14, 15]
    assert m.numeric["x"].tolist()[:4] == [1.5, 2.0, 4.25, -0.5]
    assert math.isnan(m.numeric["x"][4])
    assert m.categorical["country"] == ["DE", "FR", None, "DE", "FR"]
    assert m.numeric["score"].tolist() == [0.1, 0.2, 0.4, 0.5, 0.6]
    [rejection] = decoded.rejections
    assert (rejection.reason, rejection.origin) == ("wrong_type", "predictions.csv:4")
    assert rejection.detail == "x: expected a number, got str"
    assert orjson.loads(rejection.payload) == {"model": "m", "id": 12, "ts": 1795694520,
                                               "x": "abc", "country": "DE", "score": 0.3}


def test_infinities_in_parquet_stay_infinite(tmp_path: Path) -> None:
    """A model with ``non_finite: invalid`` and a Parquet row whose x is -inf (orjson
    would write it as null, a missing value) next to one whose x is NaN.

    Expected: the -inf row is rejected as non_finite; the NaN row is kept, x missing.
    """
    path = write_parquet(tmp_path / "p.parquet", [
        {"model": "m", "id": "a", "ts": 1795694400, "x": float("-inf")},
        {"model": "m", "id": "b", "ts": 1795694400, "x": float("nan")}])

    decoded, _ = replay(file_config(path, strict=True))

    assert [r.reason for r in decoded.rejections] == ["non_finite"]
    assert decoded.models["m"].ids == ["b"] and math.isnan(decoded.models["m"].numeric["x"][0])


@pytest.mark.parametrize("kind", ["jsonl", "csv", "parquet"])
def test_a_checkpointed_position_resumes_after_the_rows_already_read(
    tmp_path: Path, kind: str,
) -> None:
    """100 predictions (Parquet in row groups of 30, JSONL with a blank line); a first
    run reads 3 batches of 17 and stops; a second source starts from the first one's
    positions.

    Expected: the first run acknowledged 51 records; the second reads exactly the other
    49, in order; together every id once. The second run's first origin is record 51's.
    """
    records = rows(100)
    path = tmp_path / f"predictions.{kind}"
    if kind == "parquet":
        write_parquet(path, records, row_group_size=30)
    elif kind == "csv":
        pd.DataFrame(records).to_csv(path, index=False)
    else:
        lines = [row_message(r) + b"\n" for r in records]
        path.write_bytes(b"".join(lines[:10]) + b"\n" + b"".join(lines[10:]))
    config = file_config(path, batch_size=17)
    first = source_of(config)
    decoders = build_decoders(config)
    seen: list[str] = []
    for _ in range(3):
        batch = first.poll(5000, 0.0)
        assert batch is not None
        seen += decoders[batch.key].decode(batch.messages, NOW).models["m"].ids
        first.acknowledge(batch)
    offsets = first.positions()
    first.close()
    assert offsets == {(first.name, 0): 51}

    second = source_of(config)
    second.start_from(offsets)
    decoded, batches = replay(config, second)

    assert decoded.models["m"].ids == [f"p{i}" for i in range(51, 100)]
    assert seen + decoded.models["m"].ids == [f"p{i}" for i in range(100)]
    expected_origin = {"parquet": "#row51", "csv": ":53", "jsonl": ":53"}[kind]
    assert batches[0].origins[0] == f"predictions.{kind}{expected_origin}"
    assert batches[-1].position == (second.name, 0, 100)
    assert second.positions() == {(second.name, 0): 100}


def test_the_source_is_drained_with_its_last_batch(tmp_path: Path) -> None:
    """10 rows polled 4 at a time (fewer than batch_size): the third batch holds the last
    2 and the source is drained from then on; later polls return None."""
    path = write_parquet(tmp_path / "p.parquet", rows(10))
    source = source_of(file_config(path, stream="outcomes"))
    assert isinstance(source, OffsetSource)

    sizes = []
    while not source.drained():
        batch = source.poll(4, 0.0)
        assert batch is not None and batch.stream == "outcomes"
        sizes.append(len(batch.messages))

    assert sizes == [4, 4, 2]
    assert source.poll(4, 0.0) is None
    assert source.name == f"file:{path}[outcomes]"


def test_an_explicit_format_wins_over_the_suffix(tmp_path: Path) -> None:
    """CSV text in a file named .txt, read with format: csv."""
    path = tmp_path / "export.txt"
    path.write_text("model,ts,x\nm,1795694400,7\n")

    decoded, _ = replay(file_config(path, format="csv"))

    assert decoded.models["m"].numeric["x"].tolist() == [7.0]


def test_datetimes_with_a_zone_are_accepted_by_the_decoder() -> None:
    """Already-parsed records (as `driftd check` hands them on) whose ts is a datetime:
    with a zone it is that instant; naive it is read in the decoder's zone, and without
    one rejected with how to fix it."""
    columns = {"m": [ColumnConfig(name="x", kind="numeric")]}
    records = [{"model": "m", "ts": NOON.astimezone(timezone(timedelta(hours=-5)))},
               {"model": "m", "ts": datetime(2026, 11, 26, 12, 0)}]

    in_zone = Decoder(columns, timezone=timezone(timedelta(hours=1))).decode_objects(records,
                                                                                    NOW)
    no_zone = Decoder(columns).decode_objects(records, NOW)

    assert in_zone.models["m"].timestamps.tolist() == [NOON.timestamp(),
                                                        NOON.timestamp() - 3600]
    assert no_zone.models["m"].timestamps.tolist() == [NOON.timestamp()]
    assert [r.detail for r in no_zone.rejections] == [
        "ts: naive timestamp '2026-11-26 12:00:00' has no UTC offset; add one or set "
        "ingest.timezone"]
