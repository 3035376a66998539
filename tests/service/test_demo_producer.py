"""The demo producer loop: the real demo stream on a fake clock, into a fake publisher."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import pytest

from driftd.service.demo import DemoTopics
from driftd.service.demo_producer import Published, iso_time, publish_demo
from driftd.sources.demo import DemoGenerator, DemoSource

START = 1_700_000_000.0  # 2023-11-14T22:13:20Z
TOPICS = DemoTopics("test.predictions", "test.outcomes")


class FakeClock:
    """Wall-clock seconds that move only when someone sleeps."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        # A real sleep always takes some time; adding 1e-13 s to 1.7e9 would not move it.
        self.now += max(seconds, 1e-6)


class FakePublisher:
    """Records every send; ``fail_after`` sends, it raises like a broker outage would."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list[tuple[str, list[bytes]]] = []
        self._fail_after = fail_after

    def send(self, topic: str, messages: Sequence[bytes]) -> None:
        if self._fail_after is not None and len(self.sent) >= self._fail_after:
            raise ConnectionError("broker unreachable")
        self.sent.append((topic, list(messages)))

    def events(self, topic: str) -> list[dict[str, Any]]:
        return [orjson.loads(m) for t, batch in self.sent if t == topic for m in batch]


def make_stream(clock: FakeClock, *, rate: float = 100.0, drift_after: float = 5.0,
                label_delay: float = 2.0) -> DemoSource:
    return DemoSource(DemoGenerator(7), model="demo", events_per_second=rate,
                      drift_after_seconds=drift_after, label_delay_seconds=label_delay,
                      clock=clock, sleep=clock.sleep)


def run(clock: FakeClock, publisher: FakePublisher, *, duration: float | None = 10.0,
        should_stop: Callable[[], bool] = lambda: False, **stream: float) -> Published:
    return publish_demo(make_stream(clock, **stream), publisher, TOPICS, clock=clock,
                        should_stop=should_stop, duration_seconds=duration)


def test_predictions_and_outcomes_go_to_their_topics() -> None:
    """10 s at 100 events/s, labels 2 s after their prediction.

    The k-th event is due k/100 s in, so 999 fall within the 10 s.
    Expected: those 999 predictions (ids p-0..p-998, ts within the run) on the
    predictions topic; on the outcomes topic the labels of the 799 made before 8 s, in
    the same order, each 2 s after its prediction; the summary counts what was sent.
    """
    clock, publisher = FakeClock(), FakePublisher()

    published = run(clock, publisher)

    assert {topic for topic, _ in publisher.sent} == {TOPICS.predictions, TOPICS.outcomes}
    predictions = publisher.events(TOPICS.predictions)
    outcomes = publisher.events(TOPICS.outcomes)
    assert [p["id"] for p in predictions] == [f"p-{i}" for i in range(999)]
    assert all("prediction" in p and "label" not in p for p in predictions)
    assert all(START <= p["ts"] < START + 10 for p in predictions)
    assert [o["id"] for o in outcomes] == [f"p-{i}" for i in range(799)]
    assert all(o["label"] in (0, 1) and "prediction" not in o for o in outcomes)
    assert all(o["ts"] == pytest.approx(p["ts"] + 2.0)
               for o, p in zip(outcomes, predictions, strict=False))
    assert published == Published(999, 799, "duration reached")


def test_it_stops_when_the_duration_is_up() -> None:
    """A 3 s run: it returns within one poll timeout (0.1 s) after 3 s have passed."""
    clock, publisher = FakeClock(), FakePublisher()

    published = run(clock, publisher, duration=3.0)

    assert START + 3.0 <= clock.now < START + 3.1
    assert published == Published(299, 99, "duration reached")


def test_a_stop_request_ends_the_run_before_the_next_send() -> None:
    """No duration; the stop flag is raised once 5 batches were sent.

    Expected: exactly 5 sends, the summary says the stop was requested.
    """
    clock, publisher = FakeClock(), FakePublisher()

    published = run(clock, publisher, duration=None, should_stop=lambda: len(publisher.sent) >= 5)

    assert len(publisher.sent) == 5
    assert published.reason == "stop requested"
    assert published.predictions + published.outcomes == sum(len(m) for _, m in publisher.sent)


def test_the_drift_start_is_logged_once_when_it_happens(caplog: pytest.LogCaptureFixture) -> None:
    """Drift after 5 s of a 10 s run; the publisher notes whether the drift line was
    already logged at each send.

    Expected: a start line, then one "drift starts at" line with the drift's UTC time;
    every prediction sent before it is from before the drift, every one after from after.
    """
    caplog.set_level(logging.INFO, logger="driftd.service.demo_producer")

    class Noting(FakePublisher):
        def __init__(self) -> None:
            super().__init__()
            self.after_drift_line: list[bool] = []

        def send(self, topic: str, messages: Sequence[bytes]) -> None:
            logged = [r for r in caplog.records if r.getMessage().startswith("drift starts")]
            self.after_drift_line.append(bool(logged))
            super().send(topic, messages)

    publisher = Noting()
    run(FakeClock(), publisher, drift_after=5.0)

    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == ("publishing the demo stream: predictions to test.predictions, "
                           "outcomes to test.outcomes; drift starts in 5 s; for 10 s")
    assert [m for m in messages if "drift" in m and m != messages[0]] == [
        "drift starts at 2023-11-14T22:13:25.000Z"]
    for (topic, batch), after in zip(publisher.sent, publisher.after_drift_line, strict=True):
        if topic == TOPICS.predictions:
            drifted = {orjson.loads(m)["ts"] >= START + 5.0 for m in batch}
            assert drifted == {after}
    assert publisher.after_drift_line.count(False) > 0 and publisher.after_drift_line[-1]


def test_no_drift_line_when_the_run_ends_first(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="driftd.service.demo_producer")

    run(FakeClock(), FakePublisher(), duration=2.0, drift_after=5.0)

    assert not [r for r in caplog.records if "drift starts at" in r.getMessage()]


def test_publisher_errors_reach_the_caller() -> None:
    """The third send fails: the loop does not swallow it (the CLI exits non-zero)."""
    publisher = FakePublisher(fail_after=2)

    with pytest.raises(ConnectionError, match="broker unreachable"):
        run(FakeClock(), publisher)
    assert len(publisher.sent) == 2


def test_topics_exist_only_for_the_two_demo_streams() -> None:
    assert TOPICS.for_stream("outcomes") == "test.outcomes"
    with pytest.raises(ValueError, match="stream must be predictions or outcomes"):
        TOPICS.for_stream("features")


def test_iso_time_is_utc_with_milliseconds() -> None:
    assert iso_time(START + 5.0) == "2023-11-14T22:13:25.000Z"
