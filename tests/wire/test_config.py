"""Config of Avro and Protobuf topics: where their schemas come from is checked when the
config loads (``config validate`` and ``run`` alike), one line per problem, and the base
install never imports the schema libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftd.config import ConfigError
from driftd.preflight import load_checked
from kafka_e2e.support import workload, write_profile


def write_config(directory: Path, source: dict[str, Any]) -> Path:
    profile = directory / "bench.json"
    if not profile.exists():
        write_profile(profile, workload.columns(), rows=2000)
    raw = {"models": [{"name": "bench", "reference": "bench.json",
                       "columns": [c.model_dump(exclude_defaults=True) | {"kind": c.kind}
                                   for c in workload.columns()],
                       "windows": [{"name": "w", "type": "count", "size": 100, "step": 100}]}],
           "sources": [{"type": "kafka", "bootstrap_servers": "127.0.0.1:1",
                        "topics": [{"name": "preds", "format": "avro"}]} | source]}
    path = directory / "driftd.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_checked(path)
    return error.value.problems


def test_a_wire_topic_without_schemas_is_an_error_naming_it(tmp_path: Path) -> None:
    """format avro with neither schema_registry nor an .avsc in schema_files."""
    assert problems(write_config(tmp_path, {})) == [
        "sources.0: topic 'preds' has format avro but there is no schema_registry and no "
        ".avsc file in schema_files"]
    proto = tmp_path / "x.proto"
    proto.write_text('syntax = "proto3"; message A {}')
    assert problems(write_config(tmp_path, {"schema_files": {1: "x.proto"}}))[0].startswith(
        "sources.0: topic 'preds' has format avro but")


def test_schema_files_are_relative_to_the_config_and_must_load(tmp_path: Path) -> None:
    """A missing file, a file that is no Avro schema, a wrong suffix and a message
    named for an Avro file are each one line with its field path; a good file passes."""
    (tmp_path / "bad.avsc").write_text('{"type": "record"}')
    (tmp_path / "good.avsc").write_text(json.dumps(
        {"type": "record", "name": "E", "fields": [{"name": "model", "type": "string"}]}))
    assert problems(write_config(tmp_path, {"schema_files": {
        1: "missing.avsc", 2: "bad.avsc", 3: "good.avsc"}})) == [
        f"sources.0.schema_files.1: file not found: {tmp_path / 'missing.avsc'}",
        f"sources.0.schema_files.2: {tmp_path / 'bad.avsc'}: not an Avro schema: "
        "SchemaParseException: \"name\" is a required field missing from the schema: "
        "{'type': 'record'}"]
    assert problems(write_config(tmp_path, {"schema_files": {3: "good.json"}})) == [
        f"sources.0.schema_files.3: {tmp_path / 'good.json'}: a schema file ends in .avsc "
        "(Avro) or .proto (Protobuf)"]
    assert problems(write_config(tmp_path, {"schema_files": {
        3: {"path": "good.avsc", "message": "E"}}})) == [
        "sources.0.schema_files.3: message names a Protobuf message type; this is an Avro "
        "file"]
    config, _ = load_checked(write_config(tmp_path, {"schema_files": {3: "good.avsc"}}))
    assert config.sources[0].schema_files[3].path == tmp_path / "good.avsc"  # type: ignore[union-attr]


def test_registry_settings_are_checked(tmp_path: Path) -> None:
    """The URL scheme, basic auth in halves, an empty password file, a CA file that
    holds no certificate."""
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "ca.pem").write_text("not a certificate")
    assert problems(write_config(tmp_path, {"schema_registry": {"url": "registry:8081"}})) == [
        "sources.0.schema_registry.url: expected an http:// or https:// URL, got "
        "'registry:8081'"]
    assert problems(write_config(tmp_path, {"schema_registry": {
        "url": "http://r:8081", "username": "u"}})) == [
        "sources.0.schema_registry: basic auth needs both username and password_file"]
    assert problems(write_config(tmp_path, {"schema_registry": {
        "url": "https://r:8081", "username": "u", "password_file": "empty",
        "ca_file": "ca.pem"}})) == [
        f"sources.0.schema_registry.password_file: is empty: {tmp_path / 'empty'}",
        f"sources.0.schema_registry.ca_file: holds no PEM certificate: {tmp_path / 'ca.pem'}"]


def test_a_missing_extra_is_one_line_saying_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without fastavro installed, an avro topic fails the config with the pip line."""
    import driftd.config.wire as wire

    monkeypatch.setattr(wire, "_importable", lambda module: module != "fastavro")
    assert problems(write_config(tmp_path, {"schema_registry": {"url": "http://r:1"}})) == [
        "sources.0: topic 'preds': format avro needs the avro extra: "
        "pip install 'driftd[avro]'"]


def test_the_base_install_does_not_import_the_schema_libraries() -> None:
    """Importing the daemon and building a JSON-only pipeline loads neither fastavro nor
    google.protobuf nor driftd's format modules."""
    code = ("import sys, driftd.cli, driftd.service.daemon, driftd.service.translators; "
            "bad = [m for m in ('fastavro', 'grpc_tools', 'driftd.wire.avro', "
            "'driftd.wire.protobuf') if m in sys.modules]; print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert done.stdout.strip() == "[]"
