#!/usr/bin/env python3
"""A real Confluent-compatible schema registry (Apicurio Registry) for development and tests.

Apicurio's app comes from Maven Central as a plain jar; ``fetch()`` runs the Quarkus build
of the small Maven project in ``scripts/schema_registry/`` over it, once, into a cache
outside the repository. The registry then runs as a ``java`` child process on a free
loopback port, with in-memory (H2) storage: every start is empty.

    python scripts/schema_registry.py fetch
    python scripts/schema_registry.py start [--port 8081]   # until Ctrl-C

``SchemaRegistry().url`` is the base of the Confluent-compatible API
(``http://127.0.0.1:<port>/apis/ccompat/v7``), to which clients add ``/subjects/...``
and ``/schemas/ids/<id>``.

Stdlib only, so it runs with a bare ``python3``.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent / "schema_registry"
CCOMPAT_PATH = "/apis/ccompat/v7"
# A test registry is small and short-lived: the serial collector and the C1 compiler only
# start it on half the CPU time and two thirds of the memory (measured: 3.5 s of CPU and
# 150 MB RSS against 6 s and 210 MB with the JVM's defaults).
JVM_OPTS = ("-Xms64m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
# Run-time settings of the app (Quarkus reads -D options over its application.properties).
RUN_OPTS = (
    "-Dquarkus.http.host=127.0.0.1",
    # Apicurio keeps 20 idle connections to its in-memory H2 database: one is plenty.
    "-Dquarkus.datasource.jdbc.initial-size=1",
    "-Dquarkus.datasource.jdbc.min-size=1",
    "-Dquarkus.log.console.color=false",
)


def log(message: str) -> None:
    print(f"schema_registry: {message}", file=sys.stderr, flush=True)


def apicurio_version() -> str:
    """The Apicurio Registry release the Maven project builds (its pom's property)."""
    match = re.search(r"<apicurio\.version>([^<]+)</", (PROJECT_DIR / "pom.xml").read_text())
    if match is None:
        raise RuntimeError(f"no <apicurio.version> in {PROJECT_DIR / 'pom.xml'}")
    return match.group(1)


def default_cache_dir() -> Path:
    """``$DRIFTD_CACHE_DIR`` or ``$XDG_CACHE_HOME/driftd`` (~/.cache), per Apicurio version."""
    base = os.environ.get("DRIFTD_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = str(Path(xdg) / "driftd")
    return Path(base).expanduser() / "schema-registry" / apicurio_version()


def _project_files() -> list[Path]:
    return sorted(
        path for path in PROJECT_DIR.rglob("*")
        if path.is_file() and "target" not in path.relative_to(PROJECT_DIR).parts
    )


def _project_digest() -> str:
    digest = hashlib.sha256()
    for path in _project_files():
        digest.update(str(path.relative_to(PROJECT_DIR)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise builds of one cache dir across processes (parallel test runs)."""
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _runner_jar(app_dir: Path) -> Path | None:
    jars = sorted(app_dir.glob("*-runner.jar"))
    return jars[0] if len(jars) == 1 and (app_dir / "lib").is_dir() else None


def fetch(cache_dir: Path | str | None = None) -> Path:
    """Build the registry into ``<cache_dir>/app``; return its runner jar.

    Idempotent: a marker holding the hash of ``scripts/schema_registry/`` says the build
    in the cache is complete and current. The first build downloads about 200 MB of jars
    into the local Maven repository and takes minutes.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    app_dir, marker = cache / "app", cache / "app.complete"
    digest = _project_digest()
    with _file_lock(cache / ".fetch.lock"):
        jar = _runner_jar(app_dir)
        if jar is not None and marker.is_file() and marker.read_text().strip() == digest:
            return jar
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("mvn not found: install Maven (Debian: apt-get install maven)")
        marker.unlink(missing_ok=True)
        build = cache / "build"
        shutil.rmtree(build, ignore_errors=True)
        for path in _project_files():
            target = build / path.relative_to(PROJECT_DIR)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        log(f"building Apicurio Registry {apicurio_version()} (Quarkus build, jars from "
            f"Maven Central) into {app_dir}; a first build downloads about 200 MB ...")
        started = time.monotonic()
        command = [mvn, "-B", "-q", "-T1", "-f", str(build / "pom.xml"), "package",
                   "-DskipTests"]
        result = subprocess.run(command, cwd=build, capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).strip()
            raise RuntimeError(f"mvn failed ({result.returncode}):\n{output[-4000:]}")
        built = _runner_jar(build / "target")
        if built is None:
            raise RuntimeError(f"mvn finished but {build / 'target'} holds no runner jar + lib/")
        shutil.rmtree(app_dir, ignore_errors=True)
        app_dir.mkdir()
        shutil.move(str(built), app_dir / built.name)
        shutil.move(str(build / "target" / "lib"), app_dir / "lib")
        shutil.rmtree(build, ignore_errors=True)
        marker.write_text(digest + "\n")
        jar = app_dir / built.name
        log(f"built {jar.name} ({len(list((app_dir / 'lib').glob('*.jar')))} jars) in "
            f"{time.monotonic() - started:.1f} s")
    return jar


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("java not found: install Java 17 (Debian: openjdk-17-jre-headless)")
    return java


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn asking Linux to SIGKILL the child when the thread that forked it dies."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return preexec


class SchemaRegistry:
    """One registry process on ``127.0.0.1:port``, logging to ``log_dir/registry.log``.

    Storage is in memory: a restart forgets every schema.
    """

    def __init__(
        self,
        log_dir: Path | str | None = None,
        *,
        port: int | None = None,
        cache_dir: Path | str | None = None,
    ) -> None:
        # A log dir of its own is removed by a clean stop(); after a failed start it stays.
        self._own_log_dir = log_dir is None
        self.log_dir = Path(log_dir) if log_dir is not None else Path(
            tempfile.mkdtemp(prefix="driftd-schema-registry-")
        )
        self.port = port or free_port()
        self.cache_dir = cache_dir
        self.log_file = self.log_dir / "registry.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    @property
    def url(self) -> str:
        """Base URL of the Confluent-compatible API."""
        return f"http://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 90.0) -> None:
        """Start the process and wait until ``GET /subjects`` answers 200; idempotent."""
        if self.running:
            return
        jar = fetch(self.cache_dir)  # bounded on its own; a first build is not startup
        deadline = time.monotonic() + timeout
        self.log_dir.mkdir(parents=True, exist_ok=True)
        command = [_java(), *JVM_OPTS, f"-Dquarkus.http.port={self.port}", *RUN_OPTS,
                   "-jar", str(jar)]
        with open(self.log_file, "ab") as out:
            self._log_offset = out.tell()
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.log_dir,
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        atexit.register(self.stop)
        try:
            self._wait_ready(deadline)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, deadline: float) -> None:
        while True:
            self._check_alive(deadline)
            try:
                with urllib.request.urlopen(f"{self.url}/subjects", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet, or listening but not serving yet
            time.sleep(0.2)

    def _check_alive(self, deadline: float) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            code = process.returncode if process is not None else None
            raise RuntimeError(
                f"schema registry exited with code {code} while starting\n{self.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"schema registry at {self.url} not ready in time: GET /subjects is not 200\n"
                + self.log_tail()
            )

    def log_tail(self, lines: int = 40) -> str:
        """The first errors and the last lines this run wrote to its log."""
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(self._log_offset)
                text = handle.read().decode(errors="replace").splitlines()
        except FileNotFoundError:
            return f"--- no log at {self.log_file} ---"
        errors = [line for line in text if " ERROR " in line][:5]
        tail = text[-lines:]
        report = [f"--- first errors in {self.log_file} ---", *errors] if errors else []
        report += [f"--- last {len(tail)} lines of {self.log_file} ---", *tail]
        return "\n".join(report)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL after ``timeout`` seconds; idempotent."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log(f"registry {self.url} ignored SIGTERM for {timeout:.0f} s; killing it")
            self.kill()
        self._forget()
        if self._own_log_dir:
            shutil.rmtree(self.log_dir, ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL; idempotent."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)
        self._forget()

    def _forget(self) -> None:
        self._process = None
        atexit.unregister(self.stop)


def _cli_start(port: int | None, timeout: float) -> int:
    """Run a registry in the foreground until SIGINT or SIGTERM."""
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    registry = SchemaRegistry(port=port)
    started = time.monotonic()
    registry.start(timeout)
    log(f"started in {time.monotonic() - started:.1f} s, pid {registry.pid}, "
        f"log {registry.log_file}; Ctrl-C stops it")
    print(registry.url, flush=True)
    try:
        while not stopping.wait(1.0):
            if not registry.running:
                log(f"registry exited\n{registry.log_tail()}")
                return 1
    finally:
        registry.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="schema_registry", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = commands.add_parser("fetch", help="build the registry with Maven (once)")
    fetch_cmd.add_argument("--cache-dir", type=Path, default=None)
    start_cmd = commands.add_parser("start", help="run a registry until Ctrl-C; prints its URL")
    start_cmd.add_argument("--port", type=int, default=None, help="default: a free port")
    start_cmd.add_argument("--timeout", type=float, default=90.0)
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            print(fetch(args.cache_dir))
            return 0
        return _cli_start(args.port, args.timeout)
    except (RuntimeError, TimeoutError, subprocess.TimeoutExpired) as error:
        log(str(error))
        return 1


if __name__ == "__main__":
    sys.exit(main())
