"""The flat slot layout of a model's columns on its reference profile.

Every monitored column owns a contiguous run of slots in one count vector:
a numeric column its 2G+1 grid buckets then a missing slot; a categorical column one
slot per reference category, then ``__other__``, then missing. Encoding a batch maps
each (column, event) to a slot, so adding a batch to a pane is one ``bincount``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat

import numpy as np
import numpy.typing as npt

from driftd.config import ColumnConfig, PerformanceConfig
from driftd.events import ModelBatch
from driftd.monitor.performance import PerformanceSlots
from driftd.reference.profile import CategoricalProfile, NumericProfile, Profile, ProfileError
from driftd.stats.grid import grid_buckets
from driftd.windows.panes import Encoded


@dataclass(frozen=True, eq=False)
class NumericSlots:
    """Slots of a numeric column: buckets at ``offset``, then missing; two tail sums."""

    column: ColumnConfig
    profile: NumericProfile
    offset: int
    tail: int  # index of (below, above) in the tails vector

    @property
    def buckets(self) -> slice:
        return slice(self.offset, self.offset + self.profile.bucket_counts.size)

    @property
    def missing(self) -> int:
        return self.offset + self.profile.bucket_counts.size

    @property
    def size(self) -> int:
        return self.profile.bucket_counts.size + 1

    def encode(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        finite = np.isfinite(values)
        buckets = grid_buckets(self.profile.grid, np.where(finite, values, 0.0))
        return np.where(finite, buckets + self.offset, self.missing)

    def tails(self, values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        low, high = self.profile.grid[0], self.profile.grid[-1]
        with np.errstate(invalid="ignore"):
            below = np.where(values < low, low - values, 0.0)
            above = np.where(values > high, values - high, 0.0)
        finite = np.isfinite(values)
        return np.stack([np.where(finite, below, 0.0), np.where(finite, above, 0.0)], axis=1)


@dataclass(frozen=True, eq=False)
class CategoricalSlots:
    """Slots of a categorical column: its categories, then other, then missing."""

    column: ColumnConfig
    profile: CategoricalProfile
    offset: int

    @property
    def other(self) -> int:
        return self.offset + len(self.profile.categories)

    @property
    def missing(self) -> int:
        return self.other + 1

    @property
    def size(self) -> int:
        return len(self.profile.categories) + 2

    @cached_property
    def lookup(self) -> dict[str | None, int]:
        lookup: dict[str | None, int] = {
            c: self.offset + i for i, c in enumerate(self.profile.categories)}
        lookup[None] = self.missing
        return lookup

    def encode(self, values: Sequence[str | None]) -> npt.NDArray[np.int64]:
        count = len(values)
        slots = map(self.lookup.get, values, repeat(self.other, count))
        return np.fromiter(slots, dtype=np.int64, count=count)


ColumnSlots = NumericSlots | CategoricalSlots


class Layout:
    """Slot layout of a model's monitored columns on its profile; with ``performance``,
    the float vector also holds the model's performance sums after the tail sums."""

    def __init__(self, columns: Sequence[ColumnConfig], profile: Profile,
                 performance: PerformanceConfig | None = None) -> None:
        self.profile = profile
        slots: list[ColumnSlots] = []
        offset = tail = 0
        for column in columns:
            if column.role == "label":
                continue
            spec = profile.columns.get(column.name)
            if isinstance(spec, NumericProfile) and column.kind == "numeric":
                slots.append(NumericSlots(column, spec, offset, tail))
                tail += 2
            elif isinstance(spec, CategoricalProfile) and column.kind == "categorical":
                slots.append(CategoricalSlots(column, spec, offset))
            else:
                raise ProfileError(_mismatch(column, spec, profile))
            offset += slots[-1].size
        self.columns: tuple[ColumnSlots, ...] = tuple(slots)
        calibration = profile.calibration.active if profile.calibration else None
        self.performance = (PerformanceSlots(performance, tail, profile.performance,
                                             calibration=calibration)
                            if performance is not None else None)
        self.size = offset
        self.tail_size = tail + (self.performance.size if self.performance else 0)

    def encode(self, batch: ModelBatch) -> Encoded:
        """Map every (column, event) of ``batch`` to its slot."""
        rows = len(batch)
        slots = np.empty((len(self.columns), rows), dtype=np.int64)
        tails = np.zeros((rows, self.tail_size))
        for i, column in enumerate(self.columns):
            if isinstance(column, NumericSlots):
                values = batch.numeric[column.column.name]
                slots[i] = column.encode(values)
                tails[:, column.tail:column.tail + 2] = column.tails(values)
            else:
                slots[i] = column.encode(batch.categorical[column.column.name])
        perf = self.performance
        if perf is not None:
            tails[:, perf.offset:perf.offset + perf.size] = perf.batch_rows(batch)
        return Encoded(slots, tails, batch.timestamps)


def _mismatch(
    column: ColumnConfig, spec: NumericProfile | CategoricalProfile | None, profile: Profile
) -> str:
    where = f"reference profile {profile.version[:19]} of model {profile.model!r}"
    if spec is None:
        return f"{where} has no column {column.name!r} (configured as {column.kind})"
    return f"column {column.name!r} is {column.kind} in the config but {spec.kind} in the {where}"
