"""`hotline flows check [FILE...]` and `hotline flows simulate ...`: validate and dry-run the IVR flows.

No business logic here: ``ivr_flows.check`` finds the problems, ``engine.ivr.simulate`` walks a flow with
the real runner on a scripted caller (sample accounts, no PBX, no database).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from engine.cli.context import CliContext, emit_json, pass_cli
from engine.errors import SettingsError
from engine.ivr.runner import IvrServices
from engine.ivr.simulate import UNSERVED, NoIncidents, SampleSelfService, parse_keys, simulate
from ivr_flows.check import check_file
from ivr_flows.errors import FlowError
from ivr_flows.loader import load_flows

AT_FORMAT = "%Y-%m-%d %H:%M"

_dir_option = click.option("--dir", "folder", type=click.Path(path_type=Path, file_okay=False), default=None,
                           show_default=True, help="Folder of the flow files (*.yaml).")


@click.group("flows")
def flows() -> None:
    """IVR flows (ivr_flows/*.yaml): check them, walk them without a phone."""


@flows.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@_dir_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def flows_check(ctx: click.Context, files: tuple[Path, ...], folder: Path | None, as_json: bool) -> None:
    """Check flow files (default: every file of the flows folder); exit 2 on any problem."""
    folder = folder or ctx.find_object(CliContext).settings.flows_folder  # type: ignore[union-attr]
    paths = list(files) or sorted(folder.glob("*.yaml"))
    if not paths:
        raise SettingsError(f"no flow files (*.yaml) in {folder}")
    report = {str(path): check_file(path) for path in paths}
    if not files and not any(report.values()):
        # Across files of the folder: two files may not define the same flow name.
        try:
            load_flows(folder)
        except FlowError as err:
            for problem in err.problems:
                report.setdefault(problem.file, []).append(problem)
    bad = any(report.values())
    if as_json:
        emit_json({file: [{"line": p.line, "message": p.message} for p in problems]
                   for file, problems in report.items()})
    else:
        for file, problems in report.items():
            if not problems:
                click.echo(f"ok {file}")
            for problem in problems:
                click.echo(str(problem))
    if bad:
        ctx.exit(2)


@flows.command("simulate")
@click.option("--flow", "flow_name", default="hotline", show_default=True, help="Flow name.")
@_dir_option
@click.option("--caller", required=True, help="The caller's number (caller ID).")
@click.option("--dialed", default=None, help="Number dialed (default: the hotline number; +11/12/13: speed lines).")
@click.option("--keys", default="", help="Keys by wait: 1,1,123456#  (T = let a wait time out, H = hang up).")
@click.option("--at", "at_text", default=None, help=f"Local time of the call, '{AT_FORMAT}' (default: now).")
@click.option("--tz", "tz_name", default="Asia/Shanghai", show_default=True, help="Time zone of the hotline.")
@click.option("--language", type=click.Choice(["zh", "en"]), default=None, help="Prompt language (default: setting).")
@click.option("--unserved", type=click.Choice(UNSERVED), default=None,
              help="Nobody can take the call in a queue: every agent busy (message, callback, keep waiting) or none "
                   "signed in (message, callback). Default: an agent answers.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def flows_simulate(obj: CliContext, flow_name: str, folder: Path | None, caller: str, dialed: str | None, keys: str,
                   at_text: str | None, tz_name: str, language: str | None, unserved: str | None,
                   as_json: bool) -> None:
    """Walk a flow for one scripted call and show the path and what the caller hears."""
    try:
        parse_keys(keys)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--keys") from None
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone '{tz_name}'", param_hint="--tz") from None
    try:
        at = datetime.strptime(at_text, AT_FORMAT).replace(tzinfo=tz) if at_text else datetime.now(tz)
    except ValueError:
        raise click.BadParameter(f"'{at_text}' is not '{AT_FORMAT}'", param_hint="--at") from None
    folder = folder or obj.settings.flows_folder
    flows_by_name = load_flows(folder)
    if flow_name not in flows_by_name:
        raise SettingsError(f"no flow '{flow_name}' in {folder} (have: {', '.join(sorted(flows_by_name)) or 'none'})")
    settings = obj.settings
    services = IvrServices(self_service=SampleSelfService(at.date()), incidents=NoIncidents(), tz=tz)
    result = asyncio.run(simulate(flows_by_name[flow_name], services, caller, dialed or settings.hotline_number, keys,
                                  at, hotline_number=settings.hotline_number,
                                  language=language or settings.language, unserved=unserved))
    if as_json:
        emit_json(result.to_json())
        return
    click.echo("path: " + " -> ".join(result.path))
    for line in result.transcript:
        click.echo(line)
