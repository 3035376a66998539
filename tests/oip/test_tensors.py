"""OIP tensors to values per row: every datatype, JSON data, typed and raw contents."""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import pytest

from driftd.oip.tensors import (
    CONTENTS,
    DTYPES,
    TensorError,
    from_contents,
    from_json,
    from_raw,
    row_values,
)

# Per datatype: two rows of two elements, as JSON would carry them.
SAMPLES: dict[str, list[Any]] = {
    "BOOL": [True, False, False, True],
    "UINT8": [0, 255, 7, 1], "UINT16": [0, 65535, 7, 1], "UINT32": [0, 2**32 - 1, 7, 1],
    "UINT64": [0, 2**64 - 1, 7, 1],
    "INT8": [-128, 127, 0, -1], "INT16": [-32768, 32767, 0, -1],
    "INT32": [-(2**31), 2**31 - 1, 0, -1], "INT64": [-(2**63), 2**63 - 1, 0, -1],
    "FP16": [0.5, -2.0, 1024.0, 0.25], "FP32": [0.5, -2.0, 1e30, 0.125],
    "FP64": [0.1, -2.0, 1e300, math.pi],
    "BYTES": ["a", "héllo", "", "z"],
}


def raw_bytes(datatype: str, values: list[Any]) -> bytes:
    dtype = DTYPES[datatype]
    if dtype is None:
        return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)
    return np.array(values, dtype=dtype).tobytes()


@pytest.mark.parametrize("datatype", sorted(DTYPES))
def test_every_datatype_reads_alike_from_json_raw_and_typed_contents(datatype: str) -> None:
    """Scenario: the same 2x2 tensor of each datatype as JSON data (flat and nested), as
    raw little-endian bytes and (except FP16) as typed contents. Expected: the same two
    rows of two values each time, equal to the input values (as the datatype holds them)."""
    values = SAMPLES[datatype]
    expected = [values[:2], values[2:]]
    if datatype in ("FP16", "FP32"):  # what the narrower float holds
        expected = np.array(expected, dtype=DTYPES[datatype]).tolist()
    flat = from_json({"name": "t", "shape": [2, 2], "datatype": datatype, "data": values})
    nested = from_json({"name": "t", "shape": [2, 2], "datatype": datatype,
                        "data": [values[:2], values[2:]]})
    raw = from_raw("t", datatype, [2, 2], raw_bytes(datatype, values))
    assert row_values(flat) == row_values(nested) == row_values(raw) == expected
    if datatype != "FP16":
        field = CONTENTS[datatype]
        typed = [v.encode() for v in values] if datatype == "BYTES" else values
        assert row_values(from_contents("t", datatype, [2, 2], {field: typed})) == expected


def test_fp16_has_no_typed_contents() -> None:
    """Scenario: FP16 in typed contents (the protocol has no field for it). Expected: an
    error saying to send it raw."""
    with pytest.raises(TensorError, match="FP16 has no typed contents field"):
        from_contents("h", "FP16", [1], {})


def test_shapes_give_scalars_lists_and_nested_lists_per_row() -> None:
    """Scenario: shapes [3], [3, 2] and [2, 2, 2]. Expected: a scalar, a list of 2, and a
    2x2 nested list per row; an empty batch ([0, 4]) has no rows."""
    assert row_values(from_json({"name": "a", "shape": [3], "datatype": "INT32",
                                 "data": [1, 2, 3]})) == [1, 2, 3]
    assert row_values(from_json({"name": "a", "shape": [3, 2], "datatype": "INT32",
                                 "data": [1, 2, 3, 4, 5, 6]})) == [[1, 2], [3, 4], [5, 6]]
    assert row_values(from_raw("a", "INT16", [2, 2, 2], np.arange(8, dtype="<i2").tobytes())
                      ) == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    assert row_values(from_json({"name": "s", "shape": [2, 2], "datatype": "BYTES",
                                 "data": [["a", "b"], ["c", "d"]]})) == [["a", "b"], ["c", "d"]]
    empty = from_json({"name": "e", "shape": [0, 4], "datatype": "FP32", "data": []})
    assert empty.rows == 0 and row_values(empty) == []


def test_raw_is_little_endian_and_bytes_replace_bad_utf8() -> None:
    """Scenario: INT32 1 as raw bytes 01 00 00 00; a BYTES element that is not UTF-8.
    Expected: 1 (not 16777216); the bad byte becomes U+FFFD."""
    assert row_values(from_raw("i", "INT32", [1], b"\x01\x00\x00\x00")) == [1]
    assert row_values(from_raw("s", "BYTES", [1], b"\x02\x00\x00\x00a\xff")) == ["a\ufffd"]


@pytest.mark.parametrize(("build", "message"), [
    (lambda: from_json({"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1] * 5}),
     r"tensor x: shape \[2, 3\] holds 6 elements, data has 5"),
    (lambda: from_json({"name": "x", "shape": [2, 2], "datatype": "FP32",
                        "data": [[1, 2], [3]]}), "holds 4 elements, data has 3"),
    (lambda: from_raw("x", "FP64", [3], b"\x00" * 16), "needs 24 raw bytes, got 16"),
    (lambda: from_raw("x", "BYTES", [2], b"\x01\x00\x00\x00a"),
     "raw BYTES hold 1 whole elements"),
    (lambda: from_raw("x", "BYTES", [1], b"\x09\x00\x00\x00a"), "claims 9 bytes, 1 left"),
    (lambda: from_raw("x", "BYTES", [1], b"\x01\x00\x00\x00ab"), "1 bytes left over"),
    (lambda: from_contents("x", "INT64", [2], {"int64_contents": [1]}),
     "holds 2 elements, data has 1"),
    (lambda: from_json({"name": "x", "shape": [1], "datatype": "INT8", "data": [300]}),
     "out of INT8's range"),
    (lambda: from_json({"name": "x", "shape": [1], "datatype": "FP16", "data": [1e6]}),
     "out of FP16's range"),
    (lambda: from_contents("x", "INT8", [1], {"int_contents": [300]}), "out of INT8's range"),
    (lambda: from_contents("x", "UINT16", [2], {"uint_contents": [1, 70000]}),
     "out of UINT16's range"),
    (lambda: from_json({"name": "x", "shape": [1], "datatype": "FP32", "data": [1e39]}),
     "out of FP32's range"),
    (lambda: from_json({"name": "x", "shape": [1], "datatype": "INT64", "data": [1.5]}),
     "INT64 data must be numbers, got float"),
    (lambda: from_json({"name": "x", "shape": [1], "datatype": "FP32", "data": ["1"]}),
     "FP32 data must be numbers, got str"),
    (lambda: from_json({"name": "x", "shape": [1], "datatype": "BOOL", "data": [1]}),
     "BOOL data must be true or false"),
    (lambda: from_json({"name": "x", "shape": [1], "datatype": "BYTES", "data": [1]}),
     "BYTES data must be strings"),
    (lambda: from_json({"name": "x", "shape": "2", "datatype": "FP32", "data": [1, 2]}),
     "shape must be a list of non-negative integers"),
    (lambda: from_json({"name": "x", "shape": [10**6, 10**6], "datatype": "FP32",
                        "data": []}), "more than 50000000 elements"),
    (lambda: from_json({"shape": [1], "datatype": "FP32", "data": [1]}),
     "a tensor without a name"),
    (lambda: from_json({"name": "x", "shape": [1], "datatype": "FP32"}),
     "data must be a list, got NoneType"),
    (lambda: from_json([1, 2]), "a tensor must be an object"),
])
def test_bad_tensors_are_errors_that_say_what_is_wrong(build: Any, message: str) -> None:
    """Scenario: shapes that do not match the data, raw bytes of the wrong length, values
    of the wrong kind or range, missing parts. Expected: TensorError naming the tensor
    and the problem."""
    with pytest.raises(TensorError, match=message):
        build()
