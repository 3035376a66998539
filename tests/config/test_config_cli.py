"""Scenarios for ``driftd config validate|schema|show``."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import driftd.config as driftd_config
from config.support import write_profile
from driftd import config as cfg
from driftd.cli import main as driftd
from driftd.commands import config as config_command

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "driftd.example.yaml"

VALID: dict[str, Any] = {
    "models": [
        {
            "name": "fraud",
            "version": "3",
            "reference": "profiles/fraud.json",
            "columns": [
                {"name": "amount", "kind": "numeric"},
                {"name": "score", "kind": "numeric", "role": "prediction"},
            ],
            "windows": [
                {"name": "1h", "type": "time", "duration_seconds": 3600, "slide_seconds": 300}
            ],
        }
    ],
    "sources": [{"type": "jsonl", "path": "-"}],
    "checkpoint": {"path": "var/state.sqlite"},
}


@pytest.fixture(autouse=True)
def _no_driftd_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Overrides set in the developer's shell must not change these scenarios."""
    for variable in cfg.ENV_OVERRIDES:
        monkeypatch.delenv(variable, raising=False)


@pytest.fixture
def config_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a config (VALID unless given) to tmp/etc/driftd.yaml, optionally with its
    reference profile next to it, and return its path."""

    def write(raw: dict[str, Any] | None = None, *, with_reference: bool = True) -> Path:
        etc = tmp_path / "etc"
        (etc / "profiles").mkdir(parents=True, exist_ok=True)
        if with_reference:
            write_profile(etc / "profiles" / "fraud.json",
                          {"amount": "input", "score": "prediction"})
        path = etc / "driftd.yaml"
        path.write_text(
            yaml.safe_dump(copy.deepcopy(VALID) if raw is None else raw), encoding="utf-8"
        )
        return path

    return write


def lines(text: str) -> list[str]:
    return text.splitlines()


# --- validate ------------------------------------------------------------------------


def test_validate_a_good_file(
    config_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Steps: ``driftd config validate FILE`` on a valid config with its profile present.

    Expected: exit 0, "FILE: ok" on stdout, nothing on stderr.
    """
    path = config_file()

    code = driftd(["config", "validate", str(path)])

    out, err = capsys.readouterr()
    assert (code, lines(out), err) == (0, [f"{path}: ok"], "")


def test_validate_reports_each_problem_on_stderr(
    config_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Steps: validate a config with an unknown field and a bad window step.

    Expected: exit 2, one ``field.path: message`` line per problem on stderr, no "ok".
    """
    raw = copy.deepcopy(VALID)
    raw["models"][0]["colums"] = []
    raw["models"][0]["windows"] = [{"name": "w", "type": "count", "size": 100, "step": 30}]

    code = driftd(["config", "validate", str(config_file(raw))])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert lines(err) == [
        "models.0.windows.0.step: step must divide size (size = whole number of steps)",
        "models.0.colums: Extra inputs are not permitted",
    ]


def test_validate_reports_a_missing_reference_profile(
    config_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Steps: validate a valid config whose reference profile was never built.

    Expected: exit 2 and the resolved path the daemon would have tried to read.
    """
    path = config_file(with_reference=False)

    code = driftd(["config", "validate", str(path)])

    out, err = capsys.readouterr()
    expected = path.parent / "profiles" / "fraud.json"
    assert (code, out) == (2, "")
    assert lines(err) == [f"models.0.reference: file not found: {expected}"]


def test_validate_rejects_a_directory_as_reference(
    config_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    raw = copy.deepcopy(VALID)
    raw["models"][0]["reference"] = "profiles"
    path = config_file(raw)

    code = driftd(["config", "validate", str(path)])

    assert code == 2
    assert lines(capsys.readouterr().err) == [
        f"models.0.reference: is a directory: {path.parent / 'profiles'}"
    ]


def test_validate_the_example_before_its_profile_is_built(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Steps: validate config/driftd.example.yaml in a fresh checkout.

    Expected: the only problem is the reference profile its comment says to build.
    """
    code = driftd(["config", "validate", str(EXAMPLE)])

    expected = EXAMPLE.parent / "profiles" / "fraud.json"
    assert code == 2
    assert lines(capsys.readouterr().err) == [f"models.0.reference: file not found: {expected}"]


def test_validate_applies_environment_overrides(
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DRIFTD_HTTP_ADDRESS", "9108")

    code = driftd(["config", "validate", str(config_file())])

    assert code == 2
    assert lines(capsys.readouterr().err) == [
        "http.address: address must be host:port, e.g. 127.0.0.1:9108 "
        "(from environment variable DRIFTD_HTTP_ADDRESS)"
    ]


def test_validate_a_file_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = driftd(["config", "validate", str(tmp_path / "missing.yaml")])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert lines(err) == ["cannot read file: No such file or directory"]


@pytest.mark.parametrize(
    "argv",
    [["config"], ["config", "validate"], ["config", "lint", "x.yaml"]],
    ids=["no action", "no file", "unknown action"],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        driftd(argv)

    assert caught.value.code == 2
    assert "usage: driftd config" in capsys.readouterr().err


# --- schema --------------------------------------------------------------------------


def test_schema_prints_the_config_json_schema(capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: ``driftd config schema``.

    Expected: exit 0 and driftd.config.json_schema() as JSON indented by 2, which
    forbids unknown fields and requires models and sources.
    """
    code = driftd(["config", "schema"])

    out = capsys.readouterr().out
    schema = json.loads(out)
    assert code == 0
    assert out == json.dumps(cfg.json_schema(), indent=2) + "\n"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["models", "sources"]
    assert set(schema["$defs"]["CountWindowConfig"]["required"]) == {"name", "size", "step"}


# --- show ----------------------------------------------------------------------------


def test_show_prints_the_effective_config(
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Steps: ``driftd config show FILE`` with DRIFTD_HTTP_ADDRESS set.

    Expected: exit 0; YAML holding the override, the filled-in defaults and resolved
    paths, in field order; loading that YAML again gives the same config.
    """
    monkeypatch.setenv("DRIFTD_HTTP_ADDRESS", "0.0.0.0:9200")
    path = config_file()

    code = driftd(["config", "show", str(path)])

    out = capsys.readouterr().out
    shown = yaml.safe_load(out)
    assert code == 0
    assert list(shown) == [
        "models", "sources", "http", "evaluation", "checkpoint", "logging", "alerts",
        "ingest", "results", "shutdown_grace_seconds",
    ]  # fmt: skip
    assert shown["http"]["address"] == "0.0.0.0:9200"
    assert shown["http"]["max_connections"] == 64
    assert shown["models"][0]["reference"] == str(path.parent / "profiles" / "fraud.json")
    assert shown["checkpoint"]["path"] == str(path.parent / "var" / "state.sqlite")
    assert shown["models"][0]["tests"]["psi"]["threshold"] == 0.2
    assert cfg.parse_config(shown, environ={}) == cfg.load_config(path)


def test_show_masks_fields_named_like_secrets(
    config_file: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Steps: pretend "address" names a secret, then show a config.

    Expected: the address is printed as ***; no config field is a secret yet, so this
    checks that show really passes its output through the mask.
    """
    monkeypatch.setattr(driftd_config.loading, "SECRET_MARKERS", ("address",))

    code = driftd(["config", "show", str(config_file())])

    assert code == 0
    assert yaml.safe_load(capsys.readouterr().out)["http"]["address"] == "***"


def test_show_an_invalid_file_reports_like_validate(
    config_file: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    raw = copy.deepcopy(VALID)
    raw["http"] = {"address": "nowhere"}

    code = driftd(["config", "show", str(config_file(raw))])

    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert lines(err) == ["http.address: address must be host:port, e.g. 127.0.0.1:9108"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"password": "hunter2"}, {"password": "***"}),
        ({"sasl_password": "x", "user": "me"}, {"sasl_password": "***", "user": "me"}),
        ({"Client_Secret": "x"}, {"Client_Secret": "***"}),
        ({"auth": {"token": 123}}, {"auth": {"token": "***"}}),
        ({"api_key": {"id": "a", "value": "b"}}, {"api_key": "***"}),
        (
            {"ssl": [{"keyfile": "/k"}, {"cafile": "/c"}]},
            {"ssl": [{"keyfile": "***"}, {"cafile": "/c"}]},
        ),
        ({"token": None}, {"token": None}),
        ({"monitored": ["password", "key"]}, {"monitored": ["password", "key"]}),
        ("key", "key"),
    ],
    ids=[
        "plain", "substring", "any case", "nested", "whole subtree", "inside lists",
        "unset stays visible", "values are not names", "scalar",
    ],
)  # fmt: skip
def test_mask_secrets(value: Any, expected: Any) -> None:
    """Every set field whose name contains password, secret, token or key is masked."""
    original = copy.deepcopy(value)

    assert config_command.mask_secrets(value) == expected
    assert value == original  # the input is not modified
