"""Pure drift statistics on aggregated counts: arrays in, numbers or frozen results out.

No I/O, clock, logging or module-level mutable state; invalid arguments raise
ValueError naming the parameter. See ``docs/statistics.md`` for every formula.
"""

from __future__ import annotations

from driftd.stats.chi2 import Chi2Result, chi2_homogeneity
from driftd.stats.grid import bin_counts, bucket_bins, bucket_counts, grid_buckets
from driftd.stats.jensen_shannon import js_distance
from driftd.stats.ks import KSCacheInfo, KSPValue, ks_pvalue, ks_statistic
from driftd.stats.missing import missing_ratio, two_proportion_pvalue
from driftd.stats.multiple import adjusted_pvalues, reject
from driftd.stats.psi import bootstrap_pvalue, psi, psi_null_distribution, psi_pvalue
from driftd.stats.wasserstein import wasserstein_grid

__all__ = [
    "Chi2Result",
    "KSCacheInfo",
    "KSPValue",
    "adjusted_pvalues",
    "bin_counts",
    "bootstrap_pvalue",
    "bucket_bins",
    "bucket_counts",
    "chi2_homogeneity",
    "grid_buckets",
    "js_distance",
    "ks_pvalue",
    "ks_statistic",
    "missing_ratio",
    "psi",
    "psi_null_distribution",
    "psi_pvalue",
    "reject",
    "two_proportion_pvalue",
    "wasserstein_grid",
]
