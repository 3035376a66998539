"""Decode throughput: today's per-message decoder against a baseline decoder, one run.

The baseline is ``src/driftd/events.py`` as it was at a git revision (default: the one
before the per-message bounds, 394b494^), loaded from git into this process, so both
decode the same batches of the standard workload on the same machine, interleaved.

Usage: python benchmarks/decode.py [--rows 200000] [--baseline REV] [--rounds 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import orjson  # noqa: E402

import workload  # noqa: E402
from driftd.events import Decoder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
BATCH = 5_000


def baseline_decoder(revision: str) -> Any:
    """The revision's ``events.py``, with that revision's ``values.py`` as its
    ``values`` (the two changed together when field paths came)."""
    values = _module(revision, "values")
    source = _source(revision, "events").replace("from driftd import values\n", "")
    module = types.ModuleType("baseline_events")
    module.__dict__["values"] = values
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{revision}:events.py", "exec"), module.__dict__)  # noqa: S102
    return module.Decoder


def _source(revision: str, name: str) -> str:
    return subprocess.run(["git", "show", f"{revision}:src/driftd/{name}.py"], cwd=REPO,
                          check=True, capture_output=True, text=True).stdout


def _module(revision: str, name: str) -> types.ModuleType:
    module = types.ModuleType(f"baseline_{name}")
    sys.modules[module.__name__] = module
    exec(compile(_source(revision, name), f"{revision}:{name}.py", "exec"),  # noqa: S102
         module.__dict__)
    return module


def batches(rows: int, *, arrays: bool) -> list[list[bytes]]:
    events = workload.events(rows, drift_after=rows // 2)
    if arrays:  # producers that batch 100 events per message
        messages = [orjson.dumps([next(events) for _ in range(100)]) for _ in range(rows // 100)]
        per_batch = BATCH // 100
    else:
        messages = [orjson.dumps(e) for e in events]
        per_batch = BATCH
    return [messages[i:i + per_batch] for i in range(0, len(messages), per_batch)]


def seconds(decode: Callable[[Sequence[bytes], float], Any], data: list[list[bytes]]) -> float:
    started = time.perf_counter()
    for batch in data:
        decode(batch, 0.0)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--baseline", default="394b494^")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    columns = {"bench": workload.columns()}
    current = Decoder(columns)
    baseline = baseline_decoder(args.baseline)(columns)
    print(f"decode of {args.rows:,} standard-workload events, batches of {BATCH:,}, "
          f"median of {args.rounds} rounds (python {sys.version.split()[0]})")
    for arrays in (False, True):
        data = batches(args.rows, arrays=arrays)
        now, then = [], []
        for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
            now.append(seconds(current.decode, data))
            then.append(seconds(baseline.decode, data))
        new, old = statistics.median(now), statistics.median(then)
        shape = "100-event arrays" if arrays else "one event per message"
        print(f"  {shape:22} current {args.rows / new:>9,.0f} events/s   "
              f"baseline ({args.baseline}) {args.rows / old:>9,.0f} events/s   "
              f"ratio {old / new:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
