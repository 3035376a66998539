"""Reading a config file: environment overrides, path resolution, validation, masking."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from driftd.config.root import Config
from driftd.config.wire import resolve_wire_paths

# Environment variable -> dotted config path it overrides.
ENV_OVERRIDES: Mapping[str, str] = {
    "DRIFTD_HTTP_ADDRESS": "http.address",
    "DRIFTD_CHECKPOINT_PATH": "checkpoint.path",
    "DRIFTD_LOG_LEVEL": "logging.level",
    "DRIFTD_LOG_FORMAT": "logging.format",
    "DRIFTD_KAFKA_BOOTSTRAP_SERVERS": "sources.kafka.bootstrap_servers",
    "DRIFTD_KAFKA_SASL_USERNAME": "sources.kafka.security.sasl_username",
    "DRIFTD_KAFKA_SASL_PASSWORD": "sources.kafka.security.sasl_password",
}


class ConfigError(Exception):
    """A config file that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def format_validation_error(error: ValidationError, raw: Any = None) -> list[str]:
    """One ``field.path: message`` line per problem.

    With the validated document ``raw``, union tags pydantic puts in the location
    (``windows.0.count.step``) are dropped, so the path is the one written in the file.
    """
    problems = error.errors()
    locs = [tuple(problem["loc"]) for problem in problems]
    lines = []
    for problem, loc in zip(problems, locs, strict=True):
        # A tuple with min_length also reports "too short" when its items failed:
        # it counts the items that validated. The item errors say what is wrong.
        if problem["type"] == "too_short" and any(
            len(other) > len(loc) and other[: len(loc)] == loc for other in locs
        ):
            continue
        path = ".".join(str(part) for part in _file_path(loc, raw)) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{path}: {message}")
    return lines


def _file_path(loc: tuple[int | str, ...], raw: Any) -> list[int | str]:
    """``loc`` without the discriminator tags of tagged unions (all keyed on ``type``)."""
    path: list[int | str] = []
    node = raw
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue  # the tag of a WindowConfig / SourceConfig union member
        path.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return path


def apply_env_overrides(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Return ``raw`` with the values of the set ``ENV_OVERRIDES`` variables put in.

    ``sources.<type>.field`` applies to every source of that type in the list.
    """
    result = dict(raw)
    for variable, dotted in ENV_OVERRIDES.items():
        if variable not in environ:
            continue
        parts = dotted.split(".")
        if parts[0] == "sources":
            sources = result.get("sources")
            if isinstance(sources, list):
                result["sources"] = [
                    _set_path(s, parts[2:], environ[variable])
                    if isinstance(s, dict) and s.get("type") == parts[1] else s
                    for s in sources
                ]
        else:
            result = _set_path(result, parts, environ[variable])
    return result


def _set_path(raw: dict[str, Any], parts: list[str], value: str) -> dict[str, Any]:
    """A copy of ``raw`` with ``value`` at ``parts``; a wrongly typed section is left alone."""
    result = dict(raw)
    node = result
    *parents, leaf = parts
    for part in parents:
        child = node.get(part)
        if child is not None and not isinstance(child, dict):
            return result  # a wrongly typed section: leave it for validation to report
        node[part] = dict(child) if child is not None else {}
        node = node[part]
    node[leaf] = value
    return result


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """Make relative file paths relative to the config file's directory."""

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value != "-" and not Path(value).is_absolute():
            return str(base / value)
        return value

    result = dict(raw)
    if isinstance(result.get("models"), list):
        result["models"] = [
            {**m, "reference": resolve(m["reference"])}
            if isinstance(m, dict) and "reference" in m
            else m
            for m in result["models"]
        ]
    if isinstance(result.get("sources"), list):
        result["sources"] = [
            {**s, "path": resolve(s["path"])} if isinstance(s, dict) and "path" in s else s
            for s in result["sources"]
        ]
        result["sources"] = [resolve_wire_paths(s, resolve) for s in result["sources"]]
    for section in ("checkpoint", "results"):
        settings = result.get(section)
        if isinstance(settings, dict) and settings.get("path"):
            result[section] = {**settings, "path": resolve(settings["path"])}
    http = result.get("http")
    if isinstance(http, dict) and isinstance(http.get("web_config_file"), str):
        result["http"] = {**http, "web_config_file": resolve(http["web_config_file"])}
    return result


def parse_config(
    raw: Any, *, source: str = "<config>", base: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Validate an already-parsed YAML document; raise ConfigError listing every problem."""
    if not isinstance(raw, dict):
        raise ConfigError(source, ["(top level): expected a mapping of settings"])
    environ = os.environ if environ is None else environ
    raw = apply_env_overrides(raw, environ)
    if base is not None:
        raw = _resolve_paths(raw, base)
    try:
        return Config.model_validate(raw)
    except ValidationError as error:
        problems = format_validation_error(error, raw)
        raise ConfigError(source, [_blame_env(line, environ) for line in problems]) from None


def _blame_env(problem: str, environ: Mapping[str, str]) -> str:
    for variable, dotted in ENV_OVERRIDES.items():
        if variable in environ and problem.startswith(f"{dotted}: "):
            return f"{problem} (from environment variable {variable})"
    return problem


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read, override from the environment, and validate a YAML config file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise ConfigError(str(path), [f"cannot read file: {error.strerror}"]) from None
    except UnicodeDecodeError as error:
        line = error.object.count(b"\n", 0, error.start) + 1
        raise ConfigError(str(path), [
            f"(top level): {path} is not UTF-8 text: byte 0x{error.object[error.start]:02x} "
            f"at offset {error.start} (line {line})"]) from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(str(path), [f"(top level): not valid YAML: {error}"]) from None
    except RecursionError:  # PyYAML composes nested nodes recursively
        raise ConfigError(str(path), ["(top level): YAML nested too deep"]) from None
    return parse_config(raw, source=str(path), base=path.parent, environ=environ)


# A field whose name contains one of these is masked wherever the config is shown.
SECRET_MARKERS = ("password", "secret", "token", "key")
MASK = "***"


def mask_secrets(value: Any) -> Any:
    """A copy of ``value`` with every set field named like a secret replaced by ``***``.

    >>> mask_secrets({"sasl": {"password": "hunter2", "user": "me"}, "api_key": None})
    {'sasl': {'password': '***', 'user': 'me'}, 'api_key': None}
    """
    if isinstance(value, Mapping):
        return {
            key: MASK if _is_secret(key) and item is not None else mask_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item) for item in value]
    return value


def _is_secret(name: object) -> bool:
    lowered = str(name).lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the config file."""
    return Config.model_json_schema()
