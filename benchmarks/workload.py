"""The standard workload of the benchmarks and the Kafka integration tests.

20 numeric columns (normal, lognormal rounded to cents, integers with heavy ties,
uniform, exponential; 1% missing) and 4 categorical ones (3 to 30 categories). After
the drift point, 5 numeric columns shift and one categorical mix changes. Events are
in the input contract, with event times one millisecond apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from driftd.config import ColumnConfig

NUMERIC = [f"x{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(4)]
START_TS = 1_700_000_000.0


def columns() -> tuple[ColumnConfig, ...]:
    return tuple([ColumnConfig(name=n, kind="numeric") for n in NUMERIC]
                 + [ColumnConfig(name=n, kind="categorical") for n in CATEGORICAL])


def draw(rng: np.random.Generator, rows: int, drifted: bool) -> dict[str, np.ndarray]:
    """One block of rows, column by column."""
    data: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        shift = 0.5 if drifted and i < 5 else 0.0
        kind = i % 5
        if kind == 0:
            values = rng.normal(shift, 1.0, rows)
        elif kind == 1:
            values = rng.lognormal(2.0 + shift, 0.7, rows).round(2)
        elif kind == 2:
            values = rng.integers(0, 50 + int(20 * shift), rows).astype(float)
        elif kind == 3:
            values = rng.uniform(0, 1 + shift, rows)
        else:
            values = rng.exponential(1.0 + shift, rows)
        values[rng.random(rows) < 0.01] = np.nan
        data[name] = values
    for i, name in enumerate(CATEGORICAL):
        k = (5, 12, 30, 3)[i]
        p = np.linspace(1, 2, k) if drifted and i == 0 else np.ones(k)
        data[name] = rng.choice(np.array([f"{name}_{j}" for j in range(k)]), rows, p=p / p.sum())
    return data


def reference(rows: int = 50_000, seed: int = 2026) -> dict[str, np.ndarray]:
    return draw(np.random.default_rng(seed), rows, False)


def events(rows: int, *, drift_after: int, seed: int = 7, model: str = "bench",
           block: int = 50_000) -> Iterator[dict[str, Any]]:
    """``rows`` events; those from ``drift_after`` on are drifted."""
    rng = np.random.default_rng(seed)
    for start in range(0, rows, block):
        size = min(block, rows - start)
        data = draw(rng, size, start >= drift_after)
        numeric = {n: [None if np.isnan(v) else v for v in data[n].tolist()] for n in NUMERIC}
        categorical = {n: data[n].tolist() for n in CATEGORICAL}
        for i in range(size):
            features: dict[str, Any] = {n: numeric[n][i] for n in NUMERIC}
            features |= {n: categorical[n][i] for n in CATEGORICAL}
            yield {"model": model, "id": f"e{start + i}", "ts": START_TS + (start + i) / 1000,
                   "features": features}


def write_jsonl(path: Path, rows: int, *, drift_after: int, seed: int = 7) -> None:
    with path.open("wb") as handle:
        for event in events(rows, drift_after=drift_after, seed=seed):
            handle.write(orjson.dumps(event) + b"\n")
