"""The results file: strict JSON lines, bounded rotation, exactly once across crashes.

Every scenario writes real files in a temporary directory. The "daemon" of the crash
scenarios is ``Replay``: record i comes from event i, a checkpoint (its position and
the next event) is stored after every ``every`` records, and a restart restores the
stored position and reads the events after it again, as driftd does.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from driftd.sinks.results_file import ResultsFile, ResultsSinkError

LINE = 160  # bytes of every record's line, newline included


def record(index: int, **extra: Any) -> dict[str, Any]:
    """The record event ``index`` produces (the same every time), padded to LINE bytes."""
    fields = {"model": "fraud", "window": "1h", "end": 3600.0 * index, "revision": 0,
              "events": index, "statistics": {"psi": index / 8}, **extra}
    unpadded = len(json.dumps(fields, separators=(",", ":")))
    return fields | {"pad": "x" * max(0, LINE - 1 - unpadded - len(',"pad":""'))}


def strict(text: str) -> Any:
    """Parse ``text`` as strict JSON (NaN and Infinity refused)."""
    def refuse(constant: str) -> None:
        raise ValueError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def files(path: Path) -> list[Path]:
    """The results files, oldest first."""
    rotated = sorted(path.parent.glob(f"{path.name}.*"), key=lambda p: -int(p.suffix[1:]))
    return [*rotated, path] if path.exists() else rotated


def history(path: Path) -> list[Any]:
    """Every record in the results files, oldest first."""
    return [strict(line) for file in files(path) for line in file.read_text().splitlines()]


def events_in(file: Path) -> list[int]:
    return [strict(line)["events"] for line in file.read_text().splitlines()]


@dataclass
class Replay:
    """A deterministic daemon: event i gives ``record(i)``; checkpoints every ``every``."""

    sink: ResultsFile
    every: int
    stored: dict[str, Any] = field(default_factory=lambda: {"next": 0, "position": None})

    def run(self, until: int, *, store: bool = True) -> None:
        for index in range(self.stored["next"], until):
            self.sink.write([record(index)])
            if (index + 1) % self.every == 0:
                position = self.sink.checkpoint()
                if store:  # as floats, the way the checkpoint store keeps them
                    self.stored = {"next": index + 1,
                                   "position": {k: float(v) for k, v in position.items()}}

    def restart(self, path: Path, **options: Any) -> Replay:
        sink = ResultsFile(path, **options)
        if self.stored["position"] is not None:
            sink.restore(self.stored["position"])
        return Replay(sink, self.every, dict(self.stored))


# --- the lines ---------------------------------------------------------------------------


def test_records_are_strict_compact_json_lines_with_non_finite_numbers_as_null(
    tmp_path: Path,
) -> None:
    """Steps: write two records holding NaN, +inf and -inf (nested in a mapping and a
    list) into var/results/results.jsonl, whose directories do not exist yet.

    Expected: the directories are created; two lines of compact JSON (no spaces), each
    parsing as strict JSON, the non-finite numbers null, the finite ones unchanged; the
    bytes are on disk as soon as write returns (no close needed).
    """
    path = tmp_path / "var" / "results" / "results.jsonl"
    sink = ResultsFile(path, max_bytes=1 << 20, backups=2)

    sink.write([{"model": "fraud", "window": "1h", "end": 7200.0, "revision": 0,
                 "statistics": {"psi": float("nan"), "ks": 0.25},
                 "bounds": [float("-inf"), 1.5, float("inf")]},
                {"model": "fraud", "window": "1h", "end": 7200.0, "revision": 1,
                 "performance": None, "country": "Ünited"}])

    lines = path.read_text(encoding="utf-8").splitlines()
    sink.close()
    assert lines == [
        '{"model":"fraud","window":"1h","end":7200.0,"revision":0,'
        '"statistics":{"psi":null,"ks":0.25},"bounds":[null,1.5,null]}',
        '{"model":"fraud","window":"1h","end":7200.0,"revision":1,'
        '"performance":null,"country":"Ünited"}',
    ]
    assert [strict(line)["revision"] for line in lines] == [0, 1]


def test_a_record_json_cannot_hold_writes_nothing_of_its_batch(tmp_path: Path) -> None:
    """Steps: write a batch whose second record holds a set. Expected: TypeError, and
    not even the first record of the batch is in the file."""
    path = tmp_path / "results.jsonl"
    sink = ResultsFile(path, max_bytes=1 << 20, backups=0)

    with pytest.raises(TypeError):
        sink.write([record(0), record(1, tags={"a"})])

    sink.close()
    assert path.read_bytes() == b""


# --- rotation ----------------------------------------------------------------------------


def test_rotation_on_write_keeps_every_file_within_max_bytes_and_backups_files(
    tmp_path: Path,
) -> None:
    """rotate_on_write, lines of 160 bytes, max_bytes 1600, backups 3: write records
    0-74 one write each, then 75-87 in one write.

    Expected after 75 writes: results.jsonl holds 70-74, .1 60-69, .2 50-59, .3 40-49;
    nothing older is kept. After the batch: its lines are split across files at line
    ends: .3 50-59, .2 60-69, .1 70-79, results.jsonl 80-87. No file ever passes 1600
    bytes.
    """
    path = tmp_path / "results.jsonl"
    sink = ResultsFile(path, max_bytes=10 * LINE, backups=3, rotate_on_write=True)

    for index in range(75):
        sink.write([record(index)])
        assert all(f.stat().st_size <= 10 * LINE for f in files(path))
    assert [f.name for f in files(path)] == ["results.jsonl.3", "results.jsonl.2",
                                             "results.jsonl.1", "results.jsonl"]
    assert [events_in(f) for f in files(path)] == [
        list(range(40, 50)), list(range(50, 60)), list(range(60, 70)), list(range(70, 75))]

    sink.write([record(i) for i in range(75, 88)])

    sink.close()
    assert [events_in(f) for f in files(path)] == [
        list(range(50, 60)), list(range(60, 70)), list(range(70, 80)), list(range(80, 88))]
    assert all(f.stat().st_size <= 10 * LINE for f in files(path))


def test_with_checkpoints_files_rotate_only_at_a_checkpoint(tmp_path: Path) -> None:
    """Checkpoint mode (the default), max_bytes 4 lines, backups 2: write 6, 3, 5, 1
    and 4 records, with a checkpoint after each write.

    Expected: writing never rotates (results.jsonl reaches 6 lines before the first
    checkpoint); a checkpoint rotates a file holding 4 lines or more and returns the
    position of the new, empty file (bytes 0); one of a file under 4 lines does not
    rotate and returns its size. At the third rotation the oldest file (records 0-5)
    is deleted: two backups remain, 6-13 and 14-18, and an empty results.jsonl.
    """
    path = tmp_path / "results.jsonl"
    sink = ResultsFile(path, max_bytes=4 * LINE, backups=2)
    events = iter(range(100))
    positions = []

    for count in (6, 3, 5, 1, 4):
        sink.write([record(next(events)) for _ in range(count)])
        if count == 6:
            assert files(path) == [path] and path.stat().st_size == 6 * LINE
        positions.append(sink.checkpoint()["bytes"])

    sink.close()
    assert positions == [0, 3 * LINE, 0, LINE, 0]
    assert [events_in(f) for f in files(path)] == [list(range(6, 14)), list(range(14, 19)), []]


def test_no_backups_means_a_full_file_is_deleted_at_rotation(tmp_path: Path) -> None:
    """backups 0, rotate_on_write, max_bytes 3 lines: write records 0-7.
    Expected: one file only, holding 6 and 7."""
    path = tmp_path / "results.jsonl"
    sink = ResultsFile(path, max_bytes=3 * LINE, backups=0, rotate_on_write=True)

    for index in range(8):
        sink.write([record(index)])

    sink.close()
    assert files(path) == [path]
    assert events_in(path) == [6, 7]


@pytest.mark.parametrize("rotate_on_write", [True, False])
def test_a_record_larger_than_max_bytes_is_written_whole_then_the_file_rotates(
    tmp_path: Path, rotate_on_write: bool,
) -> None:
    """max_bytes 2 lines: records 0 and 1, then a 10,000-byte record 2, then record 3;
    with checkpoint mode a checkpoint after each write.

    Expected: record 2 is one whole line alone in its file (rotated away after it, so
    record 3 starts a new file); records 0 and 1 share the first file.
    """
    path = tmp_path / "results.jsonl"
    sink = ResultsFile(path, max_bytes=2 * LINE, backups=5, rotate_on_write=rotate_on_write)
    big = record(2, blob="y" * 10_000)

    for batch in ([record(0)], [record(1)], [big], [record(3)]):
        sink.write(batch)
        if not rotate_on_write:
            sink.checkpoint()

    sink.close()
    assert [events_in(f) for f in files(path)] == [[0, 1], [2], [3]]
    assert strict(files(path)[1].read_text()) == big


# --- exactly once across crashes ---------------------------------------------------------


def test_a_restart_from_the_checkpoint_writes_what_a_run_without_the_crash_writes(
    tmp_path: Path,
) -> None:
    """A replay of 95 events, a checkpoint every 10 records, max_bytes 15 lines (so
    checkpoints rotate), backups 20. Run A: no crash. Run B: crashes after event 57
    (seven records past its checkpoint at 50), restarts from that checkpoint and runs to
    the end.

    Expected: B's files are byte for byte A's (names and contents): the seven records
    written after the checkpoint were cut off at restore and written again once.
    """
    options: dict[str, Any] = {"max_bytes": 15 * LINE, "backups": 20}
    clean = tmp_path / "a" / "results.jsonl"
    replay = Replay(ResultsFile(clean, **options), every=10)
    replay.run(95)
    replay.sink.close()

    crashed = tmp_path / "b" / "results.jsonl"
    replay = Replay(ResultsFile(crashed, **options), every=10)
    replay.run(58)
    replay.sink.close()  # what the kernel does for a killed process (it only syncs here)
    assert replay.stored["next"] == 50 and len(history(crashed)) == 58
    restarted = replay.restart(crashed, **options)
    restarted.run(95)
    restarted.sink.close()

    assert [f.name for f in files(crashed)] == [f.name for f in files(clean)]
    assert [f.read_bytes() for f in files(crashed)] == [f.read_bytes() for f in files(clean)]
    assert [r["events"] for r in history(crashed)] == list(range(95))


def test_a_crash_after_a_rotating_checkpoint_that_was_never_stored_undoes_the_rotation(
    tmp_path: Path,
) -> None:
    """max_bytes 12 lines, checkpoints every 10 records, backups 3: events 0-19 with
    checkpoints stored (the one at 20 rotated). Then events 20-39: the checkpoint at
    30 is stored; the one at 40 rotates the file, and the process dies before storing
    it. A restart restores the checkpoint at 30.

    Expected: the rotation is undone (the file of the checkpoint is results.jsonl again,
    cut back to records 20-29; the file the rotation created is gone), and running on
    to 60 gives exactly the history 0-59, without a duplicate or a gap.
    """
    path = tmp_path / "results.jsonl"
    options: dict[str, Any] = {"max_bytes": 12 * LINE, "backups": 3}
    replay = Replay(ResultsFile(path, **options), every=10)
    replay.run(30)
    replay.run(40, store=False)  # the checkpoint at 40 rotates; its position is lost
    replay.sink.write([record(40)])  # written after that checkpoint, then the crash
    replay.sink.close()
    assert [events_in(f) for f in files(path)] == [
        list(range(20)), list(range(20, 40)), [40]]

    restarted = replay.restart(path, **options)

    assert [events_in(f) for f in files(path)] == [list(range(20)), list(range(20, 30))]
    restarted.run(60)
    restarted.sink.close()
    assert [r["events"] for r in history(path)] == list(range(60))


CHILD = """
import json, os, sys
from pathlib import Path
sys.path[:0] = [sys.argv[2]]
from sinks.test_results_file import LINE, ResultsFile, record
store = Path(sys.argv[1]) / "checkpoint.json"
stored = json.loads(store.read_text()) if store.exists() else {"next": 0, "position": None}
sink = ResultsFile(Path(sys.argv[1]) / "results.jsonl", max_bytes=25 * LINE, backups=1000)
if stored["position"] is not None:
    sink.restore(stored["position"])
print("ready", flush=True)
for index in range(stored["next"], 3000):
    sink.write([record(index)])
    if (index + 1) % 7 == 0:
        position = sink.checkpoint()
        temporary = store.with_suffix(".tmp")
        position = {key: float(value) for key, value in position.items()}
        temporary.write_text(json.dumps({"next": index + 1, "position": position}))
        os.replace(temporary, store)
print("done", flush=True)
"""


def written_bytes(path: Path) -> int:
    total = 0
    for file in files(path):
        try:
            total += file.stat().st_size
        except FileNotFoundError:  # renamed by a rotation meanwhile
            pass
    return total


def test_kill_9_at_any_moment_then_restarts_leave_each_record_exactly_once(
    tmp_path: Path,
) -> None:
    """A real process replays 3,000 events (checkpoints every 7 records, stored
    atomically in a JSON file next to the results; max_bytes 25 lines so checkpoints
    rotate). Three runs are killed with SIGKILL as soon as the files hold 300, 1,100
    and 2,100 lines (so at whatever point of a write, checkpoint or rotation the
    process happens to be); a fourth run finishes.

    Expected: the results files hold records 0-2999 exactly once, in order.
    """
    path = tmp_path / "results.jsonl"
    tests = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-c", CHILD, str(tmp_path), str(tests)]
    for kill_at in (300, 1100, 2100, None):
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 60
        while kill_at is not None and written_bytes(path) < kill_at * LINE:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.001)
        if kill_at is not None:
            child.send_signal(signal.SIGKILL)
        out, _ = child.communicate(timeout=60)
        assert child.returncode == (0 if kill_at is None else -signal.SIGKILL), out
    assert [r["events"] for r in history(path)] == list(range(3000))


# --- a file that no longer holds the position --------------------------------------------

RESTORE_WARNING = "does not hold the checkpoint's position"


def checkpointed(path: Path, count: int) -> tuple[ResultsFile, dict[str, float]]:
    """A sink with records 0..count-1 written and checkpointed, and its position."""
    sink = ResultsFile(path, max_bytes=1 << 20, backups=2)
    sink.write([record(i) for i in range(count)])
    return sink, sink.checkpoint()


def shorten(path: Path) -> None:
    """Cut the file to its first two lines, as `truncate` or logrotate's copytruncate."""
    os.truncate(path, 2 * LINE)


def replace(path: Path) -> None:
    """Put a new file of four lines in its place (another inode)."""
    replacement = path.with_name("new")
    replacement.write_text("".join(json.dumps(record(90 + i)) + "\n" for i in range(4)))
    os.replace(replacement, path)


def remove(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize("damage, kept", [(shorten, [0, 1]), (replace, [90, 91, 92, 93]),
                                          (remove, [])], ids=["shorter", "replaced", "deleted"])
def test_a_file_that_lost_the_position_is_kept_and_appended_to_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Any, kept: list[int],
) -> None:
    """Steps: records 0-2, checkpoint (position: 3 lines), records 3-4, crash; then the
    file is cut to 2 lines, replaced by another file, or deleted, outside driftd; a
    restart restores the position and writes records 3-4 again.

    Expected: restore does not raise, cuts nothing and logs one warning naming the
    file; the file keeps what it held and gets records 3-4 appended at its end.
    """
    path = tmp_path / "results.jsonl"
    sink, position = checkpointed(path, 3)
    sink.write([record(3), record(4)])
    sink.close()
    damage(path)

    restarted = ResultsFile(path, max_bytes=1 << 20, backups=2)
    with caplog.at_level(logging.WARNING, logger="driftd.sinks.results_file"):
        restarted.restore(position)
    restarted.write([record(3), record(4)])
    restarted.close()

    (warning,) = caplog.records
    assert RESTORE_WARNING in warning.getMessage() and str(path) in warning.getMessage()
    assert events_in(path) == [*kept, 3, 4]


@pytest.mark.parametrize("position", [{}, {"bytes": "many"}, {"bytes": 1, "inode": None}],
                         ids=["empty", "not a number", "partial"])
def test_a_position_this_version_did_not_write_is_ignored_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, position: dict[str, Any],
) -> None:
    """A checkpoint without a usable position (an older driftd, an edited store): restore
    warns once, keeps the file as it is and writing goes on at its end."""
    path = tmp_path / "results.jsonl"
    sink, _ = checkpointed(path, 2)

    with caplog.at_level(logging.WARNING, logger="driftd.sinks.results_file"):
        sink.restore(position)
    sink.write([record(2)])
    sink.close()

    assert len(caplog.records) == 1 and "no position" in caplog.records[0].getMessage()
    assert events_in(path) == [0, 1, 2]


def test_a_file_ending_inside_a_line_gets_the_next_record_on_a_line_of_its_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """A file whose last line was cut (a power loss without checkpoints): opening it
    warns, and the next record starts on a new line; the cut line is left as it is."""
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(record(0)) + "\n" + json.dumps(record(1))[:30])

    with caplog.at_level(logging.WARNING, logger="driftd.sinks.results_file"):
        sink = ResultsFile(path, max_bytes=1 << 20, backups=2, rotate_on_write=True)
    sink.write([record(2)])
    sink.close()

    lines = path.read_text().splitlines()
    assert "ends inside a line" in caplog.records[0].getMessage()
    assert (len(lines), strict(lines[0])["events"], strict(lines[2])["events"]) == (3, 0, 2)


# --- errors ------------------------------------------------------------------------------


def test_a_full_disk_raises_a_results_sink_error_naming_the_file(tmp_path: Path) -> None:
    """/dev/full takes no byte (ENOSPC): write raises ResultsSinkError with the path and
    the reason, and nothing else escapes."""
    sink = ResultsFile(Path("/dev/full"), max_bytes=1 << 20, backups=0, fsync=False)

    with pytest.raises(ResultsSinkError) as raised:
        sink.write([record(0)])

    sink.close()
    assert str(raised.value) == ("cannot write to the results file /dev/full: "
                                 "No space left on device")


def test_an_unusable_path_is_refused_when_the_sink_is_made(tmp_path: Path) -> None:
    """A path that is a directory, and one under a regular file: ResultsSinkError at
    construction, naming the configured path and the OS's reason."""
    (tmp_path / "var").write_text("a file, not a directory\n")

    with pytest.raises(ResultsSinkError) as directory:
        ResultsFile(tmp_path, max_bytes=1000, backups=1)
    with pytest.raises(ResultsSinkError) as under_a_file:
        ResultsFile(tmp_path / "var" / "results.jsonl", max_bytes=1000, backups=1)

    assert str(directory.value) == f"cannot open the results file {tmp_path}: Is a directory"
    assert str(under_a_file.value) == (f"cannot open the results file {tmp_path}/var/"
                                       f"results.jsonl: Not a directory: {tmp_path}/var")


def test_bounds_are_checked_when_the_sink_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        ResultsFile(tmp_path / "r.jsonl", max_bytes=0, backups=1)
    with pytest.raises(ValueError, match="backups must be 0 or more"):
        ResultsFile(tmp_path / "r.jsonl", max_bytes=1, backups=-1)
