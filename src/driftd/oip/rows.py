"""A request and its response as driftd event objects, one per row of the batch.

Each row becomes an object as driftd's own JSON events are read (``docs/field-paths.md``):

    {"model": "iris", "id": "r1:0", "request_id": "r1", "row": 0, "ts": 1764662400.0,
     "inputs": {"age": 31, "predict": [5.1, 3.5, 1.4, 0.2]}, "outputs": {"predict": 2},
     "parameters": {...request parameters}}

so a named input is a column at ``inputs.age``, one column of a 2-D tensor at
``inputs.predict[3]``, and the prediction at ``outputs.predict``. KServe V1 bodies give
``instance`` and ``prediction`` instead. The id is the request id when the batch has one
row, else ``<request id>:<row>``; the model is the configured one, else the request's
``model_name``, else the response's; ``model_version`` is the response's (else the
request's) when either has one.

>>> from driftd.oip.payload import parse
>>> request = parse(b'{"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP64",'
...                 b' "data": [[1, 2], [3, 4]]}]}', "json", "request")
>>> response = parse(b'{"model_name": "m", "outputs": [{"name": "y", "shape": [2],'
...                  b' "datatype": "INT64", "data": [0, 1]}]}', "json", "response")
>>> [(r["id"], r["inputs"], r["outputs"]) for r in pair_rows(request, response,
...                                                             request_id="r7", ts=5.0)]
[('r7:0', {'x': [1.0, 2.0]}, {'y': 0}), ('r7:1', {'x': [3.0, 4.0]}, {'y': 1})]
"""

from __future__ import annotations

from typing import Any

from driftd.oip.payload import Payload


class RowMismatch(ValueError):
    """A request and a response that do not describe the same rows."""


def pair_rows(request: Payload | None, response: Payload | None, *, request_id: str,
              ts: float, model: str | None = None) -> list[dict[str, Any]]:
    """The row objects of a request and its response (either may be None: one half on
    its own). Raises ``RowMismatch`` when their row counts differ."""
    halves = [p for p in (request, response) if p is not None]
    if not halves:
        return []
    counts = {p.rows for p in halves}
    if len(counts) > 1:
        assert request is not None and response is not None
        raise RowMismatch(f"request {request_id} has {request.rows} rows, its response "
                          f"{response.rows}")
    rows = counts.pop()
    name = model or next((p.model for p in halves if p.model), None)
    version = next((p.model_version for p in reversed(halves) if p.model_version), None)
    parameters = request.parameters if request is not None else {}
    objects = []
    for row in range(rows):
        obj: dict[str, Any] = {
            "model": name, "id": request_id if rows == 1 else f"{request_id}:{row}",
            "request_id": request_id, "row": row, "ts": ts, "parameters": parameters}
        if version is not None:
            obj["model_version"] = version
        for payload in halves:
            for place, values in payload.values.items():
                _put(obj, place, values[row])
        objects.append(obj)
    return objects


def _put(obj: dict[str, Any], place: tuple[str, ...], value: Any) -> None:
    for key in place[:-1]:
        obj = obj.setdefault(key, {})
    obj[place[-1]] = value
