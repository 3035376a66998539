"""Headless Chromium driven over the DevTools protocol on a pipe (no port, no websocket).

``--remote-debugging-pipe`` makes Chromium read protocol messages from its fd 3 and
write them to its fd 4, each a JSON object ended by a NUL byte. One browser serves a
test module; each page is its own target, attached in flat mode (commands carry the
page's ``sessionId``), so console messages and exceptions are collected per page.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INSTALL_HINT = "install Debian's chromium package (.ci/run does)"


class ChromiumError(RuntimeError):
    """The browser failed, answered with an error, or did not answer in time."""


@dataclass
class Page:
    """A loaded page: evaluate expressions in it; its console errors so far."""

    browser: Browser
    session: str
    errors: list[str] = field(default_factory=list)

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` (a thrown exception fails)."""
        reply = self.browser.command("Runtime.evaluate", {
            "expression": expression, "returnByValue": True}, session=self.session)
        if "exceptionDetails" in reply:
            raise ChromiumError(f"{expression!r} threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, clip: dict[str, float]) -> bytes:
        """A PNG of the ``clip`` rectangle (x, y, width, height in CSS pixels)."""
        reply = self.browser.command("Page.captureScreenshot", {
            "format": "png", "optimizeForSpeed": True, "captureBeyondViewport": True,
            "clip": {**clip, "scale": 1}}, session=self.session)
        return base64.b64decode(reply["data"])


class Browser:
    """One headless Chromium process; ``command`` sends and waits (bounded) for the reply."""

    TIMEOUT_SECONDS = 20.0

    def __init__(self, binary: str, profile_dir: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        self._log = tempfile.TemporaryFile()  # its stderr: read when it fails
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
                f"--user-data-dir={profile_dir}", "about:blank"]
        # posix_spawn puts the pipe on fds 3 and 4 exactly, without a shell or a
        # pre-exec hook (unsafe in a process with threads); from fds above 4, so that
        # one move cannot overwrite the other's source.
        reads, writes = _above(to_browser_r, 10), _above(from_browser_w, 10)
        try:
            self.pid = os.posix_spawn(binary, [binary, *args], dict(os.environ), file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, self._log.fileno(), 2),
                (os.POSIX_SPAWN_DUP2, reads, 3), (os.POSIX_SPAWN_DUP2, writes, 4)])
        finally:
            os.close(reads)  # the browser's ends: ours would keep its output from ending
            os.close(writes)
        self._exited = os.pidfd_open(self.pid)
        self.returncode: int | None = None
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def command(self, method: str, params: dict[str, Any] | None = None, *,
                session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        try:
            os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise ChromiumError(f"chromium exited before {method}: {self._stderr()}") from None
        deadline = time.monotonic() + self.TIMEOUT_SECONDS
        while True:
            reply = self._receive(deadline, method)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise ChromiumError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply["result"]
                return result
            self._events.append(reply)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """The first event ``method`` of ``session`` (earlier ones included)."""
        deadline = time.monotonic() + self.TIMEOUT_SECONDS
        while True:
            for event in self._events:
                if event.get("method") == method and event.get("sessionId") == session:
                    self._events.remove(event)
                    return event
            self._events.append(self._receive(deadline, method))

    def console_errors(self, session: str) -> list[str]:
        """Errors logged by ``session`` so far: console.error, uncaught exceptions,
        and the browser's own error entries (a resource that failed to load...)."""
        self.command("Runtime.evaluate", {"expression": "0"}, session=session)  # a round trip
        found = []
        for event in self._events:
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params.get('exceptionDetails')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url')}")
        return found

    @contextmanager
    def open(self, url: str) -> Iterator[Page]:
        """A new page showing ``url``, loaded; closed afterwards."""
        target = self.command("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.command("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        try:
            for domain in ("Runtime", "Log", "Page"):
                self.command(f"{domain}.enable", session=session)
            self.command("Emulation.setDeviceMetricsOverride", {
                "width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                session=session)
            self.command("Page.navigate", {"url": url}, session=session)
            self.wait_for("Page.loadEventFired", session)
            page = Page(self, session)
            yield page
        finally:
            self.command("Target.closeTarget", {"targetId": target})

    def _receive(self, deadline: float, waiting_for: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0.0))
            if not ready:
                raise ChromiumError(f"no answer to {waiting_for} in {self.TIMEOUT_SECONDS} s")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise ChromiumError(f"chromium exited while waiting for {waiting_for}: "
                                    f"{self._stderr()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def _stderr(self) -> str:
        self.wait(5.0)
        self._log.seek(0)
        return self._log.read()[-2000:].decode(errors="replace")

    def wait(self, timeout: float) -> bool:
        """Whether the browser exited (and was reaped) within ``timeout`` seconds."""
        if self.returncode is None and select.select([self._exited], [], [], timeout)[0]:
            self.returncode = os.waitpid(self.pid, 0)[1]
        return self.returncode is not None

    def close(self) -> None:
        try:
            self.command("Browser.close")
        except (ChromiumError, OSError):
            pass
        if not self.wait(10.0):
            os.kill(self.pid, signal.SIGKILL)
            self.wait(10.0)
        for fd in (self._to_browser, self._from_browser, self._exited):
            os.close(fd)
        self._log.close()


def _above(fd: int, lowest: int) -> int:
    """``fd`` moved to a descriptor number of at least ``lowest``."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest)
    os.close(fd)
    return moved


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path is not None:
            return path
    raise FileNotFoundError(f"chromium not found on PATH; {INSTALL_HINT}")


@contextmanager
def browser() -> Iterator[Browser]:
    with tempfile.TemporaryDirectory(prefix="driftd-chromium-") as profile:
        running = Browser(find_chromium(), Path(profile))
        try:
            yield running
        finally:
            running.close()
