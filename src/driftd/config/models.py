"""A monitored model: its columns, tests, windows and performance."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from driftd.config.alerts import ModelAlertsConfig
from driftd.config.base import FieldPathText, _Frozen, _require_unique
from driftd.config.windows import CountWindowConfig, TimeWindowConfig, WindowConfig
from driftd.paths import FieldPath, Step, parse_path
from driftd.values import category_key

ColumnKind = Literal["numeric", "categorical"]
Role = Literal["input", "prediction", "label"]
Decision = Literal["threshold", "pvalue", "none"]
Correction = Literal["none", "bonferroni", "holm"]

TEST_NAMES = ("psi", "ks", "chi2", "js", "wasserstein", "missing")


class TestConfig(_Frozen):
    """How one statistic turns into a drift decision.

    ``decision: threshold`` flags drift when the statistic exceeds ``threshold``
    (for ``missing``: when the absolute change of the missing rate does);
    ``decision: pvalue`` when the test's p-value, corrected across the model's
    columns, is below ``alpha``; ``none`` exports the statistic without deciding.
    """

    __test__ = False  # not a pytest class; collecting it warns, and warnings are errors

    enabled: bool = True
    decision: Decision = "threshold"
    threshold: float | None = Field(default=None, ge=0)
    alpha: float | None = Field(default=None, gt=0, lt=1)
    null_distribution: Literal["asymptotic", "bootstrap"] = Field(
        default="asymptotic",
        description="PSI p-value from its asymptotic chi-square null or a bootstrap "
        "from the reference.",
    )
    bootstrap_resamples: int = Field(default=1000, ge=100, le=100_000)

    @model_validator(mode="after")
    def _decision_has_its_parameter(self) -> TestConfig:
        if not self.enabled:
            return self
        if self.decision == "threshold" and self.threshold is None:
            raise ValueError("decision 'threshold' needs a threshold")
        if self.decision == "pvalue" and self.alpha is None:
            raise ValueError("decision 'pvalue' needs an alpha")
        return self


class TestsConfig(_Frozen):
    """Per-statistic decision settings; defaults are the common industry ones."""

    __test__ = False

    psi: TestConfig = TestConfig(decision="threshold", threshold=0.2)
    ks: TestConfig = TestConfig(decision="pvalue", alpha=0.01)
    chi2: TestConfig = TestConfig(decision="pvalue", alpha=0.01)
    js: TestConfig = TestConfig(decision="threshold", threshold=0.1)
    wasserstein: TestConfig = TestConfig(decision="none")
    missing: TestConfig = TestConfig(decision="threshold", threshold=0.05)

    def get(self, name: str) -> TestConfig:
        test: TestConfig = getattr(self, name)
        return test


class TestsOverride(_Frozen):
    """Per-column replacement of some tests' settings."""

    __test__ = False

    psi: TestConfig | None = None
    ks: TestConfig | None = None
    chi2: TestConfig | None = None
    js: TestConfig | None = None
    wasserstein: TestConfig | None = None
    missing: TestConfig | None = None


class ColumnConfig(_Frozen):
    """A monitored column: its kind, its role and where it sits in an event."""

    name: str = Field(min_length=1, max_length=200)
    kind: ColumnKind
    role: Role = "input"
    path: FieldPathText | None = Field(
        default=None,
        description="Field path in the event (features.amount, inputs[0].data[3], or a "
        "JSON Pointer /inputs/0/data/3); default features.<name> for inputs, "
        "'prediction' for the prediction and 'label' for the label.",
    )
    tests: TestsOverride = TestsOverride()

    @property
    def event_path(self) -> tuple[Step, ...]:
        """The steps of ``path`` (keys and list indices), or of the default path."""
        if self.path is not None:
            return parse_path(self.path)
        if self.role == "prediction":
            return ("prediction",)
        if self.role == "label":
            return ("label",)
        return ("features", self.name)

    def field_path(self) -> FieldPath:
        """The reader of this column; a record without the path's first key (a flat
        row) holds it at the top level, under the path's last key, or the column's name
        when the path has one step or ends in an index."""
        steps = self.event_path
        last = steps[-1]
        flat = last if len(steps) > 1 and isinstance(last, str) else self.name
        return FieldPath(steps, flat=flat)


PERFORMANCE_METRICS = {
    "binary": ("accuracy", "precision", "recall", "f1", "auc", "log_loss"),
    "regression": ("mae", "rmse", "mape"),
    "multiclass": ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1"),
}
# Per-class metrics of a multiclass model (exported with a class label).
CLASS_METRICS = ("precision", "recall", "f1")


def _as_categories(value: Any) -> Any:
    """Class names as events' labels read: 1, "1" and 1.0 are all "1"."""
    if isinstance(value, list | tuple):
        return [v if isinstance(v, str) else category_key(v) or v for v in value]
    return value


Categories = Annotated[tuple[str, ...], BeforeValidator(_as_categories)]


class PerformanceConfig(_Frozen):
    """Model performance from delayed outcomes joined to predictions by id.

    ``binary``: the prediction column is the positive-class score in [0, 1], predicted
    positive when ``>= threshold``; the label is positive when it equals
    ``positive_label`` (labels are read as categories: 1, "1" and 1.0 are all "1").
    ``regression``: prediction and label are numbers.
    ``multiclass``: ``classes`` are the label values (three or more) and ``scores`` one
    numeric prediction column per class, in the same order (the model's class
    probabilities); the predicted class is the one with the highest score (the first
    on ties). An outcome whose label is not one of ``classes`` counts for nothing.
    ``predicted_label`` (binary and multiclass): a categorical role-prediction column
    holding the model's own predicted class; the confusion counts (and the label-free
    estimate's decisions) then use it instead of the threshold or the highest score,
    while the scores stay for AUC, log-loss and the estimate's probabilities. Binary:
    predicted positive when it equals ``positive_label``; multiclass: its class in
    ``classes``. A prediction without one (or, multiclass, with a value that is none of
    ``classes``) counts for nothing.
    """

    task: Literal["binary", "regression", "multiclass"]
    prediction: str | None = Field(
        default=None, min_length=1,
        description="name of the role-prediction column (binary and regression)")
    label: str = Field(min_length=1, description="name of the role-label column")
    classes: Categories = Field(
        default=(), description="multiclass: the label values, three or more")
    scores: tuple[str, ...] = Field(
        default=(), description="multiclass: one numeric role-prediction column per class, "
        "in the order of classes (the class probabilities)")
    predicted_label: str | None = Field(
        default=None, min_length=1,
        description="binary and multiclass: a categorical role-prediction column with the "
        "model's own predicted class, used instead of the threshold (binary) or the "
        "highest score (multiclass)")
    positive_label: str = "1"
    threshold: float = Field(default=0.5, ge=0, le=1)
    label_ttl_seconds: float = Field(
        default=86_400.0, gt=0,
        description="The label horizon, in event time: an outcome counts when it is at "
        "most this long after its prediction; a window matures (its performance final) "
        "once the label clock has passed its end by this much.")
    orphan_ttl_seconds: float = Field(
        default=300.0, gt=0,
        description="In event time: an outcome counts when it is at most this long "
        "before its prediction (clock skew), and waits that long for it.")
    max_pending: int = Field(default=5_000_000, ge=1)
    score_bins: int = Field(default=100, ge=10, le=10_000)
    baseline: dict[str, float] = Field(default_factory=dict)
    tolerance: dict[str, float] = Field(default_factory=dict)
    confidence: float = Field(default=0.95, gt=0, lt=1)
    estimate_tolerance: float = Field(
        default=0.02, ge=0, le=1,
        description="The label-free estimate is flagged unreliable (a start-up warning, "
        "driftd_performance_estimate_unreliable) when, on the labelled reference, it misses "
        "the realized accuracy, precision, recall or F1 by more than this (a ratio)")

    @model_validator(mode="after")
    def _task_has_its_fields(self) -> PerformanceConfig:
        if self.predicted_label is not None and self.task == "regression":
            raise ValueError("predicted_label: only for tasks 'binary' and 'multiclass'")
        if self.predicted_label is not None and "threshold" in self.model_fields_set:
            raise ValueError("threshold: not used with predicted_label (the model's own "
                             "label decides); remove one")
        if self.task != "multiclass":
            if self.prediction is None:
                raise ValueError(f"prediction: required for task {self.task!r}")
            for name in ("classes", "scores"):
                if getattr(self, name):
                    raise ValueError(f"{name}: only for task 'multiclass'")
            return self
        if self.prediction is not None:
            raise ValueError("prediction: not used for task 'multiclass' (the predicted "
                             "class is the one with the highest of scores); remove it")
        for name in ("positive_label", "threshold", "score_bins"):
            if name in self.model_fields_set:
                raise ValueError(f"{name}: not used for task 'multiclass'")
        if len(self.classes) < 3:
            raise ValueError("classes: task 'multiclass' needs three or more label values "
                             "(two classes: use task 'binary')")
        _require_unique("class", list(self.classes))
        _require_unique("scores column", list(self.scores))
        if len(self.scores) != len(self.classes):
            raise ValueError(f"scores: one column per class, in the order of classes "
                             f"({len(self.classes)} classes, {len(self.scores)} scores)")
        return self

    @model_validator(mode="after")
    def _metrics_are_known(self) -> PerformanceConfig:
        known = PERFORMANCE_METRICS[self.task]
        for field_name in ("baseline", "tolerance"):
            unknown = sorted(set(getattr(self, field_name)) - set(known))
            if unknown:
                raise ValueError(f"{field_name} has metrics {unknown} unknown for task "
                                 f"{self.task!r} (known: {', '.join(known)})")
        return self

    @property
    def prediction_columns(self) -> tuple[str, ...]:
        """The role-prediction columns performance reads."""
        return self.scores if self.task == "multiclass" else (self.prediction or "",)


class ModelConfig(_Frozen):
    """One monitored model: its reference profile, columns, windows and tests."""

    name: str = Field(min_length=1, max_length=100)
    version: str = Field(default="", max_length=100)
    reference: Path
    columns: tuple[ColumnConfig, ...] = Field(min_length=1)
    windows: tuple[WindowConfig, ...] = Field(min_length=1)
    tests: TestsConfig = TestsConfig()
    correction: Correction = "holm"
    non_finite: Literal["missing", "invalid"] = Field(
        default="missing",
        description="Non-finite numbers count as missing values (default) or make the "
        "event invalid (reason non_finite).",
    )
    false_alarm_rate: float | None = Field(
        default=0.01, gt=0, lt=1,
        description="Chance that a window drawn from the reference's own population "
        "makes any threshold test of any column flag drift. A threshold test decides "
        "only in windows large enough for that (its events needed, from the statistic's "
        "null distribution at this rate split over the model's threshold tests); "
        "smaller windows leave it undecided. null: thresholds decide at any size.")
    min_window_events: int = Field(
        default=0, ge=0,
        description="Threshold decisions also need a window of at least this many events "
        "(on top of false_alarm_rate's rule); smaller windows leave them undecided. "
        "p-value decisions are calibrated for any size and always apply.")
    performance: PerformanceConfig | None = None
    alerts: ModelAlertsConfig = ModelAlertsConfig()

    @field_validator("columns")
    @classmethod
    def _column_names_are_unique(
        cls, columns: tuple[ColumnConfig, ...]
    ) -> tuple[ColumnConfig, ...]:
        _require_unique("column", [c.name for c in columns])
        if sum(1 for c in columns if c.role == "label") > 1:
            raise ValueError("at most one column may have role 'label'")
        return columns

    @field_validator("windows")
    @classmethod
    def _window_names_are_unique(
        cls, windows: tuple[CountWindowConfig | TimeWindowConfig, ...]
    ) -> tuple[CountWindowConfig | TimeWindowConfig, ...]:
        _require_unique("window", [w.name for w in windows])
        return windows

    @model_validator(mode="after")
    def _performance_columns_exist(self) -> ModelConfig:
        perf = self.performance
        if perf is None:
            return self
        columns = {c.name: c for c in self.columns}
        field_name = "scores" if perf.task == "multiclass" else "prediction"
        for name in perf.prediction_columns:
            prediction = columns.get(name)
            if (prediction is None or prediction.role != "prediction"
                    or prediction.kind != "numeric"):
                raise ValueError(f"performance.{field_name}: {name!r} must be a numeric "
                                 "column with role prediction")
        said = columns.get(perf.predicted_label or "")
        if perf.predicted_label is not None and (
                said is None or said.role != "prediction" or said.kind != "categorical"):
            raise ValueError(f"performance.predicted_label: {perf.predicted_label!r} must be "
                             "a categorical column with role prediction")
        label = columns.get(perf.label)
        wanted = "numeric" if perf.task == "regression" else "categorical"
        if label is None or label.role != "label" or label.kind != wanted:
            raise ValueError(f"performance.label: {perf.label!r} must be a {wanted} column "
                             f"with role label for task {perf.task!r}")
        return self

    @property
    def monitored_columns(self) -> tuple[ColumnConfig, ...]:
        """Columns compared against the reference (inputs and prediction)."""
        return tuple(c for c in self.columns if c.role != "label")

    def test_for(self, column: ColumnConfig, test: str) -> TestConfig:
        override: TestConfig | None = getattr(column.tests, test)
        return override if override is not None else self.tests.get(test)
