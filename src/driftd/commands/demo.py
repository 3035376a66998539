"""`driftd demo`: the daemon on the built-in demo stream, in-process or through Kafka.

    driftd demo                            generate and monitor the stream in one process
    driftd demo --produce-to BOOTSTRAP     publish the stream to Kafka in real time
    driftd demo --consume-from BOOTSTRAP   monitor the stream published there
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from driftd.commands.run import (
    add_log_format_argument,
    demo_source,
    serve,
    setup_logging,
    with_log_format,
)
from driftd.config import Config, ConfigError, DemoSourceConfig, KafkaSourceConfig
from driftd.logs import LogFormat
from driftd.service.daemon import EXIT_BROKER_UNREACHABLE
from driftd.service.demo import DemoTopics, demo_config, demo_profile, demo_reference
from driftd.service.demo_producer import publish_demo
from driftd.sources.kafka import KafkaPublisher, PublishError

logger = logging.getLogger("driftd")

# Flags default to None so that one given in a mode it does not apply to is refused.
DEFAULTS: dict[str, Any] = {
    "address": "127.0.0.1:9108", "drift_after": 120.0, "rate": 2000.0, "label_delay": 30.0,
    "predictions_topic": DemoTopics().predictions, "outcomes_topic": DemoTopics().outcomes,
    "broker_timeout": 60.0, "partitions": 1, "group_id": "driftd-demo",
}
APPLIES_TO = {  # flag -> modes: "local" (in-process), "produce", "consume"
    "address": {"local", "consume"}, "checkpoint": {"local", "consume"},
    "drift_after": {"local", "produce"}, "rate": {"local", "produce"},
    "label_delay": {"local", "produce"}, "predictions_topic": {"produce", "consume"},
    "outcomes_topic": {"produce", "consume"}, "broker_timeout": {"produce", "consume"},
    "duration": {"produce"}, "partitions": {"produce"}, "group_id": {"consume"},
}
MODE_PHRASE = {"local": "without --produce-to or --consume-from",
               "produce": "with --produce-to", "consume": "with --consume-from"}


def register(commands: Any) -> None:
    demo = commands.add_parser(
        "demo", help="run the daemon on the built-in demo stream (or publish it to Kafka)",
        description="The built-in demo: a synthetic model stream whose inputs drift on cue. "
        "By default generated and monitored in one process; --produce-to publishes it to "
        "Kafka, --consume-from monitors it from there.")
    mode = demo.add_mutually_exclusive_group()
    mode.add_argument("--produce-to", metavar="BOOTSTRAP",
                      help="publish the stream to this Kafka cluster instead of monitoring it")
    mode.add_argument("--consume-from", metavar="BOOTSTRAP",
                      help="monitor the stream read from this Kafka cluster")
    demo.add_argument("--address", help="HTTP host:port (default 127.0.0.1:9108)")
    demo.add_argument("--drift-after", type=float, metavar="SECONDS", help="default 120")
    demo.add_argument("--rate", type=float, metavar="EVENTS_PER_SECOND", help="default 2000")
    demo.add_argument("--label-delay", type=float, metavar="SECONDS",
                      help="how long after its prediction an outcome comes (default 30)")
    demo.add_argument("--seed", type=int, default=0,
                      help="of the generator, and of the reference sample (default 0)")
    demo.add_argument("--checkpoint", type=Path, metavar="PATH",
                      help="keep the window state in this SQLite file across restarts")
    add_log_format_argument(demo)
    kafka = demo.add_argument_group("Kafka (with --produce-to or --consume-from)")
    kafka.add_argument("--predictions-topic", metavar="TOPIC", help="default demo.predictions")
    kafka.add_argument("--outcomes-topic", metavar="TOPIC", help="default demo.outcomes")
    kafka.add_argument("--broker-timeout", type=_positive(float), metavar="SECONDS",
                       help="exit non-zero when the broker is unreachable this long (default 60)")
    kafka.add_argument("--duration", type=_positive(float), metavar="SECONDS",
                       help="--produce-to: stop after this long (default: at SIGTERM/SIGINT)")
    kafka.add_argument("--partitions", type=_positive(int), metavar="N",
                       help="--produce-to: partitions of topics it creates (default 1)")
    kafka.add_argument("--group-id", help="--consume-from: consumer group (default driftd-demo)")
    demo.set_defaults(handler=handle_demo)


def handle_demo(args: argparse.Namespace) -> int:
    mode = "produce" if args.produce_to else "consume" if args.consume_from else "local"
    for name, modes in APPLIES_TO.items():
        if getattr(args, name) is not None and mode not in modes:
            flag = "--" + name.replace("_", "-")
            print(f"driftd demo: {flag} does not apply {MODE_PHRASE[mode]}", file=sys.stderr)
            return 2
    for name, default in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    topics = DemoTopics(args.predictions_topic, args.outcomes_topic)
    try:
        config = demo_config(
            address=args.address, drift_after_seconds=args.drift_after,
            events_per_second=args.rate, seed=args.seed, label_delay_seconds=args.label_delay,
            kafka_bootstrap=args.consume_from, topics=topics, group_id=args.group_id,
            broker_timeout_seconds=args.broker_timeout if args.consume_from else None,
            checkpoint_path=args.checkpoint)
    except ConfigError as error:
        print(f"driftd demo: {error}", file=sys.stderr)
        return 2
    config = with_log_format(config, args.log_format)
    model = config.models[0]
    if mode == "consume":
        profiles = {model.name: demo_reference(model, seed=args.seed)}
        return serve(config, profiles, banner=_consume_banner(config, topics))
    source = config.sources[0]
    assert isinstance(source, DemoSourceConfig)
    if mode == "produce":
        return produce(args.produce_to, source, topics, partitions=args.partitions,
                       duration_seconds=args.duration, broker_timeout_seconds=args.broker_timeout,
                       log_level=config.logging.level, log_format=config.logging.format)
    return serve(config, {model.name: demo_profile(model, source)},
                 banner=_local_banner(config, source))


def produce(bootstrap: str, source: DemoSourceConfig, topics: DemoTopics, *, partitions: int,
            duration_seconds: float | None, broker_timeout_seconds: float,
            log_level: str = "INFO", log_format: LogFormat = "text") -> int:
    """Publish the demo stream to Kafka until the duration is up or SIGTERM/SIGINT."""
    setup_logging(log_level, log_format)
    print(_produce_banner(bootstrap, source, topics), flush=True)
    try:
        publisher = KafkaPublisher(bootstrap, client_id="driftd-demo",
                                   timeout_seconds=broker_timeout_seconds)
    except PublishError as error:
        logger.error("%s Exiting.", error)
        return EXIT_BROKER_UNREACHABLE
    stop = threading.Event()
    try:
        created = publisher.ensure_topics([topics.predictions, topics.outcomes], partitions)
        if created:
            logger.info("created topics %s (%d partition(s) each)", ", ".join(created), partitions)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda _num, _frame: stop.set())
        published = publish_demo(demo_source(source), publisher, topics, clock=time.time,
                                 should_stop=stop.is_set, duration_seconds=duration_seconds)
        logger.info("published %d predictions and %d outcomes (%s); flushing the producer",
                    published.predictions, published.outcomes, published.reason)
        publisher.flush()
    except PublishError as error:
        logger.error("%s Exiting.", error)
        return EXIT_BROKER_UNREACHABLE
    finally:
        logger.info("closing the Kafka producer")
        publisher.close()
    return 0


def _positive(kind: type[float] | type[int]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in "invalid float value"
    return parse


def _local_banner(config: Config, source: DemoSourceConfig) -> str:
    url = f"http://{config.http.address}/metrics"
    return (f"driftd demo: {source.events_per_second:g} events/s of model 'demo'; "
            f"drift starts after {source.drift_after_seconds:g} s.\n"
            f"  metrics: {url}   (watch driftd_psi and driftd_ks_statistic rise)\n"
            f"  health:  http://{config.http.address}/readyz   stop with Ctrl-C")


def _consume_banner(config: Config, topics: DemoTopics) -> str:
    kafka = config.sources[0]
    assert isinstance(kafka, KafkaSourceConfig)
    return (f"driftd demo: model 'demo' from {topics.predictions} and {topics.outcomes} "
            f"on {kafka.bootstrap_servers} (group {kafka.group_id}).\n"
            f"  metrics: http://{config.http.address}/metrics\n"
            f"  health:  http://{config.http.address}/readyz   stop with Ctrl-C")


def _produce_banner(bootstrap: str, source: DemoSourceConfig, topics: DemoTopics) -> str:
    return (f"driftd demo: publishing {source.events_per_second:g} events/s of model 'demo' "
            f"to {bootstrap}; drift starts after {source.drift_after_seconds:g} s.\n"
            f"  predictions: {topics.predictions}   outcomes: {topics.outcomes} (after "
            f"{source.label_delay_seconds:g} s)   stop with Ctrl-C")
