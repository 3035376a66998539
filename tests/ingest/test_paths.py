"""Field paths: envelope fields and columns read through objects and list indices (dotted
or JSON Pointer), checked when the config is loaded, and rejections that name the path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from config.support import write_profile
from driftd import config as cfg
from driftd.cli import main as driftd
from driftd.config import ColumnConfig, EventFields
from driftd.events import Decoder
from driftd.paths import FieldPath, parse_path

# An Open Inference Protocol (KServe V2) request wrapped in an envelope.
OIP_COLUMNS = (
    ColumnConfig(name="amount", kind="numeric", path="inputs[0].data[3]"),
    ColumnConfig(name="age", kind="numeric", path="/inputs/0/data/0"),
    ColumnConfig(name="country", kind="categorical", path='meta["geo.country"]'),
    ColumnConfig(name="score", kind="numeric", role="prediction",
                 path="outputs[0].data[0]"),
)
ENVELOPE = EventFields(model="data.model", id="data.request.id", ts="/data/ts")


def oip(request_id: str, amount: Any, **extra: Any) -> dict[str, Any]:
    event = {"data": {"model": "fraud", "request": {"id": request_id}, "ts": 1_700_000_000},
             "inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 4],
                         "data": [41, 0.5, 2, amount]}],
             "outputs": [{"name": "p", "data": [0.25]}],
             "meta": {"geo.country": "DE"}}
    event.update(extra)
    return event


def decode(decoder: Decoder, *events: Any) -> Any:
    return decoder.decode([orjson.dumps(e) for e in events], now=1_700_000_100.0,
                          origins=[f"t[0]@{i}" for i in range(len(events))])


@pytest.fixture
def decoder() -> Decoder:
    return Decoder({"fraud": OIP_COLUMNS}, fields=ENVELOPE)


def test_nested_objects_and_list_indices_reach_tensor_values(decoder: Decoder) -> None:
    """Steps: decode two OIP-shaped events whose model, id and ts sit in a ``data``
    envelope (one a JSON Pointer) and whose columns are tensor elements.

    Expected: every value read from its path, no rejection (the old decoder looked up
    the literal key "data.model" and rejected both as missing_model)."""
    batch = decode(decoder, oip("r-1", 12.5), oip("r-2", 3))
    fraud = batch.models["fraud"]
    assert batch.rejections == []
    assert fraud.ids == ["r-1", "r-2"]
    assert fraud.timestamps.tolist() == [1_700_000_000.0] * 2
    assert fraud.numeric["amount"].tolist() == [12.5, 3.0]
    assert fraud.numeric["age"].tolist() == [41.0, 41.0]
    assert fraud.numeric["score"].tolist() == [0.25, 0.25]
    assert fraud.categorical["country"] == ["DE", "DE"]


def test_an_index_past_the_end_is_a_missing_value(decoder: Decoder) -> None:
    """Steps: a tensor with three values where the path reads the fourth; an empty
    ``outputs`` list.

    Expected: both values missing (NaN), the events kept, nothing rejected."""
    short = oip("r-1", 1.0)
    short["inputs"][0]["data"] = [41, 0.5, 2]
    batch = decode(decoder, short, oip("r-2", 2.0, outputs=[]))
    fraud = batch.models["fraud"]
    assert batch.rejections == []
    assert str(fraud.numeric["amount"].tolist()) == "[nan, 2.0]"
    assert str(fraud.numeric["score"].tolist()) == "[0.25, nan]"


def test_a_path_through_a_non_object_rejects_the_event_naming_where(
        decoder: Decoder) -> None:
    """Steps: events where a path runs into a number, into a list where a key is
    asked, into an object where an index is asked; one whose model path holds nothing.

    Expected: wrong_type for the first three and missing_model for the last, each
    detail naming the path looked up and where it broke; the good event kept."""
    batch = decode(decoder, oip("r-1", 1.0, inputs=7),
                   oip("r-2", 1.0, meta=[{"geo.country": "DE"}]),
                   oip("r-3", 1.0, outputs={"0": {"data": [0.5]}}),
                   {"data": {"request": {"id": "r-4"}}, "inputs": []},
                   oip("r-5", 5.0))
    assert [(r.reason, r.detail, r.origin) for r in batch.rejections] == [
        ("missing_model", "no value at data.model", "t[0]@3"),
        ("wrong_type", "amount at inputs[0].data[3]: inputs is a number, not a list",
         "t[0]@0"),
        ("wrong_type", "country at meta[\"geo.country\"]: meta is a list, not an object "
         "(a list index is written meta[0])", "t[0]@1"),
        ("wrong_type", "score at outputs[0].data[0]: outputs is an object, not a list",
         "t[0]@2"),
    ]
    assert batch.models["fraud"].ids == ["r-5"]


def test_envelope_rejections_name_their_paths(decoder: Decoder) -> None:
    """Steps: a model that is a number, a model path through a string, an id that is
    a list, a timestamp in milliseconds, all under the ``data`` envelope.

    Expected: each rejection's detail starts with the configured path."""
    events = [oip("r-1", 1.0), oip("r-2", 1.0), oip("r-3", 1.0), oip("r-4", 1.0),
              {"data": "fraud"}]
    events[0]["data"]["model"] = 7
    events[1]["data"]["request"] = {"id": ["r-2"]}
    events[2]["data"]["ts"] = 1_700_000_000_000
    batch = decode(decoder, *events[:3], events[4])
    assert sorted((r.reason, r.detail) for r in batch.rejections) == [
        ("invalid_timestamp", "data.ts: 1700000000000 (epoch milliseconds? ts is read as "
         "seconds)"),
        ("wrong_type", "data.model: data is a string, not an object"),
        ("wrong_type", "data.model: expected a string, got int"),
        ("wrong_type", "data.request.id: expected a string or an integer, got list"),
    ]


def test_default_paths_and_flat_records_read_as_before() -> None:
    """Steps: the default paths (features.<name>, prediction) on a nested event, a flat
    record (a CSV row) and an event whose ``features`` is null.

    Expected: the same values as the decoder always read; the flat record at the
    column names."""
    columns = (ColumnConfig(name="amount", kind="numeric"),
               ColumnConfig(name="score", kind="numeric", role="prediction"))
    batch = Decoder({"m": columns}).decode_objects(
        [{"model": "m", "features": {"amount": 1.5}, "prediction": 0.5},
         {"model": "m", "amount": 2.5, "score": 0.75},
         {"model": "m", "features": None}], 0.0)
    assert batch.rejections == []
    assert str(batch.models["m"].numeric["amount"].tolist()) == "[1.5, 2.5, nan]"
    assert str(batch.models["m"].numeric["score"].tolist()) == "[0.5, 0.75, nan]"


@pytest.mark.parametrize(("text", "steps"), [
    ("data.model", ("data", "model")),
    ("inputs[0].data[3]", ("inputs", 0, "data", 3)),
    ("/inputs/0/data/3", ("inputs", 0, "data", 3)),
    ('meta["a.b"]["c]"].d', ("meta", "a.b", "c]", "d")),
    ("/a~1b/c~0d/01", ("a/b", "c~d", "01")),
    ("features.0", ("features", "0")),
])
def test_path_syntax(text: str, steps: tuple[object, ...]) -> None:
    """Dotted paths, indices, quoted keys and JSON Pointer (a digits token is an index
    unless it has a leading zero) parse to the same steps."""
    assert parse_path(text) == steps
    assert parse_path(FieldPath(steps).text) == steps  # the shown spelling reads back


def write_config(tmp_path: Path, fields: dict[str, str], column_path: str) -> Path:
    write_profile(tmp_path / "fraud.json", {"amount": "input"})
    raw = {"models": [{"name": "fraud", "reference": "fraud.json",
                       "columns": [{"name": "amount", "kind": "numeric",
                                    "path": column_path}],
                       "windows": [{"name": "w", "type": "count", "size": 10, "step": 10}]}],
           "sources": [{"type": "jsonl", "path": "-", "fields": fields}]}
    path = tmp_path / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize(("fields", "column_path", "problem"), [
    ({"model": "data..model"}, "features.amount",
     "sources.0.fields.model: empty key at character 6 of 'data..model'"),
    ({"ts": "inputs[x]"}, "features.amount",
     "sources.0.fields.ts: [x] at character 7 of 'inputs[x]': a list index is a whole "
     'number from 0 (a key in brackets is quoted: ["a.b"])'),
    ({"id": "/a/b~2"}, "features.amount",
     "sources.0.fields.id: 'b~2' in JSON Pointer '/a/b~2': '~' must be followed by 0 "
     "(for ~) or 1 (for /)"),
    ({}, "inputs[0", "models.0.columns.0.path: '[' without ']' at character 7 of "
     "'inputs[0'"),
    ({}, "[0].x", "models.0.columns.0.path: '[0].x' starts with a list index; an event "
     "is an object, so a path starts with a key"),
    ({}, 'meta["a.b', "models.0.columns.0.path: unterminated quoted key at character 5 "
     "of 'meta[\"a.b' (write [\"a.b\"])"),
])
def test_a_bad_path_is_a_config_error_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fields: dict[str, str],
        column_path: str, problem: str) -> None:
    """Steps: ``driftd config validate`` of a config with one malformed path.

    Expected: exit 2, one line naming the field and the problem, no traceback."""
    path = write_config(tmp_path, fields, column_path)
    assert driftd(["config", "validate", str(path)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == problem


def test_good_paths_validate(tmp_path: Path) -> None:
    """A config with dotted, indexed and JSON Pointer paths loads, paths kept as written."""
    path = write_config(tmp_path, {"model": "data.model", "ts": "/data/ts"},
                        "inputs[0].data[3]")
    config = cfg.load_config(path, environ={})
    assert config.models[0].columns[0].event_path == ("inputs", 0, "data", 3)
    assert config.sources[0].fields.ts == "/data/ts"
