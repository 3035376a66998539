"""A model's watermark waits only for the partitions that carry it."""

from __future__ import annotations

import math

from driftd.windows.watermark import Watermark


def test_a_partition_that_spoke_without_this_models_events_stops_holding_it_back() -> None:
    """Model A's watermark expects a[0] and b[0]; b[0] carries model B only.

    Expected: -inf while b[0] is silent; as soon as b[0] delivers a batch without an
    A event, A's watermark is a[0]'s newest minus lateness (long before the idle
    timeout), and b[0] never enters it.
    """
    watermark = Watermark(lateness=5.0, idle_seconds=60.0)
    watermark.expect(["a[0]", "b[0]"], now=0.0)
    watermark.observe("a[0]", 100.0, now=0.5)
    assert watermark.value == -math.inf
    watermark.excuse("b[0]", now=1.0)
    assert watermark.value == 95.0
    watermark.observe("a[0]", 130.0, now=2.0)
    assert watermark.value == 125.0


def test_an_excused_partition_that_later_carries_the_model_is_tracked() -> None:
    """b[0] first sends only other models' events, then an A event at 110.

    Expected: from then on it holds A's watermark like any partition of A.
    """
    watermark = Watermark(lateness=0.0, idle_seconds=60.0)
    watermark.expect(["a[0]", "b[0]"], now=0.0)
    watermark.excuse("b[0]", now=0.0)
    watermark.observe("a[0]", 200.0, now=0.0)
    assert watermark.value == 200.0
    watermark.observe("b[0]", 110.0, now=1.0)
    watermark.observe("a[0]", 300.0, now=2.0)
    assert watermark.value == 200.0  # never goes back, and b[0] holds it at 110 now
    watermark.observe("b[0]", 250.0, now=3.0)
    assert watermark.value == 250.0


def test_excused_partitions_stay_excused_after_a_restart_and_new_ones_are_waited_for() -> None:
    """Before a restart: a[0] sent A events, b[0] only B events. After it: a[0], b[0]
    and a late-assigned a[1] come back.

    Expected: the restored watermark does not wait for b[0] (nor for a[0], at its end),
    but waits for a[1] until it speaks.
    """
    before = Watermark(lateness=0.0, idle_seconds=60.0)
    before.expect(["a[0]", "b[0]"], now=0.0)
    before.observe("a[0]", 100.0, now=0.0)
    before.excuse("b[0]", now=0.0)
    state = before.state()
    assert state == {"value": 100.0, "newest/a[0]": 100.0, "excused/b[0]": 1.0}

    after = Watermark(lateness=0.0, idle_seconds=60.0)
    after.restore(state, now=50.0)
    after.expect(["a[0]", "b[0]", "a[1]"], now=50.0)
    after.observe("a[0]", 150.0, now=51.0)
    assert after.value == 100.0  # a[1] was assigned late: waited for
    after.observe("a[1]", 140.0, now=52.0)
    assert after.value == 140.0


def test_forgetting_a_revoked_partition_forgets_its_excuse() -> None:
    watermark = Watermark(lateness=0.0, idle_seconds=60.0)
    watermark.excuse("b[0]", now=0.0)
    watermark.forget(["b[0]"])
    watermark.expect(["b[0]"], now=1.0)
    watermark.observe("a[0]", 10.0, now=1.0)
    assert watermark.value == -math.inf  # b[0] is expected again
