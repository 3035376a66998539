"""Published evaluation results: immutable values handed from the evaluator to readers.

The scheduler thread builds a new ``Published`` on every evaluation and swaps it into a
``ResultBoard``; HTTP threads read whatever is on the board at scrape time and never see
a half-built result.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from driftd.monitor.failures import EvaluationError
from driftd.monitor.performance import PerformanceResult

# Statistic keys a ColumnResult may carry (absent when not applicable to the column).
STATISTICS = (
    "psi",
    "psi_pvalue",
    "ks_statistic",
    "ks_pvalue",
    "chi2_statistic",
    "chi2_pvalue",
    "js_distance",
    "wasserstein",
    "missing_ratio",
    "missing_ratio_reference",
    "missing_pvalue",
)


@dataclass(frozen=True, slots=True)
class ColumnResult:
    """Statistics of one column in one window, and the drift decision of each test."""

    column: str
    kind: str
    role: str
    statistics: Mapping[str, float]
    drift: Mapping[str, bool]

    @property
    def drifted(self) -> bool:
        return any(self.drift.values())


@dataclass(frozen=True, slots=True)
class WindowResult:
    """One evaluated window of one model against its reference profile."""

    model: str
    model_version: str
    reference: str
    window: str
    events: int
    start: float | None = None
    end: float | None = None
    columns: tuple[ColumnResult, ...] = ()
    performance: PerformanceResult | None = None
    # Parts that could not be computed (left out above), with the reason.
    errors: tuple[EvaluationError, ...] = ()

    def column(self, name: str) -> ColumnResult:
        for result in self.columns:
            if result.column == name:
                return result
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Published:
    """Everything one evaluation produced, stamped with when it ran (Unix seconds)."""

    evaluated_at: float
    windows: tuple[WindowResult, ...] = field(default_factory=tuple)


class ResultBoard:
    """Holds the latest ``Published``; written by the evaluator, read by scrapes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Published | None = None

    def publish(self, published: Published) -> None:
        with self._lock:
            self._latest = published

    def latest(self) -> Published | None:
        with self._lock:
            return self._latest


def published_to_json(published: Published | None) -> dict[str, Any]:
    """A JSON-ready copy of a ``Published`` (non-finite numbers become null)."""
    if published is None:
        return {"evaluated_at": None, "windows": []}
    finite: dict[str, Any] = finite_json(asdict(published))
    return finite


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value
