"""Open Inference Protocol (KServe V2) tensors, and the values they hold per row.

A tensor has a name, a datatype, a shape whose first dimension is the batch (rows), and
its elements in row-major order: in JSON as ``data`` (flat or nested lists), in Protobuf
as typed ``contents`` fields or as little-endian raw bytes (``raw_input_contents`` /
``raw_output_contents``; BYTES elements each prefixed with their 4-byte length). Row
``i`` of a tensor of shape ``[n]`` is a scalar, of ``[n, k]`` a list of ``k`` values,
deeper shapes nested lists. BYTES elements become strings (UTF-8, bad bytes replaced).

>>> t = from_json({"name": "x", "shape": [2, 3], "datatype": "FP32",
...                "data": [1, 2, 3, 4, 5, 6.5]})
>>> t.rows
2
>>> row_values(t)
[[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]]
>>> row_values(from_raw("s", "BYTES", [2], b"\\x02\\x00\\x00\\x00hi\\x01\\x00\\x00\\x00!"))
['hi', '!']
>>> try:
...     from_json({"name": "x", "shape": [2, 2], "datatype": "INT64", "data": [1, 2, 3]})
... except TensorError as error:
...     print(error)
tensor x: shape [2, 2] holds 4 elements, data has 3
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# Datatype -> little-endian numpy dtype of its raw bytes (BYTES: length-prefixed, None).
DTYPES: dict[str, str | None] = {
    "BOOL": "?", "UINT8": "<u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8",
    "INT8": "<i1", "INT16": "<i2", "INT32": "<i4", "INT64": "<i8",
    "FP16": "<f2", "FP32": "<f4", "FP64": "<f8", "BYTES": None,
}
# Datatype -> the InferTensorContents field that carries it (FP16 has none: raw only).
CONTENTS: dict[str, str] = {
    "BOOL": "bool_contents", "UINT8": "uint_contents", "UINT16": "uint_contents",
    "UINT32": "uint_contents", "UINT64": "uint64_contents", "INT8": "int_contents",
    "INT16": "int_contents", "INT32": "int_contents", "INT64": "int64_contents",
    "FP32": "fp32_contents", "FP64": "fp64_contents", "BYTES": "bytes_contents",
}
MAX_ELEMENTS = 50_000_000  # a shape beyond this is refused before anything is allocated


class TensorError(ValueError):
    """A tensor that cannot be read: the message names the tensor and the problem."""


@dataclass(frozen=True, slots=True)
class Tensor:
    """A decoded tensor: its elements flat, in row-major order."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    flat: npt.NDArray[Any] | list[str]

    @property
    def rows(self) -> int:
        return self.shape[0]


def check_header(name: Any, datatype: Any, shape: Any) -> tuple[str, str, tuple[int, ...]]:
    """The name, datatype and shape of a tensor, checked.

    >>> check_header("x", "FP32", [3])
    ('x', 'FP32', (3,))
    >>> for bad in (("FP8", [3]), ("FP32", []), ("INT8", [2, -1])):
    ...     try:
    ...         check_header("x", *bad)
    ...     except TensorError as error:
    ...         print(error)
    tensor x: unknown datatype 'FP8'
    tensor x: shape [] has no batch dimension
    tensor x: shape must be a list of non-negative integers, got [2, -1]
    """
    if not isinstance(name, str) or not name:
        raise TensorError(f"a tensor without a name (name: {str(name)[:40]!r})")
    if datatype not in DTYPES:
        raise TensorError(f"tensor {name}: unknown datatype {str(datatype)[:20]!r}")
    if type(shape) not in (list, tuple) or not all(type(d) is int and d >= 0 for d in shape):
        raise TensorError(f"tensor {name}: shape must be a list of non-negative integers, "
                          f"got {str(shape)[:40]}")
    if not shape:
        raise TensorError(f"tensor {name}: shape [] has no batch dimension")
    dims = tuple(shape)
    if math.prod(dims) > MAX_ELEMENTS:
        raise TensorError(f"tensor {name}: shape {list(dims)} holds more than "
                          f"{MAX_ELEMENTS} elements")
    return name, str(datatype), dims


def from_json(obj: Any) -> Tensor:
    """A tensor of the V2 REST (JSON) format: ``{name, shape, datatype, data}``."""
    if not isinstance(obj, Mapping):
        raise TensorError(f"a tensor must be an object, got {type(obj).__name__}")
    name, datatype, shape = check_header(obj.get("name"), obj.get("datatype"), obj.get("shape"))
    data = obj.get("data")
    if not isinstance(data, list):
        raise TensorError(f"tensor {name}: data must be a list, got {type(data).__name__}")
    flat = _flatten(data) if any(isinstance(x, list) for x in data) else data
    _check_count(name, shape, len(flat))
    if datatype == "BYTES":
        if not all(isinstance(x, str) for x in flat):
            raise TensorError(f"tensor {name}: BYTES data must be strings")
        return Tensor(name, datatype, shape, list(flat))
    return Tensor(name, datatype, shape, _typed(name, datatype, flat))


def from_contents(name: str, datatype: str, shape: Sequence[int],
                  contents: Mapping[str, Sequence[Any]]) -> Tensor:
    """A tensor from the typed fields of ``InferTensorContents`` (as field -> values)."""
    name, datatype, dims = check_header(name, datatype, shape)
    field = CONTENTS.get(datatype)
    if field is None:
        raise TensorError(f"tensor {name}: {datatype} has no typed contents field; "
                          "send it in raw contents")
    values = contents.get(field, ())
    _check_count(name, dims, len(values))
    if datatype == "BYTES":
        return Tensor(name, datatype, dims, [_text(v) for v in values])
    # The field's own type holds every value (Protobuf checked it): only narrower
    # integer datatypes (INT8 in int_contents) need a range check.
    wide = np.array(values, dtype=np.float64 if field.startswith("fp") else
                    bool if datatype == "BOOL" else
                    np.uint64 if field.startswith("uint") else np.int64)
    return Tensor(name, datatype, dims, _narrowed(name, datatype, wide))


def from_raw(name: str, datatype: str, shape: Sequence[int], raw: bytes) -> Tensor:
    """A tensor from its raw little-endian bytes (BYTES: 4-byte-length-prefixed)."""
    name, datatype, dims = check_header(name, datatype, shape)
    count = math.prod(dims)
    dtype = DTYPES[datatype]
    if dtype is None:
        return Tensor(name, datatype, dims, _raw_strings(name, raw, count))
    size = np.dtype(dtype).itemsize
    if len(raw) != count * size:
        raise TensorError(f"tensor {name}: shape {list(dims)} of {datatype} needs "
                          f"{count * size} raw bytes, got {len(raw)}")
    return Tensor(name, datatype, dims, np.frombuffer(raw, dtype=dtype))


def row_values(tensor: Tensor) -> list[Any]:
    """The value of each row: a scalar (shape ``[n]``), a list (``[n, k]``), nested lists.

    >>> row_values(from_json({"name": "b", "shape": [2, 1, 2], "datatype": "BOOL",
    ...                       "data": [[[True, False]], [[False, True]]]}))
    [[[True, False]], [[False, True]]]
    """
    flat = tensor.flat
    if isinstance(flat, list):
        if len(tensor.shape) == 1:
            return flat
        strings = np.empty(len(flat), dtype=object)
        strings[:] = flat
        return strings.reshape(tensor.shape).tolist()  # type: ignore[no-any-return]
    return flat.reshape(tensor.shape).tolist()  # type: ignore[no-any-return]


def _check_count(name: str, shape: tuple[int, ...], found: int) -> None:
    expected = math.prod(shape)
    if found != expected:
        raise TensorError(f"tensor {name}: shape {list(shape)} holds {expected} elements, "
                          f"data has {found}")


def _flatten(data: list[Any]) -> list[Any]:
    """Nested lists flat, in row-major order (ragged nesting is found by the count)."""
    flat: list[Any] = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            flat.append(item)
        else:
            stack.pop()
    return flat


def _typed(name: str, datatype: str, values: Sequence[Any]) -> npt.NDArray[Any]:
    """Numbers (or booleans) as an array of the datatype; a value of another kind, or one
    out of the datatype's range, is an error."""
    dtype = np.dtype(DTYPES[datatype])
    kinds = set(map(type, values))
    if datatype == "BOOL":
        if not kinds <= {bool}:
            raise TensorError(f"tensor {name}: BOOL data must be true or false")
        return np.array(values, dtype=bool)
    allowed = {int, bool} if dtype.kind in "iu" else {int, float, bool}
    if not kinds <= allowed:
        found = ", ".join(sorted(t.__name__ for t in kinds - allowed))
        raise TensorError(f"tensor {name}: {datatype} data must be numbers, got {found}")
    if dtype.kind == "f":
        return _narrowed(name, datatype, np.array(values, dtype=np.float64))
    info = np.iinfo(dtype)
    if len(values) and (min(values) < info.min or max(values) > info.max):
        raise TensorError(f"tensor {name}: a value is out of {datatype}'s range")
    return np.array(values, dtype=dtype)


def _narrowed(name: str, datatype: str, wide: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``wide`` (float64, int64, uint64 or bool) as the datatype's array; a value beyond
    the datatype's range is an error (a finite float beyond it would become infinite)."""
    dtype = np.dtype(DTYPES[datatype])
    if wide.dtype == dtype or not len(wide):
        return wide.astype(dtype, copy=False)
    if dtype.kind == "f":
        finite = wide[np.isfinite(wide)]
        if len(finite) and np.abs(finite).max() > np.finfo(dtype).max:
            raise TensorError(f"tensor {name}: a value is out of {datatype}'s range")
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        if wide.min() < info.min or wide.max() > info.max:
            raise TensorError(f"tensor {name}: a value is out of {datatype}'s range")
    return wide.astype(dtype)


def _raw_strings(name: str, raw: bytes, count: int) -> list[str]:
    found: list[str] = []
    at = 0
    view = memoryview(raw)
    while at < len(raw) and len(found) < count:
        if at + 4 > len(raw):
            break
        size = int.from_bytes(view[at:at + 4], "little")
        if at + 4 + size > len(raw):
            raise TensorError(f"tensor {name}: BYTES element {len(found)} claims {size} "
                              f"bytes, {len(raw) - at - 4} left")
        found.append(_text(view[at + 4:at + 4 + size]))
        at += 4 + size
    if len(found) != count or at != len(raw):
        raise TensorError(f"tensor {name}: raw BYTES hold {len(found)} whole elements "
                          f"({len(raw) - at} bytes left over), shape needs {count}")
    return found


def _text(value: Any) -> str:
    return bytes(value).decode("utf-8", errors="replace")
