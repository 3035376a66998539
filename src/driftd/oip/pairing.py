"""Requests paired with their responses by request id, with a bounded wait.

A model server writes each inference twice: the request and, a little later, the
response (Seldon Core 2: two Kafka topics; KServe's payload logger: two CloudEvents).
Either half may come first. A half waits for its other half in the pairing's store.

**Clock.** Waiting is measured in event time (the halves' own times, e.g. the Kafka
record timestamps), never the clock on the wall, so that what pairs is a function of the
events, not of how fast or in which order they were read: a replay, a restart or a
consumer catching up after lag pairs the same halves. Halves come in lanes (a Kafka
partition number: Seldon writes a response to the partition number of its request; one
lane for an HTTP receiver). A lane's clock is the older of the newest request time and
the newest response time it has seen: a topic or a partition read far ahead of the
others does not expire the halves they have not delivered yet, and a lane whose other
side is silent expires nothing (nothing could pair either; ``max_pending`` bounds it).
A half expires once its lane's clock is more than ``timeout_seconds`` past its time; a
request and a response whose times are further apart than that never pair (whichever
came first is reported). Halves pair by id across lanes, but expire by their own lane.

**Bounds.** At most ``max_pending`` halves wait; beyond, the oldest is pushed out.
Expired and pushed-out halves are reported as ``unpaired_request`` or
``unpaired_response`` with their bytes (for the dead-letter topic).

**Duplicates.** A half whose id and role are already waiting is reported as
``duplicate_request`` / ``duplicate_response`` and dropped: the first one stands. A
duplicate that comes after its pair was made waits as a new half and expires unpaired.

**Durability.** Every change goes to the store in the open transaction of the
checkpoint database; a restart loads the halves again (re-reading their bytes with the
same parser), so a crash neither loses nor repeats a row.

>>> from driftd.oip.payload import parse
>>> store = MemoryHalves()
>>> pairing = Pairing("iris", store, timeout_seconds=10, max_pending=100)
>>> def half(id, role, t, body):
...     return Half(id, role, parse(body, "json", role), t, f"#{id}", body, "json")
>>> pairing.add([half("a", "response", 1.0, b'{"predictions": [1]}')]).pairs
[]
>>> done = pairing.add([half("a", "request", 0.5, b'{"instances": [[3, 4]]}')])
>>> [(p.request.id, p.response.time) for p in done.pairs], len(pairing)
([('a', 1.0)], 0)
>>> _ = pairing.add([half("b", "request", 2.0, b'{"instances": [[1, 2]]}')])
>>> late = pairing.add([half("c", "request", 30.0, b'{"instances": [[1, 2]]}'),
...                     half("d", "response", 31.0, b'{"predictions": [0]}')])
>>> [(u.half.id, u.reason) for u in late.unpaired]
[('b', 'unpaired_request')]
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from driftd.logs import origin_fields
from driftd.oip.payload import Payload, PayloadError, Role, parse

logger = logging.getLogger(__name__)

ROLES: tuple[Role, Role] = ("request", "response")
# id, role, seq, ts, origin, encoding, body, lane
StoredHalf = tuple[str, str, int, float, str, str, bytes, str]


@dataclass(frozen=True, slots=True)
class Half:
    """One side of an inference: its id, role, parsed payload, event time, where it came
    from (``topic[p]@offset``, an HTTP receiver...), its bytes with the encoding that
    parses them again (``payload.parse``) after a restart, and its lane (whose clock
    expires it: the partition number)."""

    id: str
    role: Role
    payload: Payload
    time: float
    origin: str
    raw: bytes
    encoding: str
    lane: str = ""


@dataclass(frozen=True, slots=True)
class Pair:
    request: Half
    response: Half


@dataclass(frozen=True, slots=True)
class Unpaired:
    """A half that will not be paired: why (a reason to count) and the details."""

    half: Half
    reason: str
    detail: str


@dataclass(slots=True)
class Paired:
    """What adding halves completed, in order, and what was given up on."""

    pairs: list[Pair] = field(default_factory=list)
    unpaired: list[Unpaired] = field(default_factory=list)


class HalfStore(Protocol):
    """Where waiting halves are kept (``service.checkpoint.HalfStore``), with the newest
    time per ``role@lane``."""

    def load(self, group: str) -> list[StoredHalf]: ...

    def clocks(self, group: str) -> dict[str, float]: ...

    def write(self, group: str, added: Sequence[StoredHalf],
              removed: Sequence[tuple[str, str]], clocks: Mapping[str, float]) -> None: ...


class MemoryHalves:
    """A ``HalfStore`` in memory, for tests and for sources without a checkpoint."""

    def __init__(self) -> None:
        self._halves: dict[str, dict[tuple[str, str], StoredHalf]] = {}
        self._clocks: dict[str, dict[str, float]] = {}

    def load(self, group: str) -> list[StoredHalf]:
        return sorted(self._halves.get(group, {}).values(), key=lambda h: (h[3], h[2]))

    def clocks(self, group: str) -> dict[str, float]:
        return dict(self._clocks.get(group, {}))

    def write(self, group: str, added: Sequence[StoredHalf],
              removed: Sequence[tuple[str, str]], clocks: Mapping[str, float]) -> None:
        halves = self._halves.setdefault(group, {})
        for key in removed:
            halves.pop(key, None)
        halves.update({(h[0], h[1]): h for h in added})
        self._clocks.setdefault(group, {}).update(clocks)


Parser = Callable[[bytes, str, str], Payload]


class Pairing:
    """Pairs the halves of one group (one model's requests and responses)."""

    def __init__(self, group: str, store: HalfStore, *, timeout_seconds: float,
                 max_pending: int, parser: Parser = parse) -> None:
        if not timeout_seconds > 0:
            raise ValueError("timeout_seconds must be > 0")
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.group, self._store = group, store
        self.timeout, self.max_pending = float(timeout_seconds), max_pending
        self._waiting: dict[tuple[str, str], tuple[int, Half]] = {}  # (id, role) -> seq, half
        self._queues: dict[str, list[tuple[float, int, str, str]]] = {}  # lane -> heap, lazy
        self._newest: dict[str, float] = {}  # "role@lane" -> newest time
        self._seq = 0
        self._added: dict[tuple[str, str], StoredHalf] = {}
        self._removed: set[tuple[str, str]] = set()
        self._restore(parser)

    def __len__(self) -> int:
        return len(self._waiting)

    def clock(self, lane: str = "") -> float:
        """The event time both roles have reached in ``lane`` (-inf until both have been
        seen there)."""
        newest = self._newest
        return min(newest.get(f"request@{lane}", -math.inf),
                   newest.get(f"response@{lane}", -math.inf))

    def add(self, halves: Sequence[Half]) -> Paired:
        """Pair these halves (in their order) with those waiting; the rest wait."""
        result = Paired()
        changed: dict[str, float] = {}
        for half in halves:
            self._add(half, result)
            name = f"{half.role}@{half.lane}"
            if half.time > self._newest.get(name, -math.inf):
                self._newest[name] = changed[name] = half.time
                self._expire(half.lane, result)
        self._flush(changed)
        return result

    def _add(self, half: Half, result: Paired) -> None:
        key = (half.id, half.role)
        if key in self._waiting:
            result.unpaired.append(Unpaired(half, f"duplicate_{half.role}",
                                            f"{half.role} {half.id} is already waiting "
                                            f"(from {self._waiting[key][1].origin})"))
            return
        other_key = (half.id, _other(half.role))
        other = self._waiting.get(other_key)
        if other is not None:
            self._remove(other_key)
            apart = abs(other[1].time - half.time)
            if apart <= self.timeout:
                request, response = (half, other[1]) if half.role == "request" \
                    else (other[1], half)
                result.pairs.append(Pair(request, response))
                return
            result.unpaired.append(self._gone(other[1], f"its {half.role} came {apart:.0f} s "
                                              f"apart (pair_timeout_seconds {self.timeout:g})"))
        self._wait(half, result)

    def _wait(self, half: Half, result: Paired) -> None:
        self._seq += 1
        key = (half.id, half.role)
        self._waiting[key] = (self._seq, half)
        heapq.heappush(self._queues.setdefault(half.lane, []),
                       (half.time, self._seq, half.id, half.role))
        self._added[key] = (half.id, half.role, self._seq, half.time, half.origin,
                            half.encoding, half.raw, half.lane)
        self._removed.discard(key)
        while len(self._waiting) > self.max_pending:
            oldest = self._pop_oldest()
            result.unpaired.append(self._gone(oldest, f"pushed out by newer halves "
                                              f"(max_pending {self.max_pending})"))

    def _expire(self, lane: str, result: Paired) -> None:
        limit = self.clock(lane) - self.timeout
        queue = self._queues.get(lane, [])
        while queue and queue[0][0] < limit:
            _, seq, id_, role = heapq.heappop(queue)
            found = self._waiting.get((id_, role))
            if found is not None and found[0] == seq:
                self._remove((id_, role))
                result.unpaired.append(self._gone(found[1], f"no {_other(role)} within "
                                                  f"pair_timeout_seconds {self.timeout:g}"))

    def _pop_oldest(self) -> Half:
        """The oldest waiting half (by time, then arrival), removed."""
        while True:
            queue = min((q for q in self._queues.values() if q), key=lambda q: q[0][:2])
            _, seq, id_, role = heapq.heappop(queue)
            found = self._waiting.get((id_, role))
            if found is not None and found[0] == seq:
                self._remove((id_, role))
                return found[1]

    def _remove(self, key: tuple[str, str]) -> None:
        del self._waiting[key]
        if self._added.pop(key, None) is None:
            self._removed.add(key)

    @staticmethod
    def _gone(half: Half, why: str) -> Unpaired:
        return Unpaired(half, f"unpaired_{half.role}", f"{half.role} {half.id}: {why}")

    def _flush(self, clocks: Mapping[str, float]) -> None:
        self._store.write(self.group, list(self._added.values()), sorted(self._removed),
                          clocks)
        self._added, self._removed = {}, set()

    def _restore(self, parser: Parser) -> None:
        self._newest.update(self._store.clocks(self.group))
        dropped: list[tuple[str, str]] = []
        for id_, role, seq, ts, origin, encoding, raw, lane in self._store.load(self.group):
            try:
                payload = parser(raw, encoding, role)
            except (PayloadError, ValueError) as error:  # it parsed once: a changed parser
                logger.warning("pairing %s: dropping waiting %s %s from %s: %s", self.group,
                               role, id_, origin, error, extra=origin_fields(origin))
                dropped.append((id_, role))
                continue
            half = Half(id_, role, payload, ts, origin, raw, encoding, lane)  # type: ignore[arg-type]
            self._waiting[(id_, role)] = (seq, half)
            self._queues.setdefault(lane, []).append((ts, seq, id_, role))
            self._seq = max(self._seq, seq)
        for queue in self._queues.values():
            heapq.heapify(queue)
        if dropped:
            self._store.write(self.group, [], dropped, {})


def _other(role: str) -> str:
    return "response" if role == "request" else "request"
