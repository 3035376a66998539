"""Reading data files (Parquet, CSV, JSONL) in chunks for `reference build` and `check`.

This is the only module that imports pandas and pyarrow. JSONL lines are handed on
undecoded, so files go through the same decoder (and the same validation) as a stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv",
           ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class DataFileError(Exception):
    """A data file that cannot be read at all."""


@dataclass(slots=True)
class Chunk:
    """Up to ``batch_rows`` records: raw JSON lines or already-parsed objects."""

    messages: list[bytes] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    fraction_read: float = 0.0


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataFileError(
            f"{path}: unknown format {suffix or '(no extension)'}; "
            "use .parquet, .csv or .jsonl")
    return FORMATS[suffix]


def read_chunks(path: Path, batch_rows: int = 50_000) -> Iterator[Chunk]:
    """Chunks of ``path``; raises DataFileError when it cannot be opened or parsed."""
    kind = file_format(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    readers = {"jsonl": _jsonl_chunks, "csv": _csv_chunks, "parquet": _parquet_chunks}
    try:
        yield from readers[kind](path, batch_rows)
    except (OSError, ValueError) as error:
        raise DataFileError(f"{path}: cannot read {kind}: {error}") from None


def _jsonl_chunks(path: Path, batch_rows: int) -> Iterator[Chunk]:
    size = max(path.stat().st_size, 1)
    with path.open("rb") as handle:
        chunk = Chunk()
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            chunk.messages.append(line)
            chunk.origins.append(f"{path.name}:{number}")
            if len(chunk.messages) >= batch_rows:
                chunk.fraction_read = handle.tell() / size
                yield chunk
                chunk = Chunk()
        if chunk.messages:
            chunk.fraction_read = 1.0
            yield chunk


def _csv_chunks(path: Path, batch_rows: int) -> Iterator[Chunk]:
    import pandas as pd

    size = max(path.stat().st_size, 1)
    with path.open("rb") as handle, pd.read_csv(handle, chunksize=batch_rows) as reader:
        first = 2  # line 1 is the header
        for frame in reader:
            # Column names are strings: the CSV header.
            objects = cast(list[dict[str, Any]], frame.to_dict(orient="records"))
            origins = [f"{path.name}:{first + i}" for i in range(len(objects))]
            first += len(objects)
            yield Chunk(objects=objects, origins=origins,
                        fraction_read=min(handle.tell() / size, 1.0))


def _parquet_chunks(path: Path, batch_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    total = max(parquet.metadata.num_rows, 1)
    seen = 0
    for batch in parquet.iter_batches(batch_size=batch_rows):
        objects = batch.to_pylist()
        origins = [f"{path.name}#row{seen + i}" for i in range(len(objects))]
        seen += len(objects)
        yield Chunk(objects=objects, origins=origins, fraction_read=seen / total)
