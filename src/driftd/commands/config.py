"""``driftd config``: validate a config file, print its JSON Schema, show it effective,
print an example.

Exit codes: 0 success, 2 invalid config (one ``field.path: message`` line per problem
on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from driftd import assets
from driftd.config import Config, ConfigError, json_schema, load_config, mask_secrets
from driftd.preflight import load_checked

EXIT_OK = 0
EXIT_INVALID = 2



def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``config validate|schema|show`` to the ``driftd`` command line."""
    parser = subparsers.add_parser(
        "config",
        help="validate, describe or show a config file",
        description="Validate a config file, print its JSON Schema, or show it effective.",
    )
    actions = parser.add_subparsers(dest="config_command", required=True, metavar="ACTION")

    validate = actions.add_parser(
        "validate",
        help="check a config file, its paths and its reference profiles",
        description="Check a config file (after environment overrides) as `driftd run` "
        "does before it starts: every path is of the right kind, every model's reference "
        "profile loads and has its columns. Exit 0 when valid, 2 otherwise.",
    )
    validate.add_argument("file", type=Path, metavar="FILE")
    validate.set_defaults(handler=validate_command)

    schema = actions.add_parser("schema", help="print the config file's JSON Schema")
    schema.set_defaults(handler=schema_command)

    show = actions.add_parser(
        "show",
        help="print the effective config as YAML, secrets masked",
        description="Print the config as driftd will use it: environment overrides "
        "applied, defaults filled in, paths resolved, secrets masked.",
    )
    show.add_argument("file", type=Path, metavar="FILE")
    show.set_defaults(handler=show_command)

    example = actions.add_parser(
        "example", help="print an example config shipped with driftd",
        description="Print a commented example config to start from: `driftd` (a model "
        "read from Kafka, for `driftd run`), `backtest` (files, for `driftd backtest`) or "
        "`web` (TLS and basic auth of the metrics server, for --web.config.file).",
    )
    example.add_argument("name", nargs="?", choices=sorted(assets.EXAMPLE_CONFIGS),
                         default="driftd", help="which example (default: driftd)")
    example.add_argument("--out", type=Path, metavar="FILE",
                         help="write here instead of standard output")
    example.set_defaults(handler=example_command)


def validate_command(args: argparse.Namespace) -> int:
    try:
        load_checked(args.file)  # exactly what `driftd run` checks before it starts
    except ConfigError as error:
        _report(error.problems)
        return EXIT_INVALID
    print(f"{args.file}: ok")
    return EXIT_OK


def schema_command(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def show_command(args: argparse.Namespace) -> int:
    config = load_or_report(args.file)
    if config is None:
        return EXIT_INVALID
    effective = mask_secrets(config.model_dump(mode="json"))
    sys.stdout.write(yaml.safe_dump(effective, sort_keys=False, allow_unicode=True))
    return EXIT_OK


def example_command(args: argparse.Namespace) -> int:
    return write_shipped(assets.EXAMPLE_CONFIGS[args.name], args.out, "driftd config example")


def write_shipped(relative: str, out: Path | None, command: str) -> int:
    """Write a file shipped with driftd (see driftd.assets) to ``out`` or stdout."""
    try:
        data = assets.asset(relative).read_bytes()
        if out is None:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
        else:
            out.write_bytes(data)
    except assets.AssetsNotFound as error:
        print(f"{command}: {error}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        print(f"{command}: {out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def load_or_report(path: Path) -> Config | None:
    """The config at ``path``, or None after printing its problems to stderr."""
    try:
        return load_config(path)
    except ConfigError as error:
        _report(error.problems)
        return None


def _report(problems: list[str]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
