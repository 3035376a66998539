"""Count and event-time windows: panes add up to exactly the events of the window."""

from __future__ import annotations

import numpy as np

from driftd.windows.count import CountWindow
from driftd.windows.panes import Encoded
from driftd.windows.time import TimedPane, TimeWindow

SLOTS = 10


def encoded(values: list[int], timestamps: list[float] | None = None) -> Encoded:
    """One column whose slot is the value itself; tails carry the value too."""
    slots = np.array([values], dtype=np.int64)
    tails = np.array(values, dtype=np.float64).reshape(-1, 1)
    ts = np.array(timestamps if timestamps is not None else [0.0] * len(values))
    return Encoded(slots, tails, ts)


def counts(values: list[int]) -> list[int]:
    return np.bincount(values, minlength=SLOTS).tolist()


def test_count_window_slides_by_step_and_holds_the_last_size_events() -> None:
    """size 4, step 2, events 0..9 in uneven batches: windows end at 4, 6, 8 and 10."""
    window = CountWindow(4, 2, slots=SLOTS, tails=1)
    stream = [i % SLOTS for i in range(10)]
    emitted = []
    for batch in ([0, 1, 2], [3, 4, 5, 6], [7], [8, 9]):
        emitted += window.add(encoded([stream[i] for i in batch]), emit=True)
    assert [p.counts.tolist() for p in emitted] == [
        counts(stream[0:4]), counts(stream[2:6]), counts(stream[4:8]), counts(stream[6:10])]
    assert [p.events for p in emitted] == [4, 4, 4, 4]
    assert float(emitted[-1].tails[0]) == sum(stream[6:10])
    latest = window.latest()
    assert latest is not None and latest.counts.tolist() == counts(stream[6:10])
    assert window.completed == 4


def test_count_window_is_empty_until_full_and_tumbles_when_step_equals_size() -> None:
    window = CountWindow(3, 3, slots=SLOTS, tails=1)
    assert window.add(encoded([1, 2]), emit=True) == [] and window.latest() is None
    emitted = window.add(encoded([3, 4, 5, 6, 7]), emit=True)
    assert [p.counts.tolist() for p in emitted] == [counts([1, 2, 3]), counts([4, 5, 6])]
    assert window.pending == 1


def bounds(closed: list[TimedPane]) -> list[tuple[float, float]]:
    return [(c.start, c.end) for c in closed]


def test_time_window_assigns_events_by_their_own_time_in_any_order() -> None:
    """duration 20 s, slide 10 s, lateness 10 s: out-of-order events within the
    lateness count, and windows close as the watermark passes their end."""
    window = TimeWindow(20, 10, 10, slots=SLOTS, tails=1)
    assert window.close() == []
    late = window.add(encoded([1, 2, 3], [5.0, 12.0, 3.0]))
    assert not late.any()  # 3.0 is 9 s older than 12.0: within the lateness
    assert window.close() == []  # watermark 2
    window.add(encoded([4], [25.0]))  # watermark 15: the window ending at 10 closes
    assert bounds(window.close()) == [(-10.0, 10.0)]
    window.add(encoded([5], [35.0]))  # watermark 25: [0, 20) closes
    closed = window.close()
    assert bounds(closed) == [(0.0, 20.0)]
    assert closed[0].pane.counts.tolist() == counts([1, 2, 3]) and closed[0].pane.events == 3
    assert window.close() == []  # each window once


def test_time_window_counts_late_events_and_keeps_them_out() -> None:
    window = TimeWindow(20, 10, 5, slots=SLOTS, tails=1)
    window.add(encoded([1], [31.0]))  # stream time 31, lateness 5: older than 26 is late
    late = window.add(encoded([2, 3], [22.0, 27.0]))
    assert late.tolist() == [True, False]
    window.add(encoded([4], [45.0]))  # watermark 40: windows up to [20, 40)
    closed = window.close()
    assert bounds(closed) == [(10.0, 30.0), (20.0, 40.0)]
    assert closed[-1].pane.counts.tolist() == counts([1, 3])


def test_time_window_result_does_not_depend_on_arrival_order_within_lateness() -> None:
    rng = np.random.default_rng(7)
    ts = rng.uniform(0, 100, 500)
    values = rng.integers(0, SLOTS, 500).tolist()
    results = []
    for order in (np.argsort(ts), rng.permutation(500)):
        window = TimeWindow(100, 10, 200, slots=SLOTS, tails=1)
        for chunk in np.array_split(order, 7):
            window.add(encoded([values[i] for i in chunk], ts[chunk].tolist()))
        window.add(encoded([0], [300.0]))  # watermark 100: window [0, 100) is complete
        closed = [c for c in window.close() if (c.start, c.end) == (0.0, 100.0)]
        results += closed
    assert len(results) == 2
    assert results[0].pane.events == results[1].pane.events == 500
    assert results[0].pane.counts.tolist() == results[1].pane.counts.tolist() == counts(values)


def test_time_window_memory_is_bounded_by_duration_and_lateness() -> None:
    window = TimeWindow(30, 10, 0, slots=SLOTS, tails=1)
    for second in range(0, 10_000, 5):
        window.add(encoded([1], [float(second)]))
        window.close()
    assert len(window._panes) <= 30 // 10 + 1


def test_time_window_waits_for_every_assigned_partition() -> None:
    """Partition a is read far ahead of partition b: b's older events are not late,
    and the window closes only once b has caught up."""
    window = TimeWindow(20, 10, 0, slots=SLOTS, tails=1, idle_seconds=60)
    window.watermark.expect(["a", "b"], now=0.0)
    assert not window.add(encoded([1, 2], [5.0, 55.0]), "a", now=0.0).any()
    assert window.close() == []  # b has not spoken yet
    assert not window.add(encoded([3, 4], [6.0, 25.0]), "b", now=1.0).any()
    closed = window.close()
    assert bounds(closed) == [(-10.0, 10.0), (0.0, 20.0)]
    assert closed[-1].pane.counts.tolist() == counts([1, 3])


def test_a_silent_partition_stops_holding_the_watermark_after_its_idle_timeout() -> None:
    window = TimeWindow(20, 10, 0, slots=SLOTS, tails=1, idle_seconds=30)
    window.watermark.expect(["a", "b"], now=0.0)
    window.add(encoded([1, 2], [15.0, 45.0]), "a", now=1.0)
    assert window.close() == []
    window.advance(now=30.5)  # b never spoke within 30 s; a spoke 29.5 s ago
    assert bounds(window.close()) == [(0.0, 20.0), (10.0, 30.0)]


def test_a_restored_window_remembers_which_partitions_already_reached_their_end() -> None:
    """Partition a sent everything (up to 55 s) before a restart; b resumes and reaches
    45 s. Expected: the window [20, 40) closes without waiting for a to speak again."""
    window = TimeWindow(20, 10, 0, slots=SLOTS, tails=1, idle_seconds=60)
    window.watermark.expect(["a", "b"], now=0.0)
    window.add(encoded([1], [55.0]), "a", now=0.0)
    window.add(encoded([2], [12.0]), "b", now=0.0)
    assert window.close() == []  # b has not passed 20 yet
    meta, panes = window.state()
    restored = TimeWindow(20, 10, 0, slots=SLOTS, tails=1, idle_seconds=60)
    restored.restore(meta, panes, now=100.0)
    restored.watermark.expect(["a", "b"], now=100.0)  # the partitions come back
    restored.add(encoded([3, 4], [25.0, 45.0]), "b", now=101.0)
    closed = restored.close()
    assert bounds(closed) == [(0.0, 20.0), (10.0, 30.0), (20.0, 40.0)]
    assert closed[-1].pane.counts.tolist() == counts([3])


def test_a_restored_window_matures_its_windows_oldest_first_past_any_number_of_digits() -> None:
    """Windows ending at pane 9 and pane 10 wait for their labels when checkpointed (a
    checkpoint orders its keys as text: "revision/10" before "revision/9").

    Expected: restored, the label clock past both horizons matures both, 9 first."""
    window = TimeWindow(10, 10, 0, slots=SLOTS, tails=1, label_horizon=100)
    window.add(encoded([1, 2], [85.0, 95.0]))
    window.add(encoded([3], [105.0]))
    assert bounds(window.close()) == [(80.0, 90.0), (90.0, 100.0)]
    meta, panes = window.state()
    restored = TimeWindow(10, 10, 0, slots=SLOTS, tails=1, label_horizon=100)
    restored.restore(dict(sorted(meta.items())), {k: p.copy() for k, p in panes.items()})
    matured = restored.mature(label_clock=201.0)
    assert bounds(matured) == [(80.0, 90.0), (90.0, 100.0)]
    assert all(m.matured and m.revision == 1 for m in matured)
