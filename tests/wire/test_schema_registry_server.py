"""The real schema registry of the tests (Apicurio, scripts/schema_registry.py) speaks the
Confluent API that driftd's registry client relies on: an Avro and a Protobuf schema
(with a reference) registered under subjects are read back by id, a schema registered
again keeps its id, and an unknown id answers 404 with error code 40403."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"

AVRO_SCORE = json.dumps({
    "type": "record", "name": "Score", "namespace": "driftd.test",
    "fields": [{"name": "model", "type": "string"}, {"name": "p", "type": "double"}],
})
PROTO_COMMON = """syntax = "proto3";
package driftd.common;
message Meta { string model = 1; }
"""
PROTO_SCORE = """syntax = "proto3";
package driftd.test;
import "common.proto";
message Score { driftd.common.Meta meta = 1; double p = 2; }
"""


def call(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body) of a GET, or of a POST when ``body`` is given."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": CONTENT_TYPE})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def register(url: str, subject: str, **body: Any) -> int:
    status, answer = call(f"{url}/subjects/{subject}/versions", body)
    assert status == 200, answer
    assert isinstance(answer["id"], int), answer
    return int(answer["id"])


@pytest.fixture
def subject() -> str:
    """A subject name prefix no other test (nor an earlier run on a shared registry) uses."""
    return f"driftd-test-{uuid.uuid4().hex[:12]}"


def test_avro_and_protobuf_schemas_read_back_by_id(schema_registry_url: str,
                                                   subject: str) -> None:
    """Register an Avro schema, a Protobuf schema and a Protobuf schema that imports it
    (a reference by subject and version); GET /schemas/ids/<id> gives each back with its
    type (AVRO, the default, unnamed) and its references; registering again keeps the id.
    """
    url = schema_registry_url
    avro_id = register(url, f"{subject}-avro-value", schema=AVRO_SCORE)
    common_id = register(url, f"{subject}-common.proto", schema=PROTO_COMMON,
                         schemaType="PROTOBUF")
    reference = {"name": "common.proto", "subject": f"{subject}-common.proto", "version": 1}
    proto_id = register(url, f"{subject}-proto-value", schema=PROTO_SCORE,
                        schemaType="PROTOBUF", references=[reference])
    assert len({avro_id, common_id, proto_id}) == 3

    status, avro = call(f"{url}/schemas/ids/{avro_id}")
    assert status == 200, avro
    assert json.loads(avro["schema"]) == json.loads(AVRO_SCORE)
    assert avro.get("schemaType", "AVRO") == "AVRO"
    assert avro.get("references", []) == []

    status, proto = call(f"{url}/schemas/ids/{proto_id}")
    assert status == 200, proto
    assert proto["schemaType"] == "PROTOBUF"
    assert proto["schema"] == PROTO_SCORE
    assert proto["references"] == [reference]

    assert register(url, f"{subject}-avro-value", schema=AVRO_SCORE) == avro_id
    status, versions = call(f"{url}/subjects/{subject}-avro-value/versions")
    assert (status, versions) == (200, [1])


def test_unknown_schema_id_answers_404_with_error_code_40403(schema_registry_url: str,
                                                             subject: str) -> None:
    """An id that no schema has: 404 with the Confluent error body (error_code 40403 and
    a message), as a client needs to tell "unknown schema" from an outage."""
    known = register(schema_registry_url, f"{subject}-value", schema=AVRO_SCORE)
    unknown = known + 1_000_000
    status, answer = call(f"{schema_registry_url}/schemas/ids/{unknown}")
    assert status == 404
    assert answer["error_code"] == 40403
    assert isinstance(answer["message"], str) and answer["message"]
