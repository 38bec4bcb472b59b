"""`hotline forecast`: the staffing table for one day, from the journal's history and Erlang C.

Collaborators: engine.reports.forecast_query (history), engine.reports.forecast (the table),
engine.reports.erlang (the model). This module only parses options and prints.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import click

from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.errors import SettingsError
from engine.reports.erlang import ServiceTarget, parse_target
from engine.reports.forecast import INTERVALS_MIN, Forecast, ForecastRow, forecast
from engine.reports.forecast_query import load_history

CSV_COLUMNS = ("interval_start", "interval_end", "expected_calls", "aht_s", "agents", "service_level", "occupancy",
               "asa_s")


def _options(days: int, interval: str, target_text: str, max_occupancy: float, day_text: str | None,
             as_csv: bool, as_json: bool) -> tuple[int, ServiceTarget, date | None]:
    """Check every option before touching the journal; one clear line for the first bad one."""
    if days <= 0:
        raise SettingsError(f"--days must be at least 1 (got {days})")
    if interval not in INTERVALS_MIN:
        raise SettingsError(f"--interval must be one of {', '.join(INTERVALS_MIN)} (got {interval!r})")
    try:
        target = parse_target(target_text)
    except ValueError as exc:
        raise SettingsError(f"--target: {exc}") from None
    if not 0 < max_occupancy <= 1:
        raise SettingsError(f"--max-occupancy must be above 0 and at most 1 (got {max_occupancy:g})")
    if as_csv and as_json:
        raise SettingsError("give at most one of --csv and --json")
    day = None
    if day_text is not None:
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            raise SettingsError(f"--date must be YYYY-MM-DD (got {day_text!r})") from None
    return INTERVALS_MIN[interval], target, day


def _clock(row: ForecastRow) -> str:
    return f"{row.start:%H:%M}-{row.end:%H:%M}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render_text(table: Forecast, tz_name: str) -> str:
    weekday = f"{table.day:%A}"
    lines = [f"staffing forecast for {weekday} {table.day} ({tz_name}), target {table.target}, "
             f"max occupancy {table.max_occupancy * 100:g} %, Erlang C"]
    if not table.has_history:
        lines.append(f"no history: no call asked for an agent on a {weekday} in the period before {table.day} "
                     "(try a larger --days)")
        return "\n".join(lines)
    lines.append(f"from {len(table.sample_days)} {weekday}(s): {', '.join(str(d) for d in table.sample_days)}; "
                 f"{table.history_calls} calls")
    lines.append("")
    lines.append(f"{'interval':<11} {'calls':>7} {'AHT s':>6} {'agents':>6} {'SL':>8} {'occupancy':>9} {'ASA s':>6}")
    for row in table.rows:
        lines.append(f"{_clock(row):<11} {row.calls:>7.1f} {_seconds(row.aht_s):>6} {row.agents:>6} "
                     f"{_percent(row.service_level):>8} {_percent(row.occupancy):>9} {_seconds(row.asa_s):>6}")
    lines.append(f"{'total':<11} {table.expected_calls:>7.1f}  peak {table.peak_agents} agents, "
                 f"{table.agent_hours:.1f} agent-hours")
    if table.default_aht_used:
        lines.append("note: no answered call in the history; AHT assumed (talk 270-360 s + 60 s after-call work)")
    lines.append("AHT = talk + hold + after-call work; SL, occupancy and ASA are what the agents shown would give")
    return "\n".join(lines)


def render_csv(table: Forecast) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in table.rows:
        writer.writerow([f"{row.start:%H:%M}", f"{row.end:%H:%M}", f"{row.calls:.2f}",
                         "" if row.aht_s is None else f"{row.aht_s:.1f}", row.agents,
                         "" if row.service_level is None else f"{row.service_level:.4f}",
                         "" if row.occupancy is None else f"{row.occupancy:.4f}",
                         "" if row.asa_s is None else f"{row.asa_s:.1f}"])
    return out.getvalue()


def as_jsonable(table: Forecast, tz_name: str) -> dict[str, object]:
    return {
        "date": str(table.day), "timezone": tz_name, "interval_min": table.interval_min,
        "target": {"level": table.target.level, "within_s": table.target.within_s},
        "max_occupancy": table.max_occupancy, "sample_days": [str(d) for d in table.sample_days],
        "history_calls": table.history_calls, "has_history": table.has_history,
        "default_aht_used": table.default_aht_used,
        "rows": [{"interval_start": f"{row.start:%H:%M}", "interval_end": f"{row.end:%H:%M}",
                  "expected_calls": round(row.calls, 3), "aht_s": row.aht_s, "agents": row.agents,
                  "service_level": row.service_level, "occupancy": row.occupancy, "asa_s": row.asa_s}
                 for row in table.rows] if table.has_history else [],
        "totals": {"expected_calls": round(table.expected_calls, 3), "peak_agents": table.peak_agents,
                   "agent_hours": table.agent_hours},
    }


@click.command("forecast")
@click.option("--days", default=28, show_default=True, type=int,
              help="History to learn from: the same weekday within this many days before the date.")
@click.option("--interval", default="30m", show_default=True, help="Interval of the table: 15m, 30m or 1h.")
@click.option("--target", "target_text", default="80/20", show_default=True,
              help="Service level: percent of calls answered within seconds.")
@click.option("--max-occupancy", default=0.9, show_default=True, type=float,
              help="Highest share of time agents may be busy (0-1).")
@click.option("--date", "day_text", default=None, help="Day to plan, YYYY-MM-DD (default: tomorrow).")
@click.option("--csv", "as_csv", is_flag=True, help="CSV output.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def forecast_command(obj: CliContext, days: int, interval: str, target_text: str, max_occupancy: float,
                     day_text: str | None, as_csv: bool, as_json: bool) -> None:
    """Staffing table for a day: per interval the expected calls (same weekday, last --days days), the AHT
    (talk + hold + after-call work), the agents Erlang C needs for --target within --max-occupancy, and the
    service level, occupancy and ASA they would give."""
    interval_min, target, day = _options(days, interval, target_text, max_occupancy, day_text, as_csv, as_json)
    settings = obj.settings
    tz = settings.tz
    today = datetime.now(tz).date()
    day = day or today + timedelta(days=1)
    with open_journal(settings) as db:
        history = load_history(db, day, days, today, tz)
    table = forecast(history.calls, day, history.samples, tz, interval_min, target, max_occupancy)
    if as_json:
        emit_json(as_jsonable(table, settings.timezone))
    elif as_csv:
        if table.has_history:
            click.echo(render_csv(table), nl=False)
        else:
            click.echo(",".join(CSV_COLUMNS))
            click.echo(f"no history before {table.day} (try a larger --days)", err=True)
    else:
        click.echo(render_text(table, settings.timezone))
