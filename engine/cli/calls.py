"""`hotline calls`, `hotline call show ID` and `hotline call NUMBER` (a real SIP test call)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

import click

from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.masking import mask_number
from engine.reports.query import dispositions_of
from engine.store.queries import call_events, find_call, recent_calls, to_jsonable


def _when(value: Any) -> str:
    return value.astimezone().strftime("%m-%d %H:%M:%S") if value is not None else "-"


def _disposition(found: tuple[str, dict[str, Any]] | None) -> str:
    """``answered (agent 1001, waited 12.0 s)``: the disposition and the detail a person asks about first."""
    if found is None:
        return "live"
    name, detail = found
    keys = ("agent", "to_queue", "to_agent", "to_site", "result", "why", "variant", "node")
    parts = [f"{key} {detail[key]}" for key in keys if detail.get(key) is not None]
    if detail.get("wait_s") is not None and name not in ("self_service", "closed_hours", "abandoned_ivr"):
        parts.append(f"waited {detail['wait_s']} s")
    return f"{name} ({', '.join(parts)})" if parts else name


@click.command("calls")
@click.option("--limit", default=20, show_default=True, help="How many recent calls.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (numbers unmasked).")
@pass_cli
def calls_command(obj: CliContext, limit: int, as_json: bool) -> None:
    """Recent calls, newest first."""
    with open_journal(obj.settings) as engine:
        rows = recent_calls(engine, limit)
        found = dispositions_of(engine, [r.id for r in rows])
    if as_json:
        emit_json([{**asdict(r), "started_at": to_jsonable(r.started_at), "answered_at": to_jsonable(r.answered_at),
                    "ended_at": to_jsonable(r.ended_at), "disposition": found[r.id][0] if r.id in found else None,
                    "disposition_detail": found[r.id][1] if r.id in found else None} for r in rows])
        return
    click.echo(f"{'id':>5}  {'caller':<14} {'dialed':<9} {'started':<15} {'answered':<15} {'ended':<15} "
               f"{'outcome':<12} disposition")
    for r in rows:
        click.echo(f"{r.id:>5}  {mask_number(r.caller):<14} {r.dialed or '-':<9} {_when(r.started_at):<15} "
                   f"{_when(r.answered_at):<15} {_when(r.ended_at):<15} {r.outcome or 'live':<12} "
                   f"{_disposition(found.get(r.id))}")


class CallGroup(click.Group):
    """`hotline call show ID`, and `hotline call NUMBER ...` as a shortcut for `hotline call dial NUMBER`."""

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["dial", *args]
        return super().resolve_command(ctx, args)


@click.group(cls=CallGroup)
def call() -> None:
    """One call: `call show ID` lists its journal; `call NUMBER` places a real SIP test call."""


@call.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def call_show(obj: CliContext, ref: str, as_json: bool) -> None:
    """The journal of one call (by id or Asterisk unique id), events in order."""
    with open_journal(obj.settings) as engine:
        summary = find_call(engine, ref)
        events = call_events(engine, summary.id)
        found = dispositions_of(engine, [summary.id]).get(summary.id)
    if as_json:
        emit_json({"call": to_jsonable(summary), "disposition": None if found is None else found[0],
                   "disposition_detail": None if found is None else found[1],
                   "events": [to_jsonable(e) for e in events]})
        return
    click.echo(f"call {summary.id} ({summary.call_uid}) from {mask_number(summary.caller)} to {summary.dialed}: "
               f"{summary.outcome or 'live'}")
    click.echo(f"  disposition: {_disposition(found)}")
    for e in events:
        data = {k: ("******" if k in {"password", "pin"} else v) for k, v in dict(e.data).items()
                if k != "caller"}
        details = " ".join(f"{k}={v}" for k, v in data.items())
        click.echo(f"  {e.seq:>3} {e.at.astimezone().strftime('%H:%M:%S.%f')[:-3]} {e.kind:<22} {details}")


@call.command("dial")
@click.argument("number")
@click.option("--keys", default="", help="DTMF keys to press after answer, comma separated: 1,2,123456#")
@click.option("--caller-id", default="13800138000", show_default=True, help="Number the hotline sees.")
@click.option("--hangup-after", type=float, default=None, help="Hang up after this many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def call_dial(obj: CliContext, number: str, keys: str, caller_id: str, hangup_after: float | None,
              as_json: bool) -> None:
    """Place a real SIP call to NUMBER through the running PBX (SIPp) and report what the caller got."""
    from engine.testcall import format_report, place_call  # SIPp tooling only loads for test calls

    settings = obj.settings
    key_list = [k for part in keys.split(",") for k in part.strip()]
    report = asyncio.run(place_call(target_host=settings.pbx.sip_bind, target_port=settings.pbx.sip_port,
                                    dialed=number, caller_id=caller_id, keys=key_list,
                                    hangup_after_s=hangup_after))
    if as_json:
        data = asdict(report)
        data["audio"]["payload_types"] = sorted(report.audio.payload_types)
        emit_json(data)
    else:
        click.echo(format_report(report))
    if not report.answered:
        raise SystemExit(1)
