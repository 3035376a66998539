"""Evaluation: the statistics of every column of a window against the reference.

Everything here works on pane aggregates, so its cost is O(grid x columns) whatever
the window's length. Decisions follow each test's config: a threshold on the
statistic, or a p-value corrected (Bonferroni or Holm) across the model's columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from driftd.config import ModelConfig, TestConfig
from driftd.monitor.layout import CategoricalSlots, ColumnSlots, Layout, NumericSlots
from driftd.monitor.results import ColumnResult, WindowResult
from driftd.reference.profile import NumericProfile
from driftd.stats.chi2 import chi2_homogeneity
from driftd.stats.grid import bin_counts, bucket_bins
from driftd.stats.jensen_shannon import js_distance
from driftd.stats.ks import KSPValue, ks_statistic
from driftd.stats.missing import missing_ratio, two_proportion_pvalue
from driftd.stats.multiple import adjusted_pvalues
from driftd.stats.psi import bootstrap_pvalue, psi, psi_null_distribution, psi_pvalue
from driftd.stats.wasserstein import wasserstein_grid
from driftd.windows.panes import Pane

# Which statistic each test decides on, by threshold and by p-value.
_THRESHOLD_STAT = {"psi": "psi", "ks": "ks_statistic", "chi2": "chi2_statistic",
                   "js": "js_distance", "wasserstein": "wasserstein"}
_PVALUE_STAT = {"psi": "psi_pvalue", "ks": "ks_pvalue", "chi2": "chi2_pvalue",
                "missing": "missing_pvalue"}


@dataclass(frozen=True, eq=False)
class _Reference:
    """Reference-side arrays of one column, computed once per profile."""

    slots: ColumnSlots

    @cached_property
    def bins(self) -> npt.NDArray[np.int64]:
        """Bucket -> PSI bin map (numeric) or identity over categories (categorical)."""
        if isinstance(self.slots, NumericSlots):
            profile = self.slots.profile
            return bucket_bins(profile.grid, profile.psi_edges)
        return np.arange(self.slots.size, dtype=np.int64)

    @cached_property
    def n_bins(self) -> int:
        return int(self.bins.max()) + 1

    @cached_property
    def counts(self) -> npt.NDArray[np.int64]:
        """Bucket counts (numeric) or category, other and missing counts (categorical)."""
        profile = self.slots.profile
        if isinstance(profile, NumericProfile):
            return profile.bucket_counts
        return np.r_[profile.category_counts, profile.other, profile.missing].astype(np.int64)

    @cached_property
    def bin_counts(self) -> npt.NDArray[np.float64]:
        return bin_counts(self.counts, self.bins, self.n_bins).astype(np.float64)


class Evaluator:
    """Computes a ``WindowResult`` from a window's pane aggregate; owns its caches."""

    def __init__(self, model: ModelConfig, layout: Layout, *, seed: int = 0) -> None:
        self.model, self.layout = model, layout
        self._references = [_Reference(slots) for slots in layout.columns]
        self._ks_pvalue = KSPValue()
        self._nulls: dict[tuple[str, int], npt.NDArray[np.float64]] = {}
        self._seed = seed

    def evaluate(
        self, window: str, pane: Pane, *, start: float | None = None, end: float | None = None
    ) -> WindowResult:
        statistics = [self._column_statistics(ref, pane) for ref in self._references]
        drift = self._decide(statistics)
        columns = tuple(
            ColumnResult(ref.slots.column.name, ref.slots.column.kind, ref.slots.column.role,
                         stats, flags)
            for ref, stats, flags in zip(self._references, statistics, drift, strict=True)
        )
        return WindowResult(self.model.name, self.model.version, self.layout.profile.version,
                            window, pane.events, start, end, columns)

    def _column_statistics(self, ref: _Reference, pane: Pane) -> dict[str, float]:
        slots = ref.slots
        if isinstance(slots, NumericSlots):
            current = pane.counts[slots.buckets]
            missing = int(pane.counts[slots.missing])
        else:
            current = pane.counts[slots.offset:slots.offset + slots.size]
            missing = int(current[-1])
        present = int(current.sum()) - (0 if isinstance(slots, NumericSlots) else missing)
        stats = self._missing_statistics(slots, missing, present + missing)
        if present == 0:
            return stats
        current_bins = bin_counts(current, ref.bins, ref.n_bins).astype(np.float64)
        stats |= self._psi_statistics(ref, current_bins)
        stats["js_distance"] = js_distance(ref.bin_counts, current_bins)
        if isinstance(slots, NumericSlots):
            stats |= self._numeric_statistics(ref, slots, current, pane)
        else:
            result = chi2_homogeneity(ref.counts, current)
            stats["chi2_statistic"], stats["chi2_pvalue"] = result.statistic, result.pvalue
        return stats

    def _missing_statistics(self, slots: ColumnSlots, missing: int, total: int) -> dict[str, float]:
        profile = slots.profile
        stats = {"missing_ratio": missing_ratio(missing, total),
                 "missing_ratio_reference": missing_ratio(profile.missing, profile.total)}
        if total:
            stats["missing_pvalue"] = two_proportion_pvalue(
                missing, total, profile.missing, profile.total)
        return stats

    def _psi_statistics(
        self, ref: _Reference, current_bins: npt.NDArray[np.float64]
    ) -> dict[str, float]:
        value = psi(ref.bin_counts, current_bins)
        n_ref, n_cur = int(ref.bin_counts.sum()), int(current_bins.sum())
        test = self.model.test_for(ref.slots.column, "psi")
        if test.null == "bootstrap":
            null = self._psi_null(ref, n_cur, test)
            pvalue = bootstrap_pvalue(value, null)
        else:
            pvalue = psi_pvalue(value, n_bins=ref.n_bins, n_ref=n_ref, n_cur=n_cur)
        return {"psi": value, "psi_pvalue": pvalue}

    def _psi_null(self, ref: _Reference, n_cur: int, test: TestConfig) -> npt.NDArray[np.float64]:
        key = (ref.slots.column.name, n_cur)
        if key not in self._nulls:
            if len(self._nulls) >= 256:  # time windows change size: keep the cache bounded
                self._nulls.pop(next(iter(self._nulls)))
            self._nulls[key] = psi_null_distribution(
                ref.bin_counts, n_cur, resamples=test.bootstrap_resamples, seed=self._seed)
        return self._nulls[key]

    def _numeric_statistics(
        self, ref: _Reference, slots: NumericSlots, current: npt.NDArray[np.int64], pane: Pane
    ) -> dict[str, float]:
        d = ks_statistic(ref.counts, current)
        n_ref, n_cur = slots.profile.count, int(current.sum())
        tails = pane.tails[slots.tail:slots.tail + 2]
        return {
            "ks_statistic": d,
            "ks_pvalue": self._ks_pvalue(d, n_ref, n_cur),
            "wasserstein": wasserstein_grid(slots.profile.grid, ref.counts, current,
                                            cur_tails=(float(tails[0]), float(tails[1]))),
        }

    def _decide(self, statistics: list[dict[str, float]]) -> list[dict[str, bool]]:
        decisions: list[dict[str, bool]] = [{} for _ in statistics]
        for test in ("psi", "ks", "chi2", "js", "wasserstein", "missing"):
            configs = [self.model.test_for(ref.slots.column, test) for ref in self._references]
            self._decide_test(test, configs, statistics, decisions)
        return decisions

    def _decide_test(
        self, test: str, configs: list[TestConfig], statistics: list[dict[str, float]],
        decisions: list[dict[str, bool]],
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
                if value is not None:
                    decisions[i][test] = bool(value > config.threshold)


def _threshold_value(test: str, stats: Mapping[str, float]) -> float | None:
    if test == "missing":
        return abs(stats["missing_ratio"] - stats["missing_ratio_reference"])
    value = stats.get(_THRESHOLD_STAT[test])
    return None if value is None or np.isnan(value) else value

