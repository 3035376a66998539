"""`driftd check --html`: the report a browser draws, one plot per column."""

from __future__ import annotations

import contextlib
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from driftd.cli import main
from driftd.report.distributions import MISSING, CategoricalDistribution
from driftd.report.plots import categorical_plot
from report.chromium import Browser
from report.png import decode
from report.scenarios import CHECK_COLUMNS, HOSTILE_COLUMN, HOSTILE_MODEL, write_check_files

# What each test decided on the scenario's file (amount shifted, a new country, the
# hostile column 10% missing), as the report words it.
DECISIONS = {
    "amount": {"psi": "drift", "ks": "drift", "js": "drift", "wasserstein": "no decision",
               "missing": "ok"},
    "age": {"psi": "ok", "ks": "ok", "js": "ok", "wasserstein": "no decision", "missing": "ok"},
    "country": {"psi": "drift", "chi2": "drift", "js": "drift", "missing": "ok"},
    HOSTILE_COLUMN: {"psi": "ok", "ks": "ok", "js": "ok", "wasserstein": "no decision",
                     "missing": "drift"},
}

PAGE = """[...document.querySelectorAll("section.column")].map(section => ({
  name: section.querySelector("h2 .name").textContent,
  plots: [...section.querySelectorAll("svg.plot")].map(plot => {
    const box = plot.getBoundingClientRect();
    return {column: plot.dataset.column, kind: plot.dataset.kind, x: box.x + scrollX,
            y: box.y + scrollY, width: box.width, height: box.height};
  }),
  decisions: Object.fromEntries([...section.querySelectorAll("tbody tr")].map(
    row => [row.cells[0].textContent, row.cells[5].textContent])),
}))"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The scenario's check, run once: its HTML report and its JSON output."""
    tmp_path = tmp_path_factory.mktemp("check")
    profile, data = write_check_files(tmp_path)
    out = tmp_path / "report.html"
    json_out = tmp_path / "report.json"
    with json_out.open("w") as handle, contextlib.redirect_stdout(handle):
        code = main(["check", "--reference", str(profile), "--data", str(data),
                     "--format", "json", "--html", str(out)])
    assert code == 1
    return out, json.loads(json_out.read_text())


def test_chromium_draws_one_plot_per_column_and_the_decisions_of_the_json(
        chromium: Browser, report: tuple[Path, dict[str, Any]]) -> None:
    """Steps: run `driftd check --format json --html` on a file with two drifted
    columns, a new category and a column named like HTML; open the report in headless
    Chromium. Expected: one section per column in the profile's order, each with one
    plot of non-zero size of its column's kind, and a decision per test equal to the
    JSON output's; the names shown literally; no console error, no script, nothing
    loaded but the page itself."""
    path, output = report
    with chromium.open(path.as_uri()) as page:
        sections = page.evaluate(PAGE)
        assert page.evaluate("document.title") == f"driftd check: {HOSTILE_MODEL}"
        assert page.evaluate("document.scripts.length + document.images.length") == 0
        assert page.evaluate("performance.getEntriesByType('resource').length") == 0
        errors = chromium.console_errors(page.session)
    assert errors == []
    assert [s["name"] for s in sections] == list(CHECK_COLUMNS)
    kinds = {"country": "categorical"}
    for section in sections:
        [plot] = section["plots"]
        assert plot["column"] == section["name"]
        assert plot["kind"] == kinds.get(section["name"], "numeric")
        assert plot["width"] > 600 and plot["height"] > 150
    assert {s["name"]: s["decisions"] for s in sections} == DECISIONS
    assert _outcomes(output) == DECISIONS


def _outcomes(output: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Each test's decision in the JSON output, worded as in the report."""
    return {c["column"]: {t: e.get("outcome") or ("drift" if e["drift"] else "ok"
                                                  if e["drift"] is False else "no decision")
                          for t, e in c["tests"].items()}
            for c in output["columns"]}


def test_a_small_file_shows_the_tests_it_cannot_decide(
        chromium: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: check only the first 300 records (too few for some thresholds) with
    --format json --html. Expected: every decision in the report equals the JSON's
    outcome, and some of them are undecided."""
    profile, data = write_check_files(tmp_path)
    data.write_text("".join(data.read_text().splitlines(keepends=True)[:300]))
    out = tmp_path / "small.html"
    main(["check", "--reference", str(profile), "--data", str(data), "--format", "json",
          "--html", str(out)])
    expected = _outcomes(json.loads(capsys.readouterr().out))
    with chromium.open(out.as_uri()) as page:
        shown = {s["name"]: s["decisions"] for s in page.evaluate(PAGE)}
    assert shown == expected
    assert any(d == "undecided" for tests in shown.values() for d in tests.values())


def test_each_plot_draws_the_window_over_the_reference(
        chromium: Browser, report: tuple[Path, dict[str, Any]]) -> None:
    """Steps: screenshot each plot's box. Expected: pixels of the window's blue and the
    reference's grey in every plot (not a blank or text-only box)."""
    with chromium.open(report[0].as_uri()) as page:
        plots = [s["plots"][0] for s in page.evaluate(PAGE)]
        shots = [decode(page.screenshot({k: plot[k] for k in ("x", "y", "width", "height")}))
                 for plot in plots]
    for plot, pixels in zip(plots, shots, strict=True):
        rgb = pixels[..., :3].astype(int)
        blue = (rgb[..., 2] > 180) & (rgb[..., 0] < 120) & (rgb[..., 1] < 170)
        grey = (np.ptp(rgb, axis=-1) < 16) & (rgb[..., 0] > 140) & (rgb[..., 0] < 215)
        assert blue.sum() > 300 and grey.sum() > 300, (plot["column"], blue.sum(), grey.sum())


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.links += [(k, v or "") for k, v in attrs if k in ("src", "href", "srcset")]


def test_names_are_escaped_and_nothing_is_fetched(
        report: tuple[Path, dict[str, Any]]) -> None:
    """Steps: read the report's source. Expected: the hostile names only in escaped
    form, no tag but text, tables and SVG shapes, and no link that leaves the page."""
    text = report[0].read_text(encoding="utf-8")
    assert HOSTILE_COLUMN not in text and HOSTILE_MODEL not in text
    assert html.escape(HOSTILE_COLUMN, quote=True) in text
    parser = _Tags()
    parser.feed(text)
    assert parser.tags <= {
        "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table", "thead",
        "tbody", "tr", "th", "td", "code", "span", "nav", "ul", "li", "a", "section", "svg",
        "g", "line", "rect", "path", "text", "circle"}
    assert parser.links and all(v.startswith("#column-") for k, v in parser.links)
    assert "http://" not in text and "https://" not in text


def test_a_report_that_cannot_be_written_is_bad_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Steps: --html into a directory that does not exist. Expected: exit 2, one line
    naming the path and the reason."""
    profile, data = write_check_files(tmp_path)
    target = tmp_path / "no-such-dir" / "report.html"
    assert main(["check", "--reference", str(profile), "--data", str(data),
                 "--html", str(target)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"driftd check: {target}: cannot write the HTML report: "
                   "No such file or directory"]


def test_past_40_categories_the_smallest_on_both_sides_are_summed_in_one_row() -> None:
    """Steps: draw a categorical column of 50 profile categories, the reference's
    rarest one (cat49) making half of the window. Expected: 39 category rows (cat49
    among them, in profile order), one row summing the other 11, then __other__ and
    missing; the shares in the labels are the true ones."""
    labels = (*(f"cat{i}" for i in range(50)), "__other__", MISSING)
    reference = np.r_[np.arange(100, 50, -1), 0, 0]
    window = np.r_[np.full(49, 10), 490, 0, 0]
    svg = categorical_plot(CategoricalDistribution("c", labels, reference, window))
    rows = re.findall(r'text-anchor="end" fill="[^"]+"(?: font-style="italic")?>'
                      r"<title>([^<]*)</title>", svg)
    assert len(rows) == 42 and rows[-3:] == ["(11 more categories)", "__other__", MISSING]
    assert rows[:38] == [f"cat{i}" for i in range(38)] and rows[38] == "cat49"
    assert ">50.0%<" in svg  # cat49's share of the window
