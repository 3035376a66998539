"""Reference profiles: the versioned summary of a model's reference data.

A profile is a JSON document. Its ``version`` is the SHA-256 of the canonical JSON of
its content (format, model and columns); metadata such as the creation time and the
source file name are kept beside it and do not change the version, so the same data
always yields the same version.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from driftd.reference.calibration import ReferenceCalibration

FORMAT = "driftd-profile/1"
OTHER = "__other__"


class ProfileError(Exception):
    """A profile that cannot be used: unreadable, corrupted or not matching the config."""


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """A numeric column on its grid: 2G+1 bucket counts plus missing and tail mass."""

    name: str
    role: str
    count: int  # finite values
    missing: int  # missing or non-finite values
    grid: npt.NDArray[np.float64]
    bucket_counts: npt.NDArray[np.int64]
    psi_edges: npt.NDArray[np.float64]
    exact: bool  # the grid holds every distinct reference value
    kind: str = field(default="numeric", init=False)

    @property
    def total(self) -> int:
        return self.count + self.missing

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "numeric", "role": self.role, "count": self.count,
            "missing": self.missing, "exact": self.exact,
            "grid": [float(v) for v in self.grid],
            "bucket_counts": [int(v) for v in self.bucket_counts],
            "psi_edges": [float(v) for v in self.psi_edges],
        }


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """A categorical column: counts of its top categories, the rest as ``__other__``."""

    name: str
    role: str
    count: int  # present values
    missing: int
    categories: tuple[str, ...]
    category_counts: npt.NDArray[np.int64]
    other: int
    kind: str = field(default="categorical", init=False)

    @property
    def total(self) -> int:
        return self.count + self.missing

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "categorical", "role": self.role, "count": self.count,
            "missing": self.missing, "other": self.other,
            "categories": dict(zip(self.categories, (int(c) for c in self.category_counts),
                                   strict=True)),
        }


ColumnProfile = NumericProfile | CategoricalProfile


@dataclass(frozen=True, eq=False)
class Profile:
    """A model's reference profile; ``version`` identifies its content."""

    model: str
    rows: int
    columns: Mapping[str, ColumnProfile]
    metadata: Mapping[str, Any]
    version: str
    performance: Mapping[str, float] = field(default_factory=dict)  # baseline, if labelled
    calibration: ReferenceCalibration | None = None  # of the scores, if labelled

    def content(self) -> dict[str, Any]:
        content = {
            "format": FORMAT, "model": self.model, "rows": self.rows,
            "columns": {name: column.to_json() for name, column in self.columns.items()},
        }
        if self.performance:  # only labelled references carry it (older versions unchanged)
            content["performance"] = dict(self.performance)
        if self.calibration is not None:  # likewise
            content["calibration"] = self.calibration.to_json()
        return content

    def to_json(self) -> dict[str, Any]:
        return {**self.content(), "version": self.version, "metadata": dict(self.metadata)}

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        tmp.replace(path)


def content_version(content: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of ``content`` (sorted keys, no spaces)."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def make_profile(
    model: str, rows: int, columns: Mapping[str, ColumnProfile], metadata: Mapping[str, Any],
    performance: Mapping[str, float] | None = None,
    calibration: ReferenceCalibration | None = None,
) -> Profile:
    """Assemble a profile and stamp its content version."""
    perf = {k: float(v) for k, v in (performance or {}).items() if math.isfinite(v)}
    draft = Profile(model, rows, dict(columns), dict(metadata), version="", performance=perf,
                    calibration=calibration)
    return Profile(model, rows, dict(columns), dict(metadata),
                   content_version(draft.content()), perf, calibration)


def load_profile(path: Path) -> Profile:
    """Read and check a profile; any defect raises ProfileError saying what and where."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProfileError(f"{path}: cannot read profile: {error.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProfileError(f"{path}: profile is not valid JSON ({error})") from None
    try:
        profile = profile_from_json(raw)
    except (KeyError, TypeError, ValueError) as error:
        raise ProfileError(f"{path}: corrupted profile: {_describe(error)}") from None
    return profile


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}"
    return str(error)


def profile_from_json(raw: Any) -> Profile:
    """Parse a profile document; raises KeyError/TypeError/ValueError on defects."""
    if not isinstance(raw, dict):
        raise TypeError("top level must be a JSON object")
    if raw.get("format") != FORMAT:
        raise ValueError(f"format must be {FORMAT!r}, got {raw.get('format')!r}")
    columns_raw = raw["columns"]
    if not isinstance(columns_raw, dict) or not columns_raw:
        raise TypeError("columns must be a non-empty object")
    columns = {name: _column_from_json(name, spec) for name, spec in columns_raw.items()}
    performance = raw.get("performance") or {}
    if not isinstance(performance, dict) or not all(
            isinstance(v, int | float) for v in performance.values()):
        raise TypeError("performance must be an object of numbers")
    calibration = (ReferenceCalibration.from_json(raw["calibration"])
                   if raw.get("calibration") is not None else None)
    profile = make_profile(str(raw["model"]), int(raw["rows"]), columns,
                           raw.get("metadata") or {}, performance, calibration)
    if raw.get("version") != profile.version:
        raise ValueError(
            f"content does not match its version {raw.get('version')!r} "
            "(the file was edited or damaged; rebuild it with `driftd reference build`)"
        )
    return profile


def _column_from_json(name: str, spec: Any) -> ColumnProfile:
    if not isinstance(spec, dict):
        raise TypeError(f"column {name!r} must be an object")
    kind = spec["kind"]
    if kind == "numeric":
        return _numeric_from_json(name, spec)
    if kind == "categorical":
        return _categorical_from_json(name, spec)
    raise ValueError(f"column {name!r}: unknown kind {kind!r}")


def _numeric_from_json(name: str, spec: dict[str, Any]) -> NumericProfile:
    grid = np.asarray(spec["grid"], dtype=np.float64)
    counts = np.asarray(spec["bucket_counts"], dtype=np.int64)
    edges = np.asarray(spec["psi_edges"], dtype=np.float64)
    where = f"column {name!r}"
    if grid.ndim != 1 or grid.size == 0 or not np.all(np.isfinite(grid)):
        raise ValueError(f"{where}: grid must be a non-empty list of finite numbers")
    if np.any(np.diff(grid) <= 0):
        raise ValueError(f"{where}: grid must be strictly increasing")
    if counts.shape != (2 * grid.size + 1,) or np.any(counts < 0):
        raise ValueError(f"{where}: bucket_counts must be {2 * grid.size + 1} counts >= 0")
    if not np.all(np.isin(edges, grid)):
        raise ValueError(f"{where}: psi_edges must be grid points")
    if int(counts.sum()) != int(spec["count"]):
        raise ValueError(f"{where}: bucket_counts do not add up to count")
    return NumericProfile(name, str(spec["role"]), int(spec["count"]), int(spec["missing"]),
                          grid, counts, edges, bool(spec["exact"]))


def _categorical_from_json(name: str, spec: dict[str, Any]) -> CategoricalProfile:
    categories = spec["categories"]
    if not isinstance(categories, dict):
        raise TypeError(f"column {name!r}: categories must be an object")
    counts = np.asarray(list(categories.values()), dtype=np.int64)
    if np.any(counts < 0) or int(spec["other"]) < 0:
        raise ValueError(f"column {name!r}: category counts must be >= 0")
    if int(counts.sum()) + int(spec["other"]) != int(spec["count"]):
        raise ValueError(f"column {name!r}: category counts do not add up to count")
    return CategoricalProfile(name, str(spec["role"]), int(spec["count"]),
                              int(spec["missing"]), tuple(str(c) for c in categories),
                              counts, int(spec["other"]))
