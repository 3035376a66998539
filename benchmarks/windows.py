"""Event-time windows: memory of the retained panes, and the cost per closed window.

Model: the standard workload's 24 columns (20 numeric, 4 categorical) plus a prediction
score (monitored too) and a binary label, with ``performance`` configured; one 1-hour
event-time window sliding every 5 minutes (12 panes); label horizon
(``label_ttl_seconds``) 7 days. A ModelMonitor is driven directly with decoded batches
(no JSON, no Kafka). Predictions per slide are Poisson around 1,000 on a daily cycle of
+-50%, so windows differ in size (the stream and the exact join: ``labelled_stream.py``).
Each part runs in its own process:

  memory:  8 days of predictions (about 1,000 per slide) and their outcomes
           (log-normal delays, median 1 day; 20% never arrive; those after 7 days do
           not count), results() after every batch and with revisions every 6 hours of
           event time. Reported: bytes of panes with bucket counts and of panes kept for
           labels only (``ModelMonitor.memory``), against keeping whole panes for the
           horizon (as many retained panes, each the size of a whole pane).
  catchup: 1,001 slides of predictions (about 1,000 each: 1,000 windows close) read
           in large batches, as by a consumer far behind, results() after each batch;
           seconds per closed window against ``Evaluator.evaluate`` of the same
           windows, already summed, by a second evaluator, interleaved batch by batch.

Usage: python benchmarks/windows.py [--quick] [--part all|memory|catchup] [--profile]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, before numpy loads
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import types  # noqa: E402
from collections import defaultdict  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import workload  # noqa: E402
from driftd.config import ModelConfig, parse_config  # noqa: E402
from driftd.monitor.evaluate import Evaluator  # noqa: E402
from driftd.monitor.monitor import ModelMonitor  # noqa: E402
from driftd.reference.build import build_profile  # noqa: E402
from driftd.telemetry import Telemetry  # noqa: E402
from driftd.windows.panes import Pane  # noqa: E402
from labelled_stream import DAY, NOW, PREDICTIONS, SLIDE, T0, Outcomes, Stream, deliver  # noqa: E402

DURATION, REF_ROWS = 3600.0, 50_000


@dataclass(frozen=True)
class Settings:
    horizon_days: float = 7.0
    memory_days: float = 8.0
    memory_per_slide: int = 1_000
    revise_hours: float = 6.0
    catchup_slides: int = 1_000
    catchup_per_slide: int = 1_000
    batches: tuple[int, ...] = (5_000, 100_000)


QUICK = Settings(horizon_days=1.0, memory_days=2.0, memory_per_slide=200, revise_hours=6.0,
                 catchup_slides=100, batches=(5_000, 50_000))


def model_config(horizon_days: float) -> ModelConfig:
    columns: list[dict[str, Any]] = [{"name": c.name, "kind": c.kind} for c in workload.columns()]
    columns += [{"name": "score", "kind": "numeric", "role": "prediction"},
                {"name": "label", "kind": "categorical", "role": "label"}]
    config = parse_config({
        "models": [{"name": "bench", "reference": "bench.json", "columns": columns,
                    "windows": [{"name": "1h", "type": "time", "duration_seconds": DURATION,
                                 "slide_seconds": SLIDE}],
                    "performance": {"task": "binary", "prediction": "score", "label": "label",
                                    "label_ttl_seconds": horizon_days * DAY}}],
        "sources": [{"type": "jsonl", "path": "-"}], "http": {"address": "127.0.0.1:0"},
    }, environ={})
    return config.models[0]


def make_monitor(model: ModelConfig) -> ModelMonitor:
    reference = workload.reference(REF_ROWS)
    numeric = {n: reference[n] for n in workload.NUMERIC}
    numeric["score"] = np.random.default_rng(3).beta(2, 5, REF_ROWS)
    categorical = {n: reference[n].tolist() for n in workload.CATEGORICAL}
    profile = build_profile("bench", model.columns, numeric, categorical, rows=REF_ROWS,
                            metadata={})
    return ModelMonitor(model, profile, Telemetry())


# -- part 1: memory -------------------------------------------------------------------------

@dataclass(frozen=True)
class Sample:
    """The windows after a batch: event day, bytes (with counts, labels only), and the
    seconds of a results() call with nothing due (and of one with revise=True)."""

    day: float
    full: int
    light: int
    idle_s: float
    idle_revise_s: float | None


def run_memory(settings: Settings) -> None:
    monitor = make_monitor(model_config(settings.horizon_days))
    stream = Stream(settings.memory_per_slide)
    horizon = settings.horizon_days * DAY
    size = 5_000  # the default max_poll_records and batch_size
    outcomes = Outcomes(span=size * SLIDE / settings.memory_per_slide)
    rss_before = _rss_mb()
    samples: list[Sample] = []
    counts: dict[str, int] = defaultdict(int)
    revise_s, next_revise = 0.0, T0 + settings.revise_hours * 3600
    for batch, labels in stream.batches(round(settings.memory_days * DAY / SLIDE), size):
        monitor.ingest(batch, PREDICTIONS, NOW)
        outcomes.schedule(batch, labels)
        end = float(batch.timestamps[-1])
        due = outcomes.due(end)
        counts["outcomes"] += len(due)
        counts["joined"] += deliver(monitor, due, horizon)
        results = monitor.results(NOW)  # after every batch, as the daemon does
        idle_revise = None
        if end >= next_revise:  # an evaluation interval: revisions of windows with labels
            next_revise += settings.revise_hours * 3600
            started = time.perf_counter()
            results += monitor.results(NOW, revise=True)
            revise_s += time.perf_counter() - started
            counts["revise calls"] += 1
            idle_revise = _idle(monitor, revise=True)
        for result in results:
            counts["matured" if result.matured else "revised" if result.revision
                   else "closed"] += 1
        samples.append(Sample((end - T0) / DAY, *monitor.memory(), _idle(monitor),
                              idle_revise))
    layout = monitor.layout
    sizes = PaneSizes((layout.size + layout.tail_size) * 8, layout.tail_size * 8)
    _report_memory(settings, samples, sizes, deep_size(monitor.windows))
    print(f"  process RSS: {rss_before:.0f} MiB after set-up (reference, pools of rows), "
          f"{_rss_mb():.0f} MiB at the end, peak {_peak_rss_mb():.0f} MiB")
    print(f"  windows: {counts['closed']:,} closed, {counts['revised']:,} revisions, "
          f"{counts['matured']:,} matured; results(revise=True) every "
          f"{settings.revise_hours:g} h of event time: {counts['revise calls']} calls in "
          f"{revise_s:.1f} s = {revise_s / max(counts['revised'], 1) * 1e3:.2f} ms per revision")
    print(f"  outcomes: {counts['outcomes']:,} arrived, {counts['joined']:,} within the horizon "
          f"added to panes")


def _idle_near(samples: list[Sample], day: float) -> float:
    """Median seconds of the idle results() calls within 6 hours of ``day``."""
    return statistics.median(s.idle_s for s in samples if abs(s.day - day) <= 0.25)


def _idle(monitor: ModelMonitor, *, revise: bool = False) -> float:
    """Seconds of a results() call with nothing due (the daemon makes one per batch)."""
    started = time.perf_counter()
    if monitor.results(NOW, revise=revise):
        raise AssertionError("results() was expected to have nothing due")
    return time.perf_counter() - started


@dataclass(frozen=True)
class PaneSizes:
    whole: int  # bytes of a pane with bucket counts and float sums
    tails: int  # bytes of a pane kept for labels only (float sums)

    def panes(self, full: int, light: int) -> int:
        return full // self.whole + light // self.tails


def deep_size(root: object) -> int:
    """Bytes of every object reachable from ``root`` (numpy arrays with their data)."""
    seen, stack, total = set(), [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type | types.ModuleType | types.FunctionType):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def _report_memory(settings: Settings, samples: list[Sample], sizes: PaneSizes,
                   deep: int) -> None:
    print(f"memory: 1-hour window, 5-minute slide (12 panes), label horizon "
          f"{_days(settings.horizon_days)}, {_days(settings.memory_days)} of events, "
          f"about {settings.memory_per_slide:,} predictions per slide, outcomes delayed (median "
          f"1 day)")
    print(f"  whole pane {sizes.whole:,} bytes (bucket counts + float sums); pane kept for "
          f"labels {sizes.tails:,} bytes (float sums)")
    print("  (idle results(): median of the calls within 6 hours that had nothing due)")
    print(f"  {'event day':>9} {'with counts':>12} {'labels only':>12} {'panes':>6} "
          f"{'whole panes':>14} {'ratio':>6} {'idle results()':>15}")
    days = [d for d in (0.5, 1, 2, 4, 7, 7.5, settings.memory_days) if d <= settings.memory_days]
    for sample in sorted({min(samples, key=lambda s: abs(s.day - d)) for d in days},
                         key=lambda s: s.day):
        whole = sizes.panes(sample.full, sample.light) * sizes.whole
        print(f"  {sample.day:9.2f} {sample.full:>12,} {sample.light:>12,} "
              f"{whole // sizes.whole:>6,} {whole:>14,} "
              f"{whole / (sample.full + sample.light):>5.0f}x "
              f"{_idle_near(samples, sample.day) * 1e3:>12.3f} ms")
    peak = max(samples, key=lambda s: s.full + s.light)
    panes = sizes.panes(peak.full, peak.light)
    total = peak.full + peak.light
    print(f"  peak (day {peak.day:.2f}): {peak.full / 2**20:.2f} MiB with counts + "
          f"{peak.light / 2**20:.2f} MiB labels only = {total / 2**20:.2f} MiB in {panes:,} "
          f"panes; whole panes for the horizon: {panes * sizes.whole / 2**20:,.0f} MiB; ratio "
          f"{panes * sizes.whole / total:.0f}x")
    last = samples[-1]
    overhead = (deep - last.full - last.light) / sizes.panes(last.full, last.light)
    print(f"  every object reachable from the windows at the end (arrays with their data, "
          f"Pane objects, dicts, watermark): {deep / 2**20:.2f} MiB against "
          f"{(last.full + last.light) / 2**20:.2f} MiB counted by memory(): {overhead:.0f} "
          f"bytes more per retained pane")
    revises = [(s.day, s.idle_revise_s) for s in samples if s.idle_revise_s is not None]
    (day0, first), (day1, final) = revises[0], revises[-1]
    print(f"  results(revise=True) with nothing changed: {first * 1e3:.2f} ms at day "
          f"{day0:.2f}, {final * 1e3:.2f} ms at day {day1:.2f} (ratio {final / first:.1f})")


# -- part 2: catch-up -----------------------------------------------------------------------

@dataclass
class TimedEvaluator:
    """The monitor's evaluator, timed; holds on to the windows of the current batch."""

    inner: Evaluator
    seconds: list[float] = field(default_factory=list)
    windows: list[tuple[Pane, dict[str, Any]]] = field(default_factory=list)

    def evaluate(self, window: str, pane: Pane, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = self.inner.evaluate(window, pane, **kwargs)
        self.seconds.append(time.perf_counter() - started)
        self.windows.append((pane, kwargs))
        return result


@dataclass
class CatchUp:
    size: int
    events: int = 0
    closed: int = 0
    ingest_s: float = 0.0
    results_s: float = 0.0
    baseline_s: float = 0.0
    baseline: list[float] = field(default_factory=list)  # s per baseline evaluate
    evaluations: list[float] = field(default_factory=list)  # s per evaluate in results()
    ratios: list[float] = field(default_factory=list)  # per batch: results() s / baseline s
    counted_peak: int = 0  # the most bytes of panes with counts, between ingest and results
    peak_rss_mib: float = 0.0  # of the process so far


def run_catchup(model: ModelConfig, stream: Stream, settings: Settings, size: int) -> CatchUp:
    """Predictions of ``catchup_slides + 1`` slides (so the watermark passes the end of
    the last window) in batches of ``size``, results() after every batch. The baseline
    is interleaved batch by batch, so machine noise hits both alike: a second Evaluator
    evaluates each window that results() handed out, already summed."""
    monitor = make_monitor(model)
    timed = TimedEvaluator(monitor.evaluator)
    monitor.evaluator = timed  # type: ignore[assignment]
    baseline = Evaluator(model, monitor.layout)
    run = CatchUp(size)
    for batch, _ in stream.batches(settings.catchup_slides + 1, size):
        started = time.perf_counter()
        monitor.ingest(batch, PREDICTIONS, NOW)
        run.ingest_s += time.perf_counter() - started
        run.counted_peak = max(run.counted_peak, monitor.memory()[0])  # untimed
        started = time.perf_counter()
        closed = len(monitor.results(NOW))
        seconds = time.perf_counter() - started
        evaluations = 0.0
        for pane, kwargs in timed.windows:
            started = time.perf_counter()
            baseline.evaluate("1h", pane, **kwargs)
            run.baseline.append(time.perf_counter() - started)
            evaluations += run.baseline[-1]
        timed.windows.clear()
        run.events, run.closed = run.events + len(batch), run.closed + closed
        run.results_s, run.baseline_s = run.results_s + seconds, run.baseline_s + evaluations
        if closed:
            run.ratios.append(seconds / evaluations)
    run.evaluations, run.peak_rss_mib = timed.seconds, _peak_rss_mb()
    return run


def run_catchups(settings: Settings, profile: bool) -> None:
    model = model_config(settings.horizon_days)
    stream = Stream(settings.catchup_per_slide)
    runs = [run_catchup(model, stream, settings, size) for size in settings.batches]
    _report_catchup(settings, runs)
    if profile:  # one more catch-up, profiled, so the profiler costs the figures nothing
        profiler = _profiler()
        profiler.start()
        run_catchup(model, stream, settings, settings.batches[-1])
        profiler.stop()
        print(profiler.output_text(color=False))


def _report_catchup(settings: Settings, runs: list[CatchUp]) -> None:
    print(f"catch-up: {settings.catchup_slides:,} windows (1 hour, 5-minute slide) closing, "
          f"about {settings.catchup_per_slide:,} predictions per slide, label horizon "
          f"{_days(settings.horizon_days)} (closed panes thinned to float sums); baseline: "
          f"Evaluator.evaluate of the same windows, already summed, interleaved per batch")
    for run in runs:
        per, base = run.results_s / run.closed, run.baseline_s / run.closed
        p50, p95 = np.percentile(run.ratios, [50, 95])
        inside = sum(run.evaluations) / run.closed
        print(f"  batches of {run.size:,} (~{run.size // settings.catchup_per_slide} windows "
              f"each): {run.closed:,} closed; results() {per * 1e3:.2f} ms per closed window, "
              f"baseline {base * 1e3:.2f} ms: ratio {per / base:.2f} (per batch: median "
              f"{p50:.2f}, p95 {p95:.2f})")
        median = statistics.median(run.baseline)
        print(f"    inside results(): evaluation {inside * 1e3:.2f} ms per window (median "
              f"{statistics.median(run.evaluations) * 1e3:.2f}; baseline median "
              f"{median * 1e3:.2f}), the rest (close, pane sums, thinning) "
              f"{(per - inside) * 1e3:.2f} ms = {(per - inside) / median:.2f}x the baseline "
              f"median; ingest {run.events / run.ingest_s:,.0f} events/s (encode + panes)")
        print(f"    memory: up to {run.counted_peak / 2**20:.0f} MiB of panes with counts "
              f"between an ingest and its results(); peak RSS of the process so far "
              f"{run.peak_rss_mib:.0f} MiB")


def _days(days: float) -> str:
    return f"{days:g} day" if days == 1 else f"{days:g} days"


def _profiler() -> Any:
    try:
        from pyinstrument import Profiler
    except ImportError:
        sys.exit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")
    return Profiler(interval=0.001)


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="\n".join(__doc__.splitlines()[2:]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run of under a minute: 1-day horizon, 2 days of events, "
                        "100 windows in the catch-up")
    parser.add_argument("--part", choices=("all", "memory", "catchup"), default="all")
    parser.add_argument("--profile", action="store_true",
                        help="then profile one more catch-up (the largest batches) with "
                        "pyinstrument")
    args = parser.parse_args()
    settings = QUICK if args.quick else Settings()
    if args.part == "all":  # each part in its own process, with its own RSS
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python "
              f"{platform.python_version()}, numpy {np.__version__}", flush=True)
        quick = ["--quick"] if args.quick else []
        subprocess.run([sys.executable, __file__, "--part", "memory", *quick], check=True)
        subprocess.run([sys.executable, __file__, "--part", "catchup", *quick,
                        *(["--profile"] if args.profile else [])], check=True)
    elif args.part == "memory":
        run_memory(settings)
    else:
        run_catchups(settings, args.profile)


if __name__ == "__main__":
    main()
