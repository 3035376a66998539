"""The decoded values of a reference file, collected batch by batch for
``build_profile`` in little more memory than the numbers themselves.

A numeric column's quantile grid needs all its values, so they are kept: copied into
blocks of 4 MB as they come (a small array per batch and column, kept for the whole
read between the batches' short-lived objects, would leave the heap fragmented: about
1.8 times the values' size in a 2M-row build), joined one column at a time when the
profile is built. A categorical column needs only its counts, so a batch's categories
are counted and dropped: a Python string per cell would cost about 60 bytes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

import numpy as np
import numpy.typing as npt

from driftd.events import ModelBatch

BLOCK_VALUES = 1 << 19  # float64 values per block: 4 MB


class ReferenceData:
    """Numeric values and category counts of every column seen in the batches added.

    >>> data = ReferenceData(block_values=2)
    >>> data.add(ModelBatch("m", np.zeros(2), [1, 2], {"x": np.array([1.0, 2.0])},
    ...                     {"c": ["a", None]}))
    >>> data.add(ModelBatch("m", np.zeros(1), [3], {"x": np.array([3.0])}, {"c": ["a"]}))
    >>> data.numeric["x"].tolist(), data.categorical["c"]
    ([1.0, 2.0, 3.0], Counter({'a': 2, None: 1}))
    """

    def __init__(self, block_values: int = BLOCK_VALUES) -> None:
        if block_values < 1:
            raise ValueError("block_values must be at least 1")
        self._block = block_values
        self._numeric: dict[str, _Blocks] = {}
        self.categorical: dict[str, Counter[str | None]] = {}
        self.numeric: Mapping[str, npt.NDArray[np.float64]] = _Joined(self._numeric)

    def add(self, batch: ModelBatch) -> None:
        for name, values in batch.numeric.items():
            if name not in self._numeric:
                self._numeric[name] = _Blocks(self._block)
            self._numeric[name].append(values)
        for name, categories in batch.categorical.items():
            self.categorical.setdefault(name, Counter()).update(categories)


class _Blocks:
    """A growing float64 column in fixed-size blocks (only the last one part filled)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._blocks: list[npt.NDArray[np.float64]] = []
        self._used = size  # of the last block: full, so the first append opens one

    def append(self, values: npt.NDArray[np.float64]) -> None:
        start = 0
        while start < values.size:
            if self._used == self._size:
                self._blocks.append(np.empty(self._size))
                self._used = 0
            count = min(self._size - self._used, values.size - start)
            self._blocks[-1][self._used:self._used + count] = values[start:start + count]
            self._used += count
            start += count

    def joined(self) -> npt.NDArray[np.float64]:
        if not self._blocks:
            return np.empty(0)
        return np.concatenate([*self._blocks[:-1], self._blocks[-1][:self._used]])


class _Joined(Mapping[str, npt.NDArray[np.float64]]):
    """Each column's blocks as one array, joined when asked for (so one at a time)."""

    def __init__(self, columns: dict[str, _Blocks]) -> None:
        self._columns = columns

    def __getitem__(self, name: str) -> npt.NDArray[np.float64]:
        return self._columns[name].joined()

    def __iter__(self) -> Iterator[str]:
        return iter(self._columns)

    def __len__(self) -> int:
        return len(self._columns)
