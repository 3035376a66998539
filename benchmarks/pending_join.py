"""The pending-prediction store of the label join (issue 4 groundwork), outside `make test`.

Five million predictions are held in `PendingStore` (SQLite, in the checkpoint's
transaction, with a checkpoint every million), then 500,000 outcomes with random ids
are matched against them. Reports insert and match rates and the peak RSS.

Usage: python benchmarks/pending_join.py [--pending 5000000] [--outcomes 500000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from driftd.service.checkpoint import Checkpoint, CheckpointStore

BATCH = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=5_000_000)
    parser.add_argument("--outcomes", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = CheckpointStore(Path(tmp) / "state.sqlite")
        pending = store.pending(capacity=args.pending + 1)
        started = time.perf_counter()
        for start in range(0, args.pending, BATCH):
            ids = [f"p-{i}" for i in range(start, start + BATCH)]
            ts = np.arange(start, start + BATCH, dtype=float)
            pending.add("m", ids, ts, np.full(BATCH, 0.5), ts + 86_400)
            if start % 1_000_000 == 0:
                store.save(Checkpoint(time.time(), {}, {}))
        store.save(Checkpoint(time.time(), {}, {}))
        inserted = time.perf_counter() - started
        rng = np.random.default_rng(0)
        matched, started = 0, time.perf_counter()
        for _ in range(0, args.outcomes, BATCH):
            ids = [f"p-{i}" for i in rng.integers(0, args.pending, BATCH)]
            matched += len(pending.match("m", ids).index)
        joined = time.perf_counter() - started
        store.save(Checkpoint(time.time(), {}, {}))
        store.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"held {args.pending:,} pending predictions: {args.pending / inserted:,.0f} inserts/s")
    print(f"matched {args.outcomes:,} outcomes ({matched:,} found): "
          f"{args.outcomes / joined:,.0f} outcomes/s")
    print(f"peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
