"""The frozen base model every config section derives from, and shared checks."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Frozen(BaseModel):
    # No setting means infinity or NaN (a `.inf` duration would never end, or crash).
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


def _require_unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} names must be unique, {name!r} appears twice")
        seen.add(name)
