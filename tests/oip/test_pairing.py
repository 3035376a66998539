"""Pairing requests with responses: either order, expiry in event time, bounds,
duplicates, and a restart from the checkpoint database in the middle of pairing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from driftd.oip.pairing import Half, MemoryHalves, Pairing
from driftd.oip.payload import parse
from driftd.service.checkpoint import Checkpoint, CheckpointStore


def half(request_id: str, role: str, time: float, rows: int = 1) -> Half:
    body = (b'{"instances": [%s]}' % b", ".join([b"[1, 2]"] * rows) if role == "request"
            else b'{"predictions": [%s]}' % b", ".join([b"0.5"] * rows))
    return Half(request_id, role, parse(body, "json", role), time,  # type: ignore[arg-type]
                f"{role}@{request_id}", body, "json")


def exchanges(count: int, seed: int) -> list[Half]:
    """``count`` requests one second apart, each response 0.1 to 3 s later, shuffled
    within 5 s (as two topics read at different paces deliver them)."""
    rng = random.Random(seed)
    halves = []
    for i in range(count):
        halves.append(half(f"r{i}", "request", float(i)))
        halves.append(half(f"r{i}", "response", i + rng.uniform(0.1, 3.0)))
    return sorted(halves, key=lambda h: h.time + rng.uniform(-5, 5))


def pair_all(pairing: Pairing, halves: list[Half], cut: int) -> tuple[list[str], list[str]]:
    pairs, unpaired = [], []
    for start in range(0, len(halves), cut):
        done = pairing.add(halves[start:start + cut])
        pairs += [p.request.id for p in done.pairs]
        unpaired += [f"{u.reason}:{u.half.id}" for u in done.unpaired]
    return pairs, unpaired


def test_halves_pair_in_either_order_whatever_the_batch_cut() -> None:
    """Scenario: 300 requests and responses interleaved out of order (responses before
    their requests for some), fed in batches of 1, 7 and 600. Expected: all 300 pair,
    none unpaired, nothing left waiting; each pair has its request's time."""
    halves = exchanges(300, seed=3)
    assert any(h.role == "response" and halves.index(h) < halves.index(
        next(x for x in halves if x.id == h.id and x.role == "request")) for h in halves)
    for cut in (1, 7, 600):
        pairing = Pairing("m", MemoryHalves(), timeout_seconds=10, max_pending=1000)
        pairs, unpaired = pair_all(pairing, halves, cut)
        assert sorted(pairs) == sorted(f"r{i}" for i in range(300))
        assert unpaired == [] and len(pairing) == 0


def test_a_half_expires_when_both_streams_have_passed_it_by_the_timeout() -> None:
    """Scenario: timeout 10 s; request a at t=0 never answered; responses only from
    t=5 to t=9 (others' requests keep coming, up to t=30); then a response at t=11 for
    an unknown request z. Expected: a expires only once the response stream passes 10
    (not while requests alone run ahead); z expires when both streams pass 21."""
    pairing = Pairing("m", MemoryHalves(), timeout_seconds=10, max_pending=100)
    assert pairing.add([half("a", "request", 0.0)]).unpaired == []
    for t in range(1, 31):  # requests far ahead: the response stream holds the clock back
        assert pairing.add([half(f"q{t}", "request", float(t))]).unpaired == []
    assert pairing.add([half("q5", "response", 9.0)]).unpaired == []
    gone = pairing.add([half("z", "response", 11.0)]).unpaired
    assert [(u.reason, u.half.id) for u in gone] == [("unpaired_request", "a")]
    assert "no response within pair_timeout_seconds 10" in gone[0].detail
    assert pairing.clock() == 11.0
    gone = pairing.add([half("q30", "response", 31.0)]).unpaired
    assert ("unpaired_response", "z") in [(u.reason, u.half.id) for u in gone]


def test_a_partition_read_ahead_does_not_expire_the_halves_of_another() -> None:
    """Scenario: timeout 5 s; lane (partition) 1's responses of t=0..2 wait; lane 0's
    requests and responses up to t=100 are read (a consumer far ahead on partition 0);
    then lane 1's requests. Expected: nothing expires in lane 1 meanwhile; its three
    requests pair; lane 0's clock is 100, lane 1's is 2."""
    pairing = Pairing("m", MemoryHalves(), timeout_seconds=5, max_pending=1000)

    def on(lane: str, h: Half) -> Half:
        return Half(h.id, h.role, h.payload, h.time, h.origin, h.raw, h.encoding, lane)

    waiting = [on("1", half(f"b{t}", "response", t + 0.1)) for t in range(3)]
    assert pairing.add(waiting).unpaired == []
    ahead = [on("0", half(f"a{t}", role, float(t))) for t in range(101)
             for role in ("request", "response")]
    done = pairing.add(ahead)
    assert len(done.pairs) == 101 and done.unpaired == []
    done = pairing.add([on("1", half(f"b{t}", "request", float(t))) for t in range(3)])
    assert [p.request.id for p in done.pairs] == ["b0", "b1", "b2"] and done.unpaired == []
    assert (pairing.clock("0"), pairing.clock("1")) == (100.0, 2.0)


def test_halves_too_far_apart_never_pair() -> None:
    """Scenario: timeout 10 s, a request at t=0 and its response at t=50, nothing else.
    Expected: no pair; the request is reported unpaired, the response waits."""
    pairing = Pairing("m", MemoryHalves(), timeout_seconds=10, max_pending=100)
    pairing.add([half("a", "request", 0.0)])
    done = pairing.add([half("a", "response", 50.0)])
    assert done.pairs == [] and [u.reason for u in done.unpaired] == ["unpaired_request"]
    assert len(pairing) == 1


def test_max_pending_pushes_out_the_oldest() -> None:
    """Scenario: max_pending 3; five requests without responses at t=5,1,4,2,3.
    Expected: the two oldest (t=1, then t=2) are pushed out and counted; three wait."""
    pairing = Pairing("m", MemoryHalves(), timeout_seconds=100, max_pending=3)
    done = pairing.add([half(f"r{t}", "request", float(t)) for t in (5, 1, 4, 2, 3)])
    assert [(u.reason, u.half.id) for u in done.unpaired] == [
        ("unpaired_request", "r1"), ("unpaired_request", "r2")]
    assert "max_pending 3" in done.unpaired[0].detail
    assert len(pairing) == 3


def test_a_duplicate_half_is_reported_and_the_first_stands() -> None:
    """Scenario: request d twice (the producer retried), then its response; later the
    response again. Expected: the second request is a duplicate_request; one pair with
    the first request's origin; the late duplicate response waits (its pair was made)."""
    pairing = Pairing("m", MemoryHalves(), timeout_seconds=10, max_pending=100)
    first = half("d", "request", 1.0)
    retry = Half("d", "request", first.payload, 1.5, "retry", first.raw, "json")
    done = pairing.add([first, retry, half("d", "response", 2.0)])
    assert [(u.reason, u.half.origin) for u in done.unpaired] == [("duplicate_request", "retry")]
    assert [p.request.origin for p in done.pairs] == ["request@d"]
    again = pairing.add([half("d", "response", 2.5)])
    assert again.pairs == [] and again.unpaired == [] and len(pairing) == 1


def test_settings_are_checked() -> None:
    """Scenario: a zero timeout, no room. Expected: errors naming the parameter."""
    with pytest.raises(ValueError, match="timeout_seconds must be > 0"):
        Pairing("m", MemoryHalves(), timeout_seconds=0, max_pending=1)
    with pytest.raises(ValueError, match="max_pending must be at least 1"):
        Pairing("m", MemoryHalves(), timeout_seconds=1, max_pending=0)


def test_a_restart_from_the_checkpoint_neither_loses_nor_repeats_a_pair(
        tmp_path: Path) -> None:
    """Scenario: 200 exchanges fed in batches of 9 to a pairing in a checkpoint database;
    a checkpoint after batch 10; more batches written but not checkpointed (the crash
    rolls them back); a new process reopens the database and feeds the halves from the
    checkpoint's position on. Expected: the pairs and unpaired halves of the first run up
    to the checkpoint plus those of the second equal those of one uninterrupted run, each
    exactly once, and the waiting halves' payloads come back exactly."""
    halves = exchanges(200, seed=8)
    halves.insert(40, half("lonely", "request", 19.0))
    batches = [halves[i:i + 9] for i in range(0, len(halves), 9)]

    def run(pairing: Pairing, todo: list[list[Half]]) -> list[str]:
        seen = []
        for batch in todo:
            done = pairing.add(batch)
            seen += [f"pair:{p.request.id}:{p.request.time}" for p in done.pairs]
            seen += [f"{u.reason}:{u.half.id}" for u in done.unpaired]
        return seen

    expected = run(Pairing("m", MemoryHalves(), timeout_seconds=5, max_pending=1000), batches)
    path = tmp_path / "state.db"
    store = CheckpointStore(path)
    pairing = Pairing("m", store.halves(), timeout_seconds=5, max_pending=1000)
    before = run(pairing, batches[:10])
    store.save(Checkpoint(1.0, {("t", 0): 10}))
    waiting = {key: h.payload for key, (_, h) in pairing._waiting.items()}
    clock = pairing.clock()
    run(pairing, batches[10:14])  # never checkpointed: lost with the crash
    store.close()
    store = CheckpointStore(path)
    again = Pairing("m", store.halves(), timeout_seconds=5, max_pending=1000)
    assert {key: h.payload for key, (_, h) in again._waiting.items()} == waiting
    assert again.clock() == clock and len(waiting) > 0
    after = run(again, batches[10:])
    assert before + after == expected
    assert "unpaired_request:lonely" in expected
    store.close()
