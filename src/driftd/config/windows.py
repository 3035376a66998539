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


class TimeWindowConfig(_Frozen):
    """Event-time window of ``duration_seconds`` advanced every ``slide_seconds``."""

    name: str = Field(min_length=1, max_length=100)
    type: Literal["time"] = "time"
    duration_seconds: float = Field(gt=0)
    slide_seconds: float = Field(gt=0)
    allowed_lateness_seconds: float = Field(default=0.0, ge=0)
    idle_timeout_seconds: float = Field(
        default=60.0, gt=0,
        description="A partition silent this long (processing time) stops holding back "
        "the watermark of the others.")

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


WindowConfig = Annotated[CountWindowConfig | TimeWindowConfig, Field(discriminator="type")]
