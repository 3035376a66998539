"""The ``driftd`` command line: a thin dispatcher over ``driftd.commands``.

Exit codes: 0 success (``check``: no drift), 1 drift detected, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from driftd import __version__
from driftd.commands import backtest, check, config, dashboards, demo, reference, rules, run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftd", description="Model-drift monitoring daemon and batch drift gate."
    )
    parser.add_argument("--version", action="version", version=f"driftd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (run, backtest, demo, config, reference, check, rules, dashboards):
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    return code
