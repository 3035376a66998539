"""Published evaluation results: immutable values handed from the evaluator to readers.

The main thread evaluates windows as they close (and revises them as labels arrive);
the ``ResultBoard`` swaps in a new immutable ``Published`` with the latest window per
(model, window) after each batch of results; HTTP threads read whatever is on the board
at scrape time and never see a half-built result.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
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
    drift: Mapping[str, bool]  # decided tests only
    # Threshold tests the window was too small to decide, and per threshold test the
    # events it needs to decide (infinite when no window can: the reference is too small).
    undecided: tuple[str, ...] = ()
    min_events: Mapping[str, float] = field(default_factory=dict)

    @property
    def drifted(self) -> bool:
        return any(self.drift.values())

    def outcome(self, test: str) -> str | None:
        """``"drift"``, ``"ok"`` or ``"undecided"``; None when the test does not decide."""
        if test in self.undecided:
            return "undecided"
        decided = self.drift.get(test)
        return None if decided is None else ("drift" if decided else "ok")


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
    # 0 when the window closed (drift statistics, performance so far); each later one
    # revises its performance as labels arrive, the last once its label horizon passed.
    revision: int = 0
    matured: bool = False
    # Count windows: how many windows of this name completed before this one.
    sequence: int | None = None
    evaluated_at: float | None = None  # processing time of this revision

    def column(self, name: str) -> ColumnResult:
        for result in self.columns:
            if result.column == name:
                return result
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Published:
    """What Prometheus shows, stamped with when it was last updated (Unix seconds):
    per (model, window) the latest closed window (with its latest revision), and the
    latest matured one (label horizon passed, performance final)."""

    evaluated_at: float
    windows: tuple[WindowResult, ...] = field(default_factory=tuple)
    matured: tuple[WindowResult, ...] = field(default_factory=tuple)


class ResultBoard:
    """Holds the latest ``Published``; written by the evaluator, read by scrapes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: Published | None = None
        self._closed: dict[tuple[str, str], WindowResult] = {}
        self._matured: dict[tuple[str, str], WindowResult] = {}

    def publish(self, published: Published) -> None:
        """Replace what is shown."""
        with self._lock:
            self._latest = published
            self._closed = {(w.model, w.window): w for w in published.windows}
            self._matured = {(w.model, w.window): w for w in published.matured}

    def update(self, results: Sequence[WindowResult], now: float) -> None:
        """Show ``results`` (in the order they were produced): a closed window replaces
        the one shown for its (model, window); a revision of the window shown updates
        its performance; a matured one replaces the matured window shown."""
        with self._lock:
            for result in results:
                key = (result.model, result.window)
                shown = self._closed.get(key)
                if result.revision == 0:
                    self._closed[key] = result
                elif shown is not None and (shown.start, shown.end) == (result.start, result.end):
                    self._closed[key] = replace(
                        shown, performance=result.performance, revision=result.revision,
                        matured=result.matured, evaluated_at=result.evaluated_at)
                if result.matured:
                    self._matured[key] = result
            self._latest = Published(now, tuple(self._closed.values()),
                                     tuple(self._matured.values()))

    def latest(self) -> Published | None:
        with self._lock:
            return self._latest

    def forget(self, models: Sequence[str]) -> None:
        """Stop showing the windows of ``models`` (no longer configured)."""
        gone = set(models)
        if not gone:
            return
        with self._lock:
            self._closed = {k: w for k, w in self._closed.items() if k[0] not in gone}
            self._matured = {k: w for k, w in self._matured.items() if k[0] not in gone}
            if self._latest is not None:
                self._latest = Published(self._latest.evaluated_at,
                                         tuple(self._closed.values()),
                                         tuple(self._matured.values()))


def window_record(result: WindowResult) -> dict[str, Any]:
    """A result as one strict-JSON object of the results history."""
    record: dict[str, Any] = finite_json(asdict(result))
    if result.performance is not None:
        record["performance"]["coverage"] = finite_json(result.performance.coverage)
    return record


def published_to_json(published: Published | None) -> dict[str, Any]:
    """A JSON-ready copy of a ``Published`` (non-finite numbers become null)."""
    if published is None:
        return {"evaluated_at": None, "windows": []}
    return {"evaluated_at": published.evaluated_at,
            "windows": [window_record(w) for w in published.windows],
            "matured": [window_record(w) for w in published.matured]}


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value
