"""Config reload on SIGHUP or ``POST /-/reload``: requests, and what a reload may change.

A reload re-reads the config file and the reference profiles, validates them as at
start-up, and applies the models (their columns, windows, thresholds, performance and
references), ``evaluation``, ``alerts`` and ``logging.level``. Everything else (sources,
HTTP, checkpoint, ingest, results) is bound to open sockets, files and consumer groups:
a reload that changes it fails, naming what needs a restart, and the running config
stays. The main loop applies reloads between batches; a signal handler only sets a flag,
an HTTP request waits for the main loop's answer.
"""

from __future__ import annotations

import threading
from typing import Any

from driftd.config import Config

# Top-level sections a reload applies; in ``logging`` only the level.
RELOADABLE = frozenset({"models", "evaluation", "alerts"})


def restart_only_changes(running: Config, loaded: Config) -> list[str]:
    """One problem per section of ``loaded`` that differs from ``running`` where only a
    restart can apply it; empty when a reload can apply ``loaded``."""
    before, after = _restart_only(running), _restart_only(loaded)
    return [f"{section}: changed; a reload applies models, evaluation, alerts and "
            f"logging.level only: restart driftd to apply {section}"
            for section in sorted(set(before) | set(after))
            if before.get(section) != after.get(section)]


def _restart_only(config: Config) -> dict[str, Any]:
    dumped = config.model_dump(mode="json", exclude=set(RELOADABLE))
    dumped["logging"].pop("level", None)
    return dumped


class ReloadRequests:
    """Reload requests waiting for the main loop: a flag set by signal handlers, and
    tickets of HTTP requests waiting for the outcome."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signalled: str | None = None  # set from a signal handler: no lock there
        self._tickets: list[_Ticket] = []

    def signal(self, reason: str) -> None:
        """Ask for a reload without waiting; safe from a signal handler."""
        self._signalled = reason

    def ask(self, reason: str) -> _Ticket:
        """Ask for a reload; ``wait`` on the ticket for its outcome."""
        ticket = _Ticket(reason)
        with self._lock:
            self._tickets.append(ticket)
        return ticket

    def take(self) -> tuple[str | None, list[_Ticket]]:
        """The reason of the requests waiting (None when there are none) and their
        tickets, all answered by one reload."""
        with self._lock:
            tickets, self._tickets = self._tickets, []
        signalled, self._signalled = self._signalled, None
        reasons = [r for r in (signalled, *(t.reason for t in tickets)) if r is not None]
        return (", ".join(dict.fromkeys(reasons)) if reasons else None), tickets


class _Ticket:
    def __init__(self, reason: str) -> None:
        self.reason = reason
        self._done = threading.Event()
        self._error: str | None = None

    def answer(self, error: str | None) -> None:
        self._error = error
        self._done.set()

    def wait(self, timeout_seconds: float) -> str | None:
        """The reload's error (None: applied); an error too when no answer came in
        ``timeout_seconds`` (the main loop is busy or not running yet)."""
        if not self._done.wait(timeout_seconds):
            return (f"no answer within {timeout_seconds:.0f} s: the daemon is not in its "
                    "main loop yet (starting or connecting); the reload stays queued")
        return self._error
