"""Decode throughput by payload format: bytes -> ModelBatch for JSON, Avro and Protobuf
(Confluent wire format), in one run, as a ratio to JSON.

Every case decodes the same standard-workload events (20 numeric columns with 1%
missing, 4 categorical) in batches of 5,000 messages of one event each, through the
daemon's path: the topic's translator (``driftd.wire``, schema from a file) and then
``Decoder.decode_objects``; JSON through ``Decoder.decode``. Rounds are interleaved and
the median is reported. A case is a function in ``CASES`` that turns events into
messages and the translator of its topic (None: driftd's own JSON), so a format (an
Open Inference Protocol case) is one more entry.

Usage: python benchmarks/payloads.py [--rows 100000] [--rounds 5] [--cases json,avro]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import orjson  # noqa: E402

import workload  # noqa: E402
from driftd.config import KafkaSourceConfig  # noqa: E402
from driftd.events import Decoder  # noqa: E402
from driftd.service.pipeline import Translator  # noqa: E402
from driftd.sources.base import RawBatch  # noqa: E402
from driftd.wire.framing import frame  # noqa: E402
from driftd.wire.translator import wire_translators  # noqa: E402

BATCH = 5_000
SCHEMA_ID = 1

# events -> (messages, the topic's translator or None for JSON events); ``directory``
# is where a case may write its schema files.
Case = Callable[[list[dict[str, Any]], Path], tuple[list[bytes], Translator | None]]


def json_case(events: list[dict[str, Any]], directory: Path
              ) -> tuple[list[bytes], Translator | None]:
    return [orjson.dumps(e) for e in events], None


def _translator(directory: Path, format: str, schema_file: Path) -> Translator:
    source = KafkaSourceConfig(bootstrap_servers="localhost:9092",
                               topics=[{"name": "bench", "format": format}],
                               schema_files={SCHEMA_ID: str(schema_file)})
    return wire_translators(source)["bench"]


def avro_case(events: list[dict[str, Any]], directory: Path
              ) -> tuple[list[bytes], Translator | None]:
    import fastavro

    schema = {"type": "record", "name": "Event", "namespace": "bench", "fields": [
        {"name": "model", "type": "string"}, {"name": "id", "type": "string"},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "features", "type": {"type": "record", "name": "Features", "fields": [
            {"name": n, "type": ["null", "double"]} for n in workload.NUMERIC] + [
            {"name": n, "type": "string"} for n in workload.CATEGORICAL]}}]}
    path = directory / "event.avsc"
    path.write_text(json.dumps(schema))
    parsed = fastavro.parse_schema(schema)
    messages = []
    for event in events:
        out = io.BytesIO()
        fastavro.schemaless_writer(out, parsed, {**event, "ts": round(event["ts"] * 1000)})
        messages.append(frame(SCHEMA_ID, out.getvalue()))
    return messages, _translator(directory, "avro", path)


def protobuf_case(events: list[dict[str, Any]], directory: Path
                  ) -> tuple[list[bytes], Translator | None]:
    from google.protobuf import descriptor_pool, message_factory

    from driftd.wire.protobuf import compile_proto

    features = "\n".join([f"  optional double {n} = {i + 1};"
                          for i, n in enumerate(workload.NUMERIC)]
                         + [f"  string {n} = {21 + i};"
                            for i, n in enumerate(workload.CATEGORICAL)])
    text = ('syntax = "proto3";\npackage bench;\nimport "google/protobuf/timestamp.proto";\n'
            "message Event { string model = 1; string id = 2; "
            "google.protobuf.Timestamp ts = 3; Features features = 4; }\n"
            f"message Features {{\n{features}\n}}\n")
    path = directory / "event.proto"
    path.write_text(text)
    pool = descriptor_pool.DescriptorPool()
    for file in compile_proto({"event.proto": text}, "event.proto"):
        pool.Add(file)
    event_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("bench.Event"))
    messages = []
    for event in events:
        message = event_class(model=event["model"], id=event["id"])
        seconds, millis = divmod(round(event["ts"] * 1000), 1000)
        message.ts.seconds, message.ts.nanos = seconds, millis * 1_000_000
        for name, value in event["features"].items():
            if value is not None:
                setattr(message.features, name, value)
        messages.append(frame(SCHEMA_ID, message.SerializeToString(), (0,)))
    return messages, _translator(directory, "protobuf", path)


CASES: dict[str, Case] = {"json": json_case, "avro": avro_case, "protobuf": protobuf_case}


def decode_seconds(decoder: Decoder, batches: list[list[bytes]],
                   translator: Translator | None) -> float:
    """Seconds to turn every batch into ModelBatches (checking nothing was rejected)."""
    started = time.perf_counter()
    for messages in batches:
        origins = [f"bench[0]@{i}" for i in range(len(messages))]
        if translator is None:
            decoded = decoder.decode(messages, 2e9, origins)
        else:
            translated = translator.translate(RawBatch("predictions", messages, origins,
                                                       key="bench"), 2e9)
            decoded = decoder.decode_objects(translated.objects, 2e9, translated.origins)
            decoded.rejections[:0] = translated.rejections
        assert not decoded.rejections, decoded.rejections[:3]
        assert len(decoded.models["bench"]) == len(messages)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", default=",".join(CASES),
                        help=f"comma-separated, from {', '.join(CASES)} (json first)")
    args = parser.parse_args()
    names = args.cases.split(",")
    events = list(workload.events(args.rows, drift_after=args.rows // 2))
    decoder = Decoder({"bench": workload.columns()})
    prepared: dict[str, tuple[list[list[bytes]], Translator | None, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        for name in names:
            messages, translator = CASES[name](events, Path(directory))
            size = sum(map(len, messages)) / len(messages)
            prepared[name] = ([messages[i:i + BATCH] for i in range(0, len(messages), BATCH)],
                              translator, size)
        times: dict[str, list[float]] = {name: [] for name in names}
        for _ in range(args.rounds):
            for name, (batches, translator, _) in prepared.items():
                times[name].append(decode_seconds(decoder, batches, translator))
    base = statistics.median(times[names[0]])
    print(f"{args.rows:,} events, batches of {BATCH:,}, median of {args.rounds} rounds")
    print(f"{'case':<10} {'bytes/event':>12} {'events/s':>12} {'vs ' + names[0]:>10}")
    for name in names:
        median = statistics.median(times[name])
        print(f"{name:<10} {prepared[name][2]:>12.0f} {args.rows / median:>12,.0f} "
              f"{base / median:>9.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
