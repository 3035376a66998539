"""The metrics server of a daemon: its collector, what describes the models, its limits."""

from __future__ import annotations

import functools
import logging
import platform
from collections.abc import Callable, Iterable, Mapping

from driftd import __version__
from driftd.config import Config
from driftd.config.service import HttpConfig
from driftd.monitor.results import ResultBoard
from driftd.reference.calibration import EstimateReliability, estimate_reliability
from driftd.reference.profile import Profile
from driftd.service.health import Health
from driftd.sinks.http import HttpLimits, HttpServer
from driftd.sinks.prometheus import DriftdCollector, build_registry, render
from driftd.telemetry import Telemetry

logger = logging.getLogger(__name__)

ModelDescriptions = tuple[Mapping[str, Mapping[str, str]], Mapping[str, tuple[str, int]],
                          Iterable[EstimateReliability]]


def metrics_server(config: Config, profiles: Mapping[str, Profile], board: ResultBoard,
                   telemetry: Telemetry, health: Health, *,
                   reload: Callable[[], str | None] | None = None,
                   ) -> tuple[HttpServer, DriftdCollector]:
    """The HTTP server of /metrics and the probes (not started), and its collector."""
    references, rows, estimates = describe_models(config, profiles)
    collector = DriftdCollector(board, telemetry, references=references, reference_rows=rows,
                                estimates=estimates, build={
                                    "version": __version__,
                                    "python": platform.python_version()})
    registry = build_registry(collector)
    server = HttpServer(config.http.host, config.http.port,
                        exposition=functools.partial(render, registry), health=health,
                        web_config=config.http.web_config_file,
                        authenticate_probes=config.http.authenticate_probes,
                        reload=reload, limits=http_limits(config.http))
    return server, collector


def http_limits(http: HttpConfig) -> HttpLimits:
    """The connection bounds of ``http``, for every HTTP listener of driftd."""
    return HttpLimits(max_connections=http.max_connections,
                      read_timeout_seconds=http.read_timeout_seconds,
                      idle_timeout_seconds=http.idle_timeout_seconds,
                      write_timeout_seconds=http.write_timeout_seconds,
                      max_request_head_bytes=http.max_request_head_bytes)


def describe_models(config: Config, profiles: Mapping[str, Profile]) -> ModelDescriptions:
    """The reference labels of each model, its reference's version and rows, and how its
    label-free estimate did on the labelled reference (``DriftdCollector.set_models``)."""
    references = {name: {"reference": p.version} for name, p in profiles.items()}
    return references, _rows(profiles), _estimates(config, profiles)


def _rows(profiles: Mapping[str, Profile]) -> dict[str, tuple[str, int]]:
    """Per model, its reference version and the rows it was built from."""
    return {name: (profile.version, profile.rows) for name, profile in profiles.items()}


def _estimates(config: Config, profiles: Mapping[str, Profile]) -> list[EstimateReliability]:
    """How each model's label-free estimate did on its labelled reference; a warning for
    each one that missed by more than its tolerance."""
    found = []
    for model in config.models:
        profile = profiles.get(model.name)
        estimate = estimate_reliability(model.name, profile.calibration if profile else None,
                                        model.performance)
        if estimate is None:
            continue
        if estimate.unreliable:
            logger.warning("model %s: %s; driftd_performance_estimated may be off by as much "
                           "(label more reference data, or check the model's scores)",
                           model.name, estimate.describe())
        found.append(estimate)
    return found
