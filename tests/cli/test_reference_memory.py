"""What a reference build keeps in memory while it reads: the numbers, not the
categories, and not the Parquet file's bytes (the full-size figures are in
benchmarks/README.md, from benchmarks/reference_build.py)."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from driftd.datafile import read_chunks
from driftd.events import ModelBatch
from driftd.reference.collect import ReferenceData


def test_categories_are_counted_not_kept() -> None:
    """Steps: 20 batches of 10,000 rows, 2 numeric and 2 categorical columns (a new
    string object per cell, as a file reader makes them), added to ReferenceData.

    Expected: what stays allocated is the numbers (200,000 x 2 x 8 bytes = 3.2 MB) within
    25% (keeping the strings would take over 8 times as much); the joined column equals
    the values added, in order; the counts add up to the rows.
    """
    rng = np.random.default_rng(3)
    data = ReferenceData(block_values=50_000)  # blocks filled exactly: no spare room
    added: list[np.ndarray] = []
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(20):
            numbers = rng.normal(size=10_000)
            codes = rng.integers(0, 50, 10_000)
            batch = ModelBatch("m", np.zeros(0), [], {"x": numbers, "y": numbers * 2},
                               {c: [f"category-{k}" for k in codes] for c in ("a", "b")})
            data.add(batch)
            added.append(numbers)
            del batch, codes
        kept = tracemalloc.get_traced_memory()[0] - sum(a.nbytes for a in added)
    finally:
        tracemalloc.stop()

    raw = 200_000 * 2 * 8
    assert kept < 1.25 * raw
    assert np.array_equal(data.numeric["x"], np.concatenate(added))
    assert sum(data.categorical["a"].values()) == 200_000


def test_a_parquet_file_is_not_held_in_memory_while_read(tmp_path: Path) -> None:
    """Steps: a Parquet file of 10 row groups of 40,000 rows x 4 random floats (12.8 MB of
    column data), read chunk by chunk.

    Expected: pyarrow never holds more than a third of the file's column data at once
    (pre-buffering every row group would hold all of it until the end).
    """
    rng = np.random.default_rng(4)
    table = pa.table({f"x{i}": rng.normal(size=400_000) for i in range(4)})
    path = tmp_path / "big.parquet"
    pq.write_table(table, path, row_group_size=40_000, compression="none")
    column_bytes = table.nbytes
    del table

    held = 0
    for chunk in read_chunks(path, 20_000):
        held = max(held, pa.total_allocated_bytes())
        del chunk

    assert held < column_bytes / 3
