"""Reports for the hotline's managers, all projections of the journal.

``disposition`` (what became of each call: pure), ``kpis`` (the KPI formulas over per-call facts: pure),
``query`` (reading a period of the journal, SQLAlchemy Core), ``charts`` (matplotlib figures), ``erlang``
and ``forecast`` (staffing). The CLI front is engine.cli.report.
"""

from __future__ import annotations

from engine.errors import HotlineError


class BadReportRequest(HotlineError):
    """The report asked for cannot be made as asked: unknown queue or agent, a reversed period, a bad path."""

    code = "bad-report-request"
    exit_code = 2
