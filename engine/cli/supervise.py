"""Supervisors' live commands: `hotline agent login|logout|pause|resume|end-acw`, `hotline call
transfer|silent` and `hotline status`.

State changes go to the running controller through the ``agent_requests`` table (it applies them within a
second and writes back the result); the live view reads the snapshot the controller rewrites every second.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import click
import sqlalchemy
from sqlalchemy import insert, select

from engine.agents.store import get_agent
from engine.app import LIVE_STATUS_FILE
from engine.cli.agents import agent
from engine.cli.calls import call
from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.errors import DomainError, UnreachableError
from engine.queueing.desk import read_snapshot
from engine.store.agent_journal_tables import agent_requests, call_requests
from engine.store.queries import find_call

ANSWER_WITHIN_S = 5.0


def _request(obj: CliContext, work_number: str, action: str, reason: str | None) -> None:
    with open_journal(obj.settings) as db:
        get_agent(db, work_number)  # unknown agent: a clear error before anything is queued
        with db.begin() as conn:
            request_id = conn.execute(insert(agent_requests).values(
                agent=work_number, action=action, reason=reason, requested_at=datetime.now(UTC))
            ).inserted_primary_key[0]  # type: ignore[index]
        result = _await_answer(db, agent_requests, request_id)
    if result != "ok":
        raise DomainError(f"agent {work_number}: {result}")
    click.echo(f"agent {work_number}: {action} done")


def _await_answer(db: sqlalchemy.Engine, table: sqlalchemy.Table, request_id: int) -> str:
    """The controller's answer to a request (it polls every second)."""
    deadline = time.monotonic() + ANSWER_WITHIN_S
    while time.monotonic() < deadline:
        with db.connect() as conn:
            result = conn.execute(select(table.c.result).where(table.c.id == request_id)).scalar()
        if result is not None:
            return str(result)
        time.sleep(0.2)
    raise UnreachableError(f"the controller did not answer within {ANSWER_WITHIN_S:.0f} s (is `hotline run` up?); "
                           "the request stays queued and applies when it is back")


def _simple(action: str, help_text: str) -> click.Command:
    @click.command(action.replace("_", "-"), help=help_text)
    @click.argument("work_number")
    @pass_cli
    def command(obj: CliContext, work_number: str) -> None:
        _request(obj, work_number, action, None)

    return command


# `agent login|logout` (several agents, or a tier) are engine.cli.agents's.
for _action, _help in (("resume", "End the agent's pause."),
                       ("end_acw", "End the agent's after-call work now.")):
    agent.add_command(_simple(_action, _help))


@agent.command("pause")
@click.argument("work_number")
@click.option("--reason", default="supervisor", show_default=True, help="Why (shown in `hotline status`).")
@pass_cli
def agent_pause(obj: CliContext, work_number: str, reason: str) -> None:
    """Pause the agent (after the current call, if any)."""
    _request(obj, work_number, "pause", reason)


def _render(snapshot: dict[str, Any]) -> str:
    lines = []
    degraded = snapshot.get("degraded") or {}
    if degraded:
        lines += [f"controller DEGRADED: {name} restarting ({why})" for name, why in sorted(degraded.items())] + [""]
    lines.append(f"{'queue':<12} {'waiting':>7} {'longest':>8} {'callbacks':>9} {'agents':>6}  overflow stage")
    for q in snapshot["queues"]:
        plan = q.get("overflow") or {}
        stage = f"{plan['stage']} ({plan['mode']})" if plan else "-"
        lines.append(f"{q['queue']:<12} {q['waiting']:>7} {q['longest_wait_s']:>7.0f}s {q.get('callbacks', 0):>9} "
                     f"{q['agents_serving']:>6}  {stage}")
        if plan.get("alert"):
            lines.append(f"  alert: {plan['alert']}")
    lines.append("")
    lines.append(f"{'agent':<8} {'tier':<10} {'state':<16} {'for':>7}  {'sip':<5} reason")
    for a in snapshot["agents"]:
        by_plan = f" [signed in by the plan: {a['signed_in_by_plan']}]" if a.get("signed_in_by_plan") else ""
        lines.append(f"{a['agent']:<8} {a.get('tier') or '':<10} {a['state']:<16} {a['in_state_s']:>6.0f}s  "
                     f"{'up' if a['registered'] else 'down':<5} {a['reason'] or ''}{by_plan}")
    return "\n".join(lines)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--watch", is_flag=True, help="Refresh every second until Ctrl-C.")
@pass_cli
def status(obj: CliContext, as_json: bool, watch: bool) -> None:
    """Live view: each queue (waiting, longest wait, agents) and each agent (state, time in state, reason)."""
    path = obj.settings.data_dir / LIVE_STATUS_FILE
    while True:
        snapshot = read_snapshot(path)
        if snapshot is None:
            raise UnreachableError("no live status: the controller is not running (`hotline run`)")
        if as_json:
            emit_json(snapshot)
        else:
            click.echo(("\x1b[2J\x1b[H" if watch else "") + _render(snapshot))
        if not watch:
            return
        time.sleep(1)


@call.command("transfer")
@click.argument("ref")
@click.option("--queue", "to_queue", default=None, help="Send the caller to this queue.")
@click.option("--agent", "to_agent", default=None, help="Send the caller to this agent (work number).")
@pass_cli
def call_transfer(obj: CliContext, ref: str, to_queue: str | None, to_agent: str | None) -> None:
    """Blind-transfer a caller who is talking to an agent to another queue or agent (one call in the journal)."""
    if (to_queue is None) == (to_agent is None):
        raise click.UsageError("give exactly one of --queue or --agent")
    with open_journal(obj.settings) as db:
        summary = find_call(db, ref)
        with db.begin() as conn:
            request_id = conn.execute(insert(call_requests).values(
                call_uid=summary.call_uid, action="transfer", target_queue=to_queue, target_agent=to_agent,
                requested_at=datetime.now(UTC))).inserted_primary_key[0]  # type: ignore[index]
        result = _await_answer(db, call_requests, request_id)
    if result != "ok":
        raise DomainError(f"call {summary.id}: {result}")
    click.echo(f"call {summary.id}: transferred to {'queue ' + to_queue if to_queue else 'agent ' + str(to_agent)}")


@call.command("silent")
@click.argument("ref")
@click.option("--variant", type=click.Choice(["silent", "low_volume", "noisy"]), default="silent", show_default=True,
              help="Which script: nothing heard, too quiet, or too noisy a line.")
@pass_cli
def call_silent(obj: CliContext, ref: str, variant: str) -> None:
    """Hand a caller who says nothing to the silent-call script; the agent is free at once."""
    with open_journal(obj.settings) as db:
        summary = find_call(db, ref)
        with db.begin() as conn:
            request_id = conn.execute(insert(call_requests).values(
                call_uid=summary.call_uid, action="silent", script=variant,
                requested_at=datetime.now(UTC))).inserted_primary_key[0]  # type: ignore[index]
        result = _await_answer(db, call_requests, request_id)
    if result != "ok":
        raise DomainError(f"call {summary.id}: {result}")
    click.echo(f"call {summary.id}: handed to the {variant.replace('_', '-')} script")
