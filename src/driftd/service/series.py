"""The counter series a config determines, created at 0 before anything is counted.

A counter that appears at its first increment is invisible to ``rate()`` and
``increase()`` for that increment, and its dashboard panel says "No data" on a healthy
run. So every counter whose label values follow from the config (models, streams,
windows, reasons the configured formats can give, HTTP answers) is exported from start.
Two families are left to appear when counted, because their label values come from
what happened rather than from the config: ``driftd_model_version_events_total``
(versions read from events) and ``driftd_evaluation_errors_total`` (the column and
reason of a failed computation: every column times every reason would be hundreds of
series per model).
"""

from __future__ import annotations

from driftd import events
from driftd.config import Config, KafkaSourceConfig
from driftd.config.http import HttpSourceConfig
from driftd.monitor.monitor import Monitor
from driftd.service import oip_topics
from driftd.sinks.metric_families import JOIN_COUNTERS
from driftd.telemetry import Telemetry
from driftd.windows.time import TimeWindow

# What the HTTP ingest listener answers a POST with (docs/http-ingest.md).
HTTP_INGEST_CODES = (202, 400, 401, 413, 429, 503)


def expected_reasons(config: Config) -> tuple[str, ...]:
    """The rejection reasons events of ``config``'s sources can be counted under."""
    formats = {topic.format for source in config.sources
               if isinstance(source, KafkaSourceConfig) for topic in source.topics}
    reasons = list(events.GENERAL_REASONS)
    if formats & {"avro", "protobuf"}:
        reasons += events.WIRE_REASONS
    if "oip" in formats:
        reasons += oip_topics.REASONS
    if any(isinstance(source, HttpSourceConfig) for source in config.sources):
        reasons += events.HTTP_REASONS
    return tuple(dict.fromkeys(reasons))


def expect_series(config: Config, monitor: Monitor, telemetry: Telemetry) -> None:
    """Create every counter series ``config`` determines at 0 in ``telemetry``."""
    for model in config.models:
        telemetry.expect_events("predictions", model.name)
        if model.performance is not None:
            telemetry.expect_events("outcomes", model.name)
            telemetry.expect_join(model.name, JOIN_COUNTERS)
    for name, model_monitor in monitor.models.items():
        for window, state in model_monitor.windows.items():
            telemetry.expect_windows(name, window, model_monitor.drift_tests(),
                                     model_monitor.decay_metrics())
            if isinstance(state, TimeWindow):  # only a time window can refuse late events
                telemetry.expect_late(name, window)
    telemetry.expect_invalid(expected_reasons(config))
    if any(isinstance(source, HttpSourceConfig) for source in config.sources):
        telemetry.expect_http_requests(HTTP_INGEST_CODES)
