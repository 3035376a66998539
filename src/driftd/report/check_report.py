"""The HTML report of `driftd check`: per column, the file against the reference.

The tables are built from ``check_to_json``, so the report shows exactly the decisions
the text and JSON outputs show; the plots from the file's counts on the profile's slots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftd.check import CheckResult, check_to_json
from driftd.report.distributions import (
    CategoricalDistribution,
    Distribution,
    column_distributions,
)
from driftd.report.html import badge, document, outcome, table
from driftd.report.plots import categorical_plot, numeric_plot
from driftd.report.svg import esc, number, percent


def check_report(check: CheckResult) -> str:
    """The whole report of a check as one HTML document."""
    if check.layout is None or check.pane is None:
        raise ValueError("check has no counts to draw (it was not made by run_check)")
    report = check_to_json(check)
    distributions = column_distributions(check.layout, check.pane)
    sections = [_header(report, check)]
    sections.append(_contents(report["columns"]))
    for i, column in enumerate(report["columns"]):
        sections.append(_column(i, column, distributions.get(column["column"])))
    if report.get("performance"):
        sections.append(_performance(report["performance"]))
    errors = [f"<li><code>{esc(e.part)}</code>: {esc(e.reason)}</li>"
              for e in check.result.errors]
    if errors:
        sections.append(f"<h2>Not computed</h2><ul>{''.join(errors)}</ul>")
    return document(f"driftd check: {report['model']}", "".join(sections))


def _header(report: Mapping[str, Any], check: CheckResult) -> str:
    drifted = [c["column"] for c in report["columns"] if c["drift"]]
    verdict = (f"Drift in {len(drifted)} of {len(report['columns'])} columns: "
               + ", ".join(esc(c) for c in drifted)) if drifted else "No drift detected"
    perf = report.get("performance") or {}
    decayed = [name for name, d in (perf.get("decay") or {}).items() if d["significant"]]
    if decayed:
        verdict += "; performance decayed beyond tolerance: " + ", ".join(map(esc, decayed))
    invalid = ", ".join(f"{esc(k)} {v:,}" for k, v in sorted(report["invalid"].items()))
    rows = [("model", f"<code>{esc(report['model'])}</code>"),
            ("reference", f"<code>{esc(report['reference'])}</code>"),
            ("records", f"{report['rows']:,}"),
            ("invalid records", invalid or "none"),
            ("p-value correction", esc(report["correction"]))]
    if report.get("false_alarm_bound") is not None:
        rows.append(("false alarm chance", f"at most {percent(report['false_alarm_bound'])} "
                     "on data like the reference"))
    summary = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    state = "drift" if check.drifted else "ok"
    return (f"<h1>driftd check: model <code>{esc(report['model'])}</code></h1>"
            f'<p class="verdict {state}">{verdict}</p><table>{summary}</table>')


def _contents(columns: list[Mapping[str, Any]]) -> str:
    items = "".join(f'<li><a href="#column-{i}">{esc(c["column"])}</a> {badge(c["drift"])}</li>'
                    for i, c in enumerate(columns))
    return f"<nav><ul>{items}</ul></nav>"


def _column(index: int, column: Mapping[str, Any], dist: Distribution | None) -> str:
    head = (f'<h2 id="column-{index}"><span class="name">{esc(column["column"])}</span> '
            f"{badge(column['drift'])}</h2>"
            f'<p class="meta">{esc(column["kind"])}, {esc(column["role"])}</p>')
    plot = ""
    if isinstance(dist, CategoricalDistribution):
        plot = categorical_plot(dist)
    elif dist is not None:
        plot = numeric_plot(dist)
    return f'<section class="column">{head}{plot}{_tests(column)}</section>'


def _tests(column: Mapping[str, Any]) -> str:
    stats = column["statistics"]
    rows = []
    for name, entry in column["tests"].items():
        value = _value(entry["value"])
        if name == "missing" and stats.get("missing_ratio_reference") is not None:
            value += f" (reference {_value(stats['missing_ratio_reference'])})"
        rule = {"threshold": f"{esc(entry.get('threshold'))} on the value",
                "pvalue": f"alpha {esc(entry.get('alpha'))} on the p-value"
                }.get(entry["decision"], "none")
        if (entry.get("min_events") or 0) > 1:  # a threshold decides from this many on
            rule += f", from {entry['min_events']:,} records"
        rows.append((esc(name), f"<code>{esc(entry['statistic'])}</code>", value,
                     _value(entry.get("pvalue")), rule, outcome(test_outcome(entry))))
    if not rows:
        return '<p class="meta">No statistic could be computed for this column.</p>'
    return table(("test", "statistic", "value", "p-value", "decision rule", "decision"), rows,
                 numeric=(2, 3))


def test_outcome(entry: Mapping[str, Any]) -> str:
    """A test's outcome: its ``outcome`` when the JSON has one, else from ``drift``.

    >>> [test_outcome(e) for e in ({"outcome": "undecided", "drift": False},
    ...  {"drift": True, "decision": "pvalue"}, {"drift": None, "decision": "none"})]
    ['undecided', 'drift', 'none']
    """
    if entry.get("outcome"):
        return str(entry["outcome"])
    if entry.get("decision") == "none":
        return "none"
    drift = entry.get("drift")
    return "undecided" if drift is None else "drift" if drift else "ok"


def _value(value: float | None) -> str:
    return "–" if value is None else esc(number(value))


def _performance(perf: Mapping[str, Any]) -> str:
    rows = []
    for name, value in perf["metrics"].items():
        decay = perf["decay"].get(name)
        interval = ("–" if decay is None or None in decay["interval"]
                    else f"[{number(decay['interval'][0])}, {number(decay['interval'][1])}]")
        state = "none" if decay is None else "drift" if decay["significant"] else "ok"
        rows.append((esc(name), _value(value), _value(perf["baseline"].get(name)),
                     _value(None if decay is None else decay["decay"]), esc(interval),
                     outcome(state)))
    coverage = f"{perf['labeled']:,} labelled records"
    if not rows:
        return f"<h2>Performance</h2><p class=\"meta\">{coverage}, no metric.</p>"
    return (f"<h2>Performance</h2><p class=\"meta\">{coverage}</p>"
            + table(("metric", "value", "baseline", "decay", "interval", "decayed"), rows,
                    numeric=(1, 2, 3)))
