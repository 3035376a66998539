"""HTML reports: a check's columns against the reference, a backtest's history."""

from driftd.report.check_report import check_report
from driftd.report.history_report import history_report
from driftd.report.html import ReportError, write_report

__all__ = ["ReportError", "check_report", "history_report", "write_report"]
