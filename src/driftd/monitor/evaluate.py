"""Evaluation: the statistics of every column of a window against the reference.

Everything here works on pane aggregates, so its cost is O(grid x columns) whatever
the window's length. Decisions follow each test's config: a threshold on the
statistic, or a p-value corrected (Bonferroni or Holm) across the model's columns. A
threshold decides only in a window large enough for it (:mod:`driftd.stats.sample_size`
at the model's ``false_alarm_rate``, split over its threshold tests); in a smaller one
the test is undecided, which is not "no drift".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, partial

import numpy as np
import numpy.typing as npt

from driftd.config import ColumnConfig, ModelConfig, TestConfig
from driftd.monitor.failures import Attempts
from driftd.monitor.layout import ColumnSlots, Layout, NumericSlots
from driftd.monitor.results import ColumnResult, WindowResult
from driftd.reference.profile import NumericProfile
from driftd.stats.ks import KSPValue
from driftd.stats.missing import missing_ratio, two_proportion_pvalue
from driftd.stats.multiple import adjusted_pvalues
from driftd.stats.prepared import CategoricalReference, NumericReference
from driftd.stats.psi import bootstrap_pvalue, psi_null_distribution
from driftd.stats.sample_size import (
    bins_min_events,
    chi2_min_events,
    ks_min_events,
    missing_min_events,
    wasserstein_min_events,
)
from driftd.windows.panes import Pane

# Which statistic each test decides on, by threshold and by p-value.
_THRESHOLD_STAT = {"psi": "psi", "ks": "ks_statistic", "chi2": "chi2_statistic",
                   "js": "js_distance", "wasserstein": "wasserstein"}
_PVALUE_STAT = {"psi": "psi_pvalue", "ks": "ks_pvalue", "chi2": "chi2_pvalue",
                "missing": "missing_pvalue"}
_NUMERIC_TESTS = ("psi", "ks", "js", "wasserstein", "missing")
_CATEGORICAL_TESTS = ("psi", "chi2", "js", "missing")


@dataclass(frozen=True, eq=False)
class _Reference:
    """A column's slots and its prepared reference, built once per profile."""

    slots: ColumnSlots

    @cached_property
    def prepared(self) -> NumericReference | CategoricalReference:
        profile = self.slots.profile
        if isinstance(profile, NumericProfile):
            return NumericReference(profile.grid, profile.bucket_counts, profile.psi_edges)
        counts = np.r_[profile.category_counts, profile.other, profile.missing]
        return CategoricalReference(counts)


class Evaluator:
    """Computes a ``WindowResult`` from a window's pane aggregate; owns its caches."""

    def __init__(self, model: ModelConfig, layout: Layout, *, seed: int = 0) -> None:
        self.model, self.layout, self._seed = model, layout, seed
        self._references = [_Reference(slots) for slots in layout.columns]
        self._needed = [self._events_needed(ref) for ref in self._references]
        self._ks_pvalue = KSPValue()
        self._nulls: dict[tuple[str, int], npt.NDArray[np.float64]] = {}

    def evaluate(
        self, window: str, pane: Pane, *, start: float | None = None, end: float | None = None,
        attempts: Attempts | None = None,
    ) -> WindowResult:
        """The window's result; a column or performance metric that cannot be computed
        is left out, and recorded in ``attempts`` and the result's ``errors``. A pane
        without bucket counts (a revision: float sums only) gives performance only."""
        attempts = Attempts() if attempts is None else attempts
        columns = self._columns(pane, attempts) if pane.counts.size else ()
        perf = self.layout.performance
        performance = (perf.evaluate(pane.tails[perf.offset:perf.offset + perf.size], attempts)
                       if perf is not None else None)
        return WindowResult(self.model.name, self.model.version, self.layout.profile.version,
                            window, pane.events, start, end, columns, performance,
                            attempts.errors)

    def _columns(self, pane: Pane, attempts: Attempts) -> tuple[ColumnResult, ...]:
        statistics = [attempts.run(ref.slots.column.name,
                                   partial(self._column_statistics, ref, pane), dict[str, float]())
                      for ref in self._references]
        decidable = [{test: (total if test == "missing" else present) >= size
                      for test, size in needed.items()}
                     for (present, total), needed in zip(self._sizes(pane), self._needed,
                                                         strict=True)]
        drift = self._decide(statistics, decidable)
        return tuple(
            ColumnResult(ref.slots.column.name, ref.slots.column.kind, ref.slots.column.role,
                         stats, flags, _undecided(stats, can), needed)
            for ref, stats, flags, can, needed in zip(
                self._references, statistics, drift, decidable, self._needed, strict=True)
        )

    def _sizes(self, pane: Pane) -> list[tuple[int, int]]:
        """Per column: (values its distribution tests compare, events) of the window: a
        categorical column's bins include the missing slot, a numeric one's do not."""
        sizes = []
        for ref in self._references:
            slots = ref.slots
            if isinstance(slots, NumericSlots):
                missing = int(pane.counts[slots.missing])
                present = int(pane.counts[slots.buckets].sum())
            else:
                current = pane.counts[slots.offset:slots.offset + slots.size]
                missing, present = 0, int(current.sum())
            sizes.append((present, present + missing))
        return sizes

    def _events_needed(self, ref: _Reference) -> dict[str, float]:
        """Per threshold test of the column: the window size it needs to decide."""
        floor = float(self.model.min_window_events)
        needed: dict[str, float] = {}
        for test in self.decided_tests(ref.slots.column):
            config = self.model.test_for(ref.slots.column, test)
            if config.decision == "threshold" and config.threshold is not None:
                needed[test] = max(floor, self._null_size(ref, test, config.threshold))
        return needed

    def _null_size(self, ref: _Reference, test: str, threshold: float) -> float:
        rate = self.model.false_alarm_rate
        if rate is None:
            return 0.0
        alpha = rate / max(self._threshold_tests, 1)
        prepared, profile = ref.prepared, ref.slots.profile
        n_ref = float(prepared.bin_counts.sum())
        if test == "missing":
            # A reference without (or only) missing values does not prove the rate is
            # exactly 0 (or 1): half a value either way keeps the null from being certain.
            total = max(profile.total, 1)
            share = min(max(profile.missing, 0.5), total - 0.5) / total
            return missing_min_events(threshold, share=share, alpha=alpha,
                                      n_ref=total)
        if test == "psi":
            return bins_min_events("psi", threshold, ref_counts=prepared.bin_counts,
                                   alpha=alpha, seed=self._seed)
        if test == "js":
            return bins_min_events("js", threshold, ref_counts=prepared.bin_counts,
                                   alpha=alpha, seed=self._seed)
        if test == "chi2":
            return chi2_min_events(threshold, dof=prepared.dof, alpha=alpha)
        assert isinstance(prepared, NumericReference)
        if test == "ks":
            return ks_min_events(threshold, alpha=alpha, n_ref=n_ref)
        return wasserstein_min_events(threshold, spread=prepared.spread, alpha=alpha,
                                      n_ref=n_ref)

    @cached_property
    def _threshold_tests(self) -> int:
        """How many (column, test) pairs of the model decide by threshold."""
        return sum(self.model.test_for(ref.slots.column, test).decision == "threshold"
                   for ref in self._references for test in self.decided_tests(ref.slots.column))

    def _column_statistics(self, ref: _Reference, pane: Pane) -> dict[str, float]:
        slots, prepared = ref.slots, ref.prepared
        if isinstance(slots, NumericSlots):
            current = pane.counts[slots.buckets]
            missing = int(pane.counts[slots.missing])
            present = int(current.sum())
        else:
            current = pane.counts[slots.offset:slots.offset + slots.size]
            missing = int(current[-1])
            present = int(current.sum()) - missing
        stats = self._missing_statistics(slots, missing, present + missing)
        if present == 0:
            return stats
        if isinstance(prepared, NumericReference):
            assert isinstance(slots, NumericSlots)
            tails = pane.tails[slots.tail:slots.tail + 2]
            numeric = prepared.compare(current, (float(tails[0]), float(tails[1])))
            stats |= {"psi": numeric.psi, "psi_pvalue": numeric.psi_pvalue,
                      "js_distance": numeric.js_distance,
                      "ks_statistic": numeric.ks_statistic,
                      "ks_pvalue": self._ks_pvalue(numeric.ks_statistic, int(prepared.n),
                                                   numeric.n),
                      "wasserstein": numeric.wasserstein}
        else:
            categorical = prepared.compare(current)
            stats |= {"psi": categorical.psi, "psi_pvalue": categorical.psi_pvalue,
                      "js_distance": categorical.js_distance,
                      "chi2_statistic": categorical.chi2_statistic,
                      "chi2_pvalue": categorical.chi2_pvalue}
        if self.model.test_for(slots.column, "psi").null_distribution == "bootstrap":
            stats["psi_pvalue"] = self._bootstrap_pvalue(ref, stats["psi"], present)
        return stats

    def _missing_statistics(self, slots: ColumnSlots, missing: int, total: int) -> dict[str, float]:
        profile = slots.profile
        stats = {"missing_ratio": missing_ratio(missing, total),
                 "missing_ratio_reference": missing_ratio(profile.missing, profile.total)}
        if total:
            stats["missing_pvalue"] = two_proportion_pvalue(
                missing, total, profile.missing, profile.total)
        return stats

    def _bootstrap_pvalue(self, ref: _Reference, value: float, n_cur: int) -> float:
        """PSI p-value from a parametric bootstrap null, cached per (column, size)."""
        key = (ref.slots.column.name, n_cur)
        null = self._nulls.get(key)
        if null is None:
            if len(self._nulls) >= 256:  # time windows change size: keep the cache bounded
                self._nulls.pop(next(iter(self._nulls)))
            test = self.model.test_for(ref.slots.column, "psi")
            null = self._nulls[key] = psi_null_distribution(
                ref.prepared.bin_counts, n_cur, resamples=test.bootstrap_resamples, seed=self._seed)
        return bootstrap_pvalue(value, null)

    def decided_tests(self, column: ColumnConfig) -> list[str]:
        """The tests that decide drift for ``column``; see :func:`decided_tests`."""
        return decided_tests(self.model, column)

    def _decide(self, statistics: list[dict[str, float]],
                decidable: list[dict[str, bool]]) -> list[dict[str, bool]]:
        """Each column's decisions; a threshold test whose column is not ``decidable``
        (the window is too small for its threshold to mean anything) gets none."""
        decisions: list[dict[str, bool]] = [{} for _ in statistics]
        for test in ("psi", "ks", "chi2", "js", "wasserstein", "missing"):
            configs = [self.model.test_for(ref.slots.column, test) for ref in self._references]
            self._decide_test(test, configs, statistics, decisions, decidable)
        return decisions

    def _decide_test(
        self, test: str, configs: list[TestConfig], statistics: list[dict[str, float]],
        decisions: list[dict[str, bool]], decidable: list[dict[str, bool]],
    ) -> None:
        pvalue_key = _PVALUE_STAT.get(test)
        pvalues = np.array([
            s.get(pvalue_key, np.nan) if c.enabled and c.decision == "pvalue" and pvalue_key
            else np.nan for s, c in zip(statistics, configs, strict=True)
        ])
        adjusted = adjusted_pvalues(pvalues, self.model.correction)
        for i, (stats, config) in enumerate(zip(statistics, configs, strict=True)):
            if not config.enabled or config.decision == "none":
                continue
            if config.decision == "pvalue" and pvalue_key in stats:
                assert config.alpha is not None
                decisions[i][test] = bool(adjusted[i] <= config.alpha)
            elif config.decision == "threshold" and config.threshold is not None:
                value = _threshold_value(test, stats)
                if value is not None and decidable[i].get(test, False):
                    decisions[i][test] = bool(value > config.threshold)


def decided_tests(model: ModelConfig, column: ColumnConfig) -> list[str]:
    """The tests that decide drift for ``column`` of ``model`` (enabled, with a decision
    rule, applicable to its kind)."""
    applicable = _NUMERIC_TESTS if column.kind == "numeric" else _CATEGORICAL_TESTS
    found = []
    for test in applicable:
        config = model.test_for(column, test)
        if not config.enabled or config.decision == "none":
            continue
        if (config.decision == "pvalue" and test in _PVALUE_STAT) or (
                config.decision == "threshold" and config.threshold is not None):
            found.append(test)
    return found


def _undecided(stats: Mapping[str, float], decidable: Mapping[str, bool]) -> tuple[str, ...]:
    """The threshold tests with a statistic that the window was too small to decide."""
    return tuple(test for test, can in decidable.items()
                 if not can and _threshold_value(test, stats) is not None)


def _threshold_value(test: str, stats: Mapping[str, float]) -> float | None:
    if test == "missing":
        if "missing_ratio" not in stats:  # the column's statistics are not available
            return None
        return abs(stats["missing_ratio"] - stats["missing_ratio_reference"])
    value = stats.get(_THRESHOLD_STAT[test])
    return None if value is None or np.isnan(value) else value

