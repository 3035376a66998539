"""The report's HTML document: one self-contained file, readable offline.

No script, no font, no stylesheet or image is fetched: the styles are inline, the plots
inline SVG. Every user-supplied string (model, column and category names) is escaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from driftd.report.svg import esc

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: #202124; margin: 0 auto; max-width: 1040px; padding: 16px 24px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 6px; border-top: 1px solid #dadce0; padding-top: 16px; }
h3 { font-size: 15px; margin: 18px 0 4px; }
code, .name { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.meta { color: #5f6368; }
table { border-collapse: collapse; margin: 8px 0 12px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e8eaed; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { font-weight: 600; background: #f8f9fa; }
.verdict { font-size: 16px; font-weight: 600; padding: 8px 12px; border-radius: 4px; }
.verdict.drift { background: #fce8e6; color: #a50e0e; }
.verdict.ok { background: #e6f4ea; color: #137333; }
.outcome { font-weight: 600; }
.outcome.drift { color: #c5221f; }
.outcome.ok { color: #137333; }
.outcome.undecided, .outcome.none { color: #5f6368; }
.badge { font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px;
         vertical-align: middle; }
.badge.drift { background: #fce8e6; color: #a50e0e; }
.badge.ok { background: #e6f4ea; color: #137333; }
svg.plot { display: block; margin: 6px 0; max-width: 100%; height: auto; }
nav ul { columns: 3; padding-left: 18px; }
"""

# How each decision outcome reads in the tables.
OUTCOME_TEXT = {"drift": "drift", "ok": "ok", "undecided": "undecided", "none": "no decision"}


def document(title: str, body: str) -> str:
    """A complete HTML page around ``body`` (markup, already escaped)."""
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>\n")


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *,
          numeric: Sequence[int] = ()) -> str:
    """A table of cells that are markup already (escape text before passing it)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def outcome(name: str) -> str:
    """A decision outcome as a styled cell."""
    return f'<span class="outcome {esc(name)}">{esc(OUTCOME_TEXT.get(name, name))}</span>'


def badge(drifted: bool) -> str:
    return ('<span class="badge drift">drift</span>' if drifted
            else '<span class="badge ok">ok</span>')


class ReportError(Exception):
    """The report could not be written."""


def write_report(path: Path, text: str) -> None:
    """Write the report whole or not at all (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as error:
        raise ReportError(f"{path}: cannot write the HTML report: "
                          f"{error.strerror or error}") from None
