"""Windows: the last N events, or a sliding span of event time."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from driftd.config.base import _Frozen


class CountWindowConfig(_Frozen):
    """The last ``size`` events, advanced every ``step`` events (tumbling when equal)."""

    name: str = Field(min_length=1, max_length=100)
    type: Literal["count"] = "count"
    size: int = Field(gt=0, le=100_000_000)
    step: int = Field(gt=0)

    @field_validator("step")
    @classmethod
    def _step_divides_size(cls, step: int, info: ValidationInfo) -> int:
        size = info.data.get("size")  # absent when size itself is invalid
        if size is not None and (step > size or size % step):
            raise ValueError("step must divide size (size = whole number of steps)")
        return step


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


class TimeWindowConfig(_Frozen):
    """Event-time window of ``duration_seconds`` advanced every ``slide_seconds``.

    Window boundaries fall at ``offset + k * slide_seconds`` (Unix time). By default the
    offset is 0, boundaries aligned to the Unix epoch: 1970-01-01 00:00 UTC, a Thursday,
    so weekly windows start on Thursdays. ``week_starts_on`` moves the origin to 00:00
    of that weekday and ``utc_offset_hours`` to that local time (e.g. ``monday`` and
    ``1`` for weeks starting Monday 00:00 at UTC+1); ``offset_seconds`` adds to both.

    >>> weekly = TimeWindowConfig(name="w", duration_seconds=604800, slide_seconds=604800,
    ...                           week_starts_on="monday")
    >>> import datetime as dt
    >>> dt.datetime.fromtimestamp(weekly.offset, dt.UTC).strftime("%A %H:%M")
    'Monday 00:00'
    """

    name: str = Field(min_length=1, max_length=100)
    type: Literal["time"] = "time"
    duration_seconds: float = Field(gt=0)
    slide_seconds: float = Field(gt=0)
    allowed_lateness_seconds: float = Field(default=0.0, ge=0)
    idle_timeout_seconds: float = Field(
        default=60.0, gt=0,
        description="A partition silent this long (processing time) stops holding back "
        "the watermark of the others.")
    offset_seconds: float = Field(
        default=0.0, description="Shifts every window boundary by this much (seconds).")
    week_starts_on: Weekday | None = Field(
        default=None, description="Boundaries at 00:00 of this weekday (and every slide "
        "after it) instead of the Unix epoch (a Thursday).")
    utc_offset_hours: float = Field(
        default=0.0, ge=-14, le=14,
        description="Boundaries at local midnight of this UTC offset (hours).")

    @field_validator("slide_seconds")
    @classmethod
    def _slide_divides_duration(cls, slide: float, info: ValidationInfo) -> float:
        duration = info.data.get("duration_seconds")  # absent when itself invalid
        if duration is None:
            return slide
        panes = duration / slide
        if slide > duration or abs(panes - round(panes)) > 1e-9:
            raise ValueError("slide_seconds must divide duration_seconds")
        if round(panes) > 10_000:
            raise ValueError("duration_seconds / slide_seconds must be at most 10000 panes")
        return slide

    @property
    def panes(self) -> int:
        return round(self.duration_seconds / self.slide_seconds)

    @property
    def offset(self) -> float:
        """Where boundaries fall, modulo ``slide_seconds`` (seconds after the epoch)."""
        days = (WEEKDAYS.index(self.week_starts_on) - 3) % 7 if self.week_starts_on else 0
        origin = days * 86_400.0 - self.utc_offset_hours * 3600.0 + self.offset_seconds
        return origin % self.slide_seconds


WindowConfig = Annotated[CountWindowConfig | TimeWindowConfig, Field(discriminator="type")]
