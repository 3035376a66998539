"""Schema ids to ready decoders: schema files first, then the registry, with a bounded
cache, a short memory of ids that failed, and a backoff while the registry is down.

Registry time is bounded per batch: every request waits at most what is left of the
batch's budget (``timeout_seconds``), so one batch never holds the main loop longer.
While the registry does not answer, ids not in the cache fail at once (no request)
until ``retry_seconds`` have passed; ids already cached keep decoding.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from driftd.wire.registry import (
    Reference,
    RegisteredSchema,
    RegistryError,
    RegistryUnavailable,
    SchemaRegistry,
    UnknownSchema,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SchemaProblem(Exception):
    """Why a schema id cannot be used: ``reason`` is the rejection reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class UnusableSchema(ValueError):
    """A schema that does not parse, compile, or is of another format (raised by the
    format's compiler)."""


class Fetch:
    """The registry calls of one lookup, each waiting at most what is left of the
    batch's budget."""

    def __init__(self, registry: SchemaRegistry, deadline: float, timeout: float,
                 clock: Callable[[], float]) -> None:
        self._registry, self._deadline = registry, deadline
        self._timeout, self._clock = timeout, clock

    def by_id(self, schema_id: int, format: str = "") -> RegisteredSchema:
        return self._registry.by_id(schema_id, self._left(), format)

    def by_reference(self, reference: Reference, format: str = "") -> RegisteredSchema:
        return self._registry.by_version(reference, self._left(), format)

    def _left(self) -> float:
        left = min(self._timeout, self._deadline - self._clock())
        if left <= 0:
            raise _BudgetSpent(f"this batch's registry time ({self._timeout:g} s) is spent")
        return left


class _BudgetSpent(RegistryUnavailable):
    pass


# (schema id, the registry calls) -> a decoder; raises UnusableSchema, or the registry's
# UnknownSchema / RegistryUnavailable / RegistryError.
Compile = Callable[[int, Fetch], T]


@dataclass(frozen=True, slots=True)
class CacheLimits:
    """How many decoders are kept, how long a failed id is remembered, and how long
    the registry is left alone after it did not answer."""

    size: int = 1000
    failed_ttl_seconds: float = 30.0
    retry_seconds: float = 5.0
    timeout_seconds: float = 5.0


class Schemas(Generic[T]):
    """The decoder for each schema id (``get``), raising SchemaProblem."""

    def __init__(self, compile: Compile[T], files: Mapping[int, T],
                 registry: SchemaRegistry | None, limits: CacheLimits | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._compile, self._files, self._registry = compile, dict(files), registry
        self._limits = limits or CacheLimits()
        self._clock = clock
        self._cache: OrderedDict[int, T] = OrderedDict()
        self._failed: OrderedDict[int, tuple[float, SchemaProblem]] = OrderedDict()
        self._down_until: float | None = None  # the registry failed: not asked until then

    def budget(self) -> float:
        """The deadline of a batch starting now (pass it to ``get``)."""
        return self._clock() + self._limits.timeout_seconds

    def get(self, schema_id: int, deadline: float) -> T:
        found = self._files.get(schema_id)
        if found is not None:
            return found
        cached = self._cache.get(schema_id)
        if cached is not None:
            self._cache.move_to_end(schema_id)
            return cached
        now = self._clock()
        failed = self._failed.get(schema_id)
        if failed is not None:
            if failed[0] > now:
                raise failed[1]
            del self._failed[schema_id]
        if self._registry is None:
            raise SchemaProblem("unknown_schema", f"schema id {schema_id} is not in "
                                "schema_files (and no schema_registry is configured)")
        if self._down_until is not None and now < self._down_until:
            raise SchemaProblem("schema_registry_unavailable", f"schema id {schema_id}: the "
                                f"registry at {self._registry.url} is not answering")
        return self._fetch(schema_id, deadline)

    def _fetch(self, schema_id: int, deadline: float) -> T:
        assert self._registry is not None
        fetch = Fetch(self._registry, deadline, self._limits.timeout_seconds, self._clock)
        try:
            decoder = self._compile(schema_id, fetch)
        except _BudgetSpent as error:
            raise SchemaProblem("schema_registry_unavailable",
                                f"schema id {schema_id}: {error}") from None
        except RegistryUnavailable as error:
            self._went_down(str(error))
            raise SchemaProblem("schema_registry_unavailable",
                                f"schema id {schema_id}: {error}") from None
        except UnknownSchema as error:
            raise self._remember(schema_id, "unknown_schema",
                                 f"schema id {schema_id} is not registered ({error})") from None
        except (RegistryError, UnusableSchema) as error:
            raise self._remember(schema_id, "unusable_schema",
                                 f"schema id {schema_id}: {error}") from None
        if self._down_until is not None:
            logger.info("schema registry %s answers again", self._registry.url)
            self._down_until = None
        self._cache[schema_id] = decoder
        while len(self._cache) > self._limits.size:
            self._cache.popitem(last=False)
        return decoder

    def _went_down(self, error: str) -> None:
        assert self._registry is not None
        if self._down_until is None:
            logger.warning(
                "schema registry %s is not answering: %s. Messages with a schema id not "
                "cached yet are counted as schema_registry_unavailable and dead-lettered "
                "(asking again every %g s)", self._registry.url, error,
                self._limits.retry_seconds)
        self._down_until = self._clock() + self._limits.retry_seconds

    def _remember(self, schema_id: int, reason: str, detail: str) -> SchemaProblem:
        problem = SchemaProblem(reason, detail)
        self._failed[schema_id] = (self._clock() + self._limits.failed_ttl_seconds, problem)
        while len(self._failed) > self._limits.size:
            self._failed.popitem(last=False)
        return problem
