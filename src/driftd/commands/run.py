"""`driftd run`: the daemon on a config, in the foreground (``serve`` also runs the demo)."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from driftd.config import (
    Config,
    ConfigError,
    DemoSourceConfig,
    FileSourceConfig,
    JsonlSourceConfig,
    KafkaSourceConfig,
    mask_secrets,
)
from driftd.config.http import HttpSourceConfig
from driftd.logs import LOG_FORMATS, LogFormat
from driftd.logs import configure as configure_logging
from driftd.messages import MessageLimits
from driftd.monitor.results import published_to_json
from driftd.preflight import load_checked
from driftd.reference.profile import Profile
from driftd.service.checkpoint import CheckpointError, CheckpointStore
from driftd.service.daemon import Daemon, Extras, Reloader
from driftd.service.exposition import http_limits
from driftd.service.history import ResultsSink
from driftd.sinks.results_file import ResultsFile, ResultsSinkError
from driftd.sinks.web_security import load_web
from driftd.sources.base import Source
from driftd.sources.demo import DemoGenerator, DemoSource
from driftd.sources.files import FileSource
from driftd.sources.http_ingest import HttpIngestSource
from driftd.sources.jsonl import JsonlSource
from driftd.sources.kafka import (
    BrokerProbe,
    DeadLetters,
    KafkaSetupError,
    KafkaSource,
    ResultsTopic,
)
from driftd.telemetry import counted

logger = logging.getLogger("driftd")


def register(commands: Any) -> None:
    run = commands.add_parser("run", help="run the daemon with a config file")
    run.add_argument("--config", required=True, type=Path)
    run.add_argument("--exit-when-drained", action="store_true",
                     help="exit once every source is read to its end (a JSONL replay, or "
                     "Kafka partitions caught up)")
    run.add_argument("--dump-results", type=Path, metavar="FILE",
                     help="write every window result (the history) and the latest ones as "
                     "JSON to FILE at shutdown")
    add_log_format_argument(run)
    run.add_argument("--web.config.file", dest="web_config_file", type=Path, metavar="FILE",
                     help="TLS and basic auth of the HTTP endpoints, in Prometheus "
                     "exporter-toolkit's format (overrides http.web_config_file)")
    run.set_defaults(handler=handle_run)


def handle_run(args: argparse.Namespace) -> int:
    load = functools.partial(load_config, args.config, web_config_file=args.web_config_file,
                             log_format=args.log_format)
    try:
        config, profiles = load()
    except ConfigError as error:
        for problem in error.problems:  # one line per problem, as `config validate`
            print(f"driftd run: {error.source}: {problem}", file=sys.stderr)
        return 2
    return serve(config, profiles, exit_when_drained=args.exit_when_drained,
                 dump_results=args.dump_results, config_path=args.config, reloader=load)


def load_config(path: Path, *, web_config_file: Path | None = None,
                log_format: LogFormat | None = None) -> tuple[Config, Mapping[str, Profile]]:
    """The config at ``path`` and its profiles, checked, with the command line's
    overrides; at start-up and again at each reload (raises ConfigError)."""
    config, profiles = load_checked(path)
    if web_config_file is not None:  # the flag exporters take wins over the config
        config = config.model_copy(update={"http": config.http.model_copy(
            update={"web_config_file": web_config_file})})
    return with_log_format(config, log_format), profiles


def build_sources(config: Config) -> list[Source]:
    sources: list[Source] = []
    for spec in config.sources:
        if isinstance(spec, JsonlSourceConfig):
            sources.append(JsonlSource(spec.path, stream=spec.stream,
                                       batch_size=spec.batch_size, follow=spec.follow,
                                       max_line_bytes=config.ingest.max_message_bytes))
        elif isinstance(spec, FileSourceConfig):
            sources.append(FileSource(spec))
        elif isinstance(spec, KafkaSourceConfig):
            sources.append(KafkaSource(spec))
        elif isinstance(spec, HttpSourceConfig):
            sources.append(http_source(config, spec))
        elif isinstance(spec, DemoSourceConfig):
            sources.append(demo_source(spec))
    return sources


def http_source(config: Config, spec: HttpSourceConfig) -> HttpIngestSource:
    """An HTTP ingest listener within the ``ingest`` bounds and the ``http`` timeouts."""
    ingest = config.ingest
    return HttpIngestSource(
        spec, messages=MessageLimits(spec.max_body_bytes, ingest.max_nesting_depth,
                                     ingest.max_events_per_message),
        http=http_limits(config.http))


def demo_source(spec: DemoSourceConfig) -> DemoSource:
    """The in-process demo stream, in real (wall-clock) time."""
    return DemoSource(DemoGenerator(spec.seed), model=spec.model,
                      events_per_second=spec.events_per_second,
                      drift_after_seconds=spec.drift_after_seconds,
                      label_delay_seconds=spec.label_delay_seconds, clock=time.time,
                      sleep=time.sleep)


def serve(config: Config, profiles: Mapping[str, Profile], *, exit_when_drained: bool = False,
          banner: str | None = None, dump_results: Path | None = None,
          report: Callable[[Daemon, int], None] | None = None,
          config_path: Path | None = None, reloader: Reloader | None = None) -> int:
    """Run a daemon in the foreground until SIGTERM/SIGINT (or drained); ``report`` is
    handed the daemon (holding its results history) and exit code at the end. SIGHUP
    reloads the config with ``reloader`` (without one, the reload fails: logged)."""
    if banner:
        print(banner, flush=True)
    setup_logging(config.logging.level, config.logging.format)
    _log_effective_config(config, config_path)
    if config.http.web_config_file is not None:
        try:  # read again by the HTTP server; checked here to fail before anything starts
            load_web(config.http.web_config_file)
        except ConfigError as error:
            for problem in error.problems:
                print(f"driftd: web config {error.source}: {problem}", file=sys.stderr)
            return 2
    try:
        sources: Sequence[Source] = build_sources(config)
        extras = build_extras(config)
    except (OSError, CheckpointError, KafkaSetupError, ResultsSinkError) as error:
        print(f"driftd: cannot start: {error}", file=sys.stderr)
        return 2
    daemon = Daemon(config, profiles, sources, exit_when_drained=exit_when_drained,
                    extras=extras, keep_history=dump_results is not None or report is not None,
                    reloader=reloader)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda num, _frame: daemon.request_stop(signal.strsignal(num)
                                                                       or str(num)))
    signal.signal(signal.SIGHUP, lambda _num, _frame: daemon.request_reload("SIGHUP"))
    code = 1  # unless run() returns: the dump says how the daemon ended
    try:
        code = daemon.run()
    except OSError as error:
        print(f"driftd: cannot serve on {config.http.address}: {error}", file=sys.stderr)
        code = 2
    except KafkaSetupError as error:  # settings, credentials or certificates
        print(f"driftd: cannot start: {error}", file=sys.stderr)
        code = 2
    finally:  # also when the daemon ends on an error: the replay's results are kept
        if dump_results is not None:
            dump = final_report(daemon) | {"exit_code": code}
            dump_results.write_text(json.dumps(dump, indent=1))
        if report is not None:
            report(daemon, code)
    return code


def final_report(daemon: Daemon) -> dict[str, Any]:
    """Every window result in order (``history``), the latest closed and matured
    window per (model, window), and the ingest counters, as written by --dump-results."""
    snapshot = daemon.telemetry.snapshot()
    return {**published_to_json(daemon.board.latest()),
            "history": daemon.history.records or [],
            "events": {f"{stream}/{model}": n for (stream, model), n in snapshot.events.items()},
            # What happened: the series /metrics exports at 0 are left out.
            "invalid": counted(snapshot.invalid),
            "late": {f"{model}/{window}": n for (model, window), n in
                     counted(snapshot.late).items()},
            "join": {f"{counter}/{model}": n for (counter, model), n in
                     counted(snapshot.join).items()},
            "exit_code": daemon.exit_code}


def build_extras(config: Config) -> Extras:
    """The checkpoint store and results sinks, and for a Kafka source its dead-letter
    sink, results topic and probe."""
    path = config.checkpoint.path
    store = CheckpointStore(path) if path is not None else None
    results: dict[str, ResultsSink] = {}
    if config.results.path is not None:
        # Without checkpoints nothing is cut back after a crash: rotate as it grows.
        results["file"] = ResultsFile(config.results.path, max_bytes=config.results.max_bytes,
                                      backups=config.results.backups,
                                      rotate_on_write=store is None)
    kafka = next((s for s in config.sources if isinstance(s, KafkaSourceConfig)), None)
    if kafka is None:
        return Extras(store=store, results=results)
    dead_letters = (DeadLetters(kafka, kafka.dead_letter_topic)
                    if kafka.dead_letter_topic else None)
    topic = (ResultsTopic(kafka, config.results.kafka_topic)
             if config.results.kafka_topic else None)
    return Extras(store=store, dead_letters=dead_letters, results=results, results_topic=topic,
                  probe=BrokerProbe(kafka), probe_name=f"kafka:{kafka.bootstrap_servers}",
                  probe_timeout_seconds=kafka.broker_timeout_seconds)


def add_log_format_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", choices=LOG_FORMATS, default=None,
                        help="text, or json: one JSON object per line on stderr (default: "
                        "the config's logging.format, text)")


def with_log_format(config: Config, log_format: LogFormat | None) -> Config:
    """``config`` with ``logging.format`` set by --log-format, when given."""
    if log_format is None:
        return config
    return config.model_copy(
        update={"logging": config.logging.model_copy(update={"format": log_format})})


def setup_logging(level: str, log_format: LogFormat = "text") -> None:
    configure_logging(level, log_format)
    # kafka-python logs every reconnect attempt (many a second during an outage) as an
    # error; driftd reports outages itself (readiness, driftd_source_up, one log line).
    logging.getLogger("kafka").setLevel(logging.WARNING)
    for noisy in ("kafka.net", "kafka.cluster", "kafka.coordinator"):
        logging.getLogger(noisy).setLevel(logging.CRITICAL)


def _log_effective_config(config: Config, path: Path | None = None) -> None:
    """One INFO line (file, models, sources); the whole config, secrets masked, at DEBUG."""
    logger.info("config %s: models %s; sources %s", path or "(built in)",
                ", ".join(model.name for model in config.models),
                "; ".join(_source_summary(spec) for spec in config.sources))
    if logger.isEnabledFor(logging.DEBUG):
        shown = mask_secrets(config.model_dump(mode="json", exclude_none=True))
        logger.debug("effective config: %s", json.dumps(shown, separators=(",", ":")))


def _source_summary(spec: object) -> str:
    if isinstance(spec, KafkaSourceConfig):
        return (f"kafka {', '.join(topic.name for topic in spec.topics)} on "
                f"{spec.bootstrap_servers}")
    if isinstance(spec, JsonlSourceConfig | FileSourceConfig):
        return f"{spec.type} {spec.path}"
    if isinstance(spec, HttpSourceConfig):
        return f"http on {spec.listen}"
    return str(getattr(spec, "type", type(spec).__name__))
