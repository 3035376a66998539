"""The built-in demo: a synthetic fraud-like model stream whose inputs drift on cue.

Events are JSON bytes, fed through the same decoder and monitor as any real source.
Each prediction's label follows on the ``outcomes`` stream after a delay. Once the
drift starts, ``amount`` and ``velocity`` shift, the ``country`` mix changes, and the
relation between inputs and label changes so the model's accuracy decays.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from driftd.sources.base import RawBatch

COUNTRIES = ("DE", "FR", "US", "GB", "IT")
COUNTRY_MIX = (0.40, 0.25, 0.20, 0.10, 0.05)
DRIFTED_COUNTRY_MIX = (0.25, 0.20, 0.40, 0.10, 0.05)
DEVICES = ("mobile", "desktop", "tablet")
DEVICE_MIX = (0.60, 0.35, 0.05)
NUMERIC = ("amount", "account_age_days", "hour", "velocity")
CATEGORICAL = ("country", "device")


@dataclass(frozen=True, slots=True)
class DemoRows:
    """A block of synthetic rows, column by column."""

    numeric: dict[str, npt.NDArray[np.float64]]
    categorical: dict[str, list[str]]
    score: npt.NDArray[np.float64]
    label: npt.NDArray[np.int64]


class DemoGenerator:
    """Draws rows before or after the drift from a seeded generator."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed)

    def rows(self, count: int, *, drifted: bool) -> DemoRows:
        rng = self._rng
        amount = rng.lognormal(3.5 + (0.6 if drifted else 0.0), 1.0, count)
        velocity = rng.normal(0.8 if drifted else 0.0, 1.0, count)
        numeric = {
            "amount": np.round(amount, 2),
            "account_age_days": np.floor(rng.gamma(2.0, 200.0, count)),
            "hour": rng.integers(0, 24, count).astype(np.float64),
            "velocity": velocity,
        }
        mix = DRIFTED_COUNTRY_MIX if drifted else COUNTRY_MIX
        countries = [COUNTRIES[i] for i in rng.choice(len(COUNTRIES), count, p=mix)]
        devices = [DEVICES[i] for i in rng.choice(len(DEVICES), count, p=DEVICE_MIX)]
        model_logit = -2.0 + 0.9 * velocity + 0.004 * (amount - 33.0)
        true_logit = model_logit - (1.5 * velocity if drifted else 0.0)  # concept drift
        score = 1.0 / (1.0 + np.exp(-model_logit))
        label = (rng.random(count) < 1.0 / (1.0 + np.exp(-true_logit))).astype(np.int64)
        return DemoRows(numeric, {"country": countries, "device": devices}, score, label)


def prediction_events(
    rows: DemoRows, timestamps: npt.NDArray[np.float64], first_id: int, model: str
) -> list[dict[str, Any]]:
    """Prediction events in the DESIGN input contract."""
    events = []
    for i, ts in enumerate(timestamps.tolist()):
        features: dict[str, Any] = {name: float(rows.numeric[name][i]) for name in NUMERIC}
        features |= {name: rows.categorical[name][i] for name in CATEGORICAL}
        events.append({"model": model, "model_version": "1", "id": f"p-{first_id + i}",
                       "ts": ts, "features": features,
                       "prediction": round(float(rows.score[i]), 6)})
    return events


class DemoSource:
    """Emits the demo stream in real time at ``events_per_second``."""

    def __init__(
        self, generator: DemoGenerator, *, model: str, events_per_second: float,
        drift_after_seconds: float, label_delay_seconds: float,
        clock: Callable[[], float], sleep: Callable[[float], None],
    ) -> None:
        self.name = "demo"
        self._generator, self._model = generator, model
        self._rate, self._delay = events_per_second, label_delay_seconds
        self._clock, self._sleep = clock, sleep
        self._started = clock()
        self.drift_starts_at = self._started + drift_after_seconds
        self._emitted = 0
        self._labels: deque[tuple[float, bytes]] = deque()

    def poll(self, max_messages: int, timeout_seconds: float) -> RawBatch | None:
        now = self._clock()
        if self._labels and self._labels[0][0] <= now:
            return self._due_labels(now, max_messages)
        due = math.floor((now - self._started) * self._rate) - self._emitted
        if due <= 0:
            wait = (self._emitted + 1) / self._rate - (now - self._started)
            self._sleep(max(0.0, min(timeout_seconds, wait)))
            return RawBatch("predictions", [])
        return self._predictions(now, min(due, max_messages))

    def _predictions(self, now: float, count: int) -> RawBatch:
        rows = self._generator.rows(count, drifted=now >= self.drift_starts_at)
        timestamps = np.full(count, round(now, 3))
        events = prediction_events(rows, timestamps, self._emitted, self._model)
        self._emitted += count
        for event, label in zip(events, rows.label.tolist(), strict=True):
            outcome = {"model": self._model, "id": event["id"],
                       "ts": round(now + self._delay, 3), "label": label}
            self._labels.append((now + self._delay, orjson.dumps(outcome)))
        return RawBatch("predictions", [orjson.dumps(e) for e in events])

    def _due_labels(self, now: float, max_messages: int) -> RawBatch:
        messages: list[bytes] = []
        while self._labels and self._labels[0][0] <= now and len(messages) < max_messages:
            messages.append(self._labels.popleft()[1])
        return RawBatch("outcomes", messages)

    def close(self) -> None:
        self._labels.clear()
