"""OIP throughput: Seldon-shaped Protobuf requests and responses -> ModelBatch, next to
the same rows as driftd JSON events, in one run.

Each row has 8 numeric features and a prediction. JSON: one event a message through
``Decoder.decode``. OIP: a ``ModelInferRequest`` (FP32 [n, 8], raw contents as Seldon
and Triton clients send them, or typed contents) and its ``ModelInferResponse`` (FP32
[n]) per inference, with ``x-request-id`` headers, through the topics' translators
(parse, pair in the checkpoint database's store, row objects) and
``Decoder.decode_objects``; requests and responses in alternate batches of 5,000
messages. Rounds are interleaved; the median is reported, as events (rows) per second
and as a ratio to JSON.

Usage: python benchmarks/oip.py [--rows 100000] [--rounds 5] [--batch-rows 1,8]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import orjson  # noqa: E402

from driftd.config import ColumnConfig, KafkaSourceConfig  # noqa: E402
from driftd.events import Decoder  # noqa: E402
from driftd.oip import protobuf  # noqa: E402
from driftd.service.checkpoint import CheckpointStore  # noqa: E402
from driftd.service.oip_topics import oip_translators  # noqa: E402
from driftd.sources.base import RawBatch  # noqa: E402

BATCH = 5_000
FEATURES = [f"f{i}" for i in range(8)]
REQUESTS, RESPONSES = "seldon.bench.model.m.inputs", "seldon.bench.model.m.outputs"
T0 = 1.9e9


def columns(oip: bool) -> list[ColumnConfig]:
    found = [ColumnConfig(name=n, kind="numeric", path=f"inputs.x[{i}]" if oip else None)
             for i, n in enumerate(FEATURES)]
    return found + [ColumnConfig(name="score", kind="numeric", role="prediction",
                                 path="outputs.score" if oip else None)]


def json_messages(x: np.ndarray, score: np.ndarray) -> list[bytes]:
    return [orjson.dumps({"model": "m", "id": f"r{i}", "ts": T0 + i / 1000,
                          "features": dict(zip(FEATURES, row, strict=True)),
                          "prediction": float(score[i])})
            for i, row in enumerate(x.tolist())]


def oip_messages(x: np.ndarray, score: np.ndarray, rows: int, raw: bool
                 ) -> list[tuple[str, bytes, float]]:
    """(request id, request, time) and (request id, response, time) per inference."""
    requests, responses = [], []
    for k, start in enumerate(range(0, len(x), rows)):
        block, scores = x[start:start + rows], score[start:start + rows]
        request = protobuf.ModelInferRequest(model_name="m")
        tensor = request.inputs.add(name="x", datatype="FP32", shape=[len(block), 8])
        if raw:
            request.raw_input_contents.append(block.astype("<f4").tobytes())
        else:
            tensor.contents.fp32_contents.extend(block.ravel().tolist())
        response = protobuf.ModelInferResponse(model_name="m_1")
        response.outputs.add(name="score", datatype="FP32", shape=[len(block)]
                             ).contents.fp32_contents.extend(scores.tolist())
        t = T0 + start / 1000
        requests.append((f"r{k}", request.SerializeToString(), t))
        responses.append((f"r{k}", response.SerializeToString(), t + 0.01))
    return [m for pair in zip(requests, responses, strict=True) for m in pair]


def raw_batches(messages: list[tuple[str, bytes, float]]) -> list[RawBatch]:
    """Batches of requests, then of their responses, alternating."""
    found = []
    for role, topic in ((0, REQUESTS), (1, RESPONSES)):
        mine = messages[role::2]
        for start in range(0, len(mine), BATCH):
            part = mine[start:start + BATCH]
            found.append((start, role, RawBatch(
                "predictions", [m for _, m, _ in part],
                [f"{topic}[0]@{start + i}" for i in range(len(part))], key=topic,
                partition=f"{topic}[0]", headers=[{"x-request-id": i.encode()} for i, _, _ in part],
                times=[t for _, _, t in part])))
    return [b for _, _, b in sorted(found, key=lambda f: (f[0], f[1]))]


def oip_seconds(batches: list[RawBatch], expected: int) -> float:
    store = CheckpointStore(Path(":memory:"))
    source = KafkaSourceConfig(bootstrap_servers="localhost:9092", topics=[
        {"name": REQUESTS, "format": "oip", "oip": {"role": "request", "model": "m"}},
        {"name": RESPONSES, "format": "oip", "oip": {"role": "response"}}])
    translators = oip_translators(source.topics, store.halves(), 64 * 1_048_576)
    decoder = Decoder({"m": columns(oip=True)})
    rows = 0
    started = time.perf_counter()
    for raw in batches:
        translated = translators[raw.key].translate(raw, T0)
        decoded = decoder.decode_objects(translated.objects, T0, translated.origins)
        assert not translated.rejections and not decoded.rejections, translated.rejections[:3]
        rows += len(decoded.models["m"]) if decoded.models else 0
    store.commit()
    took = time.perf_counter() - started
    store.close()
    assert rows == expected, (rows, expected)
    return took


def json_seconds(batches: list[list[bytes]], expected: int) -> float:
    decoder = Decoder({"m": columns(oip=False)})
    started = time.perf_counter()
    rows = sum(len(decoder.decode(b, T0).models["m"]) for b in batches)
    took = time.perf_counter() - started
    assert rows == expected
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-rows", default="1,8",
                        help="rows per inference request, comma-separated")
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(args.rows, 8)).astype("<f4").astype(np.float64)
    score = rng.random(args.rows).astype("<f4").astype(np.float64)
    messages = json_messages(x, score)
    cases: dict[str, Any] = {"json": [messages[i:i + BATCH]
                                      for i in range(0, len(messages), BATCH)]}
    sizes = {"json": sum(map(len, messages)) / args.rows}
    for rows in map(int, args.batch_rows.split(",")):
        for raw in (True, False):
            name = f"oip {rows} row{'s' if rows > 1 else ''} {'raw' if raw else 'typed'}"
            exchanged = oip_messages(x, score, rows, raw)
            sizes[name] = sum(len(m) for _, m, _ in exchanged) / args.rows
            cases[name] = raw_batches(exchanged)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, batches in cases.items():
            run = json_seconds if name == "json" else oip_seconds
            times[name].append(run(batches, args.rows))
    base = statistics.median(times["json"])
    print(f"{args.rows:,} rows of 8 features and a score, median of {args.rounds} rounds")
    print(f"{'case':<20} {'bytes/row':>10} {'rows/s':>12} {'vs json':>8}")
    for name in cases:
        median = statistics.median(times[name])
        print(f"{name:<20} {sizes[name]:>10.0f} {args.rows / median:>12,.0f} "
              f"{base / median:>7.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
