"""Fixtures: a webhook receiver, and factories for real Alertmanager and Prometheus servers.

- ``webhook_receiver``: a started :class:`WebhookReceiver`; ``.url`` for Alertmanager.
- ``alertmanager_factory(config, extra_args=())``: a started Alertmanager.
- ``prometheus_factory(config, rule_files=(), extra_args=())``: a started Prometheus.

Each server gets its own directory under ``tmp_path``; all are stopped, newest first,
when the test ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from alerting.servers import Alertmanager, Prometheus, WebhookReceiver


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A webhook receiver recording Alertmanager's notifications."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def alertmanager_factory(tmp_path: Path) -> Iterator[Callable[..., Alertmanager]]:
    """``make_alertmanager(config, extra_args=())``: a started Alertmanager."""
    started: list[Alertmanager] = []

    def make_alertmanager(
        config: str | Mapping[str, Any], extra_args: Sequence[str] = ()
    ) -> Alertmanager:
        manager = Alertmanager(config, tmp_path / f"alertmanager-{len(started)}", extra_args)
        manager.start()
        started.append(manager)
        return manager

    yield make_alertmanager
    for manager in reversed(started):
        manager.stop()


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[..., Prometheus]]:
    """``make_prometheus(config, rule_files=(), extra_args=())``: a started Prometheus."""
    started: list[Prometheus] = []

    def make_prometheus(
        config: Mapping[str, Any],
        rule_files: Sequence[Path | str] = (),
        extra_args: Sequence[str] = (),
    ) -> Prometheus:
        workdir = tmp_path / f"prometheus-{len(started)}"
        prometheus = Prometheus(config, rule_files, workdir, extra_args)
        prometheus.start()
        started.append(prometheus)
        return prometheus

    yield make_prometheus
    for prometheus in reversed(started):
        prometheus.stop()
