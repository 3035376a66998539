"""Preflight: what a config needs from the filesystem, checked before anything starts.

``driftd run`` and ``driftd config validate`` both call ``load_checked``, so ``run``
refuses nothing that ``validate`` accepted: every path is a file (or directory) of the
right kind and readable, and every reference profile loads and has the model's columns.
Each problem is one ``field.path: message`` line.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path

from driftd.config import (
    Config,
    ConfigError,
    FileSourceConfig,
    JsonlSourceConfig,
    KafkaSecurityConfig,
    KafkaSourceConfig,
    load_config,
)
from driftd.config.http import HttpSourceConfig
from driftd.datafile import read_problem
from driftd.monitor.layout import Layout
from driftd.reference.profile import Profile, ProfileError, load_profile
from driftd.wire.checks import wire_problems

_SECURITY_FILES = ("sasl_password_file", "ssl_cafile", "ssl_certfile", "ssl_keyfile")


def load_checked(path: Path, *, environ: Mapping[str, str] | None = None
                 ) -> tuple[Config, dict[str, Profile]]:
    """The config at ``path`` and its models' profiles; ConfigError lists every problem."""
    config = load_config(path, environ=environ)
    problems = path_problems(config)
    profiles, profile_problems = load_profiles(config)
    problems += profile_problems
    if problems:
        raise ConfigError(str(path), problems)
    return config, profiles


def load_profiles(config: Config) -> tuple[dict[str, Profile], list[str]]:
    """Every model's profile, checked against its columns as the monitor will use them;
    and one problem line per model whose profile cannot be used."""
    profiles: dict[str, Profile] = {}
    problems: list[str] = []
    for index, model in enumerate(config.models):
        field = f"models.{index}.reference"
        kind_problem = file_problem(model.reference)
        if kind_problem is not None:
            problems.append(f"{field}: {kind_problem}")
            continue
        try:
            profile = load_profile(model.reference)
            Layout(model.columns, profile, model.performance)  # names a mismatched column
        except ProfileError as error:
            problems.append(f"{field}: {error}")
            continue
        except RecursionError:  # json.loads of deeply nested arrays or objects
            problems.append(f"{field}: {model.reference}: corrupted profile: nested too deep")
            continue
        except OverflowError:  # an integer too large for numpy
            problems.append(f"{field}: {model.reference}: corrupted profile: a number out "
                            "of range")
            continue
        profiles[model.name] = profile
    return profiles, problems


def path_problems(config: Config) -> list[str]:
    """One line per configured path (other than references) of the wrong kind."""
    problems: list[str] = []
    for index, source in enumerate(config.sources):
        if isinstance(source, JsonlSourceConfig) and source.path != "-":
            problems += _located(f"sources.{index}.path", file_problem(Path(source.path)))
        elif isinstance(source, FileSourceConfig):
            path = Path(source.path)
            problem = file_problem(path) or read_problem(path, source.file_format)
            problems += _located(f"sources.{index}.path", problem)
        elif isinstance(source, KafkaSourceConfig):
            problems += _security_problems(f"sources.{index}.security", source.security)
            problems += wire_problems(f"sources.{index}", source)
        elif isinstance(source, HttpSourceConfig):
            problems += _http_problems(f"sources.{index}", source)
    checkpoint = config.checkpoint.path
    if checkpoint is not None:
        problems += _located("checkpoint.path", _checkpoint_problem(checkpoint))
    if config.results.path is not None:
        problems += _located("results.path",
                             _checkpoint_problem(config.results.path, "results.jsonl"))
    return problems


def file_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable regular file, or None."""
    if path.is_dir():
        return f"is a directory: {path}"
    if not path.exists():
        return f"file not found: {path}"
    if not path.is_file():
        return f"not a regular file: {path}"
    if not os.access(path, os.R_OK):
        return f"not readable (permission denied): {path}"
    return None


def _http_problems(field: str, source: HttpSourceConfig) -> list[str]:
    """The spool directory must be one driftd can write in (or create); the token file
    readable and not empty."""
    spool = source.spool_dir
    problem = None
    if spool.exists() and not spool.is_dir():
        problem = f"not a directory: {spool}"
    elif spool.is_dir() and not os.access(spool, os.W_OK | os.X_OK):
        problem = f"directory not writable: {spool}"
    elif not spool.exists():
        problem = _checkpoint_problem(spool / "x.spool")
    problems = _located(f"{field}.spool_dir", problem)
    token = source.bearer_token_file
    if token is not None:
        problems += _located(f"{field}.bearer_token_file",
                             file_problem(token) or _password_problem(token))
    return problems


def _security_problems(field: str, security: KafkaSecurityConfig) -> list[str]:
    problems: list[str] = []
    for name in _SECURITY_FILES:
        path: Path | None = getattr(security, name)
        if path is None:
            continue
        problem = file_problem(path)
        if problem is None and name == "sasl_password_file":
            problem = _password_problem(path)
        elif problem is None and name == "ssl_cafile":
            problem = _ca_problem(path)
        problems += _located(f"{field}.{name}", problem)
    return problems


def _password_problem(path: Path) -> str | None:
    try:
        password = path.read_bytes().decode("utf-8").strip()
    except OSError as error:
        return f"cannot read file: {error.strerror}: {path}"
    except UnicodeDecodeError as error:
        return f"not UTF-8 text (byte offset {error.start}): {path}"
    return None if password else f"is empty: {path}"


def _ca_problem(path: Path) -> str | None:
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError):
        return f"holds no PEM certificate: {path}"
    return None


def _checkpoint_problem(path: Path, example: str = "driftd.sqlite") -> str | None:
    """The checkpoint store (and the results file) create missing parent directories:
    the nearest existing ancestor must be a directory it can write in."""
    if str(path) == ":memory:":
        return None
    if path.is_dir():
        return f"is a directory (give a file in it, e.g. {path / example}): {path}"
    if path.exists() and not path.is_file():
        return f"not a regular file: {path}"
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"not a directory: {ancestor} (in {path})"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"directory not writable: {ancestor} (in {path})"
    return None


def _located(field: str, problem: str | None) -> list[str]:
    return [] if problem is None else [f"{field}: {problem}"]
