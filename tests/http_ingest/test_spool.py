"""The spool: records back in order, across segments and reopenings, a torn last record
cut off, segments released only wholly before a position."""

from __future__ import annotations

import os
from pathlib import Path

from driftd.sources.spool import Record, Spool


def fill(spool: Spool, count: int, size: int = 100) -> list[int]:
    return [spool.append(Record(bytes([65 + n % 26]) * size, {"n": n})) for n in range(count)]


def test_records_come_back_in_order_across_segments_and_a_reopening(tmp_path: Path) -> None:
    """Segments of 1 kB; 30 records of ~120 bytes framed, appended one at a time and
    three in one append; the spool is closed and opened again.

    Expected: several segments, named by their first position; reading from 0 in
    batches of 7 gives every record once, in order, with the position after each; the
    reopened spool has the same end and appends after it.
    """
    spool = Spool(tmp_path, segment_bytes=1024)
    ends = fill(spool, 27)
    ends.append(spool.append(*(Record(b"x" * 100, {"n": n}) for n in (27, 28, 29))))
    spool.close()
    segments = sorted(p.name for p in tmp_path.iterdir())
    assert len(segments) >= 3 and segments[0] == f"{0:020d}.spool"
    reopened = Spool(tmp_path, segment_bytes=1024)
    assert reopened.end == ends[-1]
    found, position = [], 0
    for _ in range(100):
        batch = reopened.read(position, max_records=7, max_bytes=1 << 20)
        if not batch:
            break
        found += batch
        position = batch[-1][1]
    assert [r.meta["n"] for r, _ in found] == list(range(30))
    assert [end for _, end in found][:27] == ends[:27] and found[-1][1] == ends[-1]
    assert reopened.append(Record(b"later")) > ends[-1]
    reopened.close()


def test_a_torn_last_record_is_cut_off_when_the_spool_opens(tmp_path: Path) -> None:
    """Five records; the last segment then gets half a record (a crash while writing
    one that was never acknowledged).

    Expected: reopening cuts the file back to the five records, reads them, and the
    next record appended reads back whole after them.
    """
    spool = Spool(tmp_path)
    ends = fill(spool, 5)
    spool.close()
    (segment,) = tmp_path.iterdir()
    with segment.open("ab") as file:
        file.write(b"DS\x00\x00\x00\x02\x00\x00\x10\x00garbage")
    reopened = Spool(tmp_path)
    assert reopened.end == ends[-1] == segment.stat().st_size
    after = reopened.append(Record(b"whole", {"n": 5}))
    found = reopened.read(0, max_records=100, max_bytes=1 << 20)
    assert [r.meta["n"] for r, _ in found] == [0, 1, 2, 3, 4, 5]
    assert found[-1] == (Record(b"whole", {"n": 5}), after)
    reopened.close()


def test_release_deletes_only_segments_wholly_before_the_position(tmp_path: Path) -> None:
    """Segments of 1 kB holding ~8 records each; release at a position inside the third.

    Expected: the first two segments are deleted, the third (holding the position) and
    later ones kept; reading from the position still works; the last segment is never
    deleted even when the position is at the end.
    """
    spool = Spool(tmp_path, segment_bytes=1024)
    ends = fill(spool, 40)
    bases = sorted(int(p.name.split(".")[0]) for p in tmp_path.iterdir())
    inside_third = next(e for e in ends if bases[2] < e < bases[3])
    assert spool.release(inside_third) == 2
    assert sorted(int(p.name.split(".")[0]) for p in tmp_path.iterdir()) == bases[2:]
    assert spool.start == bases[2]
    assert spool.read(inside_third, max_records=1, max_bytes=1)[0][0].meta["n"] == (
        ends.index(inside_third) + 1)
    spool.release(spool.end)
    assert [int(p.name.split(".")[0]) for p in tmp_path.iterdir()] == [bases[-1]]
    spool.close()


def test_a_spool_emptied_behind_a_checkpoint_goes_on_from_its_position(
        tmp_path: Path) -> None:
    """A new, empty spool is told to continue at 5000 (its directory was emptied while
    a checkpoint named position 5000).

    Expected: the next record is at 5000 and reads back from there; positions never go
    back.
    """
    spool = Spool(tmp_path)
    spool.skip_to(5000)
    assert (spool.start, spool.end) == (5000, 5000)
    after = spool.append(Record(b"next"))
    assert [(r.body, end) for r, end in spool.read(5000, max_records=9, max_bytes=99)] == [
        (b"next", after)]
    assert os.listdir(tmp_path) == [f"{5000:020d}.spool"]
    spool.close()
