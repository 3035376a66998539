"""Progress of a long read on stderr: rate and time left, redrawn on a terminal, log
lines every 10 s otherwise; a clock passed in (no sleeps)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from driftd.config import ColumnConfig
from driftd.events import Decoder
from driftd.filescan import Progress, scan_file


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drive(tty: bool, steps: list[tuple[float, float, int]]) -> str:
    """A read of 2,000,000 records: ``(seconds since start, fraction, records)`` updates,
    then done at the last step's time."""
    stream, clock = Stream(tty), Clock()
    progress = Progress("reading big.csv", stream, clock=clock)
    for seconds, fraction, rows in steps:
        clock.now = 1000.0 + seconds
        progress.update(fraction, rows)
    progress.done()
    return stream.getvalue()


STEPS = [(1.0, 0.05, 100_000), (2.5, 0.125, 250_000), (5.0, 0.25, 500_000),
         (12.5, 0.625, 1_250_000), (20.0, 1.0, 2_000_000)]


def test_log_lines_every_10_seconds_when_stderr_is_no_terminal() -> None:
    """Steps: updates at 1, 2.5, 5, 12.5 and 20 s of a 20-second read; stderr a file.

    Expected: nothing in the first 2 s; a line at 2.5 s with the rate and the time left;
    none at 5 s (within 10 s of it); one at 12.5 s; none at 20 s (within 10 s again);
    then the summary. Whole lines, no carriage returns.
    """
    assert drive(False, STEPS).splitlines() == [
        "reading big.csv: 12.5%, 250,000 records, 100,000 records/s, 18 s left",
        "reading big.csv: 62.5%, 1,250,000 records, 100,000 records/s, 8 s left",
        "reading big.csv: done, 2,000,000 records in 20 s (100,000 records/s)",
    ]


def test_one_line_redrawn_on_a_terminal() -> None:
    """Steps: the same read with stderr a terminal.

    Expected: every update from 2 s on redraws the line in place (carriage return,
    padded to 79 characters), then the summary and a newline.
    """
    out = drive(True, STEPS)

    assert out.endswith("\n") and out.count("\n") == 1
    frames = out.rstrip("\n").split("\r")[1:]
    assert [frame.rstrip() for frame in frames] == [
        "reading big.csv: 12.5%, 250,000 records, 100,000 records/s, 18 s left",
        "reading big.csv: 25.0%, 500,000 records, 100,000 records/s, 15 s left",
        "reading big.csv: 62.5%, 1,250,000 records, 100,000 records/s, 8 s left",
        "reading big.csv: 100.0%, 2,000,000 records, 100,000 records/s",
        "reading big.csv: done, 2,000,000 records in 20 s (100,000 records/s)",
    ]
    assert all(len(frame) == 79 for frame in frames)


@pytest.mark.parametrize("tty", [False, True])
def test_a_short_read_shows_nothing(tty: bool) -> None:
    assert drive(tty, [(0.5, 0.5, 10), (1.5, 1.0, 20)]) == ""


def test_scan_file_reports_every_record_read(tmp_path: Path) -> None:
    """Steps: a 25-row CSV (5 rows of another model) scanned in chunks of 10, with a
    clock that moves 3 s per reading and no quiet time.

    Expected: one log line per chunk, counting records read (valid or not), the file's
    fraction read, and the summary of all 25.
    """
    path = tmp_path / "rows.csv"
    frame = pd.DataFrame({"model": ["m"] * 20 + ["other"] * 5, "x": range(25)})
    frame.to_csv(path, index=False)
    clock, stream = Clock(), Stream(False)

    def tick() -> float:
        clock.now += 3.0
        return clock.now

    progress = Progress("reading rows.csv", stream, clock=tick, quiet_seconds=0,
                        every_seconds=1)
    decoder = Decoder({"m": (ColumnConfig(name="x", kind="numeric"),)}, default_model="m")
    report = scan_file(path, decoder, "m", lambda batch: None, progress=progress,
                       batch_rows=10, columns=[ColumnConfig(name="x", kind="numeric")])

    assert (report.rows, dict(report.invalid)) == (20, {"unknown_model": 5})
    lines = stream.getvalue().splitlines()
    assert [line.split(", ")[1] for line in lines[:3]] == [
        "10 records", "20 records", "25 records"]
    assert lines[2].startswith("reading rows.csv: 100.0%, ")
    assert lines[3] == "reading rows.csv: done, 25 records in 12 s (2 records/s)"
