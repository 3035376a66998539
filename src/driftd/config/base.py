"""The frozen base model every config section derives from, and shared checks."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from driftd.paths import parse_path
from driftd.timezones import parse_timezone


class _Frozen(BaseModel):
    # No setting means infinity or NaN (a `.inf` duration would never end, or crash).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _require_unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} names must be unique, {name!r} appears twice")
        seen.add(name)


def _known_timezone(value: str) -> str:
    parse_timezone(value)  # raises ValueError naming what it accepts
    return value


# An IANA zone name (Europe/Berlin) or a fixed offset (+02:00), checked when loaded.
TimeZoneName = Annotated[str, AfterValidator(_known_timezone)]


def _known_path(value: str) -> str:
    parse_path(value)  # raises ValueError saying what is wrong
    return value


# A field path in an event (``data.model``, ``inputs[0].data[3]``, ``/inputs/0``), parsed
# when loaded (driftd.paths).
FieldPathText = Annotated[str, AfterValidator(_known_path)]
