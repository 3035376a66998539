"""Peak memory and time of `driftd reference build` on a big file.

Data: ROWS rows x 32 columns (default 2,000,000): 24 numeric (normal, lognormal rounded
to cents, integers with heavy ties, uniform; 1% missing) and 8 categorical (3 to 1,000
categories), written once as Parquet (and CSV with --csv) to benchmarks/data/, which git
ignores. Each build runs `python -m driftd reference build` in a child process of its
own; its peak RSS is the child's ru_maxrss (wait4), and it is reported against the size
of the raw column data (rows x columns x 8 bytes).

With --baseline REV the same build runs the code of git revision REV (its src/ exported
with `git archive` into a temporary directory), in the same run, so the two figures are
comparable on a shared machine; both profiles must have the same version.

Usage: python benchmarks/reference_build.py [--rows N] [--csv] [--baseline REV] [--repeat K]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, before numpy loads
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
NUMERIC, CATEGORICAL = 24, 8


@dataclass(frozen=True)
class Run:
    label: str
    seconds: float
    cpu_seconds: float  # user + system: steadier than wall time on a shared machine
    peak_bytes: int
    version: str


def write_data(rows: int, csv: bool) -> Path:
    """The benchmark file (generated in a child process, so its memory is not ours)."""
    name = f"reference_{rows}.{'csv' if csv else 'parquet'}"
    path = DATA / name
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        subprocess.run([sys.executable, __file__, "--generate", str(path), "--rows", str(rows)],
                       check=True)
    return path


def generate(path: Path, rows: int) -> None:
    import pandas as pd

    rng = np.random.default_rng(20261202)
    columns: dict[str, object] = {}
    for index in range(NUMERIC):
        shape = index % 4
        if shape == 0:
            values = rng.normal(index, 1 + index / 10, rows)
        elif shape == 1:
            values = rng.lognormal(3.0, 0.8, rows).round(2)
        elif shape == 2:
            values = rng.integers(0, 90, rows).astype(np.float64)
        else:
            values = rng.uniform(-1, 1, rows)
        values[rng.random(rows) < 0.01] = np.nan
        columns[f"n{index}"] = values
    for index in range(CATEGORICAL):
        size = (3, 10, 30, 100, 1000, 5, 50, 300)[index]
        names = np.array([f"c{index}_{k}" for k in range(size)], dtype=object)
        weights = rng.dirichlet(np.ones(size))
        columns[f"c{index}"] = names[rng.choice(size, rows, p=weights)]
    frame = pd.DataFrame(columns)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, row_group_size=100_000)


def build(label: str, data: Path, out: Path, pythonpath: Path | None) -> Run:
    numeric = ",".join(f"n{i}" for i in range(NUMERIC))
    categorical = ",".join(f"c{i}" for i in range(CATEGORICAL))
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    command = [sys.executable, "-m", "driftd", "reference", "build", "--model", "bench",
               "--data", str(data), "--out", str(out), "--numeric", numeric,
               "--categorical", categorical]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{label}: driftd reference build failed ({status})")
    version = json.loads(out.read_text())["version"]
    cpu = usage.ru_utime + usage.ru_stime
    return Run(label, seconds, cpu, usage.ru_maxrss * 1024, version)  # ru_maxrss in KiB


def export_revision(revision: str, into: Path) -> Path:
    """The src/ tree of ``revision``, for running the old code beside the new one."""
    archive = into / "src.tar"
    with archive.open("wb") as handle:
        subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], stdout=handle,
                       check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--csv", action="store_true", help="read a CSV instead of Parquet")
    parser.add_argument("--baseline", metavar="REV", help="also run git revision REV")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate is not None:
        generate(args.generate, args.rows)
        return
    data = write_data(args.rows, args.csv)
    raw = args.rows * (NUMERIC + CATEGORICAL) * 8
    print(f"{data.name}: {args.rows:,} rows x {NUMERIC + CATEGORICAL} columns "
          f"({NUMERIC} numeric, {CATEGORICAL} categorical); raw column data "
          f"{raw / 1e6:,.0f} MB; {data.stat().st_size / 1e6:,.0f} MB on disk")
    print(f"python {platform.python_version()}, {platform.machine()}")
    with tempfile.TemporaryDirectory() as temp:
        old_src = export_revision(args.baseline, Path(temp)) if args.baseline else None
        runs: list[Run] = []
        for repeat in range(args.repeat):
            runs.append(build("current", data, Path(temp) / f"new{repeat}.json", None))
            if old_src is not None:
                runs.append(build(f"baseline {args.baseline}", data,
                                  Path(temp) / f"old{repeat}.json", old_src))
    for run in runs:
        print(f"{run.label:<22} peak RSS {run.peak_bytes / 1e6:7,.0f} MB = "
              f"{run.peak_bytes / raw:4.2f} x raw column data, {run.seconds:6.1f} s "
              f"({run.cpu_seconds:5.1f} s CPU, {args.rows / run.cpu_seconds:,.0f} rows per "
              f"CPU-second), {run.version[:19]}")
    if len({run.version for run in runs}) != 1:
        raise SystemExit("the profiles differ")
    if old_src is not None:
        new = min(r.peak_bytes for r in runs if r.label == "current")
        old = min(r.peak_bytes for r in runs if r.label != "current")
        cpu_new = min(r.cpu_seconds for r in runs if r.label == "current")
        cpu_old = min(r.cpu_seconds for r in runs if r.label != "current")
        print(f"ratio baseline / current peak RSS: {old / new:.2f}x, CPU time: "
              f"{cpu_old / cpu_new:.2f}x; same profile version")


if __name__ == "__main__":
    main()
