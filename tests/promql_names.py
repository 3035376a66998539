"""Metric names in PromQL, and the names driftd and its generated rules produce.

Used to check, without a server, that dashboards and rules only query series that
exist: driftd's metric families, the recording rules of ``driftd rules generate``, or
Prometheus' own ``up``.
"""

from __future__ import annotations

import re

from driftd.monitor.results import ResultBoard
from driftd.rules import rule_groups
from driftd.service.demo import demo_config
from driftd.sinks.metric_families import FAMILIES
from driftd.sinks.prometheus import DriftdCollector
from driftd.telemetry import Telemetry

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
# An identifier not inside a number or a duration (1e-3, 5m), optionally followed by "(".
_IDENTIFIER = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
             "offset", "and", "or", "unless", "atan2", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: not functions, aggregations, keywords, label
    names (in matchers and by/on lists), strings, durations or variables.

    >>> sorted(metric_names('sum by (job) (rate(a_total{x="b c"}[$__rate_interval])) '
    ...                     '/ on (job) group_left (model) driftd:b:max offset 5m or vector(1e-3)'))
    ['a_total', 'driftd:b:max']
    """
    text = _STRINGS.sub('""', expr)
    for pattern in (_MATCHERS, _RANGES, _LABEL_LISTS):
        text = pattern.sub(" ", text)
    return {match.group(1) for match in _IDENTIFIER.finditer(text)
            if not match.group(2) and match.group(1).lower() not in _KEYWORDS}


def exported_metrics() -> set[str]:
    """Sample names driftd exports: FAMILIES (counters with _total) and the histograms,
    which only the collector knows, found by collecting after one observation each."""
    names = {f.name + ("_total" if f.kind == "counter" else "") for f in FAMILIES}
    telemetry = Telemetry()
    telemetry.observe_batch(0.01)
    telemetry.observe_label_delays("fraud", [30.0])
    collector = DriftdCollector(ResultBoard(), telemetry, references={}, build={})
    histograms = {f.name for f in collector.collect() if f.type == "histogram"}
    assert histograms == {"driftd_batch_duration_seconds", "driftd_label_delay_seconds"}
    return names | {f"{h}{suffix}" for h in histograms for suffix in ("_bucket", "_sum", "_count")}


def recorded_metrics() -> set[str]:
    """Names of the recording rules `driftd rules generate` writes (demo config)."""
    return {rule["record"] for group in rule_groups(demo_config())
            for rule in group["rules"] if "record" in rule}


def known_metrics() -> set[str]:
    """Every name a query may select: exported, recorded, or ``up``."""
    return exported_metrics() | recorded_metrics() | {"up"}
