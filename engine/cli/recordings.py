"""`hotline recordings list` and `hotline recordings export`: agent call recordings from the journal.

Both read ``recording.saved`` events through engine.store.recordings; days are taken in the settings'
time zone. Caller numbers are masked in tables and given in full in ``--json`` and in the export's
``manifest.json`` (the export folder is 0700 and its files 0600 for that reason).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any, Final

import click

from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.masking import mask_number
from engine.store.queries import JsonValue, to_jsonable
from engine.store.recordings import ExportResult, RecordingRow, export_recordings, list_recordings

MANIFEST: Final = "manifest.json"
DAY = click.DateTime(formats=["%Y-%m-%d"])


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The selection options shared by `list` and `export`."""
    options = [
        click.option("--call", "call_ref", metavar="ID", help="One call: its id or Asterisk unique id."),
        click.option("--agent", metavar="N", help="Recordings of this agent (work number)."),
        click.option("--date", "day", type=DAY, metavar="YYYY-MM-DD", help="One day, in the settings' time zone."),
        click.option("--since", type=DAY, metavar="YYYY-MM-DD", help="From this day on (inclusive)."),
        click.option("--until", type=DAY, metavar="YYYY-MM-DD", help="Up to this day (inclusive)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _days(day: datetime | None, since: datetime | None, until: datetime | None) -> tuple[date | None, date | None]:
    if day is not None and (since is not None or until is not None):
        raise click.UsageError("--date cannot be combined with --since or --until")
    if day is not None:
        return day.date(), day.date()
    first, last = (since.date() if since else None), (until.date() if until else None)
    if first is not None and last is not None and first > last:
        raise click.UsageError("--since is after --until")
    return first, last


def _select(obj: CliContext, call_ref: str | None, agent: str | None, day: datetime | None,
            since: datetime | None, until: datetime | None, limit: int) -> list[RecordingRow]:
    first, last = _days(day, since, until)
    with open_journal(obj.settings) as engine:
        return list_recordings(engine, call=call_ref, agent=agent, since=first, until=last, tz=obj.settings.tz,
                               limit=limit)


def _when(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
def recordings() -> None:
    """Agent call recordings: list them, export them with their checksums verified."""


@recordings.command("list")
@_filter_options
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (numbers unmasked).")
@pass_cli
def list_command(obj: CliContext, call_ref: str | None, agent: str | None, day: datetime | None,
                 since: datetime | None, until: datetime | None, limit: int, as_json: bool) -> None:
    """Saved recordings, newest first."""
    rows = _select(obj, call_ref, agent, day, since, until, limit)
    if as_json:
        emit_json([to_jsonable(r) for r in rows])
        return
    tz = obj.settings.tz
    click.echo(f"{'call':>6}  {'caller':<14} {'agent':<8} {'when':<19} {'seconds':>8}  file")
    for r in rows:
        click.echo(f"{r.call_id:>6}  {mask_number(r.caller):<14} {r.agent:<8} {_when(r.at, tz):<19} "
                   f"{r.seconds:>8.1f}  {Path(r.file).name}")


@recordings.command("export")
@_filter_options
@click.option("--to", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to copy the recordings into (created with mode 0700).")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (numbers unmasked).")
@pass_cli
def export_command(obj: CliContext, call_ref: str | None, agent: str | None, day: datetime | None,
                   since: datetime | None, until: datetime | None, folder: Path, limit: int, as_json: bool) -> None:
    """Copy recordings into a folder with a manifest, each checked against its journaled sha256.

    A missing or altered file is reported and the others are still exported; the exit code is then 1.
    """
    if not any((call_ref, agent, day, since, until)):
        # Exporting every recording by accident would spread personal data: ask for a selection.
        raise click.UsageError("choose what to export: --call, --agent, --date or --since/--until")
    rows = _select(obj, call_ref, agent, day, since, until, limit)
    try:
        results = export_recordings(rows, folder)
        manifest = _write_manifest(folder, results, obj.settings.tz)
    except OSError as exc:
        click.echo(f"error: cannot write to {folder}: {exc.strerror or exc}", err=True)
        raise SystemExit(1) from None
    failed = [r for r in results if r.status != "ok"]
    if as_json:
        emit_json({"folder": str(folder), "manifest": str(manifest), "exported": len(results) - len(failed),
                   "failed": len(failed), "limit_reached": len(rows) == limit,
                   "recordings": [_entry(r) for r in results]})
    else:
        for result in results:
            if result.status == "ok":
                click.echo(f"ok       call {result.recording.call_id}: {result.exported_as}")
            else:
                click.echo(f"error: call {result.recording.call_id}: {result.status}: {result.problem}", err=True)
        click.echo(f"exported {len(results) - len(failed)} of {len(results)} recordings to {folder} "
                   f"(manifest: {MANIFEST})")
        if len(rows) == limit:
            click.echo(f"note: stopped at --limit {limit}; older recordings may match too", err=True)
    if failed:
        raise SystemExit(1)


def _entry(result: ExportResult) -> dict[str, JsonValue]:
    row = to_jsonable(result.recording)
    assert isinstance(row, dict)
    return {**row, "status": result.status, "exported_as": result.exported_as, "problem": result.problem}


def _write_manifest(folder: Path, results: list[ExportResult], tz: tzinfo) -> Path:
    """``manifest.json``: every selected recording with its export status; 0600 (it names callers in full)."""
    manifest = {
        "exported_at": datetime.now(UTC).isoformat(),
        "timezone": str(tz),
        "recordings": [_entry(r) for r in results],
    }
    path = folder / MANIFEST
    partial = folder / f".{MANIFEST}.partial"
    partial.unlink(missing_ok=True)
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
        json.dump(manifest, out, ensure_ascii=False, indent=2)
        out.write("\n")
    partial.replace(path)
    return path
