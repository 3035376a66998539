"""`driftd check`: the batch drift gate for CI/CD pipelines."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from driftd.check import CheckResult, check_to_json, model_from_profile, run_check
from driftd.config import ConfigError, ModelConfig, load_config
from driftd.datafile import DataFileError
from driftd.filescan import Progress
from driftd.reference.profile import ProfileError, load_profile
from driftd.report import ReportError, check_report, write_report

EXIT_OK, EXIT_DRIFT, EXIT_BAD_INPUT = 0, 1, 2


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "check", help="compare a data file with a reference profile (exit 1 on drift)",
        description="Compute every configured statistic of a whole file against a reference "
        "profile. Exit 0: no drift, 1: drift detected, 2: bad input. A CSV is read with the "
        "profile's column types: a numeric column cell by cell, a categorical one as the "
        "text written. A value that is not of its column's kind (e.g. '12,5' for a number) "
        "is invalid for that column only: it counts as missing there and is reported with "
        "its line; the record's other values are kept.")
    parser.add_argument("--reference", required=True, type=Path, help="profile JSON")
    parser.add_argument("--data", required=True, type=Path, help="Parquet, CSV or JSONL file")
    parser.add_argument("--config", type=Path, help="driftd config (tests, thresholds)")
    parser.add_argument("--model", help="model in --config (default: the profile's model)")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--html", type=Path, metavar="PATH",
                        help="also write an HTML report (a plot and the tests per column)")
    parser.add_argument("--max-invalid-ratio", type=float, default=0.0, metavar="R",
                        help="share of invalid input tolerated before exiting 2 (default 0): "
                        "of the records, and of each column's values")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.reference)
        model = _model(args, profile.model) or model_from_profile(profile, args.reference)
        progress = Progress(f"reading {args.data.name}")
        check = run_check(profile, model, args.data, progress=progress)
        if args.html is not None:
            write_report(args.html, check_report(check))
    except (ConfigError, ProfileError, DataFileError, ReportError) as error:
        print(f"driftd check: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "json":
        print(json.dumps(check_to_json(check), indent=2, allow_nan=False))
    else:
        print(render_text(check))
    return _exit_code(check, args.max_invalid_ratio)


def _model(args: argparse.Namespace, profile_model: str) -> ModelConfig | None:
    if args.config is None:
        return None
    config = load_config(args.config)
    name = args.model or profile_model
    try:
        model = config.model(name)
    except KeyError:
        raise ConfigError(str(args.config), [f"models: no model named {name!r}"]) from None
    if model.name != profile_model:
        expected = ", ".join(c.name for c in model.monitored_columns)
        raise ProfileError(f"{args.reference}: the profile is of model {profile_model!r}, "
                           f"not {model.name!r} (which expects the columns {expected}): "
                           f"check --reference and --model")
    return model


def _exit_code(check: CheckResult, max_invalid_ratio: float) -> int:
    if check.scan.rows == 0:
        print("driftd check: no valid records in the data file", file=sys.stderr)
        return EXIT_BAD_INPUT
    absent = check.absent_columns
    if check.result.columns and len(absent) == len(check.result.columns):
        print(f"driftd check: the data file holds none of the profile's columns "
              f"(expected {', '.join(absent)}; each is missing in every record): check "
              f"the file, the profile, or the columns' paths in --config",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    what, share = check.scan.worst_invalid()
    if share > max_invalid_ratio:
        print(f"driftd check: {share:.2%} of {what} are invalid "
              f"(more than --max-invalid-ratio {max_invalid_ratio})", file=sys.stderr)
        return EXIT_BAD_INPUT
    return EXIT_DRIFT if check.drifted else EXIT_OK


_COLUMNS = (("psi", "PSI"), ("ks_statistic", "KS"), ("ks_pvalue", "KS p"),
            ("chi2_pvalue", "chi2 p"), ("js_distance", "JS"), ("wasserstein", "W1"),
            ("missing_ratio", "missing"))


def render_text(check: CheckResult) -> str:
    """A fixed-width table: one row per column, the drifted tests at the end."""
    result = check.result
    lines = [f"model {result.model}  reference {result.reference[:19]}  rows {result.events:,}"
             f"  false-alarm rate <= {check.false_alarm_bound:.1%}"]
    lines += check.scan.describe_invalid()
    header = f"{'column':<24}{'kind':<12}" + "".join(f"{t:>10}" for _, t in _COLUMNS)
    lines += [header + "  drift", "-" * (len(header) + 7)]
    for column in result.columns:
        cells = "".join(_cell(column.statistics.get(key)) for key, _ in _COLUMNS)
        drifted = ",".join(t for t, flag in column.drift.items() if flag) or "-"
        lines.append(f"{column.column[:23]:<24}{column.kind:<12}{cells}  {drifted}")
    if result.performance is not None and result.performance.labeled:
        perf = result.performance
        lines.append("")
        lines.append(f"performance on {perf.labeled:,} labelled records:")
        for name, value in perf.metrics.items():
            decay = perf.decay.get(name)
            extra = ""
            if decay is not None and math.isfinite(decay.decay):
                low, high = decay.interval
                interval = (f" [{low:+.4f}, {high:+.4f}]"
                            if math.isfinite(low) and math.isfinite(high) else "")
                extra = (f"  baseline {perf.baseline[name]:.4f}, decay {decay.decay:+.4f}"
                         f"{interval}{'  DECAYED' if decay.significant else ''}")
            lines.append(f"  {name:<16}{_cell(value)}{extra}")
        lines += _per_class_lines(perf.per_class)
    lines += _estimate_lines(check)
    lines += _undecided_lines(check)
    drifted_columns = [c.column for c in result.columns if c.drifted]
    verdict = (f"DRIFT in {len(drifted_columns)} column(s): {', '.join(drifted_columns)}"
               if drifted_columns else "no drift detected")
    if check.undecided:
        verdict += " by the tests that decided; the file is too small for some (above)"
    decayed = ([n for n, d in result.performance.decay.items() if d.significant]
               if result.performance is not None else [])
    if decayed:
        verdict += f"\nPERFORMANCE DECAY beyond tolerance: {', '.join(decayed)}"
    return "\n".join([*lines, "", verdict])


def _undecided_lines(check: CheckResult) -> list[str]:
    """The threshold tests the file was too small to decide, with the rows they need."""
    undecided = check.undecided
    if not undecided:
        return []
    rate = check.model.false_alarm_rate
    why = (f"at a false-alarm rate of {rate:g}" if rate is not None
           else f"below min_window_events {check.model.min_window_events:,}")
    lines = ["", f"undecided (too few values for the threshold {why}): not the same as "
                 f"no drift"]
    for test, names in undecided.items():
        needed = [check.result.column(name).min_events[test] for name in names]
        most = max(needed)
        need = (f"needs up to {most:,.0f} values" if math.isfinite(most)
                else "the reference is too small for some")
        lines.append(f"  {test}: {len(names)} column(s), {need}: {', '.join(names)}")
    return lines


def _estimate_lines(check: CheckResult) -> list[str]:
    """The label-free estimate, and how it did on the labelled reference."""
    perf = check.result.performance
    if perf is None or not perf.estimated:
        return []
    values = ", ".join(f"{name} {value:.4f}" for name, value in perf.estimated.items()
                       if math.isfinite(value))
    lines = ["", f"estimated without labels: {values or '-'}"]
    if check.estimate is not None:
        lines.append(f"  {check.estimate.describe()}")
    return lines


def _per_class_lines(per_class: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Multiclass: a row per class with its precision, recall and F1."""
    if not per_class:
        return []
    metrics = list(per_class)
    lines = ["  " + f"{'class':<16}" + "".join(f"{m:>10}" for m in metrics)]
    for name in per_class[metrics[0]]:
        lines.append(f"  {name[:15]:<16}" + "".join(_cell(per_class[m][name]) for m in metrics))
    return lines


def _cell(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return f"{'-':>10}"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:>10.2e}"
    return f"{value:>10.4f}"
