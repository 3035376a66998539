"""The resumable state of a monitor, as plain arrays (what a checkpoint holds)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from driftd.windows.panes import Pane


@dataclass(frozen=True, slots=True)
class WindowState:
    """One window's counters and named panes; ``fingerprint`` says which window and
    layout they fit."""

    fingerprint: str
    meta: Mapping[str, float]
    panes: Mapping[str, Pane]


@dataclass(frozen=True, slots=True)
class ModelState:
    """A model's windows and label clock, and the profile version they were built
    against."""

    reference: str
    windows: Mapping[str, WindowState]
    clock: Mapping[str, float] = field(default_factory=dict)  # the label clock's state
