"""The label join (issue 4), outside `make test`.

A binary model with a 1-hour event-time window. Five million predictions are held in
the pending store. Then 500,000 outcomes, as JSON messages with random ids, go through
the real ingest path for outcomes: decode, join, and performance added to the panes.
Reports outcomes/s and the peak RSS of the whole process.

Usage: python benchmarks/label_join.py [--pending 5000000] [--outcomes 500000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson

from driftd.config import parse_config
from driftd.reference.build import build_profile
from driftd.service.checkpoint import Checkpoint, CheckpointStore
from driftd.service.daemon import Daemon, Extras
from driftd.sources.base import RawBatch

BATCH = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=5_000_000)
    parser.add_argument("--outcomes", type=int, default=500_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config({
            "models": [{"name": "m", "reference": "m.json",
                        "columns": [{"name": "score", "kind": "numeric", "role": "prediction"},
                                    {"name": "label", "kind": "categorical", "role": "label"}],
                        "windows": [{"name": "1h", "type": "time", "duration_seconds": 3600,
                                     "slide_seconds": 60}],
                        "performance": {"task": "binary", "prediction": "score",
                                        "label": "label",
                                        "max_pending": args.pending + 1}}],
            "sources": [{"type": "jsonl", "path": "-"}], "http": {"address": "127.0.0.1:0"},
            "checkpoint": {"path": str(Path(tmp) / "state.sqlite")},
        }, environ={})
        profile = build_profile("m", config.models[0].columns,
                                {"score": np.random.default_rng(0).random(10_000)}, {},
                                rows=10_000, metadata={})
        store = CheckpointStore(Path(tmp) / "state.sqlite")
        daemon = Daemon(config, {"m": profile}, [], extras=Extras(store=store))
        pending = store.pending(capacity=args.pending + 1)
        started = time.perf_counter()
        for start in range(0, args.pending, BATCH):
            ids = [f"p-{i}" for i in range(start, start + BATCH)]
            ts = 1.7e9 + np.arange(start, start + BATCH) * (3000 / args.pending)
            pending.add("m", ids, ts, np.random.default_rng(start).random(BATCH), ts + 86_400)
            if start % 1_000_000 == 0:
                store.save(Checkpoint(time.time(), {}, {}))
        store.save(Checkpoint(time.time(), {}, {}))
        filled = time.perf_counter() - started
        rng = np.random.default_rng(1)
        joined = 0.0
        for _ in range(args.outcomes // BATCH):
            messages = [orjson.dumps({"model": "m", "id": f"p-{i}", "ts": 1.7e9 + 3500,
                                      "label": i % 2})
                        for i in rng.integers(0, args.pending, BATCH).tolist()]
            started = time.perf_counter()  # only the ingest of the outcomes is timed
            daemon._pipeline.ingest(RawBatch("outcomes", messages), time.time())
            joined += time.perf_counter() - started
        matched = daemon.telemetry.snapshot().join.get(("labels_matched", "m"), 0)
        store.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pending predictions: {args.pending:,} ({args.pending / filled:,.0f} inserts/s)")
    print(f"outcomes through decode + join + panes: {args.outcomes:,} ({matched:,} matched) "
          f"at {args.outcomes / joined:,.0f} outcomes/s")
    print(f"peak RSS of the process: {rss:.0f} MB")


if __name__ == "__main__":
    main()
