"""Liveness and readiness of the daemon, as served on /healthz and /readyz."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

logger = logging.getLogger(__name__)

PENDING = "not checked yet"


class Health:
    """Named readiness conditions, each true or false with a reason; thread-safe.

    Conditions named at construction start failing (``not checked yet``), so the daemon
    is not ready until every part it waits for has reported in.
    """

    def __init__(self, conditions: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        # name -> failure reason, or None when the condition holds; insertion-ordered.
        self._conditions: dict[str, str | None] = {}
        for name in conditions:
            _check_name(name)
            self._conditions[name] = PENDING

    def live(self) -> bool:
        """Always true: a process that can answer the probe is alive."""
        return True

    def set(self, name: str, ok: bool, reason: str = "", *, log: bool = True) -> None:
        """Record whether condition ``name`` holds, and why not when it does not; a
        change is logged unless ``log`` is false."""
        _check_name(name)
        failure = None if ok else (reason or "not ready")
        with self._lock:
            changed = name not in self._conditions or self._conditions[name] != failure
            self._conditions[name] = failure
        # Only transitions are logged, so a condition re-asserted on every tick stays quiet.
        if not changed or not log:
            return
        if failure is None:
            logger.info("readiness: %s ok", name)
        else:
            logger.warning("readiness: %s failing: %s", name, failure)

    def ready(self) -> tuple[bool, list[str]]:
        """Whether every condition holds, and one ``name: reason`` line per failing one."""
        with self._lock:
            failing = [
                f"{name}: {failure}"
                for name, failure in self._conditions.items()
                if failure is not None
            ]
        return not failing, failing

    def conditions(self) -> dict[str, str | None]:
        """A copy of every condition: its failure reason, or None when it holds."""
        with self._lock:
            return dict(self._conditions)


def _check_name(name: str) -> None:
    if not name or name != name.strip():
        raise ValueError(f"name must be a non-empty condition name without spaces around it, "
                         f"got {name!r}")
