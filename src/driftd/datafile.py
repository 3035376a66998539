"""Reading data files (Parquet, CSV, JSONL) in chunks: `reference build`, `check` and
the file source of `run`.

This is the only module that imports pandas and pyarrow. JSONL lines are handed on
undecoded, CSV and Parquet rows as objects, so files go through the same decoder (and
the same validation) as a stream.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv",
           ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
# What a CSV cell of a number column may say for "no value" (pandas' defaults).
NA_MARKERS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan",
              "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan",
              "null")


class DataFileError(Exception):
    """A data file that cannot be read at all."""


@dataclass(frozen=True, slots=True)
class BadCell:
    """A CSV cell that does not read as its column's kind: handed on as missing."""

    column: str
    origin: str  # file:line, the header being line 1
    text: str

    @property
    def detail(self) -> str:
        return f"{self.column}: expected a number, got {self.text[:60]!r}"


@dataclass(slots=True)
class Chunk:
    """Up to ``batch_rows`` records: raw JSON lines or already-parsed objects;
    ``bad_cells`` of a typed CSV (see ``read_chunks``), in file order."""

    messages: list[bytes] = field(default_factory=list)
    objects: list[dict[str, Any]] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    fraction_read: float = 0.0
    bad_cells: list[BadCell] = field(default_factory=list)


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise DataFileError(
            f"{path}: unknown format {suffix or '(no extension)'}; "
            "use .parquet, .csv or .jsonl")
    return FORMATS[suffix]


def read_problem(path: Path, kind: str) -> str | None:
    """Why the first record of ``path`` cannot be read as ``kind``, or None (a check
    before a replay starts: a file that is no Parquet at all is a setup problem)."""
    chunks = read_chunks(path, 1, kind=kind)
    try:
        next(chunks, None)
    except DataFileError as error:
        return str(error)
    finally:
        chunks.close()
    return None


def read_chunks(
    path: Path, batch_rows: int = 50_000, *, kind: str | None = None, skip: int = 0,
    epoch_columns: Collection[str] = (),
    column_kinds: Mapping[str, str] | None = None,
) -> Generator[Chunk, None, None]:
    """Chunks of ``path`` after its first ``skip`` records (non-blank lines, or rows);
    raises DataFileError when it cannot be opened or parsed.

    ``kind`` is the format (default: from the suffix). Parquet timestamps with a time zone
    in ``epoch_columns`` are handed on as epoch seconds: the same instant, without a
    datetime object per row. ``column_kinds`` types CSV columns by name: "numeric" ones
    are read cell by cell (empty and NA markers are missing; a cell that reads as no
    number is missing too, and listed in the chunk's ``bad_cells``), "categorical" ones
    as the text written ("01" stays "01", "NA" is a category; only an empty cell is
    missing). Other columns: a cell is a number where its text reads as one.
    """
    kind = kind or file_format(path)
    if not path.is_file():
        raise DataFileError(f"{path}: file not found")
    try:
        if kind == "jsonl":
            yield from _jsonl_chunks(path, batch_rows, skip)
        elif kind == "csv":
            yield from _csv_chunks(path, batch_rows, skip, column_kinds or {})
        else:
            yield from _parquet_chunks(path, batch_rows, skip, epoch_columns)
    except (OSError, ValueError) as error:
        raise DataFileError(f"{path}: cannot read {kind}: {error}") from None


def _jsonl_chunks(path: Path, batch_rows: int, skip: int) -> Iterator[Chunk]:
    size = max(path.stat().st_size, 1)
    with path.open("rb") as handle:
        chunk = Chunk()
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if skip:
                skip -= 1
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


def _csv_chunks(
    path: Path, batch_rows: int, skip: int, kinds: Mapping[str, str]
) -> Iterator[Chunk]:
    import pandas as pd

    size = max(path.stat().st_size, 1)
    with path.open("rb") as handle:
        options = _csv_options(handle, kinds)
        with pd.read_csv(handle, chunksize=batch_rows, **options) as reader:
            yield from _csv_frames(reader, path.name, handle, size, skip, kinds)


def _csv_options(handle: BinaryIO, kinds: Mapping[str, str]) -> dict[str, Any]:
    """read_csv options that read the categorical columns as the text written."""
    import pandas as pd

    if "categorical" not in kinds.values():
        return {}
    header = [str(name) for name in pd.read_csv(handle, nrows=0).columns]
    handle.seek(0)
    text = [name for name in header if kinds.get(name) == "categorical"]
    if not text:
        return {}
    return {"dtype": dict.fromkeys(text, str), "keep_default_na": False,
            "na_values": {name: [""] if name in text else list(NA_MARKERS) for name in header}}


def _csv_frames(reader: Iterator[pd.DataFrame], name: str, handle: BinaryIO, size: int,
                skip: int, kinds: Mapping[str, str]) -> Iterator[Chunk]:
    first = 2  # line 1 is the header
    for frame in reader:
        skipped = min(skip, len(frame))  # parsed again, but never decoded again
        skip -= skipped
        first += skipped
        if skipped == len(frame):
            continue
        bad: list[tuple[int, str, str]] = []
        objects = _records(frame.iloc[skipped:], kinds, bad)
        origins = [f"{name}:{first + i}" for i in range(len(objects))]
        first += len(objects)
        cells = [BadCell(column, origins[row], text) for row, column, text in sorted(bad)]
        yield Chunk(objects=objects, origins=origins, bad_cells=cells,
                    fraction_read=min(handle.tell() / size, 1.0))
        del frame, objects, origins, cells  # before the next is read: one chunk at a time


_NUMBER_STARTS = list("0123456789+-.")


def _records(frame: pd.DataFrame, kinds: Mapping[str, str],
             bad: list[tuple[int, str, str]]) -> list[dict[str, Any]]:
    """Each row as a JSON producer would have sent it: a cell is a number where its text
    reads as one (an integer when written as one), text otherwise, None when empty.

    pandas types a column by all its cells in the chunk: one cell that is not a number
    makes every number of its column text, one empty cell makes every integer a float
    (an id that no longer matches). Either would cost the other rows their event.
    A cell of a numeric column that is no number is None, and (row, column, text) in
    ``bad``."""
    names = [str(name) for name in frame.columns]  # strings already: the CSV header
    cells = [_cells(column, kinds.get(name), name, bad) for name, (_, column) in
             zip(names, frame.items(), strict=True)]
    return [dict(zip(names, row, strict=True)) for row in zip(*cells, strict=True)]


def _cells(column: pd.Series[Any], kind: str | None, name: str,
           bad: list[tuple[int, str, str]]) -> list[Any]:
    import pandas as pd

    text = column.dtype == object or pd.api.types.is_string_dtype(column.dtype)
    if kind == "categorical" and text:  # read as str: no number conversion
        return column.astype(object).where(column.notna(), None).tolist()
    if kind == "numeric":
        return _number_cells(column, name, bad) if text else column.tolist()
    if column.dtype.kind == "f" and column.hasnans:  # NaN (never equal to itself): empty
        present = column.dropna()
        if ((present % 1 == 0) & (present.abs() < 2**53)).all():
            return [None if value != value else int(value) for value in column.tolist()]
        return [None if value != value else value for value in column.tolist()]
    if text:
        column = _numbers_in_text(column)
        return column.astype(object).where(column.notna(), None).tolist()
    return column.tolist()


def _number_cells(column: pd.Series[Any], name: str,
                  bad: list[tuple[int, str, str]]) -> list[Any]:
    """A numeric column that pandas read as text (some cell is no number): each cell as
    its number, None where missing or unreadable (those listed in ``bad``)."""
    import numpy as np
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce")
    unread = (numbers.isna() & column.notna()).to_numpy()
    texts = column.to_numpy(dtype=object)
    bad.extend((int(row), name, str(texts[row])) for row in np.flatnonzero(unread))
    return numbers.astype(object).where(numbers.notna(), None).tolist()


def _numbers_in_text(column: pd.Series[Any]) -> pd.Series[Any]:
    import pandas as pd

    candidates = column.str[:1].isin(_NUMBER_STARTS)  # a cheap look before parsing
    if not candidates.any():
        return column
    numbers = pd.to_numeric(column[candidates], errors="coerce", dtype_backend="numpy_nullable")
    found = numbers.notna()
    if not found.any():
        return column
    cells = column.astype(object)
    cells[numbers.index[found]] = numbers[found].astype(object)
    return cells


def _parquet_chunks(path: Path, batch_rows: int, skip: int,
                    epoch_columns: Collection[str]) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    # Not pre-buffered: iter_batches would read ahead the bytes of every row group it is
    # given and keep them to the end (the whole file in memory: 290 MB for 2M rows).
    parquet = pq.ParquetFile(path, pre_buffer=False)
    total = max(parquet.metadata.num_rows, 1)
    groups = list(range(parquet.num_row_groups))
    seen = 0
    while groups and seen + parquet.metadata.row_group(groups[0]).num_rows <= skip:
        seen += parquet.metadata.row_group(groups.pop(0)).num_rows  # skipped unread
    if not groups:
        return
    for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=groups):
        skipped = min(max(skip - seen, 0), batch.num_rows)
        seen += skipped
        if skipped == batch.num_rows:
            continue
        objects = _epoch_seconds(batch.slice(skipped), epoch_columns).to_pylist()
        origins = [f"{path.name}#row{seen + i}" for i in range(len(objects))]
        seen += len(objects)
        yield Chunk(objects=objects, origins=origins, fraction_read=seen / total)
        del batch, objects, origins  # before the next is read: one chunk at a time


def _epoch_seconds(batch: pa.RecordBatch, names: Collection[str]) -> pa.RecordBatch:
    import pyarrow as pa
    import pyarrow.compute as pc

    columns, changed = list(batch.columns), False
    for index, (name, column) in enumerate(zip(batch.schema.names, columns, strict=True)):
        kind = column.type
        if name in names and pa.types.is_timestamp(kind) and kind.tz:
            per_second = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[kind.unit]
            # Unsafe: nanoseconds since the epoch exceed 2**53; the seconds they make
            # hold no more precision than that anyway (about 0.2 us today).
            columns[index] = pc.divide(pc.cast(column.cast(pa.int64()), pa.float64(),
                                               safe=False), per_second)
            changed = True
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names) if changed else batch
