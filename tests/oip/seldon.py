"""Seldon Core 2 shaped OIP exchanges for the scenarios: Protobuf requests and responses
with their Kafka headers, and the same rows as flat driftd JSON events."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftd.config import ColumnConfig
from driftd.oip import protobuf
from driftd.reference.build import build_profile

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
CITIES = ("berlin", "paris", "rome", "ankara", "oslo")


def columns(flat: bool) -> list[dict[str, Any]]:
    """The iris model's columns: at OIP row-object paths, or at driftd's default paths
    (``features.<name>``, ``prediction``) for the flat JSON events."""
    found: list[dict[str, Any]] = [
        {"name": name, "kind": "numeric"} | ({} if flat else {"path": f"inputs.predict[{i}]"})
        for i, name in enumerate(FEATURES)]
    found.append({"name": "age", "kind": "numeric"} | ({} if flat else {"path": "inputs.age"}))
    found.append({"name": "city", "kind": "categorical"}
                 | ({} if flat else {"path": "inputs.city"}))
    found.append({"name": "species", "kind": "categorical", "role": "prediction"}
                 | ({} if flat else {"path": "outputs.predict"}))
    return found


@dataclass(frozen=True)
class Exchange:
    """One inference of ``rows`` rows: request id, time (epoch ms), both messages."""

    request_id: str
    time_ms: int
    rows: int
    request: bytes
    response: bytes
    flat: list[dict[str, Any]]


def exchange(request_id: str, time_ms: int, rng: np.random.Generator, *, rows: int,
             shift: float = 0.0, raw: bool = False) -> Exchange:
    """A request (FP32 [rows, 4], INT64 [rows], BYTES [rows]) and its response (INT64
    [rows]); ``shift`` moves the features (drift)."""
    features = (rng.normal(5.0 + shift, 1.0, size=(rows, 4))).astype("<f4")
    ages = rng.integers(18, 80, size=rows).astype("<i8")
    cities = [CITIES[i] for i in rng.integers(0, len(CITIES), size=rows)]
    species = rng.integers(0, 3, size=rows).astype("<i8")
    request = protobuf.ModelInferRequest(model_name="iris")
    for name, datatype, shape in (("predict", "FP32", [rows, 4]), ("age", "INT64", [rows]),
                                  ("city", "BYTES", [rows])):
        request.inputs.add(name=name, datatype=datatype, shape=shape)
    if raw:
        request.raw_input_contents.extend([
            features.tobytes(), ages.tobytes(),
            b"".join(len(c).to_bytes(4, "little") + c.encode() for c in cities)])
    else:
        request.inputs[0].contents.fp32_contents.extend(features.ravel().tolist())
        request.inputs[1].contents.int64_contents.extend(ages.tolist())
        request.inputs[2].contents.bytes_contents.extend(c.encode() for c in cities)
    response = protobuf.ModelInferResponse(model_name="iris_1", model_version="1")
    response.outputs.add(name="predict", datatype="INT64", shape=[rows]
                         ).contents.int64_contents.extend(species.tolist())
    flat = [{"model": "iris", "id": request_id if rows == 1 else f"{request_id}:{row}",
             "ts": time_ms / 1000, "model_version": "1",
             "features": dict(zip(FEATURES, features[row].tolist(), strict=True))
             | {"age": int(ages[row]), "city": cities[row]},
             "prediction": int(species[row])} for row in range(rows)]
    return Exchange(request_id, time_ms, rows, request.SerializeToString(),
                    response.SerializeToString(), flat)


def exchanges(count: int, *, seed: int, start_ms: int, every_ms: int = 50,
              drift_after: int | None = None) -> list[Exchange]:
    """``count`` exchanges ``every_ms`` apart of 1 to 8 rows, half in raw contents."""
    rng = np.random.default_rng(seed)
    return [exchange(f"req-{seed}-{i}", start_ms + i * every_ms, rng,
                     rows=int(rng.integers(1, 9)), raw=bool(i % 2),
                     shift=1.0 if drift_after is not None and i >= drift_after else 0.0)
            for i in range(count)]


def headers(request_id: str) -> list[tuple[str, bytes]]:
    """Kafka headers as Seldon's gateway writes them (the request id)."""
    return [("x-request-id", request_id.encode())]


def write_profile(path: Path, rows: int = 4000) -> None:
    """The iris model's reference: the undrifted distribution of ``exchange``."""
    rng = np.random.default_rng(0)
    cols = [ColumnConfig.model_validate(c) for c in columns(flat=True)]
    numeric = {name: rng.normal(5.0, 1.0, rows).astype("<f4").astype(float) for name in FEATURES}
    numeric["age"] = rng.integers(18, 80, rows).astype(float)
    categorical = {"city": [CITIES[i] for i in rng.integers(0, len(CITIES), rows)],
                   "species": [str(i) for i in rng.integers(0, 3, rows)]}
    build_profile("iris", cols, numeric, categorical, rows=rows, metadata={}).save(path)
