"""Payloads (V2 Protobuf, V2 JSON, KServe V1 JSON) and the row objects of a pair."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from driftd.config import ColumnConfig
from driftd.events import Decoder
from driftd.oip import protobuf
from driftd.oip.payload import PayloadError, parse
from driftd.oip.rows import RowMismatch, pair_rows


def seldon_request(rows: int, *, raw: bool = False, request_id: str = "") -> bytes:
    """A Seldon-shaped ModelInferRequest: FP32 [rows, 4], INT64 [rows], BYTES [rows]."""
    message = protobuf.ModelInferRequest(model_name="iris", id=request_id)
    features = np.arange(rows * 4, dtype="<f4").reshape(rows, 4) / 8
    ages = np.arange(rows, dtype="<i8") + 30
    cities = [f"c{i}".encode() for i in range(rows)]
    for name, datatype, shape in (("predict", "FP32", [rows, 4]), ("age", "INT64", [rows]),
                                  ("city", "BYTES", [rows])):
        message.inputs.add(name=name, datatype=datatype, shape=shape)
    if raw:
        message.raw_input_contents.extend([
            features.tobytes(), ages.tobytes(),
            b"".join(len(c).to_bytes(4, "little") + c for c in cities)])
    else:
        message.inputs[0].contents.fp32_contents.extend(features.ravel().tolist())
        message.inputs[1].contents.int64_contents.extend(ages.tolist())
        message.inputs[2].contents.bytes_contents.extend(cities)
    message.parameters["content_type"].string_param = "np"
    message.parameters["tries"].int64_param = 2
    serialized: bytes = message.SerializeToString()
    return serialized


def seldon_response(rows: int, *, model: str = "iris_1") -> bytes:
    message = protobuf.ModelInferResponse(model_name=model, model_version="1")
    tensor = message.outputs.add(name="predict", datatype="INT64", shape=[rows, 1])
    tensor.contents.int64_contents.extend([i % 3 for i in range(rows)])
    serialized: bytes = message.SerializeToString()
    return serialized


@pytest.mark.parametrize("raw", [False, True])
def test_a_seldon_protobuf_pair_gives_one_row_object_per_row(raw: bool) -> None:
    """Scenario: a request of 3 rows (FP32 [3, 4], INT64 [3], BYTES [3]) in typed or raw
    contents, and its response (INT64 [3, 1]). Expected: 3 row objects with ids r:0..r:2,
    the configured model, the request's time and parameters, inputs per row and the
    response's version."""
    request = parse(seldon_request(3, raw=raw), "protobuf", "request")
    response = parse(seldon_response(3), "auto", "response")
    rows = pair_rows(request, response, request_id="r", ts=100.0, model="iris")
    assert rows[1] == {
        "model": "iris", "model_version": "1", "id": "r:1", "request_id": "r", "row": 1,
        "ts": 100.0, "parameters": {"content_type": "np", "tries": 2},
        "inputs": {"predict": [0.5, 0.625, 0.75, 0.875], "age": 31, "city": "c1"},
        "outputs": {"predict": [1]}}
    assert [r["id"] for r in rows] == ["r:0", "r:1", "r:2"]


def test_row_objects_are_read_by_field_paths_like_driftd_events() -> None:
    """Scenario: the rows of a 2-row pair decoded with columns at inputs.age,
    inputs.predict[3], inputs.city and outputs.predict[0]. Expected: the columns hold the
    tensors' values; a single-row batch keeps the bare request id."""
    columns = [ColumnConfig(name="age", kind="numeric", path="inputs.age"),
               ColumnConfig(name="petal", kind="numeric", path="inputs.predict[3]"),
               ColumnConfig(name="city", kind="categorical", path="inputs.city"),
               ColumnConfig(name="cls", kind="categorical", role="prediction",
                            path="outputs.predict[0]")]
    decoder = Decoder({"iris": columns})
    rows = pair_rows(parse(seldon_request(2), "protobuf", "request"),
                     parse(seldon_response(2), "protobuf", "response"),
                     request_id="q", ts=10.0, model="iris")
    batch = decoder.decode_objects(rows, now=10.0).models["iris"]
    assert batch.numeric["age"].tolist() == [30.0, 31.0]
    assert batch.numeric["petal"].tolist() == [0.375, 0.875]
    assert batch.categorical["city"] == ["c0", "c1"]
    assert batch.categorical["cls"] == ["0", "1"]
    assert batch.ids == ["q:0", "q:1"]
    single = pair_rows(parse(seldon_request(1), "protobuf", "request"), None,
                       request_id="q", ts=1.0)
    assert single[0]["id"] == "q" and single[0]["model"] == "iris" and "outputs" not in single[0]


def test_v1_and_v2_json_bodies() -> None:
    """Scenario: a KServe V1 request/response ({"instances"}/{"predictions"}) and a V2
    REST pair with nested data. Expected: rows with "instance"/"prediction", and with
    inputs/outputs by tensor name; the model comes from the request's model_name."""
    v1 = pair_rows(parse(b'{"instances": [[1, 2], [3, 4]]}', "json", "request"),
                   parse(b'{"predictions": [0.1, 0.9]}', "json", "response"),
                   request_id="k", ts=0.0, model="m")
    assert [(r["instance"], r["prediction"]) for r in v1] == [([1, 2], 0.1), ([3, 4], 0.9)]
    request = orjson.dumps({"model_name": "m2", "id": "body-id", "parameters": {"a": 1},
                            "inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64",
                                        "data": [[1.5, 2], [3, 4]]}]})
    response = orjson.dumps({"outputs": [{"name": "p", "shape": [2], "datatype": "FP32",
                                          "data": [0.25, 0.75]}]})
    parsed = parse(request, "auto", "request")
    assert parsed.id == "body-id"
    v2 = pair_rows(parsed, parse(response, "auto", "response"), request_id="k", ts=0.0)
    assert [(r["model"], r["inputs"], r["outputs"], r["parameters"]) for r in v2] == [
        ("m2", {"x": [1.5, 2.0]}, {"p": 0.25}, {"a": 1}),
        ("m2", {"x": [3.0, 4.0]}, {"p": 0.75}, {"a": 1})]


def test_a_response_with_another_row_count_is_a_mismatch() -> None:
    """Scenario: a request of 3 rows and a response of 2. Expected: RowMismatch naming
    both counts."""
    with pytest.raises(RowMismatch, match="request r has 3 rows, its response 2"):
        pair_rows(parse(seldon_request(3), "protobuf", "request"),
                  parse(seldon_response(2), "protobuf", "response"), request_id="r", ts=0)


def test_a_confluent_framed_response_is_read() -> None:
    """Scenario: a response behind a Confluent wire-format frame (magic 0, schema id 7,
    message index [0]), as Seldon writes with a schema registry. Expected: read alike."""
    framed = b"\x00" + (7).to_bytes(4, "big") + b"\x00" + seldon_response(2)
    assert parse(framed, "protobuf", "response").values == \
        parse(seldon_response(2), "protobuf", "response").values


@pytest.mark.parametrize(("raw", "encoding", "role", "message"), [
    (b"\xff\xfe garbage", "protobuf", "request", "not a ModelInferRequest"),
    (b"{not json", "json", "request", "malformed JSON"),
    (b"[1, 2]", "json", "request", "must be a JSON object"),
    (b'{"foo": 1}', "json", "request", r"needs inputs \(V2\) or instances \(V1\)"),
    (b'{"inputs": []}', "json", "request", "a request without inputs"),
    (b'{"inputs": {}}', "json", "request", "inputs must be a list of tensors"),
    (b'{"outputs": [{"name": "p", "shape": [2], "datatype": "FP32", "data": [1]}]}',
     "json", "response", "holds 2 elements, data has 1"),
    (b'{"inputs": [{"name": "a", "shape": [1], "datatype": "FP32", "data": [1]},'
     b' {"name": "a", "shape": [1], "datatype": "FP32", "data": [1]}]}', "json", "request",
     "inputs repeat a name"),
    (b"", "protobuf", "request", "a request without inputs"),
    (b"\x00\x01", "protobuf", "response", "frame shorter than its header"),
])
def test_bad_payloads_are_errors(raw: bytes, encoding: str, role: Any, message: str) -> None:
    """Scenario: garbage bytes, malformed JSON, bodies of neither shape, bad tensors.
    Expected: PayloadError saying what is wrong."""
    with pytest.raises(PayloadError, match=message):
        parse(raw, encoding, role)


def test_protobuf_inputs_with_different_batch_sizes_are_an_error() -> None:
    """Scenario: a Protobuf request whose inputs hold 2 and 3 rows. Expected: an error
    naming each input's rows."""
    message = protobuf.ModelInferRequest()
    message.inputs.add(name="a", datatype="FP64", shape=[2]).contents.fp64_contents.extend([1, 2])
    message.inputs.add(name="b", datatype="FP64", shape=[3]).contents.fp64_contents.extend(
        [1, 2, 3])
    with pytest.raises(PayloadError, match="different numbers of rows: a 2, b 3"):
        parse(message.SerializeToString(), "protobuf", "request")
