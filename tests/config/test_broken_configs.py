"""Broken configs: `driftd run` and `driftd config validate` refuse them alike.

Every case starts from a good config (a real profile, a JSONL file, a checkpoint path)
and breaks one thing. For each, both commands exit 2 with one line per problem that
names its field path, and no traceback; `run` refuses before it starts anything
(``serve``, which opens the HTTP server and the broker connections, is never called).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from config.support import write_profile
from driftd import config as cfg
from driftd.cli import main as driftd
from driftd.commands import run as run_command

Raw = dict[str, Any]


def good_config() -> Raw:
    return {
        "models": [{
            "name": "fraud",
            "reference": "profiles/fraud.json",
            "columns": [{"name": "amount", "kind": "numeric"},
                        {"name": "score", "kind": "numeric", "role": "prediction"}],
            "windows": [{"name": "1h", "type": "time", "duration_seconds": 3600,
                         "slide_seconds": 300}],
        }],
        "sources": [{"type": "jsonl", "path": "events.jsonl"}],
        "http": {"address": "127.0.0.1:9108"},
        "checkpoint": {"path": "var/state.sqlite"},
    }


def kafka_source(**security: Any) -> Raw:
    """A Kafka source on a port nothing listens on (nothing may connect anyway)."""
    return {"type": "kafka", "bootstrap_servers": "127.0.0.1:1", "topics": [{"name": "p"}],
            "security": {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN",
                         "sasl_username": "driftd", **security}}


@dataclass(frozen=True)
class Case:
    """One broken config: ``edit`` changes the good config (it may also touch files in
    the config's directory) or ``text`` replaces the whole file; ``expected`` is the
    start of the one problem line."""

    id: str
    expected: str
    edit: Callable[[Raw, Path], None] | None = None
    text: Callable[[Path], bytes] | None = None


def window(raw: Raw) -> Raw:
    window_: Raw = raw["models"][0]["windows"][0]
    return window_


def set_window(**values: Any) -> Callable[[Raw, Path], None]:
    return lambda raw, _: window(raw).update(values)


def profile_text(edit: Callable[[str], str | bytes]) -> Callable[[Raw, Path], None]:
    """Rewrite the reference profile through ``edit`` (text in, text or bytes out)."""
    def apply(_: Raw, etc: Path) -> None:
        path = etc / "profiles" / "fraud.json"
        damaged = edit(path.read_text(encoding="utf-8"))
        path.write_bytes(damaged if isinstance(damaged, bytes) else damaged.encode())
    return apply


def edit_a_count(text: str) -> str:
    doc = json.loads(text)
    doc["columns"]["amount"]["count"] += 1
    return json.dumps(doc)


def as_yaml(raw: Raw) -> bytes:
    return yaml.safe_dump(raw).encode()


def not_utf8(_: Path) -> bytes:
    return as_yaml(good_config()).replace(b"fraud", b"fr\xe4ud", 1)


def deep_yaml(_: Path) -> bytes:
    return b"models: " + b"[" * 20_000 + b"]" * 20_000 + b"\n"


def with_yaml_value(dotted: str, value: str) -> Callable[[Path], bytes]:
    """The good config with ``value`` written verbatim as YAML (``.inf``, ``.nan``)."""
    def text(_: Path) -> bytes:
        raw = good_config()
        node: Any = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[leaf] = "@VALUE@"
        return as_yaml(raw).replace(b"'@VALUE@'", value.encode())
    return text


def a_file(name: str, content: bytes = b"") -> Callable[[Path], Path]:
    def make(etc: Path) -> Path:
        (etc / name).write_bytes(content)
        return etc / name
    return make


def a_directory(name: str) -> Callable[[Path], Path]:
    def make(etc: Path) -> Path:
        (etc / name).mkdir(exist_ok=True)
        return etc / name
    return make


def kafka_with(field: str, make: Callable[[Path], Path]) -> Callable[[Raw, Path], None]:
    """A Kafka source whose ``security.<field>`` is the path ``make`` returns."""
    def apply(raw: Raw, etc: Path) -> None:
        extra = {} if field == "sasl_password_file" else {"sasl_password": "x"}
        raw["sources"] = [kafka_source(**{field: str(make(etc))}, **extra)]
    return apply


def second(raw: Raw, section: str) -> None:
    raw[section].append(copy.deepcopy(raw[section][0]))


CASES = [
    Case("inf duration", "models.0.windows.0.duration_seconds: Input should be a finite "
         "number", text=with_yaml_value("models.0.windows.0.duration_seconds", ".inf")),
    Case("nan slide", "models.0.windows.0.slide_seconds: Input should be a finite number",
         text=with_yaml_value("models.0.windows.0.slide_seconds", ".nan")),
    Case("inf evaluation interval", "evaluation.interval_seconds: Input should be a finite",
         text=with_yaml_value("evaluation.interval_seconds", ".inf")),
    Case("nan alert duration", "alerts.drift_for_seconds: Input should be a finite number",
         text=with_yaml_value("alerts.drift_for_seconds", ".nan")),
    Case("negative checkpoint interval", "checkpoint.interval_seconds: Input should be "
         "greater than 0", lambda raw, _: raw["checkpoint"].update(interval_seconds=-1)),
    Case("negative lateness", "models.0.windows.0.allowed_lateness_seconds: Input should be "
         "greater than or equal to 0", set_window(allowed_lateness_seconds=-5)),
    Case("unknown top-level field", "modles: Extra inputs are not permitted",
         lambda raw, _: raw.update(modles=[])),
    Case("unknown model field", "models.0.colums: Extra inputs are not permitted",
         lambda raw, _: raw["models"][0].update(colums=[])),
    Case("count size not a number", "models.0.windows.0.size: Input should be a valid "
         "integer", lambda raw, _: raw["models"][0].update(
             windows=[{"name": "c", "type": "count", "size": "ten", "step": 5}])),
    Case("columns a string", "models.0.columns: Input should be a valid tuple",
         lambda raw, _: raw["models"][0].update(columns="amount")),
    Case("non-UTF-8 bytes", "(top level): {config} is not UTF-8 text: byte 0xe4 at offset",
         text=not_utf8),
    Case("YAML nested 20,000 deep", "(top level): YAML nested too deep", text=deep_yaml),
    Case("empty file", "(top level): expected a mapping of settings", text=lambda _: b""),
    Case("a list at top level", "(top level): expected a mapping of settings",
         text=lambda _: b"- models\n- sources\n"),
    Case("missing reference", "models.0.reference: file not found: {etc}/profiles/none.json",
         lambda raw, _: raw["models"][0].update(reference="profiles/none.json")),
    Case("reference is a directory", "models.0.reference: is a directory: {etc}/profiles",
         lambda raw, _: raw["models"][0].update(reference="profiles")),
    Case("profile with an edited number", "models.0.reference: {etc}/profiles/fraud.json: "
         "corrupted profile: column 'amount': bucket_counts do not add up to count",
         profile_text(edit_a_count)),
    Case("truncated profile", "models.0.reference: {etc}/profiles/fraud.json: profile is "
         "not valid JSON", profile_text(lambda text: text[: len(text) // 2])),
    Case("binary garbage profile", "models.0.reference: {etc}/profiles/fraud.json: profile "
         "is not valid JSON", profile_text(lambda _: bytes(range(256)) * 4)),
    Case("profile nested 100,000 deep", "models.0.reference: {etc}/profiles/fraud.json: "
         "corrupted profile: nested too deep",
         profile_text(lambda _: "[" * 100_000 + "]" * 100_000)),
    Case("profile lacks a configured column", "models.0.reference: reference profile "
         "sha256:a38eab7043db of model 'fraud' has no column 'country'",
         lambda raw, _: raw["models"][0]["columns"].append(
             {"name": "country", "kind": "categorical"})),
    Case("duplicate model names", "models: model names must be unique, 'fraud' appears "
         "twice", lambda raw, _: second(raw, "models")),
    Case("duplicate column names", "models.0.columns: column names must be unique",
         lambda raw, _: raw["models"][0]["columns"].append(
             {"name": "amount", "kind": "numeric"})),
    Case("password file is a directory", "sources.0.security.sasl_password_file: is a "
         "directory: {etc}/secrets", kafka_with("sasl_password_file", a_directory("secrets"))),
    Case("password file is empty", "sources.0.security.sasl_password_file: is empty",
         kafka_with("sasl_password_file", a_file("password"))),
    Case("password file not UTF-8", "sources.0.security.sasl_password_file: not UTF-8 text",
         kafka_with("sasl_password_file", a_file("password", b"\xff\xfe\n"))),
    Case("missing CA file", "sources.0.security.ssl_cafile: file not found: {etc}/ca.pem",
         kafka_with("ssl_cafile", lambda etc: etc / "ca.pem")),
    Case("CA file without a certificate", "sources.0.security.ssl_cafile: holds no PEM "
         "certificate", kafka_with("ssl_cafile", a_file("ca.pem", b"not a certificate\n"))),
    Case("client key is a directory", "sources.0.security.ssl_keyfile: is a directory",
         kafka_with("ssl_keyfile", a_directory("keys"))),
    Case("checkpoint path is a directory", "checkpoint.path: is a directory",
         lambda raw, etc: raw["checkpoint"].update(path=str(a_directory("state")(etc)))),
    Case("checkpoint parent is a file", "checkpoint.path: not a directory: {etc}/var",
         lambda _, etc: None if a_file("var")(etc) else None),
    Case("JSONL file missing", "sources.0.path: file not found: {etc}/none.jsonl",
         lambda raw, _: raw["sources"][0].update(path="none.jsonl")),
    Case("JSONL path is a directory", "sources.0.path: is a directory: {etc}/profiles",
         lambda raw, _: raw["sources"][0].update(path="profiles")),
    Case("unknown source type", "sources.0: Input tag 'kafak' found using 'type' does not "
         "match", lambda raw, _: raw["sources"][0].update(type="kafak")),
    Case("http address without a port", "http.address: address must be host:port",
         lambda raw, _: raw["http"].update(address="localhost")),
    Case("step does not divide size", "models.0.windows.0.step: step must divide size",
         lambda raw, _: raw["models"][0].update(
             windows=[{"name": "c", "type": "count", "size": 100, "step": 30}])),
    Case("slide does not divide duration", "models.0.windows.0.slide_seconds: "
         "slide_seconds must divide duration_seconds", set_window(slide_seconds=7)),
    Case("SASL without a mechanism", "sources.0.security: protocol SASL_* needs "
         "sasl_mechanism", lambda raw, _: raw.update(sources=[
             {**kafka_source(), "security": {"protocol": "SASL_SSL"}}])),
    Case("results topic without a kafka source", "results.kafka_topic: needs a kafka "
         "source to publish through", lambda raw, _: raw.update(
             results={"kafka_topic": "driftd.results"})),
    Case("results max_bytes zero", "results.max_bytes: Input should be greater than 0",
         lambda raw, _: raw.update(results={"path": "results.jsonl", "max_bytes": 0})),
    Case("negative results backups", "results.backups: Input should be greater than or "
         "equal to 0", lambda raw, _: raw.update(results={"backups": -1})),
    Case("unknown results field", "results.rotate: Extra inputs are not permitted",
         lambda raw, _: raw.update(results={"rotate": True})),
    Case("results path is a directory", "results.path: is a directory (give a file in "
         "it, e.g. {etc}/profiles/results.jsonl): {etc}/profiles",
         lambda raw, _: raw.update(results={"path": "profiles"})),
    Case("results parent is a file", "results.path: not a directory: {etc}/events.jsonl",
         lambda raw, _: raw.update(results={"path": "events.jsonl/results.jsonl"})),
]


@pytest.fixture(autouse=True)
def _no_driftd_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in cfg.ENV_OVERRIDES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def serve_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records calls of `run`'s ``serve`` (which would start the daemon) instead."""
    calls: list[object] = []
    monkeypatch.setattr(run_command, "serve", lambda *args, **kwargs: calls.append(args) or 0)
    return calls


def write_case(case: Case | None, tmp_path: Path) -> tuple[Path, Path]:
    """The good config with ``case`` applied, in tmp/etc; returns (config file, etc)."""
    etc = tmp_path / "etc"
    write_profile(etc / "profiles" / "fraud.json", {"amount": "input", "score": "prediction"})
    (etc / "events.jsonl").write_text("", encoding="utf-8")
    path = etc / "driftd.yaml"
    raw = good_config()
    if case is not None and case.edit is not None:
        case.edit(raw, etc)
    if case is not None and case.text is not None:
        path.write_bytes(case.text(etc))
    else:
        path.write_bytes(as_yaml(raw))
    return path, etc


def expected_line(case: Case, path: Path, etc: Path) -> str:
    return case.expected.format(config=path, etc=etc)


def test_the_good_config_is_valid_and_runs(
    tmp_path: Path, serve_calls: list[object], capsys: pytest.CaptureFixture[str]
) -> None:
    """The starting point of every case validates, and `run` gets as far as serving."""
    path, _ = write_case(None, tmp_path)

    assert driftd(["config", "validate", str(path)]) == 0
    assert driftd(["run", "--config", str(path)]) == 0
    assert (len(serve_calls), capsys.readouterr().err) == (1, "")


def test_there_are_at_least_25_cases() -> None:
    assert len(CASES) >= 25
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_validate_and_run_refuse_a_broken_config_alike(
    case: Case, tmp_path: Path, serve_calls: list[object],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Steps: write the broken config; `driftd config validate F`; `driftd run --config F`.

    Expected: both exit 2; validate prints exactly one line, the problem with its field
    path; run prints the same line after "driftd run: F: "; run never starts serving.
    """
    path, etc = write_case(case, tmp_path)
    line = expected_line(case, path, etc)

    validate_code = driftd(["config", "validate", str(path)])
    validate = capsys.readouterr()
    run_code = driftd(["run", "--config", str(path)])
    run = capsys.readouterr()

    assert (validate_code, validate.out) == (2, ""), validate
    problems = validate.err.splitlines()
    assert len(problems) == 1 and problems[0].startswith(line), problems
    assert (run_code, run.out, serve_calls) == (2, "", [])
    assert run.err.splitlines() == [f"driftd run: {path}: {problems[0]}"]


SUBPROCESS_CASES = ["non-UTF-8 bytes", "YAML nested 20,000 deep", "inf duration",
                    "binary garbage profile", "password file is a directory",
                    "checkpoint path is a directory"]


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS_CASES],
                         ids=SUBPROCESS_CASES)
def test_a_real_driftd_process_refuses_it_without_a_traceback(
    case: Case, tmp_path: Path
) -> None:
    """The same, as real processes (`python -m driftd`): exit 2, the line, no traceback."""
    path, etc = write_case(case, tmp_path)
    line = expected_line(case, path, etc)

    for argv in (["config", "validate", str(path)], ["run", "--config", str(path)]):
        result = subprocess.run([sys.executable, "-m", "driftd", *argv], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2, result
        assert "Traceback" not in result.stderr
        assert len(result.stderr.splitlines()) == 1 and line in result.stderr, result.stderr


def test_a_checkpoint_in_directories_not_made_yet_is_valid(tmp_path: Path) -> None:
    """The checkpoint store creates missing parent directories, so validate accepts a
    path under directories that do not exist yet (var/ in a fresh checkout)."""
    path, etc = write_case(None, tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["checkpoint"]["path"] = "var/lib/driftd/state.sqlite"
    path.write_text(yaml.safe_dump(raw))

    assert driftd(["config", "validate", str(path)]) == 0
    assert not (etc / "var").exists()
