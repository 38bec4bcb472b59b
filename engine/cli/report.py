"""`hotline report`: the KPIs of a period per interval, queue and agent, as text, JSON, CSV and a chart.

Reads the journal through engine.reports.query, computes with engine.reports.kpis, draws with
engine.reports.charts. Dates are read and shown in the settings' time zone. Bad input is one
``error: ...`` line and exit 2 (engine.reports.BadReportRequest).
"""

from __future__ import annotations

import csv
import os
import sys
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any

import click

from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.errors import SettingsError
from engine.reports import BadReportRequest
from engine.reports.kpis import (
    AGENT_FIGURES,
    FIGURE_KEYS,
    FIGURES,
    INTERVALS,
    Options,
    Report,
    Row,
    Value,
    build_report,
    formula,
    interval_bounds,
    label,
    unit,
)
from engine.reports.query import PeriodData, known_agents, read_period

TEXT_COLUMNS = ("calls", "offered", "answered", "abandoned", "service_level", "asa", "aht")
PLOT_SUFFIXES = (".png", ".svg")


def _formulas_help() -> str:
    options = Options()
    lines = [f"  {f.label}: {formula(f.key, options)}" for f in FIGURES]
    return "\b\nFigures (S, T, W are the thresholds below):\n" + "\n".join(lines)


def _parse_moment(text: str, tz: tzinfo, what: str) -> tuple[datetime, bool]:
    """A local date or date and time; True when only a date was given."""
    for pattern, date_only in (("%Y-%m-%d", True), ("%Y-%m-%d %H:%M", False), ("%Y-%m-%dT%H:%M", False),
                               ("%Y-%m-%d %H:%M:%S", False)):
        try:
            parsed = datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
        return parsed.replace(tzinfo=tz), date_only
    raise BadReportRequest(f"{what} {text!r} is not a date: use YYYY-MM-DD or 'YYYY-MM-DD HH:MM'")


def period(start_text: str | None, end_text: str | None, tz: tzinfo, today: date) -> tuple[datetime, datetime]:
    """[start, end) from the options: default today; a date-only ``--to`` includes that day."""
    start = datetime.combine(today, time(0), tz)
    if start_text is not None:
        start = _parse_moment(start_text, tz, "--from")[0]
    if end_text is None:
        end = datetime.combine(start.date() + timedelta(days=1), time(0), tz)
    else:
        end, date_only = _parse_moment(end_text, tz, "--to")
        if date_only:
            end = datetime.combine(end.date() + timedelta(days=1), time(0), tz)
    if start >= end:
        raise BadReportRequest(f"--from {start:%Y-%m-%d %H:%M} is not before --to {end:%Y-%m-%d %H:%M}")
    return start, end


def default_interval(start: datetime, end: datetime) -> str:
    span = end - start
    if span <= timedelta(days=1):
        return "1h"
    if span <= timedelta(days=62):
        return "day"
    return "month"


def _check_plot_path(path: Path) -> None:
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise BadReportRequest(f"--plot {path}: the file name must end in .png or .svg")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise BadReportRequest(f"--plot {path}: folder {folder} does not exist")
    if path.is_dir() or not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise BadReportRequest(f"--plot {path}: cannot write there")


def _configured_queues(obj: CliContext) -> set[str]:
    # Imported here: the queue file's parser (acd, YAML) is only needed to name an unknown --queue.
    from acd.queues import load_queues

    try:
        return set(load_queues(obj.settings.queues_path))
    except SettingsError:
        return set()  # a broken queue file must not stop a report of the past; the journal names queues too


def _shown(value: Value, unit_: str) -> str:
    if value is None:
        return "-"
    if unit_ == "%":
        return f"{value:.1f} %"
    if unit_ == "s":
        return f"{value:.1f} s"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _local(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def _cell(value: Value) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def _table(title: str, rows: list[Row], keys: tuple[str, ...], key_width: int) -> list[str]:
    heads = [label(k) + (f" {unit(k)}" if unit(k) else "") for k in keys]
    widths = [max(len(h), 6) for h in heads]
    lines = [f"{title:<{key_width}}  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True))]
    for row in rows:
        cells = [_cell(row.values.get(k)) for k in keys]
        lines.append(f"{row.key:<{key_width}}  " + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    return lines


def render_text(report: Report, data: PeriodData, tz: tzinfo, tz_name: str, scope: str) -> str:
    o = report.options
    lines = [f"hotline report {_local(report.start, tz)} to {_local(report.end, tz)} ({tz_name}), "
             f"per {report.interval}{scope}",
             f"thresholds: short abandon S = {o.short_abandon_s:g} s, service level T = {o.service_level_s:g} s, "
             f"repeat/FCR window W = {o.fcr_window.total_seconds() / 3600:g} h, VIP queues: {o.words['VIP']}"]
    if data.live:
        lines.append(f"{data.live} call(s) still live are not counted")
    if report.empty:
        lines.append("empty: no call ended and no agent was signed in during this period")
        return "\n".join(lines)
    lines += ["", f"{'figure':<26} {'value':>10}  formula"]
    for f in FIGURES:
        lines.append(f"{f.label:<26} {_shown(report.totals.values[f.key], f.unit):>10}  {formula(f.key, o)}")
    lines += ["", "dispositions: " + ", ".join(f"{k} {v}" for k, v in report.dispositions.items())]
    busy = [r for r in report.intervals if r.values["calls"] or r.values["callbacks_done"]]
    if busy:
        shown = [Row(_local(datetime.fromisoformat(r.key), tz), r.values) for r in busy]
        lines += ["", *_table(f"per {report.interval}", shown, TEXT_COLUMNS, 16),
                  "(intervals without calls are left out here; --json and --csv list them all)"]
    if report.queues:
        lines += ["", *_table("per queue", report.queues, TEXT_COLUMNS, 16)]
    if report.agents:
        lines += ["", *_table("per agent", report.agents, AGENT_FIGURES, 16)]
    return "\n".join(lines)


def render_json(report: Report, data: PeriodData, tz_name: str, queue: str | None, agent: str | None) -> Any:
    o = report.options
    keys = (*FIGURE_KEYS, "conversations", "transfers")
    return {
        "from": report.start.isoformat(), "to": report.end.isoformat(), "timezone": tz_name,
        "interval": report.interval, "queue": queue, "agent": agent, "empty": report.empty, "live_calls": data.live,
        "thresholds": {"short_abandon_s": o.short_abandon_s, "service_level_s": o.service_level_s,
                       "fcr_window_h": o.fcr_window.total_seconds() / 3600, "vip_queues": sorted(o.vip_queues)},
        "formulas": {k: formula(k, o) for k in keys},
        "totals": dict(report.totals.values), "dispositions": dict(report.dispositions),
        "intervals": [{"start": r.key, **r.values} for r in report.intervals],
        "queues": [{"queue": r.key, **r.values} for r in report.queues],
        "agents": [{"agent": r.key, **r.values} for r in report.agents],
    }


def write_csv(report: Report) -> None:
    keys = (*FIGURE_KEYS, "conversations", "transfers")
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(("group", "key", *keys))
    groups = [("total", [report.totals]), ("interval", report.intervals), ("queue", report.queues),
              ("agent", report.agents)]
    for group, rows in groups:
        for row in rows:
            out.writerow((group, row.key, *["" if row.values.get(k) is None else row.values.get(k) for k in keys]))


@click.command("report", epilog=_formulas_help())
@click.option("--from", "start_text", metavar="DATE", help="Start (settings' time zone): YYYY-MM-DD or "
              "'YYYY-MM-DD HH:MM'. Default: today 00:00.")
@click.option("--to", "end_text", metavar="DATE", help="End, exclusive; a date alone includes that day. "
              "Default: the end of the --from day (today).")
@click.option("--interval", type=click.Choice(INTERVALS), default=None,
              help="Rows per interval. Default: 1h for a day, day up to 62 days, month beyond.")
@click.option("--queue", help="Only calls whose first queue is this one.")
@click.option("--agent", help="Only this agent's conversations and time (work number).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (every interval, every figure).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV: one line per total, interval, queue and agent.")
@click.option("--plot", type=click.Path(path_type=Path), default=None,
              help="Also draw half-hour calls with the service level and agents by state (.png or .svg).")
@click.option("--short-abandon", type=click.FloatRange(min=0), default=20, show_default=True,
              help="S: queue hang-ups within this many seconds are short abandons, left out of the rates.")
@click.option("--service-level", type=click.FloatRange(min=0, min_open=True), default=20, show_default=True,
              help="T: answered within this many seconds counts towards the service level.")
@click.option("--fcr-hours", type=click.FloatRange(min=0, min_open=True), default=24, show_default=True,
              help="W: window for first-call resolution and repeat callers.")
@click.option("--vip-queues", default="vip", show_default=True, help="Queues whose service level is shown apart.")
@pass_cli
def report(obj: CliContext, start_text: str | None, end_text: str | None, interval: str | None, queue: str | None,
           agent: str | None, as_json: bool, as_csv: bool, plot: Path | None, short_abandon: float,
           service_level: float, fcr_hours: float, vip_queues: str) -> None:
    """Call-center KPIs of a period: per interval, per queue and per agent (formulas below)."""
    if as_json and as_csv:
        raise BadReportRequest("choose one of --json and --csv")
    settings = obj.settings
    tz = settings.tz
    start, end = period(start_text, end_text, tz, datetime.now(tz).date())
    if plot is not None:
        _check_plot_path(plot)
    options = Options(short_abandon_s=short_abandon, service_level_s=service_level,
                      fcr_window=timedelta(hours=fcr_hours),
                      vip_queues=frozenset(q.strip() for q in vip_queues.split(",") if q.strip()))
    interval = interval or default_interval(start, end)
    with open_journal(settings) as engine:
        if agent is not None and agent not in known_agents(engine):
            raise BadReportRequest(f"unknown agent {agent!r} (`hotline agent list` shows them)")
        data = read_period(engine, start, end, [b[0] for b in interval_bounds(start, end, interval, tz)], options,
                           queue=queue, agent=agent)
        half_hourly_data = data
        if plot is not None and interval != "30m":
            half_hourly_data = read_period(engine, start, end, [b[0] for b in interval_bounds(start, end, "30m", tz)],
                                           options, queue=queue, agent=agent)
    if queue is not None and queue not in _configured_queues(obj) and not data.sums.calls:
        raise BadReportRequest(f"unknown queue {queue!r} (queues are named in {settings.queues_path})")
    result = build_report(data.sums, start=start, end=end, interval=interval, tz=tz, options=options, agent=agent)
    scope = (f", queue {queue}" if queue else "") + (f", agent {agent}" if agent else "")
    if as_json:
        emit_json(render_json(result, data, settings.timezone, queue, agent))
    elif as_csv:
        write_csv(result)
    else:
        click.echo(render_text(result, data, tz, settings.timezone, scope))
    if plot is not None:
        from engine.reports.charts import render  # matplotlib loads only for a chart

        half_hourly = result if interval == "30m" else build_report(
            half_hourly_data.sums, start=start, end=end, interval="30m", tz=tz, options=options, agent=agent)
        title = f"{_local(start, tz)} to {_local(end, tz)}{scope}: calls per half hour of the day"
        try:
            render(plot, half_hourly, half_hourly_data.sums.state_time, tz, title)
        except OSError as exc:
            raise BadReportRequest(f"--plot {plot}: {exc.strerror or exc}") from None
        if not (as_json or as_csv):
            click.echo(f"chart written to {plot}")
