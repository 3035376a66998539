"""Scenario helpers for config tests: real reference profiles on disk."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from driftd.reference.build import numeric_profile
from driftd.reference.profile import make_profile


def write_profile(path: Path, columns: Mapping[str, str], *, model: str = "fraud") -> Path:
    """A valid profile of numeric ``columns`` ({name: role}) over 200 seeded values."""
    rng = np.random.default_rng(7)
    profiles = {name: numeric_profile(name, role, rng.normal(size=200))
                for name, role in columns.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    make_profile(model, 200, profiles, {"source": "tests"}).save(path)
    return path
