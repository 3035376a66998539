"""The resumable state of a monitor, as plain arrays (what a checkpoint holds)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class WindowState:
    """One window's arrays; ``fingerprint`` says which window and layout they fit."""

    fingerprint: str
    arrays: Mapping[str, np.ndarray]


@dataclass(frozen=True, slots=True)
class ModelState:
    """A model's windows, and the profile version they were built against."""

    reference: str
    windows: Mapping[str, WindowState]
