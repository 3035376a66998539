"""Feeding a whole data file through the stream decoder, chunk by chunk."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from driftd.datafile import read_chunks
from driftd.events import Decoder, ModelBatch, Rejection


@dataclass(slots=True)
class ScanReport:
    """What a scan accepted and rejected; ``examples`` keeps the first rejections."""

    rows: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    examples: list[Rejection] = field(default_factory=list)


class Progress:
    """A one-line progress indicator on stderr for large inputs (only on a terminal)."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self._label, self._stream = label, stream or sys.stderr
        self._shown = False

    def update(self, fraction: float, rows: int) -> None:
        if rows < 200_000 or not self._stream.isatty():
            return
        self._shown = True
        self._stream.write(f"\r{self._label}: {fraction:6.1%} ({rows:,} rows)")
        self._stream.flush()

    def done(self) -> None:
        if self._shown:
            self._stream.write("\n")


def scan_file(
    path: Path, decoder: Decoder, model: str, on_batch: Callable[[ModelBatch], None],
    *, progress: Progress | None = None, batch_rows: int = 50_000, keep_examples: int = 10,
) -> ScanReport:
    """Decode every record of ``path`` for ``model`` and hand each valid batch on."""
    report = ScanReport()
    for chunk in read_chunks(path, batch_rows):
        if chunk.messages:
            decoded = decoder.decode(chunk.messages, 0.0, chunk.origins)
        else:
            decoded = decoder.decode_objects(chunk.objects, 0.0, chunk.origins)
        report.invalid.update(decoded.invalid_counts())
        room = keep_examples - len(report.examples)
        report.examples.extend(decoded.rejections[:max(room, 0)])
        batch = decoded.models.get(model)
        if batch is not None and len(batch):
            report.rows += len(batch)
            on_batch(batch)
        if progress is not None:
            progress.update(chunk.fraction_read, report.rows)
    if progress is not None:
        progress.done()
    return report
