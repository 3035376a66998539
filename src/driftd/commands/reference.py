"""`driftd reference build|show`: reference profiles from data files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from driftd import __version__
from driftd.config import ColumnConfig, ColumnKind, ConfigError, PerformanceConfig, load_config
from driftd.datafile import DataFileError
from driftd.events import Decoder, ModelBatch
from driftd.filescan import Progress, scan_file
from driftd.monitor.multiclass import probabilities, score_matrix
from driftd.monitor.performance import PerformanceSlots, outcome_values, predicted_positive
from driftd.reference.build import DEFAULT_GRID_SIZE, DEFAULT_TOP_CATEGORIES, build_profile
from driftd.reference.calibration import ScoredRows
from driftd.reference.collect import ReferenceData
from driftd.reference.multiclass_calibration import ScoredClasses
from driftd.reference.profile import (
    CategoricalProfile,
    Profile,
    ProfileError,
    load_profile,
    make_profile,
)
from driftd.reference.task import infer_task, summarize


def register(commands: Any) -> None:
    parser = commands.add_parser("reference", help="build or show reference profiles")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build", help="build a profile from a Parquet, CSV or JSONL file",
        description="Column roles come from --config, or from the --numeric, --categorical, "
        "--prediction and --label flags. With a label, the baseline performance is measured "
        "on the file: the task comes from the config, --task, or the data (a label of two "
        "values and a prediction in [0, 1]: binary; a numeric label: regression). A CSV "
        "is read with these column kinds: a numeric cell that is no number (e.g. '12,5') "
        "is missing in its column only, and reported with its line on stderr and in the "
        "profile's metadata; categorical cells are the text written.")
    build.add_argument("--model", required=True)
    build.add_argument("--data", required=True, type=Path)
    build.add_argument("--out", required=True, type=Path)
    build.add_argument("--config", type=Path)
    build.add_argument("--numeric", default="", help="comma-separated numeric input columns")
    build.add_argument("--categorical", default="", help="comma-separated categorical inputs")
    build.add_argument("--prediction", help="numeric prediction column")
    build.add_argument("--label", help="label column")
    build.add_argument("--task", choices=("binary", "regression", "multiclass"),
                       help="performance task of --label (default: read off the data; "
                       "multiclass when --scores are given)")
    build.add_argument("--positive-label", help="binary: the label value of the positive "
                       "class (default: 1, true or yes)")
    build.add_argument("--predicted-label", help="binary or multiclass: categorical "
                       "column with the model's own predicted class, used instead of "
                       "--threshold (or the highest of --scores) for the baseline")
    build.add_argument("--threshold", type=float,
                       help="binary: score at or above which the model predicts positive "
                       "(default 0.5)")
    build.add_argument("--scores", default="", help="multiclass: comma-separated numeric "
                       "columns, the score of each class, in the order of --classes")
    build.add_argument("--classes", default="", help="multiclass: comma-separated label "
                       "values, one per --scores column")
    build.add_argument("--grid-size", type=int, default=DEFAULT_GRID_SIZE)
    build.add_argument("--top-categories", type=int, default=DEFAULT_TOP_CATEGORIES)
    build.set_defaults(handler=handle_build)
    show = actions.add_parser("show", help="print a readable summary of a profile")
    show.add_argument("profile", type=Path)
    show.set_defaults(handler=handle_show)


def columns_from_flags(args: argparse.Namespace,
                       task: str | None = None) -> tuple[ColumnConfig, ...]:
    """Column configs from the role flags of `reference build`; the label is a number
    for ``task`` regression, else a category."""
    columns = [ColumnConfig(name=n, kind="numeric") for n in _names(args.numeric)]
    columns += [ColumnConfig(name=n, kind="categorical") for n in _names(args.categorical)]
    for name in ([args.prediction] if args.prediction else []) + _names(args.scores):
        columns.append(ColumnConfig(name=name, kind="numeric", role="prediction", path=name))
    if args.predicted_label:
        columns.append(ColumnConfig(name=args.predicted_label, kind="categorical",
                                    role="prediction", path=args.predicted_label))
    if args.label:
        kind: ColumnKind = "numeric" if task == "regression" else "categorical"
        columns.append(ColumnConfig(name=args.label, kind=kind, role="label",
                                    path=args.label))
    return tuple(columns)


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def handle_build(args: argparse.Namespace) -> int:
    try:
        columns, performance = _model(args)
        profile = build_from_file(args.model, columns, args.data, grid_size=args.grid_size,
                                  top_categories=args.top_categories, performance=performance)
    except (ConfigError, ProfileError, DataFileError, ValueError) as error:
        print(f"driftd reference build: {error}", file=sys.stderr)
        return 2
    if performance is not None and args.config is None:
        # `check` without a config reads the settings of the flags from here.
        settings = performance.model_dump(mode="json", exclude_defaults=True)
        profile = replace(profile, metadata={**profile.metadata, "performance": settings})
    profile.save(args.out)
    print(f"wrote {args.out}: model {profile.model}, {profile.rows:,} rows, "
          f"{len(profile.columns)} columns, version {profile.version}")
    return 0


def _model(args: argparse.Namespace) -> tuple[tuple[ColumnConfig, ...],
                                             PerformanceConfig | None]:
    """The columns to profile, and the performance settings when --config has them."""
    if args.config is not None:
        try:
            model = load_config(args.config).model(args.model)
        except KeyError:
            raise ConfigError(str(args.config), [f"models: no model named {args.model!r}"]
                              ) from None
        return model.columns, model.performance
    performance = performance_from_flags(args)
    columns = columns_from_flags(args, performance.task if performance else None)
    if not columns:
        raise ValueError("give --config, or the columns with --numeric/--categorical/...")
    return columns, performance


def performance_from_flags(args: argparse.Namespace) -> PerformanceConfig | None:
    """The performance settings of --label and its flags (the task read off the data
    when --task is not given, saying so on stderr); None without --label."""
    if not args.label:
        return None
    task = args.task or ("multiclass" if args.scores or args.classes else None)
    if task == "multiclass":
        if args.prediction:
            raise ValueError("--prediction: not used for task multiclass (the predicted class "
                             "is the highest of --scores)")
        settings: dict[str, Any] = {"scores": _names(args.scores),
                                    "classes": _names(args.classes)}
    elif not args.prediction:
        raise ValueError("--label needs --prediction (binary, regression), or --scores and "
                         "--classes (multiclass)")
    else:
        settings = {"prediction": args.prediction}
        positive = args.positive_label
        if task is None:
            found = infer_task(summarize(args.data, args.model, args.prediction, args.label),
                               positive)
            task, positive = found.task, found.positive_label
            print(f"driftd reference build: task {task} ({found.reason})"
                  + (f", positive label {positive!r}" if positive is not None else "")
                  + "; give --task to choose", file=sys.stderr)
        if task == "binary" and positive is not None:
            settings["positive_label"] = positive
    if args.threshold is not None:
        settings["threshold"] = args.threshold
    if args.predicted_label:
        settings["predicted_label"] = args.predicted_label
    try:
        return PerformanceConfig.model_validate({"task": task, "label": args.label, **settings})
    except ValidationError as error:
        raise ValueError(_flag_problem(error)) from None


def _flag_problem(error: ValidationError) -> str:
    """The first problem of the flags' performance settings, naming the flag."""
    first = error.errors()[0]
    message = str(first["msg"]).removeprefix("Value error, ")
    field = str(first["loc"][0]) if first["loc"] else message.partition(":")[0]
    flag = "--" + field.replace("_", "-")
    return f"{flag}: {message.removeprefix(field + ': ')}"


def build_from_file(
    model: str, columns: Sequence[ColumnConfig], data: Path, *,
    grid_size: int = DEFAULT_GRID_SIZE, top_categories: int = DEFAULT_TOP_CATEGORIES,
    performance: PerformanceConfig | None = None,
) -> Profile:
    """Decode ``data`` as the stream would be, then profile every monitored column; with
    ``performance`` settings, also measure the baseline on the file's labels."""
    collected = ReferenceData()
    slots = PerformanceSlots(performance, 0) if performance is not None else None
    perf_sums = np.zeros(slots.size if slots is not None else 0)
    # Scores are calibrated on the labels: binary ones, or multiclass probabilities.
    scored = ScoredRows() if performance is not None and performance.task == "binary" else None
    classes = (ScoredClasses() if performance is not None and performance.task == "multiclass"
               else None)

    def collect(batch: ModelBatch) -> None:
        nonlocal perf_sums
        if slots is not None:
            perf_sums = perf_sums + slots.labelled_totals(batch)
        if scored is not None and performance is not None:
            scored.add(batch.numeric[performance.prediction or ""],
                       outcome_values(performance, batch),
                       predicted_positive(performance, batch))
        if classes is not None and performance is not None:
            p, usable = probabilities(score_matrix(performance, batch))
            classes.add(np.where(usable[:, None], p, np.nan), outcome_values(performance, batch))
        collected.add(batch)

    decoder = Decoder({model: columns}, default_model=model)
    scan = scan_file(data, decoder, model, collect, progress=Progress(f"reading {data.name}"),
                     columns=columns)
    if scan.rows == 0:
        raise ProfileError(f"{data}: no valid records for model {model!r} "
                           f"(invalid: {dict(scan.invalid) or 'none'})")
    metadata = {"created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "source": data.name, "driftd_version": __version__,
                "invalid_records": dict(scan.invalid)}
    if scan.invalid_values:  # each missing in its column's profile
        metadata["invalid_values"] = {name: dict(reasons)
                                      for name, reasons in sorted(scan.invalid_values.items())}
    for line in scan.describe_invalid():
        print(f"driftd reference build: {line}", file=sys.stderr)
    baseline = slots.evaluate(perf_sums).metrics if slots is not None else {}
    profile = build_profile(
        model, columns, collected.numeric, collected.categorical,
        rows=scan.rows, metadata=metadata, grid_size=grid_size, top_categories=top_categories,
        performance=baseline)
    calibration = (scored.calibrate(performance.threshold)
                   if scored is not None and performance is not None
                   else classes.calibrate() if classes is not None else None)
    if calibration is None:
        return profile
    return make_profile(profile.model, profile.rows, profile.columns, profile.metadata,
                        profile.performance, calibration)


def handle_show(args: argparse.Namespace) -> int:
    try:
        profile = load_profile(args.profile)
    except ProfileError as error:
        print(f"driftd reference show: {error}", file=sys.stderr)
        return 2
    print(describe(profile))
    return 0


def describe(profile: Profile) -> str:
    """A readable summary: version, metadata, baseline and calibration, each a key and
    its value in aligned columns; then one line per column."""
    header = [("model", profile.model), ("version", profile.version),
              ("rows", f"{profile.rows:,}")]
    header += [(key, _text(value)) for key, value in sorted(profile.metadata.items())]
    if profile.performance:
        header.append(("baseline", ", ".join(f"{k} {v:.4f}"
                                             for k, v in profile.performance.items())))
    for line in _calibration_lines(profile):
        key, _, value = line.partition(" ")
        header.append((key, value.strip()))
    width = max(len(key) for key, _ in header) + 2
    lines = [f"{key:<{width}}{value}" for key, value in header]
    lines.append("")
    name = max([24, *(len(c.name) + 2 for c in profile.columns.values())])
    for column in profile.columns.values():
        missing = column.missing / max(column.total, 1)
        if isinstance(column, CategoricalProfile):
            top = ", ".join(f"{c} {n / column.total:.1%}" for c, n in
                            zip(column.categories[:5], column.category_counts[:5], strict=False))
            detail = f"{len(column.categories)} categories (+other {column.other}); top: {top}"
        else:
            edges = ", ".join(f"{e:.4g}" for e in column.psi_edges)
            detail = (f"grid {column.grid.size} points{' (exact)' if column.exact else ''}, "
                      f"range [{column.grid[0]:.4g}, {column.grid[-1]:.4g}], deciles {edges}")
        lines.append(f"{column.name:<{name}}{column.kind:<12}{column.role:<11}"
                     f"missing {missing:6.2%}  {detail}")
    return "\n".join(lines)


def _text(value: Any) -> str:
    """A metadata value: an object as its ``key value`` pairs (none when empty), a list
    as its items joined by ``/``."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items()) or "none"
    if isinstance(value, list):
        return "/".join(map(_text, value))
    return str(value)


def _calibration_lines(profile: Profile) -> list[str]:
    """The score calibration and how the label-free estimate did on the reference."""
    cal = profile.calibration
    if cal is None:
        return []

    def misses(errors: dict[str, float]) -> str:
        return ", ".join(f"{name} {error:.4f}" for name, error in errors.items())

    use = ("applied" if cal.applied else
           "not applied: the raw scores pass the calibration test")
    return [f"calibration isotonic on {cal.rows:,} labelled rows, {use} (p = {cal.pvalue:.3g}); "
            f"calibration error {cal.ece_before:.4f} raw, {cal.ece_after:.4f} calibrated",
            f"estimate  missed the reference by {misses(cal.errors())} ("
            f"{'raw scores' if cal.applied else 'calibrated'}: "
            f"{misses(cal.errors(calibrated=not cal.applied))})"]
