"""`hotline incident start|list|stop`: outage announcements on IVR nodes (logic in engine.incidents) and
the incident's surge of the overflow ladders (engine.incident_surge)."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from acd.queues import load_queues
from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.errors import PbxNotInstalled
from engine.incident_surge import SurgeOutcome, raise_surge, release_surge, surge_queues
from engine.incidents import BadIncident, list_incidents, parse_nodes, start_incident, stop_incident
from engine.pbx.layout import PbxLayout
from engine.store.queries import to_jsonable


def _parse_until(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadIncident(f"--until {value!r} is not a time like '2026-11-23 18:00'") from None
    # Operators type local wall-clock time; an explicit offset is honoured.
    return parsed.astimezone() if parsed.tzinfo is None else parsed


def _when(value: datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value is not None else "-"


@click.group()
def incident() -> None:
    """Incident announcements played on IVR nodes during an outage."""


@incident.command("start")
@click.option("--text", required=True, help="Mandarin announcement: the cause and what callers should do.")
@click.option("--nodes", required=True, help="IVR nodes to mount it on, comma separated: main_menu,self_service")
@click.option("--until", default=None, help="Stop announcing at this local time, e.g. '2026-11-23 18:00'.")
@click.option("--text-en", default=None, help="English announcement (default: the Mandarin one for all callers).")
@click.option("--surge", "surge_stage", default=None, metavar="STAGE",
              help="Also raise the overflow ladder of every queue with a stage of this name to it at once "
                   "(released by `incident stop`).")
@pass_cli
def incident_start(obj: CliContext, text: str, nodes: str, until: str | None, text_en: str | None,
                   surge_stage: str | None) -> None:
    """Render the announcement now and start playing it; prints the new incident's id (and, on stderr, what
    became of the surge)."""
    node_list = parse_nodes(nodes)
    until_at = _parse_until(until)
    settings = obj.settings
    surge = surge_queues(load_queues(settings.queues_path), surge_stage) if surge_stage is not None else []
    layout = PbxLayout.from_settings(settings)
    # Only the prompt folder is needed (Asterisk need not run), but not a tree under a missing root.
    if not layout.root.is_dir():
        raise PbxNotInstalled(f"the PBX root {layout.root} does not exist: run `hotline pbx install`")
    with open_journal(settings) as engine:
        incident_id = start_incident(engine, layout.prompt_dir, text=text, nodes=node_list,
                                     now=datetime.now(UTC), until=until_at, text_en=text_en)
        click.echo(incident_id)
        if surge_stage is not None:
            _report(f"surge {surge_stage}", "raised", raise_surge(engine, incident_id, surge_stage, surge))


def _report(what: str, verb: str, outcome: SurgeOutcome) -> None:
    """One line on stderr (stdout keeps the bare id for scripts) per result."""
    if outcome.done:
        click.echo(f"{what}: {verb} {', '.join(outcome.done)}", err=True)
    for queue, answer in outcome.answers.items():
        if answer != "ok":
            click.echo(f"warning: {what}: {queue} not {verb}: {answer}", err=True)
    if outcome.unanswered:
        click.echo(f"warning: {what} not applied to {', '.join(outcome.unanswered)}: no controller answered "
                   f"(is `hotline run` running?)", err=True)


@incident.command("list")
@click.option("--all", "include_all", is_flag=True, help="Include stopped and expired incidents.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def incident_list(obj: CliContext, include_all: bool, as_json: bool) -> None:
    """Active incidents (all with --all), newest first, with how many calls heard each."""
    with open_journal(obj.settings) as engine:
        rows = list_incidents(engine, datetime.now(UTC), include_all=include_all)
    if as_json:
        emit_json([to_jsonable(r) for r in rows])
        return
    click.echo(f"{'id':>4}  {'started':<16} {'until':<16} {'stopped':<16} {'heard':>5}  nodes / text")
    for r in rows:
        click.echo(f"{r.id:>4}  {_when(r.started_at):<16} {_when(r.until):<16} {_when(r.stopped_at):<16} "
                   f"{r.heard:>5}  {','.join(r.nodes)}: {r.text}")


@incident.command("stop")
@click.argument("incident_id", type=int)
@pass_cli
def incident_stop(obj: CliContext, incident_id: int) -> None:
    """Stop announcing incident ID (callers no longer hear it after the controller's next refresh) and release
    the overflow ladders its surge raised."""
    with open_journal(obj.settings) as engine:
        stop_incident(engine, incident_id, datetime.now(UTC))
        click.echo(f"incident {incident_id} stopped")
        outcome = release_surge(engine, incident_id)
    if outcome.answers or outcome.unanswered:
        _report("surge", "released", outcome)
