"""The standard driftd benchmark (issue 2), outside `make test`.

Workload: a reference of 50,000 rows x (20 numeric + 4 categorical) columns, and a
1,000,000-row JSONL stream that drifts after row 500,000, watched by a sliding count
window of 10,000 rows with step 1,000 (991 evaluations).

Measured in one run, on one core:
  * driftd: the real ingest path (read JSONL lines, decode, encode, add to panes) and
    the evaluation of each of the 991 windows (every statistic and p-value);
  * naive: recompute each window from the raw column arrays with numpy/scipy
    (np.histogram PSI, ks_2samp asymp, chi2_contingency, jensenshannon,
    wasserstein_distance), on an evenly spaced sample of windows (all with --naive all).

Usage: python benchmarks/run.py [--rows 1000000] [--naive-windows 100|all]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, before numpy loads
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import orjson  # noqa: E402
from scipy import stats as sps  # noqa: E402
from scipy.spatial.distance import jensenshannon  # noqa: E402

import workload  # noqa: E402
from driftd.config import CountWindowConfig, ModelConfig  # noqa: E402
from driftd.events import Decoder  # noqa: E402
from driftd.monitor.evaluate import Evaluator  # noqa: E402
from driftd.monitor.layout import Layout  # noqa: E402
from driftd.reference.build import build_profile  # noqa: E402
from driftd.windows.count import CountWindow  # noqa: E402

DATA = Path(__file__).parent / "data"
NUMERIC, CATEGORICAL = workload.NUMERIC, workload.CATEGORICAL
SIZE, STEP, REF_ROWS, BATCH = 10_000, 1_000, 50_000, 5_000


def generate(rows: int) -> tuple[Path, Path]:
    """Write the reference (.npz) and the stream (.jsonl) once; reuse them after."""
    DATA.mkdir(exist_ok=True)
    reference, stream = DATA / "reference.npz", DATA / f"stream-{rows}.jsonl"
    if not reference.exists():
        np.savez(reference, **workload.reference(REF_ROWS))
    if not stream.exists():
        workload.write_jsonl(stream, rows, drift_after=rows // 2)
    return reference, stream


def model_config() -> ModelConfig:
    return ModelConfig(name="bench", reference=Path("reference.json"),
                       columns=workload.columns(),
                       windows=(CountWindowConfig(name="w", size=SIZE, step=STEP),))


def run_driftd(reference: dict[str, np.ndarray], stream: Path) -> dict[str, float]:
    model = model_config()
    numeric = {n: reference[n] for n in NUMERIC}
    categorical = {n: reference[n].tolist() for n in CATEGORICAL}
    profile = build_profile("bench", model.columns, numeric, categorical, rows=REF_ROWS,
                            metadata={})
    layout = Layout(model.columns, profile)
    evaluator = Evaluator(model, layout)
    decoder = Decoder({"bench": model.columns})
    window = CountWindow(SIZE, STEP, slots=layout.size, tails=layout.tail_size)
    ingest = evaluate = 0.0
    events = evaluations = 0
    with stream.open("rb") as handle:
        while True:
            started = time.perf_counter()
            lines = [line for _, line in zip(range(BATCH), handle, strict=False)]
            if not lines:
                break
            batch = decoder.decode(lines, 0.0).models["bench"]
            completed = window.add(layout.encode(batch), emit=True)
            ingest += time.perf_counter() - started
            events += len(batch)
            started = time.perf_counter()
            for pane in completed:
                evaluator.evaluate("w", pane)
            evaluate += time.perf_counter() - started
            evaluations += len(completed)
    return {"events": events, "ingest_s": ingest, "evaluations": evaluations,
            "evaluate_s": evaluate, "peak_rss_mb": _peak_rss_mb()}


def naive_window(reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> None:
    """Every statistic of one window recomputed from raw values, the textbook way."""
    for name in NUMERIC:
        ref, cur = reference[name], current[name]
        ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        edges = np.r_[-np.inf, np.unique(np.quantile(ref, np.arange(1, 10) / 10)), np.inf]
        p = np.maximum(np.histogram(ref, edges)[0] / ref.size, 1e-4)
        q = np.maximum(np.histogram(cur, edges)[0] / cur.size, 1e-4)
        np.sum((q - p) * np.log(q / p))
        sps.ks_2samp(ref, cur, method="asymp")
        sps.wasserstein_distance(ref, cur)
        jensenshannon(p, q, base=2)
    for name in CATEGORICAL:
        cats, ref_counts = np.unique(reference[name], return_counts=True)
        cur_counts = np.array([np.count_nonzero(current[name] == c) for c in cats])
        sps.chi2_contingency(np.vstack([ref_counts, cur_counts]))
        p, q = np.maximum(ref_counts / ref_counts.sum(), 1e-4), np.maximum(
            cur_counts / max(cur_counts.sum(), 1), 1e-4)
        np.sum((q - p) * np.log(q / p))
        jensenshannon(p, q, base=2)


def run_naive(reference: dict[str, np.ndarray], stream: Path, sample: int | None) -> dict[
        str, float]:
    columns: dict[str, list[object]] = {n: [] for n in NUMERIC + CATEGORICAL}
    with stream.open("rb") as handle:
        for line in handle:
            features = orjson.loads(line)["features"]
            for name in columns:
                columns[name].append(features[name])
    arrays = {n: np.array(v, dtype=float if n in NUMERIC else object)
              for n, v in columns.items()}
    ends = list(range(SIZE, len(arrays[NUMERIC[0]]) + 1, STEP))
    chosen = ends if sample is None else [ends[i] for i in
                                          np.linspace(0, len(ends) - 1, sample).astype(int)]
    started = time.perf_counter()
    for end in chosen:
        naive_window(reference, {n: a[end - SIZE:end] for n, a in arrays.items()})
    elapsed = time.perf_counter() - started
    return {"windows": len(chosen), "seconds": elapsed, "per_window_s": elapsed / len(chosen)}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-windows", default="100", help="a number, or 'all'")
    parser.add_argument("--phase", choices=("all", "generate"), default="all")
    args = parser.parse_args()
    if args.phase == "generate":
        generate(args.rows)
        return
    # Generate in a child process so its memory does not count as driftd's peak RSS.
    subprocess.run([sys.executable, __file__, "--phase", "generate", "--rows", str(args.rows)],
                   check=True)
    reference_file, stream = generate(args.rows)
    reference = dict(np.load(reference_file, allow_pickle=False))
    driftd = run_driftd(reference, stream)
    sample = None if args.naive_windows == "all" else int(args.naive_windows)
    naive = run_naive(reference, stream, sample)
    per_eval = driftd["evaluate_s"] / driftd["evaluations"]
    print(f"machine: {platform.machine()}, python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(f"driftd ingest: {driftd['events']:,} events in {driftd['ingest_s']:.2f} s = "
          f"{driftd['events'] / driftd['ingest_s']:,.0f} events/s (read + decode + encode + panes)")
    print(f"driftd evaluate: {driftd['evaluations']} windows in {driftd['evaluate_s']:.2f} s = "
          f"{per_eval * 1e3:.2f} ms per window (24 columns, every statistic and p-value)")
    print(f"driftd peak RSS: {driftd['peak_rss_mb']:.0f} MB")
    print(f"naive recompute: {naive['windows']} windows in {naive['seconds']:.2f} s = "
          f"{naive['per_window_s'] * 1e3:.1f} ms per window")
    print(f"ratio naive / driftd per window evaluation: {naive['per_window_s'] / per_eval:.0f}x")
    with_ingest = (driftd["evaluate_s"] + driftd["ingest_s"]) / driftd["evaluations"]
    print(f"ratio naive / driftd per window incl. driftd ingest: "
          f"{naive['per_window_s'] / with_ingest:.0f}x")


if __name__ == "__main__":
    main()
