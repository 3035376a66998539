"""Which performance task a labelled reference file holds, when the command line of
`reference build` does not say.

One pass over the prediction and label columns: a label with at most two values and
scores in [0, 1] is ``binary``; a label whose every value is a number is
``regression``. Anything else needs ``--task``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from driftd.config import ColumnConfig
from driftd.events import Decoder, ModelBatch
from driftd.filescan import scan_file

# Label values seen beyond this many cannot be binary; no need to keep them all.
_KEEP = 3
# Positive labels taken without asking, by the pair of label values.
_POSITIVE = {frozenset({"0", "1"}): "1", frozenset({"false", "true"}): "true",
             frozenset({"no", "yes"}): "yes"}


@dataclass(slots=True)
class LabelSummary:
    """What the prediction and label columns of a file hold (a few label values)."""

    values: set[str] = field(default_factory=set)
    numeric: bool = True  # every label seen is a number
    low: float = math.inf
    high: float = -math.inf

    def add(self, predictions: np.ndarray, labels: list[str | None]) -> None:
        for label in labels:
            if label is None:
                continue
            if len(self.values) < _KEEP:
                self.values.add(label)
            if self.numeric and not _is_number(label):
                self.numeric = False
        finite = predictions[np.isfinite(predictions)]
        if finite.size:
            self.low, self.high = min(self.low, finite.min()), max(self.high, finite.max())

    @property
    def probabilities(self) -> bool:
        return 0.0 <= self.low and self.high <= 1.0


def _is_number(label: str) -> bool:
    try:
        return math.isfinite(float(label))
    except ValueError:
        return False


def summarize(data: Path, model: str, prediction: str, label: str) -> LabelSummary:
    """Read the prediction (a number) and the label (a category) of every record."""
    summary = LabelSummary()
    columns = (ColumnConfig(name=prediction, kind="numeric", role="prediction", path=prediction),
               ColumnConfig(name=label, kind="categorical", role="label", path=label))

    def add(batch: ModelBatch) -> None:
        summary.add(batch.numeric[prediction], batch.categorical[label])

    scan_file(data, Decoder({model: columns}, default_model=model), model, add)
    return summary


@dataclass(frozen=True, slots=True)
class Inferred:
    """The task read off the data, its positive label (binary), and why."""

    task: str
    positive_label: str | None
    reason: str


def infer_task(summary: LabelSummary, positive_label: str | None = None) -> Inferred:
    """Binary, regression, or ValueError saying what to pass.

    >>> s = LabelSummary()
    >>> s.add(np.array([0.2, 0.9]), ["0", "1"])
    >>> found = infer_task(s)
    >>> found.task, found.positive_label, found.reason
    ('binary', '1', 'label values 0, 1; prediction in [0.2, 0.9]')
    >>> s.add(np.array([3.5]), ["7.25"])
    >>> infer_task(s).task
    'regression'
    """
    values = sorted(summary.values)
    shown = ", ".join(values) + (", ..." if len(values) >= _KEEP else "")
    where = f"prediction in [{summary.low:.4g}, {summary.high:.4g}]"
    if not values:
        raise ValueError("--label: no record has a label, so no baseline can be measured")
    if len(values) <= 2 and summary.probabilities:
        positive = positive_label or _POSITIVE.get(frozenset(v.lower() for v in values))
        if positive is None:
            raise ValueError(f"--label: values {shown} look binary; give --positive-label "
                             "(or --task)")
        if positive_label is None:
            positive = next(v for v in values if v.lower() == positive)
        return Inferred("binary", positive, f"label values {shown}; {where}")
    if summary.numeric:
        return Inferred("regression", None, f"every label a number; {where}")
    raise ValueError(f"--label: cannot tell the task from label values {shown} and {where}; "
                     "give --task (multiclass: --scores and --classes)")
