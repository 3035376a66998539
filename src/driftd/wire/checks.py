"""Start-up checks of a Kafka source's schema files and registry files (``preflight``):
one ``field.path: message`` line per problem."""

from __future__ import annotations

import ssl
from pathlib import Path

from driftd.config import KafkaSourceConfig
from driftd.wire.schemas import UnusableSchema
from driftd.wire.translator import load_schema_file


def wire_problems(field: str, source: KafkaSourceConfig) -> list[str]:
    """Every schema file exists and loads (for a format a topic uses), and the registry's
    password and CA files are usable."""
    problems: list[str] = []
    used = {t.format for t in source.topics}
    for schema_id, entry in source.schema_files.items():
        where = f"{field}.schema_files.{schema_id}"
        problem = _file_problem(entry.path)
        if problem is None and entry.format in used:
            try:
                load_schema_file(entry)
            except UnusableSchema as error:
                problem = str(error)
        if problem is not None:
            problems.append(f"{where}: {problem}")
    registry = source.schema_registry
    if registry is not None:
        where = f"{field}.schema_registry"
        if registry.password_file is not None:
            problem = _file_problem(registry.password_file) or _password_problem(
                registry.password_file)
            if problem is not None:
                problems.append(f"{where}.password_file: {problem}")
        if registry.ca_file is not None:
            problem = _file_problem(registry.ca_file) or _ca_problem(registry.ca_file)
            if problem is not None:
                problems.append(f"{where}.ca_file: {problem}")
    return problems


def _file_problem(path: Path) -> str | None:
    if path.is_dir():
        return f"is a directory: {path}"
    if not path.is_file():
        return f"file not found: {path}"
    return None


def _password_problem(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        return f"cannot read {path}: {error}"
    return None if text else f"is empty: {path}"


def _ca_problem(path: Path) -> str | None:
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError):
        return f"holds no PEM certificate: {path}"
    return None
