"""`driftd backtest`: replay a config's sources to their end, print every window.

The replay is the daemon itself (same decoder, windows, label join and results
history) with ``--exit-when-drained``: files for any stream, or Kafka topics read up to
their end offsets. Every open window is closed at the end of the data. The table has
one row per window: its drift (revision 0) and its latest performance, matured or not.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from driftd.commands.run import serve
from driftd.config import ConfigError
from driftd.preflight import load_checked
from driftd.report import ReportError, history_report, write_report
from driftd.service.daemon import Daemon


def register(commands: Any) -> None:
    backtest = commands.add_parser(
        "backtest", help="replay the config's sources to their end and print every window")
    backtest.add_argument("--config", required=True, type=Path)
    backtest.add_argument("--results", type=Path, metavar="FILE",
                          help="append the results history to FILE (overrides results.path)")
    backtest.add_argument("--format", choices=("table", "json"), default="table",
                          help="table (default) or the results history as JSON lines")
    backtest.add_argument("--html", type=Path, metavar="PATH",
                          help="also write an HTML report: each statistic over the windows")
    backtest.add_argument("--fail-on-drift", action="store_true",
                          help="exit 1 when any window flagged drift")
    backtest.set_defaults(handler=handle_backtest)


def handle_backtest(args: argparse.Namespace) -> int:
    try:
        config, profiles = load_checked(args.config)
    except ConfigError as error:
        for problem in error.problems:
            print(f"driftd backtest: {error.source}: {problem}", file=sys.stderr)
        return 2
    # No scrapes during a replay: any free port, and the file the user asked for.
    config = config.model_copy(update={
        "http": config.http.model_copy(update={"address": "127.0.0.1:0"}),
        "logging": config.logging.model_copy(update={"level": "WARNING"}),
        **({"results": config.results.model_copy(update={"path": args.results})}
           if args.results is not None else {})})
    records: list[dict[str, Any]] = []

    def keep(daemon: Daemon, code: int) -> None:
        del code
        records.extend(daemon.history.records or [])

    code = serve(config, profiles, exit_when_drained=True, report=keep)
    if code != 0:
        return code
    if args.format == "json":
        for record in records:
            print(json.dumps(record))
    else:
        print_table(records, sys.stdout)
    if args.html is not None:
        try:
            write_report(args.html, history_report(records, {m.name: m for m in config.models}))
        except ReportError as error:
            print(f"driftd backtest: {error}", file=sys.stderr)
            return 2
    drifted = any(c["drift"] and any(c["drift"].values())
                  for r in records for c in r.get("columns", []))
    return 1 if args.fail_on_drift and drifted else 0


def windows(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per window: revision 0 with the performance of its latest revision.

    >>> rows = windows([{"model": "m", "window": "w", "start": 0.0, "end": 60.0,
    ...                  "sequence": None, "revision": 0, "events": 5, "matured": False,
    ...                  "columns": [], "performance": None},
    ...                 {"model": "m", "window": "w", "start": 0.0, "end": 60.0,
    ...                  "sequence": None, "revision": 1, "events": 5, "matured": True,
    ...                  "columns": [], "performance": {"coverage": 1.0}}])
    >>> [(r["revision"], r["matured"], r["performance"]) for r in rows]
    [(1, True, {'coverage': 1.0})]
    """
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in records:
        key = (record["model"], record["window"], record["start"], record["end"],
               record["sequence"])
        if record["revision"] == 0:
            rows[key] = dict(record)
        elif key in rows:
            rows[key] |= {"performance": record["performance"], "revision": record["revision"],
                          "matured": record["matured"]}
    return list(rows.values())


def print_table(records: Iterable[Mapping[str, Any]], out: TextIO) -> None:
    """A fixed-width table of every window, in the order they closed."""
    header = ("model", "window", "start (UTC)", "end (UTC)", "events", "drifted columns",
              "performance", "labels")
    lines = [header]
    for row in windows(records):
        drifted = sorted(c["column"] for c in row["columns"] if any(c["drift"].values()))
        lines.append((row["model"], row["window"], _when(row["start"], row["sequence"]),
                      _when(row["end"], None), str(row["events"]),
                      ", ".join(drifted) if drifted else "-", _performance(row),
                      _coverage(row)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
                  .rstrip() + "\n")
    windows_count = len(lines) - 1
    out.write(f"{windows_count} window{'s' if windows_count != 1 else ''}\n")


def _when(seconds: float | None, sequence: int | None) -> str:
    if seconds is None:
        return f"#{sequence}" if sequence is not None else "-"
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _performance(row: Mapping[str, Any]) -> str:
    metrics = (row.get("performance") or {}).get("metrics") or {}
    shown = [f"{name} {value:.4f}" for name, value in sorted(metrics.items())
             if name in ("accuracy", "f1", "auc", "rmse", "mae") and value is not None]
    return ", ".join(shown) if shown else "-"


def _coverage(row: Mapping[str, Any]) -> str:
    performance = row.get("performance")
    if not performance or performance.get("coverage") is None or row["sequence"] is not None:
        return "-"  # labels join into time windows only
    state = "matured" if row["matured"] else "so far"
    return f"{performance['coverage']:.0%} {state}"
