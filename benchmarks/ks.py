"""KS p-value cost per window: today's KSPValue against a baseline revision and scipy.

The baseline is ``src/driftd/stats/ks.py`` at a git revision (default 3bdc305^, the
Chebyshev shoulder tables and the 1e-12 bound), loaded from git into this process. Both
get the statistics the daemon would compute, in its order (every numeric column of one
window, then the next window), each through a fresh ``KSPValue`` (memo included):

* count windows: a 50,000-row reference, windows of 10,000 (N = 8333 always), drawn
  independently (so the memo gets only the repeats of the lattice D = k / 50000), the
  second half drifting: a quarter of the columns shift by up to 0.3 sd;
* time windows: the same columns, window sizes Poisson around 12,000, so N changes from
  window to window (the baseline builds shoulder tables for new sizes).

Each round builds both ``KSPValue`` objects afresh, runs them over a first set of windows
untimed (the steady state of a daemon: the baseline's shoulder tables built, the memo
filled) and times them over a second set drawn the same way. Rounds are interleaved,
median reported. scipy (``kstwo.sf``, what ``ks_2samp`` asymp calls) is timed on a few
windows of each workload.

Usage: python benchmarks/ks.py [--windows 400] [--columns 20] [--rounds 3]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import kstwo  # noqa: E402

from driftd.stats.ks import KSPValue, effective_n, ks_statistic  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
REFERENCE = 50_000
GRID = 4096
Call = tuple[float, int, int]


def baseline_ks(revision: str) -> Any:
    source = subprocess.run(["git", "show", f"{revision}:src/driftd/stats/ks.py"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("baseline_ks")
    sys.modules[module.__name__] = module
    exec(compile(source, f"{revision}:ks.py", "exec"), module.__dict__)  # noqa: S102
    return module


def windows(count: int, columns: int, *, timed: bool, seed: int) -> list[list[Call]]:
    """(d, n_ref, n_cur) per numeric column per window; drift in the second half."""
    rng = np.random.default_rng(seed)
    reference = rng.normal(size=(columns, REFERENCE))
    grids = [np.quantile(r, np.linspace(0, 1, GRID)) for r in reference]
    ref_counts = [np.bincount(np.searchsorted(g, r), minlength=GRID + 1)
                  for g, r in zip(grids, reference, strict=True)]
    shifts = np.where(np.arange(columns) < columns // 4, 0.3, 0.0)  # a quarter drifts
    calls: list[list[Call]] = []
    for w in range(count):
        size = int(rng.poisson(12_000)) if timed else 10_000
        drift = w >= count // 2
        batch = []
        for c in range(columns):
            values = rng.normal(shifts[c] * drift * min(1.0, (w - count // 2 + 1) / 20), 1.0,
                                size)
            counts = np.bincount(np.searchsorted(grids[c], values), minlength=GRID + 1)
            batch.append((ks_statistic(ref_counts[c], counts), REFERENCE, size))
        calls.append(batch)
    return calls


def seconds(pvalue: Any, calls: list[list[Call]]) -> float:
    started = time.perf_counter()
    for batch in calls:
        for d, n_ref, n_cur in batch:
            pvalue(d, n_ref, n_cur)
    return time.perf_counter() - started


def scipy_pvalue(d: float, n_ref: int, n_cur: int) -> float:
    return float(kstwo.sf(d, effective_n(n_ref, n_cur)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=400)
    parser.add_argument("--columns", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scipy-windows", type=int, default=10)
    parser.add_argument("--baseline", default="3bdc305^")
    args = parser.parse_args()
    old = baseline_ks(args.baseline)
    print(f"KS p-values: {args.windows} windows x {args.columns} numeric columns, reference "
          f"{REFERENCE:,}, median of {args.rounds} interleaved rounds, fresh memo each "
          f"(python {sys.version.split()[0]}, numpy {np.__version__})")
    for timed in (False, True):
        warm = windows(args.windows, args.columns, timed=timed, seed=1)
        calls = windows(args.windows, args.columns, timed=timed, seed=2)
        now, then = [], []
        for _ in range(args.rounds):
            for make, out in ((KSPValue, now), (old.KSPValue, then)):
                pvalue = make()
                seconds(pvalue, warm)
                out.append(seconds(pvalue, calls))
        new, base = statistics.median(now) / len(calls), statistics.median(then) / len(calls)
        step = max(1, len(calls) // args.scipy_windows)
        sample = calls[::step][: args.scipy_windows]
        sci = seconds(scipy_pvalue, sample) / len(sample)
        tiny = sum(scipy_pvalue(*c) < 1e-12 for b in calls for c in b)
        label = "time windows (N varies)" if timed else "count windows (N = 8333)"
        print(f"  {label:25} current {new * 1e3:7.3f} ms/window   baseline ({args.baseline}) "
              f"{base * 1e3:7.3f} ms/window   scipy {sci * 1e3:8.2f} ms/window   "
              f"baseline/current {base / new:5.2f}   scipy/current {sci / new:6.1f}   "
              f"(p < 1e-12 in {tiny / (len(calls) * args.columns):.0%} of the calls)")
    lam_cases = [0.2, 0.6, 1.0, 1.6, 3.0, 4.5, 6.0, 12.0, 18.9]
    print("  one call at N = 8333, no memo (us): lambda = sqrt(N) D: current / baseline / scipy")
    baseline = old.KSPValue(maxsize=0)
    for lam in lam_cases:  # the baseline's shoulder tables for N = 8333 built first
        baseline(lam / math.sqrt(8333), 10_000, 50_000)
    for lam in lam_cases:
        d = lam / math.sqrt(8333)
        cost = []
        for f in (KSPValue(maxsize=0), baseline, scipy_pvalue):
            reps = 5 if f is scipy_pvalue else 200
            started = time.perf_counter()
            for i in range(reps):
                f(d * (1 + 1e-9 * i), 10_000, 50_000)
            cost.append((time.perf_counter() - started) / reps * 1e6)
        print(f"    lambda {lam:5.1f}: {cost[0]:8.1f} {cost[1]:8.1f} {cost[2]:9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
