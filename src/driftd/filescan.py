"""Feeding a whole data file through the stream decoder, chunk by chunk (`check` and
`reference build`).

A CSV holds text, so its columns are read with the model's column kinds: a cell of a
numeric column that reads as no number is invalid for that column only. It counts as
missing there and in ``ScanReport.invalid_values``; the record and its other values
stay. JSONL and Parquet values are typed by their writer: one of the wrong type rejects
its record, as the stream's decoder does (``ScanReport.invalid``), and so does a record
that cannot be read at all (malformed JSON, another model, a bad timestamp).
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from driftd.config import ColumnConfig
from driftd.datafile import BadCell, read_chunks
from driftd.events import Decoder, ModelBatch, Rejection


@dataclass(slots=True)
class ScanReport:
    """What a scan accepted and rejected: ``rows`` valid records, ``invalid`` records by
    reason, ``invalid_values`` by column and reason (values missing in their column of a
    valid record); ``examples`` and ``value_examples`` keep the first of each."""

    rows: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    examples: list[Rejection] = field(default_factory=list)
    invalid_values: dict[str, Counter[str]] = field(default_factory=dict)
    value_examples: list[BadCell] = field(default_factory=list)

    @property
    def records(self) -> int:
        """Every record read: valid or not."""
        return self.rows + sum(self.invalid.values())

    def worst_invalid(self) -> tuple[str, float]:
        """The largest share of invalid input, and what it is a share of: "records" (of
        all records), or "values of column X" (of the valid records)."""
        worst = ("records", sum(self.invalid.values()) / max(self.records, 1))
        for column, reasons in sorted(self.invalid_values.items()):
            share = sum(reasons.values()) / max(self.rows, 1)
            if share > worst[1]:
                worst = (f"values of column {column}", share)
        return worst

    def describe_invalid(self, examples: int = 5) -> list[str]:
        """Lines for a report: the invalid records and values by reason, and the first
        of each with where they are (``file:line`` or ``file#rowN``)."""
        lines = []
        if self.invalid:
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.invalid.items()))
            lines.append(f"invalid records: {reasons}")
            lines += [f"  {r.origin}: {r.reason}: {r.detail}" for r in self.examples[:examples]]
        if self.invalid_values:
            counts = ", ".join(f"{column} {reason}={n}" for column, reasons in
                               sorted(self.invalid_values.items())
                               for reason, n in sorted(reasons.items()))
            lines.append(f"invalid values (missing in their column): {counts}")
            lines += [f"  {c.origin}: wrong_type: {c.detail}"
                      for c in self.value_examples[:examples]]
        return lines

    def add_values(self, cells: Iterable[BadCell], keep_examples: int) -> None:
        for cell in cells:
            self.invalid_values.setdefault(cell.column, Counter())["wrong_type"] += 1
            if len(self.value_examples) < keep_examples:
                self.value_examples.append(cell)


class Progress:
    """Records read, rate and time left while a long file is read, on stderr.

    On a terminal one line is redrawn (at most every ``redraw_seconds``); otherwise, as
    in a CI log, a line is written every ``every_seconds``. Nothing is shown for a read
    shorter than ``quiet_seconds``. ``clock`` is in seconds (``time.monotonic``).
    """

    def __init__(
        self, label: str, stream: TextIO | None = None, *,
        clock: Callable[[], float] = time.monotonic, quiet_seconds: float = 2.0,
        every_seconds: float = 10.0, redraw_seconds: float = 0.25,
    ) -> None:
        if every_seconds <= 0 or redraw_seconds <= 0:
            raise ValueError("every_seconds and redraw_seconds must be > 0")
        self._label, self._stream, self._clock = label, stream or sys.stderr, clock
        self._tty = self._stream.isatty()
        self._quiet = quiet_seconds
        self._every = redraw_seconds if self._tty else every_seconds
        self._start = clock()
        self._next = self._start + quiet_seconds
        self._shown = False
        self._rows = 0

    def update(self, fraction: float, rows: int) -> None:
        """``rows`` records read so far, ``fraction`` of the file."""
        self._rows = rows
        now = self._clock()
        if now < self._next:
            return
        self._next = now + self._every
        self._write(self.describe(fraction, rows, now - self._start))

    def done(self) -> None:
        """The last line: the whole read, its rows and its rate (when any line was shown)."""
        if not self._shown:
            return
        elapsed = self._clock() - self._start
        rate = self._rows / elapsed if elapsed > 0 else 0.0
        self._write(f"{self._label}: done, {self._rows:,} records in "
                    f"{_duration(elapsed)} ({rate:,.0f} records/s)")
        if self._tty:
            self._stream.write("\n")
        self._stream.flush()

    def describe(self, fraction: float, rows: int, elapsed: float) -> str:
        """One progress line, e.g. "reading x.csv: 25.0%, 500,000 records, 100,000
        records/s, 15 s left"."""
        rate = rows / elapsed if elapsed > 0 else 0.0
        line = f"{self._label}: {fraction:5.1%}, {rows:,} records, {rate:,.0f} records/s"
        if 0 < fraction < 1:
            line += f", {_duration(elapsed * (1 - fraction) / fraction)} left"
        return line

    def _write(self, line: str) -> None:
        self._shown = True
        if self._tty:  # redraw in place; pad over a longer previous line
            self._stream.write(f"\r{line:<79}")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()


def _duration(seconds: float) -> str:
    """
    >>> [_duration(s) for s in (0.4, 59.4, 61, 3725)]
    ['0 s', '59 s', '1 min 01 s', '1 h 02 min']
    """
    whole = int(seconds + 0.5)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def column_kinds(columns: Sequence[ColumnConfig]) -> dict[str, str]:
    """How to read each column of a flat file (CSV): a monitored column's kind, under
    its name and the last part of its path. A categorical label is left to the general
    rule (a number where it reads as one), so that 1, "1" and 1.0 stay the same label."""
    kinds: dict[str, str] = {}
    for column in columns:
        if column.role == "label" and column.kind == "categorical":
            continue
        last = column.event_path[-1]
        for name in (last if isinstance(last, str) else column.name, column.name):
            kinds.setdefault(name, column.kind)
    return kinds


def scan_file(
    path: Path, decoder: Decoder, model: str, on_batch: Callable[[ModelBatch], None],
    *, progress: Progress | None = None, batch_rows: int = 10_000, keep_examples: int = 10,
    columns: Sequence[ColumnConfig] = (),
) -> ScanReport:
    """Decode every record of ``path`` for ``model`` and hand each valid batch on;
    ``columns`` (the model's) type the columns of a CSV."""
    report = ScanReport()
    for chunk in read_chunks(path, batch_rows, column_kinds=column_kinds(columns)):
        if chunk.messages:
            decoded = decoder.decode(chunk.messages, 0.0, chunk.origins)
        else:
            decoded = decoder.decode_objects(chunk.objects, 0.0, chunk.origins)
        report.invalid.update(decoded.invalid_counts())
        room = keep_examples - len(report.examples)
        report.examples.extend(decoded.rejections[:max(room, 0)])
        if chunk.bad_cells:  # those of records rejected anyway are not counted twice
            rejected = {r.origin for r in decoded.rejections}
            report.add_values((c for c in chunk.bad_cells if c.origin not in rejected),
                              keep_examples)
        batch = decoded.models.get(model)
        if batch is not None and len(batch):
            report.rows += len(batch)
            on_batch(batch)
        if progress is not None:
            progress.update(chunk.fraction_read, report.records)
        del chunk, decoded, batch  # before the next chunk is read: one in memory at a time
    if progress is not None:
        progress.done()
    return report
