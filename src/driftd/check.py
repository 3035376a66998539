"""The batch drift gate: every configured statistic of a whole file vs a profile."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftd.config import (
    ColumnConfig,
    ColumnKind,
    CountWindowConfig,
    ModelConfig,
    PerformanceConfig,
    TestConfig,
)
from driftd.events import Decoder, ModelBatch
from driftd.filescan import Progress, ScanReport, scan_file
from driftd.monitor.evaluate import Evaluator, decided_tests
from driftd.monitor.layout import Layout
from driftd.monitor.performance import outcome_values, prediction_values
from driftd.monitor.results import ColumnResult, WindowResult, finite_json
from driftd.reference.calibration import EstimateReliability, estimate_reliability
from driftd.reference.profile import Profile
from driftd.windows.panes import Pane

# The statistic each test compares with its threshold, and its p-value.
TEST_STATISTICS = {
    "psi": ("psi", "psi_pvalue"),
    "ks": ("ks_statistic", "ks_pvalue"),
    "chi2": ("chi2_statistic", "chi2_pvalue"),
    "js": ("js_distance", None),
    "wasserstein": ("wasserstein", None),
    "missing": ("missing_ratio", "missing_pvalue"),
}


@dataclass(frozen=True, slots=True)
class CheckResult:
    model: ModelConfig
    result: WindowResult
    scan: ScanReport
    # The file's counts on the profile's slots, which the HTML report draws.
    layout: Layout | None = None
    pane: Pane | None = None
    # How the label-free estimate did on the profile's labelled reference, if calibrated.
    estimate: EstimateReliability | None = None

    @property
    def drifted(self) -> bool:
        """Any column drifted, or performance decayed beyond its tolerance."""
        perf = self.result.performance
        decayed = perf is not None and any(d.significant for d in perf.decay.values())
        return decayed or any(column.drifted for column in self.result.columns)

    @property
    def absent_columns(self) -> list[str]:
        """Monitored columns with no value at all in the file (missing in every record)
        although the reference has some: all of them means a file of something else."""
        return [c.column for c in self.result.columns
                if c.statistics.get("missing_ratio") == 1.0
                and c.statistics.get("missing_ratio_reference", 1.0) < 1.0]

    @property
    def undecided(self) -> dict[str, list[str]]:
        """Per threshold test, the columns the file was too small for it to decide."""
        found: dict[str, list[str]] = {}
        for column in self.result.columns:
            for test in column.undecided:
                found.setdefault(test, []).append(column.column)
        return found

    @property
    def false_alarm_bound(self) -> float:
        """Upper bound of the chance that a file from the reference's own population
        shows drift: the threshold tests' ``false_alarm_rate`` plus the ``alpha`` of each
        p-value test in use (each corrected across the columns), capped at 1."""
        rates: dict[str, float] = {}
        for spec in self.model.monitored_columns:
            for test in decided_tests(self.model, spec):
                config = self.model.test_for(spec, test)
                if config.decision == "pvalue" and config.alpha is not None:
                    rates[test] = max(rates.get(test, 0.0), config.alpha)
                else:  # without a false-alarm rate a threshold bounds nothing
                    rates["threshold"] = self.model.false_alarm_rate or 1.0
        return min(1.0, sum(rates.values()))

    @property
    def invalid_ratio(self) -> float:
        """The larger share of invalid input: of the records, or of the worst column's
        values (see ``ScanReport.worst_invalid``)."""
        return self.scan.worst_invalid()[1]


def model_from_profile(profile: Profile, path: Path) -> ModelConfig:
    """A model config with the profile's columns and the default tests; with the
    performance settings `reference build --label` stored in the profile, its
    performance too."""
    columns = tuple(ColumnConfig(name=c.name, kind=c.kind, role=c.role)  # type: ignore[arg-type]
                    for c in profile.columns.values())
    settings = profile.metadata.get("performance")
    performance = (PerformanceConfig.model_validate(settings) if isinstance(settings, dict)
                   else None)
    if performance is not None:
        kind: ColumnKind = "numeric" if performance.task == "regression" else "categorical"
        columns += (ColumnConfig(name=performance.label, kind=kind, role="label",
                                 path=performance.label),)
    window = CountWindowConfig(name="file", size=1, step=1)
    return ModelConfig(name=profile.model, reference=path, columns=columns, windows=(window,),
                       performance=performance)


def run_check(
    profile: Profile, model: ModelConfig, data: Path, *, progress: Progress | None = None
) -> CheckResult:
    """Decode ``data`` like a stream (but a bad value is invalid for its column only),
    aggregate it as one window, evaluate it."""
    layout = Layout(model.columns, profile, model.performance)
    pane = Pane.empty(layout.size, layout.tail_size)
    perf = layout.performance

    def add(batch: ModelBatch) -> None:
        encoded = layout.encode(batch)
        pane.add_rows(encoded, 0, len(encoded))
        if perf is not None:  # a labelled file: each record is its own joined pair
            rows = perf.outcome_rows(prediction_values(perf.config, batch),
                                     outcome_values(perf.config, batch), np.zeros(len(batch)))
            pane.tails[perf.offset:perf.offset + perf.size] += rows.sum(axis=0)

    strict = [model.name] if model.non_finite == "invalid" else []
    decoder = Decoder({model.name: model.columns}, default_model=model.name,
                      strict_non_finite=strict)
    scan = scan_file(data, decoder, model.name, add, progress=progress, columns=model.columns)
    result = Evaluator(model, layout).evaluate("file", pane)
    return CheckResult(model, result, scan, layout, pane,
                       estimate_reliability(model.name, profile.calibration, model.performance))


def check_to_json(check: CheckResult) -> dict[str, Any]:
    """The JSON report: per column, each statistic, its threshold and decision."""
    result = check.result
    columns = []
    for column in result.columns:
        spec = next(c for c in check.model.columns if c.name == column.column)
        tests = {test: _test_json(check.model.test_for(spec, test), test, column)
                 for test in TEST_STATISTICS if check.model.test_for(spec, test).enabled}
        columns.append({"column": column.column, "kind": column.kind, "role": column.role,
                        "drift": column.drifted, "statistics": dict(column.statistics),
                        "tests": {k: v for k, v in tests.items() if v is not None}})
    report: dict[str, Any] = {
        "model": result.model, "reference": result.reference, "rows": result.events,
        "invalid": dict(check.scan.invalid),
        "invalid_values": {name: dict(reasons)
                           for name, reasons in sorted(check.scan.invalid_values.items())},
        "drift": check.drifted, "false_alarm_bound": check.false_alarm_bound,
        "undecided": check.undecided,
        "correction": check.model.correction, "columns": columns,
    }
    perf = result.performance
    if perf is not None:
        report["performance"] = {
            "predictions": perf.predictions, "labeled": perf.labeled,
            "metrics": dict(perf.metrics),
            "estimated": dict(perf.estimated), "baseline": dict(perf.baseline),
            "decay": {name: {"decay": d.decay, "interval": list(d.interval),
                             "significant": d.significant} for name, d in perf.decay.items()},
        }
        if perf.confusion:  # multiclass
            report["performance"] |= {
                "per_class": {m: dict(v) for m, v in perf.per_class.items()},
                "confusion": {t: dict(v) for t, v in perf.confusion.items()}}
        if check.estimate is not None:
            report["performance"]["estimate_reference"] = _estimate_json(check.estimate)
    finite: dict[str, Any] = finite_json(report)  # NaN and infinities become null
    return finite


def _estimate_json(estimate: EstimateReliability) -> dict[str, Any]:
    """How the label-free estimate did on the labelled reference."""
    cal = estimate.calibration
    return {"unreliable": estimate.unreliable, "tolerance": estimate.tolerance,
            "errors": estimate.errors, "errors_raw_scores": cal.errors(calibrated=False),
            "calibration_error": {"raw": cal.ece_before, "calibrated": cal.ece_after},
            "rows": cal.rows}


def _test_json(config: TestConfig, test: str, column: ColumnResult) -> dict[str, Any] | None:
    statistic, pvalue = TEST_STATISTICS[test]
    stats = column.statistics
    if statistic not in stats:
        return None
    # drift: true, false, or null when the test did not decide (see "outcome").
    entry: dict[str, Any] = {"statistic": statistic, "value": stats[statistic],
                             "decision": config.decision, "drift": column.drift.get(test),
                             "outcome": column.outcome(test)}
    if test in column.min_events:
        entry["min_events"] = column.min_events[test]
    if pvalue is not None and pvalue in stats:
        entry["pvalue"] = stats[pvalue]
    if config.decision == "threshold":
        entry["threshold"] = config.threshold
    elif config.decision == "pvalue":
        entry["alpha"] = config.alpha
    return entry
