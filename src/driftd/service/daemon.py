"""The daemon: composition of the parts, run loop and ordered shutdown.

startup (restore checkpoint, HTTP, broker probe; then connect the sources, retrying
through an outage, subscribe) -> main loop (poll -> decode -> ingest -> publish the
windows the batch closed -> acknowledge; every evaluation interval the wall-clock work:
idleness, label revisions, expiry; checkpoint when due; all on the main thread) ->
shutdown (stop polling, publish revisions due, checkpoint open windows, commit, close),
each step logged. At the end of the data (every source exhausted, or drained with
``exit_when_drained``) the state is checkpointed first, then every open window is closed
and published: a later run resumes the open windows, not the closed ones. Signal
handlers only call ``request_stop``; the loop has one exit condition. A main loop that
raised skips every checkpoint after it (the state may hold part of a batch whose
offsets were never acknowledged) and exits 1: the last good checkpoint stands.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Protocol

from driftd.config import Config, ConfigError
from driftd.monitor.monitor import Monitor
from driftd.monitor.results import ResultBoard
from driftd.reference.profile import Profile
from driftd.service.checkpoint import Checkpoint, CheckpointStore
from driftd.service.exposition import describe_models, metrics_server
from driftd.service.health import Health
from driftd.service.history import History, ResultsPublisher, ResultsSink, TopicSink
from driftd.service.inputs import Inputs
from driftd.service.labels import LabelJoin
from driftd.service.pipeline import DeadLetterSink, Pipeline, RejectionLog, build_decoders
from driftd.service.reload import ReloadRequests, restart_only_changes
from driftd.service.series import expect_series
from driftd.service.translators import build_translators
from driftd.sources.base import (
    Instrumented,
    OffsetSource,
    Source,
    SourceSetupError,
    SourceUnavailable,
)
from driftd.telemetry import Telemetry

logger = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 0.2
MAX_BATCH = 5000
EXIT_CRASHED = 1
EXIT_BROKER_UNREACHABLE = 3
# Each connection attempt at start-up waits this long for a broker before the next one.
CONNECT_ATTEMPT_SECONDS = 5.0


class BrokerStatus(Protocol):
    """What the daemon asks of a broker probe (see ``sources.kafka.BrokerProbe``)."""

    def start(self) -> None: ...

    def status(self) -> tuple[bool, float, str]:
        """(reachable, seconds unreachable, last error)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Extras:
    """Optional parts: checkpoint store, dead-letter sink, results sinks, broker probe."""

    store: CheckpointStore | None = None
    dead_letters: DeadLetterSink | None = None
    results: Mapping[str, ResultsSink] = dataclass_field(default_factory=dict)
    results_topic: ResultsPublisher | None = None
    probe: BrokerStatus | None = None
    probe_name: str = "kafka"
    probe_timeout_seconds: float = 300.0


# Re-reads the config file and profiles, validated as at start-up (raises ConfigError).
Reloader = Callable[[], tuple[Config, Mapping[str, Profile]]]


class Daemon:
    """One driftd process: sources in, metrics out."""

    def __init__(
        self, config: Config, profiles: Mapping[str, Profile], sources: Sequence[Source], *,
        clock: Callable[[], float] = time.time, exit_when_drained: bool = False,
        extras: Extras | None = None, keep_history: bool = False,
        reloader: Reloader | None = None,
    ) -> None:
        self.config, self._clock = config, clock
        self._sources = list(sources)
        self._offset_sources = [s for s in self._sources if isinstance(s, OffsetSource)]
        self._exit_when_drained = exit_when_drained
        self._extras = extras or Extras()
        self._stop = threading.Event()
        self.exit_code = 0
        self._crashed = False  # the main loop raised: never checkpoint this state again
        self._offsets: dict[tuple[str, int], int] = {}
        self._next_checkpoint = self._next_tick = 0.0
        self._finished = False  # the end of the data closed every window
        self._reloader, self._reloads = reloader, ReloadRequests()
        self.telemetry = Telemetry()
        for source in self._sources:
            if isinstance(source, Instrumented):
                source.instrument(self.telemetry)
        self.board = ResultBoard()
        self.monitor = Monitor(config.models, profiles, self.telemetry)
        self._inputs = Inputs(config, self.monitor)
        expect_series(config, self.monitor, self.telemetry)
        if self._extras.dead_letters is not None:  # every outcome at 0 from start
            self.telemetry.set_dead_letters(self._extras.dead_letters.outcomes())
        sinks = dict(self._extras.results)
        if self._extras.results_topic is not None:
            sinks["kafka"] = TopicSink(self._extras.results_topic)
        self.history = History(self.board, self.telemetry, sinks, keep=keep_history)
        self.health = Health(["sources"] + (["broker"] if self._extras.probe else []))
        self._join_store = self._extras.store
        self.labels = self._label_join(config)
        self._pipeline = Pipeline(build_decoders(config), self.monitor, self.telemetry,
                                  RejectionLog(clock), self._extras.dead_letters, self.labels,
                                  build_translators(config, self._join_store.halves()
                                                    if self._join_store is not None else None))
        self.telemetry.mark_config(clock())
        self.http, self._collector = metrics_server(
            config, profiles, self.board, self.telemetry, self.health,
            reload=self.reload_and_wait if config.http.enable_lifecycle else None)

    # -- control -------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Ask the run loop to finish; safe from a signal handler."""
        if not self._stop.is_set():
            logger.info("stop requested (%s)", reason)
            self._stop.set()

    def request_reload(self, reason: str) -> None:
        """Ask the main loop to reload the config; safe from a signal handler."""
        self._reloads.signal(reason)

    def reload_and_wait(self, timeout_seconds: float = 60.0) -> str | None:
        """Reload the config in the main loop and wait for it: None when applied, else
        why not (the running config stays). For ``POST /-/reload``."""
        return self._reloads.ask("POST /-/reload").wait(timeout_seconds)

    def run(self) -> int:
        """Run until stopped; returns the process exit code. Raises OSError when the HTTP
        address cannot be bound, SourceSetupError when a source cannot start at all."""
        self._startup()
        try:
            self._connect()
            self._main_loop()
        except _StartupAborted:
            pass  # stopped, or no broker before broker_timeout_seconds: logged, exit code set
        except SourceSetupError:
            self._crashed = True  # nothing was read: leave the checkpoint as it is
            raise
        except Exception:
            self._crashed = True
            self.exit_code = EXIT_CRASHED
            logger.exception("the main loop failed; shutting down without a checkpoint "
                             "(the last good one stands: the next start resumes from it)")
        except BaseException:
            self._crashed = True
            raise
        finally:
            self._shutdown()
        return self.exit_code

    def evaluate(self) -> None:
        """The wall-clock work of an evaluation interval: idleness may close windows,
        windows whose labels changed get a revision, the label stores are emptied of
        what can no longer count."""
        now = self._clock()
        self._next_tick = now + self.config.evaluation.interval_seconds
        self._publish(revise=True)
        if self.labels is not None:
            self.labels.expire()
        self.telemetry.mark_evaluation(now)

    def _publish(self, *, revise: bool = False, finish: bool = False) -> None:
        now = self._clock()
        self.history.publish(self.monitor.results(now, revise=revise, finish=finish), now)

    def _finish(self) -> None:
        """End of the data: checkpoint the open windows, then close and publish them."""
        if self._finished or self._crashed:
            return
        self._final_checkpoint()
        self._finished = True
        self._publish(finish=True)
        logger.info("end of the data: every open window closed and published")

    # -- partition listener (called from inside a poll) ----------------------------------

    def revoked(self, partitions: list[tuple[str, int]]) -> None:
        logger.info("partitions revoked: %s; checkpointing", partitions)
        self.checkpoint()  # runs on the client's IO thread: the commit must not wait
        self._inputs.forget([f"{topic}[{p}]" for topic, p in partitions])

    def assigned(self, partitions: list[tuple[str, int]]) -> None:
        # The source seeks to checkpointed offsets itself; event-time windows now wait for
        # every assigned partition of a windowed stream before closing a window.
        self._inputs.expect_partitions(partitions, self._clock())

    # -- lifecycle ---------------------------------------------------------------------

    def _startup(self) -> None:
        # The probes answer first, so that a broker outage at start-up shows as readiness
        # failing with its reason while the sources connect.
        self._restore()
        self.http.start()
        if self._extras.probe is not None:
            self._extras.probe.start()

    def _connect(self) -> None:
        for source in self._offset_sources:
            self._connect_source(source)
            source.start_from(self._offsets)
            source.subscribe(self)
            # Event-time windows wait for every partition, not only the first assigned
            # (after a crash the group may hand out partitions in more than one step).
            self._inputs.expect_partitions(source.partitions(), self._clock())
        self._inputs.expect_files(self._sources, self._clock())
        if self._extras.dead_letters is not None:
            self._extras.dead_letters.connect(CONNECT_ATTEMPT_SECONDS)
        if self._extras.results_topic is not None:
            self._extras.results_topic.connect(CONNECT_ATTEMPT_SECONDS)
        self.health.set("sources", True)
        now = self._clock()
        self._next_checkpoint = now + self.config.checkpoint.interval_seconds
        self._next_tick = now + self.config.evaluation.interval_seconds

    def _connect_source(self, source: OffsetSource) -> None:
        """Connect, retrying while no broker answers, as during any outage: readiness
        says why, and past broker_timeout_seconds the daemon exits 3."""
        # Shown on /readyz at once; logged only if the attempt fails (a file is instant).
        self.health.set("sources", False, f"connecting to {source.name}", log=False)
        while True:
            try:
                source.connect(CONNECT_ATTEMPT_SECONDS)
                return
            except SourceUnavailable as error:
                self.health.set("sources", False, f"connecting to {source.name}: {error}")
                logger.warning("%s did not answer: %s; retrying", source.name, error)
                self._check_broker()
                if self._stop.is_set():
                    raise _StartupAborted from error

    def _restore(self) -> None:
        store = self._extras.store
        if store is None:
            return
        checkpoint = store.load()
        if checkpoint is None:
            logger.info("no checkpoint in %s: starting with empty windows", store.path)
            return
        skipped = self.monitor.restore(checkpoint.models, self._clock())
        self._offsets = dict(checkpoint.offsets)
        self.history.restore(checkpoint.outputs)
        age = self._clock() - checkpoint.created_at
        logger.info("restored checkpoint from %s (%.0f s old, %d partition offsets)",
                    store.path, age, len(self._offsets))
        for model, windows in skipped.items():
            logger.warning("model %s: windows %s start empty (the reference profile or the "
                           "window settings changed since the checkpoint)", model, windows)

    def _main_loop(self) -> None:
        active = list(self._sources)
        while not self._stop.is_set():
            self._apply_reloads()
            if not active or self._drained(active):
                if self._exit_when_drained:
                    logger.info("every source is drained: stopping")
                    self._finish()
                    break
                if not active:
                    self._stop.wait(POLL_TIMEOUT_SECONDS)
            for source in list(active):
                self._poll(source, active)
            self._housekeeping()

    def _apply_reloads(self) -> None:
        reason, tickets = self._reloads.take()
        if reason is None:
            return
        error = self._reload(reason)
        for ticket in tickets:
            ticket.answer(error)

    def _reload(self, reason: str) -> str | None:
        """Re-read and apply the config (see ``service.reload``); returns why not, if not."""
        now = self._clock()
        logger.info("reloading the config (%s)", reason)
        problems: list[str] = []
        try:  # nothing has changed until the monitor takes the new models
            if self._reloader is None:
                raise ConfigError("(none)", ["this daemon has no config file to reload"])
            config, profiles = self._reloader()
            problems = restart_only_changes(self.config, config)
            if not problems:
                decoders = build_decoders(config)
                changes = self.monitor.reconfigure(config.models, profiles, now)
        except ConfigError as error:
            problems = [f"{error.source}: {problem}" for problem in error.problems]
        except Exception as error:  # a reload must never stop the daemon
            logger.exception("config reload failed")
            problems = [f"unexpected error: {error}"]
        if problems:
            for problem in problems:
                logger.error("config reload failed, the running config stays: %s", problem)
            self.telemetry.mark_config(now, successful=False)
            return "; ".join(problems)
        self._inputs.reconfigure(config, [*changes.restarted, *changes.added], now)
        self.labels = self._label_join(config)
        self._pipeline.reconfigure(decoders, self.labels)
        expect_series(config, self.monitor, self.telemetry)
        self.board.forget(changes.removed)
        self._collector.set_models(*describe_models(config, profiles))
        if config.logging.level != self.config.logging.level:
            logging.getLogger().setLevel(config.logging.level)
        self.config = config
        self.telemetry.mark_config(now)
        logger.info("config reloaded: models kept %s, restarted %s, added %s, removed %s",
                    list(changes.kept), list(changes.restarted), list(changes.added),
                    list(changes.removed))
        for model, windows in changes.restarted.items():
            if windows:
                logger.warning("model %s: windows %s start empty (their settings or the "
                               "reference changed)", model, windows)
        return None

    def _label_join(self, config: Config) -> LabelJoin | None:
        """The label join of ``config``'s models with performance, its stores in the
        checkpoint database (in memory without one, opened when first needed)."""
        if self._join_store is None and any(m.performance for m in config.models):
            self._join_store = CheckpointStore(Path(":memory:"))
        if self._join_store is None:
            return None
        return LabelJoin(config.models, self.monitor, self._join_store, self.telemetry)

    def _poll(self, source: Source, active: list[Source]) -> None:
        raw = source.poll(MAX_BATCH, POLL_TIMEOUT_SECONDS / max(len(active), 1))
        if raw is None:
            logger.info("source %s is exhausted", source.name)
            active.remove(source)
            self._inputs.forget([source.name])  # at its end: it holds nothing back
            if not active:
                self._finish()
            return
        if raw.messages:
            started = time.perf_counter()
            self._pipeline.ingest(raw, self._clock())
            self.telemetry.observe_batch(time.perf_counter() - started)
            self._publish()
        if isinstance(source, OffsetSource):
            source.acknowledge(raw)  # only now may a checkpoint resume after this batch

    def _drained(self, active: list[Source]) -> bool:
        return bool(self._offset_sources) and all(
            s.drained() for s in self._offset_sources if s in active)

    def _housekeeping(self) -> None:
        lag: dict[tuple[str, int], int] = {}
        for source in self._offset_sources:
            lag.update(source.lag())
        self.telemetry.set_lag(lag)
        if self._extras.dead_letters is not None:
            self.telemetry.set_dead_letters(self._extras.dead_letters.outcomes())
        if self._clock() >= self._next_tick:
            self.evaluate()
        if self._clock() >= self._next_checkpoint:
            self.checkpoint()
        self._check_broker()

    def _check_broker(self) -> None:
        probe = self._extras.probe
        if probe is None:
            return
        up, down_for, error = probe.status()
        self.health.set("broker", up, f"unreachable for {down_for:.0f} s: {error}")
        self.telemetry.set_source_up(self._extras.probe_name, up)
        if not up and down_for > self._extras.probe_timeout_seconds:
            logger.error(
                "no Kafka broker has answered for %.0f s (broker_timeout_seconds %.0f): %s. "
                "Check that the brokers are up, the bootstrap address, DNS, network policies "
                "and credentials. Exiting; the checkpoint lets the next start resume.",
                down_for, self._extras.probe_timeout_seconds, error)
            self.exit_code = EXIT_BROKER_UNREACHABLE
            self._stop.set()

    def checkpoint(self, *, wait_for_commit: bool = False) -> None:
        """Write state and the offsets it reflects, then commit those offsets to Kafka
        (asynchronously unless ``wait_for_commit``, which waits a bounded time)."""
        if self._crashed:
            logger.info("not checkpointing after a failed main loop")
            return
        now = self._clock()
        self._next_checkpoint = now + self.config.checkpoint.interval_seconds
        if self._extras.dead_letters is not None:
            self._extras.dead_letters.flush()  # dead letters are sent before offsets move on
        for source in self._offset_sources:
            self._offsets.update(source.positions())
        store = self._extras.store
        if self._finished:  # the state has every window closed: the one before stands
            store = None
        if store is not None:
            written = store.save(Checkpoint(now, dict(self._offsets), self.monitor.state(),
                                            self.history.positions()))
            self.telemetry.mark_checkpoint(now)
            logger.debug("checkpoint written: %d panes rewritten", written)
        elif self._join_store is not None:
            self._join_store.commit()  # in memory: only bounds its journal
        for source in self._offset_sources:
            source.commit(self._offsets, wait=wait_for_commit)

    def _shutdown(self) -> None:
        watchdog = threading.Timer(self.config.shutdown_grace_seconds, _overrun,
                                   args=(self.config.shutdown_grace_seconds,))
        watchdog.daemon = True
        watchdog.start()
        steps: list[tuple[str, Callable[[], None]]] = []
        if not self._crashed and not self._finished:
            # Open windows stay open: the checkpoint keeps them for the next run.
            steps += [("publishing revisions due", lambda: self._publish(revise=True)),
                      ("checkpoint and commit", self._final_checkpoint)]
        if self._extras.probe is not None:
            steps.append(("stopping the broker probe", self._extras.probe.close))
        steps.append(("closing the sources", self._close_sources))
        if self._extras.dead_letters is not None:
            steps.append(("closing the dead-letter producer", self._extras.dead_letters.close))
        if self._join_store is not None:
            steps.append(("closing the checkpoint store", self._join_store.close))
        steps.append(("closing the results sinks", self.history.close))
        steps.append(("stopping the HTTP server", self.http.stop))
        for name, step in steps:
            logger.info("shutdown: %s", name)
            try:
                step()
            except Exception:  # a failed step must not skip the ones after it
                logger.exception("shutdown step failed: %s", name)
                self.exit_code = self.exit_code or 1
        watchdog.cancel()
        logger.info("shutdown complete")

    def _final_checkpoint(self) -> None:
        # A commit that waits (bounded) lets lag tools see the final offsets; with the
        # broker unreachable it would only wait for nothing, so it is left to the next run.
        probe = self._extras.probe
        self.checkpoint(wait_for_commit=probe is None or probe.status()[0])

    def _close_sources(self) -> None:
        for source in self._sources:
            source.close()


class _StartupAborted(Exception):
    """Start-up ended before the main loop: a stop request, or no broker in time."""


def _overrun(grace: float) -> None:
    logger.error("shutdown took longer than shutdown_grace_seconds (%.0f s): exiting now", grace)
    logging.shutdown()
    os._exit(1)
