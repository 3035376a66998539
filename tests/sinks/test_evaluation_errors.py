"""driftd_evaluation_errors_total: parts of windows left out of an evaluation, by reason."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from driftd.monitor.results import ResultBoard
from driftd.sinks.prometheus import DriftdCollector, build_registry, render
from driftd.telemetry import Telemetry


def test_evaluation_errors_are_a_counter_by_model_window_part_and_reason() -> None:
    """Column amount of fraud/1h failed twice, its performance once.

    Expected: two samples of driftd_evaluation_errors_total with exactly those labels and
    counts, and no series before the first error (nothing to alert on).
    """
    telemetry = Telemetry()
    registry = build_registry(DriftdCollector(ResultBoard(), telemetry, references={},
                                              build={"version": "test"}))
    assert b"driftd_evaluation_errors" not in render(registry)[0]
    telemetry.count_evaluation_error("fraud", "1h", "amount", "invalid_value")
    telemetry.count_evaluation_error("fraud", "1h", "amount", "invalid_value")
    telemetry.count_evaluation_error("fraud", "1h", "performance", "arithmetic")

    text = render(registry)[0].decode()
    (family,) = [f for f in text_string_to_metric_families(text)
                 if f.name == "driftd_evaluation_errors"]
    assert family.type == "counter"
    assert {(s.labels["part"], s.labels["reason"]): s.value for s in family.samples
            if s.name.endswith("_total")} == {("amount", "invalid_value"): 2.0,
                                                ("performance", "arithmetic"): 1.0}
    assert all(s.labels["model"] == "fraud" and s.labels["window"] == "1h"
               for s in family.samples)
