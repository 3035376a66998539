"""Evaluation that degrades: a part that cannot be computed is recorded, not raised.

A window's evaluation has parts (each column's statistics, the performance metrics);
one that raises is left out of the result, named with a reason from a fixed set, and
the rest of the window, every other window and every other model are still published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Reasons (a label of driftd_evaluation_errors_total): a fixed set, never exception text.
INVALID_VALUE = "invalid_value"  # ValueError: aggregates a statistic refuses
ARITHMETIC = "arithmetic"  # overflow, division by zero, floating-point errors
UNEXPECTED = "unexpected"  # anything else: a bug
REASONS = (INVALID_VALUE, ARITHMETIC, UNEXPECTED)
# The ``part`` of a failure that took a whole window (or a model's windows) down.
WHOLE_WINDOW = "*"


def reason_of(error: BaseException) -> str:
    if isinstance(error, ValueError):
        return INVALID_VALUE
    if isinstance(error, ArithmeticError):
        return ARITHMETIC
    return UNEXPECTED


@dataclass(frozen=True, slots=True)
class EvaluationError:
    """A part of a window's evaluation that is not available, and why."""

    part: str  # a column name, "performance", or WHOLE_WINDOW
    reason: str  # one of REASONS
    detail: str  # the exception, for the results history and the log


@dataclass(slots=True)
class Attempts:
    """Runs the parts of one window's evaluation, collecting those that raise."""

    failed: list[tuple[EvaluationError, Exception]] = field(default_factory=list)

    def run(self, part: str, compute: Callable[[], T], fallback: T) -> T:
        """``compute()``, or ``fallback`` when it raises (the failure is recorded)."""
        try:
            return compute()
        except Exception as error:  # one statistic must never take the window down
            self.record(part, error)
            return fallback

    def record(self, part: str, error: Exception) -> None:
        detail = f"{type(error).__name__}: {error}"
        self.failed.append((EvaluationError(part, reason_of(error), detail), error))

    @property
    def errors(self) -> tuple[EvaluationError, ...]:
        return tuple(error for error, _ in self.failed)


class FailureLog:
    """Logs evaluation failures with their traceback, once per (model, window, part,
    reason) every ``period`` seconds; the ones in between are summed into the next."""

    def __init__(self, period: float = 300.0) -> None:
        self._period = period
        self._last: dict[tuple[str, str, str, str], float] = {}
        self._suppressed: dict[tuple[str, str, str, str], int] = {}

    def __call__(self, model: str, window: str, failed: list[tuple[EvaluationError, Exception]],
                 now: float) -> None:
        for error, exception in failed:
            key = (model, window, error.part, error.reason)
            if now - self._last.get(key, -float("inf")) < self._period:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                continue
            self._last[key] = now
            since = self._suppressed.pop(key, 0)
            logger.error("model %s window %s: %s not available (%s; %d more like it not "
                         "logged since the last): %s", model, window, _what(error.part),
                         error.reason, since, error.detail, exc_info=exception)


def _what(part: str) -> str:
    if part == WHOLE_WINDOW:
        return "the window's evaluation"
    return "performance" if part == "performance" else f"column {part!r}"
