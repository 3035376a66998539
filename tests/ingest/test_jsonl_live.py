"""The JSONL source reads live input: real pipes and files, polled as the daemon does.

A poll waits at most its timeout and hands out what has come; ``follow`` tails a
growing file through truncation and rotation, and a restart resumes after the last
acknowledged line. Waits are bounded by deadlines; nothing sleeps.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from driftd.config import JsonlSourceConfig
from driftd.sources.base import RawBatch
from driftd.sources.jsonl import JsonlSource

POLL_TIMEOUT_SECONDS = 0.2
DEADLINE_SECONDS = 10.0


def line(i: int) -> bytes:
    return b'{"model": "m", "id": "e%d", "ts": %d, "prediction": 0.5}\n' % (i, i)


def poll(source: JsonlSource, max_messages: int = 5000) -> RawBatch | None:
    """One poll with a 0.2 s timeout, on a thread: a poll that blocks fails the test
    (after 0.2 s + 2 s) instead of hanging it."""
    got: list[RawBatch | None] = []
    thread = threading.Thread(target=lambda: got.append(
        source.poll(max_messages, POLL_TIMEOUT_SECONDS)), daemon=True)
    thread.start()
    thread.join(POLL_TIMEOUT_SECONDS + 2.0)
    assert got, "poll blocked past its timeout"
    return got[0]


def collect_batches(source: JsonlSource, count: int,
                    max_messages: int = 5000) -> list[RawBatch]:
    """Poll (acknowledging every batch, never asking for more than ``count`` messages in
    all) until ``count`` messages came; fail after the deadline."""
    batches: list[RawBatch] = []
    got = 0
    deadline = time.monotonic() + DEADLINE_SECONDS
    while got < count:
        assert time.monotonic() < deadline, f"only {got} of {count} lines came"
        batch = poll(source, min(max_messages, count - got))
        assert batch is not None, "the source ended early"
        source.acknowledge(batch)
        batches.append(batch)
        got += len(batch.messages)
    return batches


def collect(source: JsonlSource, count: int, max_messages: int = 5000) -> list[bytes]:
    """The messages of ``collect_batches``."""
    return [m for b in collect_batches(source, count, max_messages) for m in b.messages]


@pytest.fixture
def pipe() -> Iterator[tuple[JsonlSource, int]]:
    """A source reading the read end of a real pipe, and the write end."""
    read_fd, write_fd = os.pipe()
    handle = os.fdopen(read_fd, "rb", buffering=0)
    source = JsonlSource("-", handle=handle)
    try:
        yield source, write_fd
    finally:
        source.close()
        handle.close()
        try:
            os.close(write_fd)
        except OSError:
            pass  # closed by the test


def test_a_poll_on_a_silent_pipe_returns_within_its_timeout(
    pipe: tuple[JsonlSource, int],
) -> None:
    """Nothing is written to the pipe; three polls with a 0.2 s timeout.

    Expected: each returns an empty batch (not None: the input has not ended) within
    0.2 s + 0.3 s.
    """
    source, _ = pipe
    for _ in range(3):
        started = time.monotonic()
        batch = poll(source)
        waited = time.monotonic() - started
        assert batch is not None and batch.messages == []
        assert waited < POLL_TIMEOUT_SECONDS + 0.3, waited


def test_lines_on_an_open_pipe_are_handed_out_without_waiting_for_a_full_batch(
    pipe: tuple[JsonlSource, int],
) -> None:
    """461 lines, then half a line, are written to a pipe that stays open.

    Expected: the 461 lines come (batch size 5,000 is never reached, the pipe never
    ends), each poll within its timeout; the half line only once its line break comes;
    a last line without a line break counts once the pipe is closed; then None.
    """
    source, write_fd = pipe
    os.write(write_fd, b"".join(line(i) for i in range(461)) + b'{"model": "m", "id": ')
    started = time.monotonic()
    got = collect(source, 461)
    print(f"\n461 lines from an open pipe in {time.monotonic() - started:.3f} s")
    assert got == [line(i).rstrip(b"\n") for i in range(461)]
    assert poll(source) == RawBatch("predictions", [], key="jsonl:-")
    os.write(write_fd, b'"half", "ts": 1}\n' + line(461).rstrip(b"\n"))
    assert collect(source, 1) == [b'{"model": "m", "id": "half", "ts": 1}']
    os.close(write_fd)
    assert collect(source, 1) == [line(461).rstrip(b"\n")]
    deadline = time.monotonic() + DEADLINE_SECONDS
    while (batch := poll(source)) is not None:
        assert batch.messages == [] and time.monotonic() < deadline
    assert source.drained()


def test_a_line_longer_than_the_message_bound_is_cut_for_the_decoder_to_reject() -> None:
    """A line of 100,000 bytes between two events, max_line_bytes 1,000.

    Expected: three messages; the long one cut to 1,001 bytes (so it is rejected as
    oversized), the other two whole.
    """
    read_fd, write_fd = os.pipe()
    long = b'{"x": "' + b"a" * 99_990 + b'"}\n'
    with os.fdopen(read_fd, "rb", buffering=0) as handle:
        source = JsonlSource("-", handle=handle, max_line_bytes=1000)
        assert poll(source) is not None  # the reader starts with the first poll
        # Larger than a pipe's buffer: the write returns once the reader has read it.
        os.write(write_fd, line(0) + long + line(1))
        os.close(write_fd)
        got = collect(source, 3)
        source.close()
    assert [len(m) for m in got] == [len(line(0)) - 1, 1001, len(line(1)) - 1]
    assert got[1] == long[:1001]


def test_follow_reads_appended_lines_through_truncation_and_rotation(tmp_path: Path) -> None:
    """A followed file holds 2 lines; 3 are appended; it is truncated and 1 line written;
    then it is renamed away (rotated) with a last line lacking its line break, and a new
    file with 2 lines takes its place.

    Expected: 2, then 3, then 1, then 2 + the last line of the old file, each within the
    deadline; the source never ends, and is drained whenever it has caught up.
    """
    path = tmp_path / "events.jsonl"
    path.write_bytes(line(0) + line(1))
    source = JsonlSource(str(path), follow=True)
    try:
        assert collect(source, 2) == [line(0).rstrip(), line(1).rstrip()]
        with path.open("ab") as file:
            file.write(line(2) + line(3) + line(4))
        assert collect(source, 3) == [line(i).rstrip() for i in (2, 3, 4)]
        with path.open("r+b") as file:
            file.truncate(0)
        path.write_bytes(line(5))  # shorter than what was read: read again from the start
        assert collect(source, 1) == [line(5).rstrip()]
        with path.open("ab") as file:
            file.write(line(6).rstrip())  # its writer is rotated before the line break
        path.rename(tmp_path / "events.jsonl.1")
        path.write_bytes(line(7) + line(8))
        assert sorted(collect(source, 3)) == sorted(line(i).rstrip() for i in (6, 7, 8))
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not source.drained():
            assert time.monotonic() < deadline
            batch = source.poll(5000, POLL_TIMEOUT_SECONDS)
            assert batch is not None and batch.messages == []
        assert source.positions() == {(source.name, 0): len(line(7) + line(8)),
                                      (source.name, 1): path.stat().st_ino}
    finally:
        source.close()


def test_a_followed_file_resumes_after_the_last_acknowledged_line(tmp_path: Path) -> None:
    """A followed file of 5 lines is read; only the batch holding the first 3 is
    acknowledged (max 3 per poll). The source closes; 2 lines are appended; a new source
    starts from the first one's positions. Then the file is replaced (rotated while
    driftd was down) and a third source starts from the second one's positions.

    Expected: the second source reads lines 4 to 7 (the unacknowledged two again, and the
    appended ones, nothing twice); the third reads the new file from its start.
    """
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line(i) for i in range(5)))
    first = JsonlSource(str(path), follow=True)
    assert collect(first, 3, max_messages=3) == [line(i).rstrip() for i in range(3)]
    assert poll(first) is not None  # read, never acknowledged
    offsets = first.positions()
    first.close()
    assert offsets == {(first.name, 0): len(b"".join(line(i) for i in range(3))),
                       (first.name, 1): path.stat().st_ino}
    with path.open("ab") as file:
        file.write(line(5) + line(6))

    second = JsonlSource(str(path), follow=True)
    second.start_from(offsets)
    try:
        assert collect(second, 4) == [line(i).rstrip() for i in range(3, 7)]
        again = second.poll(5000, POLL_TIMEOUT_SECONDS)
        assert again is not None and again.messages == []
        offsets = second.positions()
    finally:
        second.close()

    replacement = tmp_path / "new.jsonl"
    replacement.write_bytes(b"".join(line(i) for i in range(10, 20)))
    replacement.rename(path)
    third = JsonlSource(str(path), follow=True)
    third.start_from(offsets)
    try:
        assert collect(third, 10) == [line(i).rstrip() for i in range(10, 20)]
    finally:
        third.close()


def test_a_file_read_once_resumes_by_its_count_of_lines(tmp_path: Path) -> None:
    """A 10-line file (one blank) is read with 4 lines per poll; after the first batch is
    acknowledged, a new source starts from the positions.

    Expected: positions count lines (blank ones too) as before; the new source reads
    the other lines and then ends (None).
    """
    path = tmp_path / "events.jsonl"
    lines = [line(i) for i in range(9)]
    lines.insert(2, b"\n")
    path.write_bytes(b"".join(lines))
    first = JsonlSource(str(path))
    batches = collect_batches(first, 3, max_messages=4)
    assert [m for b in batches for m in b.messages] == [line(i).rstrip() for i in range(3)]
    assert [o for b in batches for o in b.origins] == [f"{path}:1", f"{path}:2", f"{path}:4"]
    offsets = first.positions()
    first.close()
    assert offsets == {(first.name, 0): 4}
    second = JsonlSource(str(path))
    second.start_from(offsets)
    try:
        assert collect(second, 6) == [line(i).rstrip() for i in range(3, 9)]
        deadline = time.monotonic() + DEADLINE_SECONDS
        while (batch := second.poll(5000, POLL_TIMEOUT_SECONDS)) is not None:
            assert batch.messages == [] and time.monotonic() < deadline
    finally:
        second.close()


def test_follow_is_for_files_only() -> None:
    """A jsonl source with follow: true on stdin (path "-").

    Expected: the config is refused, saying why; on a file path it is accepted.
    """
    with pytest.raises(ValidationError, match="stdin"):
        JsonlSourceConfig(path="-", follow=True)
    assert JsonlSourceConfig(path="events.jsonl", follow=True).follow
    with pytest.raises(ValueError, match="follow needs a file path"):
        JsonlSource("-", follow=True)
