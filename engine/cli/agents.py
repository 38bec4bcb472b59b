"""`hotline agent add|list|show|remove|passwd`: agents and their SIP accounts (logic in engine.agents).

Every change is written to the database, then to ``pjsip-agents.conf``, and a running PBX reloads it at
once (engine.agents.provision.apply); a stopped PBX reads it at its next start. Passwords are shown once,
by `add` and `passwd`, and never stored. Listings show no credentials. The agents' live state commands
(`agent login|logout|pause|resume`) belong to the ACD and are added to this group by its module.
"""

from __future__ import annotations

import click

from engine.agents import provision
from engine.agents.store import (
    REALM,
    AgentRecord,
    add_agent,
    get_agent,
    list_agents,
    remove_agent,
    set_password,
)
from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.settings import Settings
from engine.store.agent_tables import TIERS


@click.group()
def agent() -> None:
    """Agents (work number, skills, tier) and the SIP accounts of their softphones."""


def _sip_server(settings: Settings) -> str:
    return f"{settings.pbx.sip_bind}:{settings.pbx.sip_port}"


def _pbx_line(result: provision.Provisioned) -> str:
    if result.reloaded:
        return "PBX: reloaded, the change is live"
    return f"PBX: not running; {result.path.name} is written for its next start"


def _jsonable(a: AgentRecord) -> dict[str, object]:
    return {"work_number": a.work_number, "name": a.name, "skills": sorted(a.skills), "tier": a.tier,
            "sip_user": a.sip_user, "created_at": a.created_at.isoformat()}


def _account(settings: Settings, work_number: str, sip_user: str, password: str,
             result: provision.Provisioned) -> dict[str, object]:
    return {"work_number": work_number, "sip_user": sip_user, "password": password, "realm": REALM,
            "sip_server": _sip_server(settings), "transport": "udp", "pbx_reloaded": result.reloaded}


def _echo_account(account: dict[str, object]) -> None:
    click.echo(f"SIP user:   {account['sip_user']}")
    click.echo(f"password:   {account['password']}   (shown only now; "
               f"`hotline agent passwd {account['work_number']}` makes a new one)")
    click.echo(f"realm:      {account['realm']}")
    click.echo(f"SIP server: {account['sip_server']} (UDP)")


@agent.command("add")
@click.argument("work_number")
@click.option("--name", required=True, help="The agent's name, for supervisors only (callers hear the work number).")
@click.option("--skills", default="", help="Comma-separated skills, e.g. billing,broadband.")
@click.option("--tier", type=click.Choice(TIERS), default="regular", show_default=True,
              help="Staffing tier: regular inbound agents, or a reserve tier signed in on overflow.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (includes the password).")
@pass_cli
def agent_add(obj: CliContext, work_number: str, name: str, skills: str, tier: str, as_json: bool) -> None:
    """Add an agent and create its SIP account; prints the password once."""
    settings = obj.settings
    provision.check(settings)
    with open_journal(settings) as engine:
        new = add_agent(engine, work_number, name, skills.split(","), tier)
        result = provision.apply(settings, engine)
    account = _account(settings, new.work_number, new.sip_user, new.password, result)
    if as_json:
        emit_json(account)
        return
    click.echo(f"agent {new.work_number} added")
    _echo_account(account)
    click.echo(_pbx_line(result))


@agent.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def agent_list(obj: CliContext, as_json: bool) -> None:
    """Active agents: work number, name, tier, skills, SIP user (never credentials)."""
    with open_journal(obj.settings) as engine:
        rows = list_agents(engine)
    if as_json:
        emit_json([_jsonable(a) for a in rows])
        return
    click.echo(f"{'work no.':<9} {'name':<16} {'tier':<12} {'sip user':<16} skills")
    for a in rows:
        click.echo(f"{a.work_number:<9} {a.name:<16} {a.tier:<12} {a.sip_user:<16} {','.join(sorted(a.skills)) or '-'}")


@agent.command("show")
@click.argument("work_number")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def agent_show(obj: CliContext, work_number: str, as_json: bool) -> None:
    """One agent (no credentials)."""
    with open_journal(obj.settings) as engine:
        a = get_agent(engine, work_number)
    if as_json:
        emit_json(_jsonable(a) | {"realm": REALM, "sip_server": _sip_server(obj.settings)})
        return
    click.echo(f"work number: {a.work_number}\nname:        {a.name}\ntier:        {a.tier}\n"
               f"skills:      {', '.join(sorted(a.skills)) or '-'}\nSIP user:    {a.sip_user}\n"
               f"realm:       {REALM}\nSIP server:  {_sip_server(obj.settings)} (UDP)\n"
               f"created:     {a.created_at:%Y-%m-%d %H:%M} UTC")


@agent.command("remove")
@click.argument("work_number")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_cli
def agent_remove(obj: CliContext, work_number: str, yes: bool) -> None:
    """Remove an agent: its SIP account stops working at once; the journal keeps its work number."""
    settings = obj.settings
    provision.check(settings)
    with open_journal(settings) as engine:
        a = get_agent(engine, work_number)
        if not yes:
            click.confirm(f"remove agent {a.work_number} ({a.name}) and its SIP account {a.sip_user}?", abort=True)
        remove_agent(engine, work_number)
        result = provision.apply(settings, engine)
    click.echo(f"agent {work_number} removed")
    click.echo(_pbx_line(result))


@agent.command("passwd")
@click.argument("work_number")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (includes the password).")
@pass_cli
def agent_passwd(obj: CliContext, work_number: str, as_json: bool) -> None:
    """Give an agent's SIP account a new password (shown once); the old one stops working and the
    softphone's current registration is dropped, so it must register again with the new one."""
    settings = obj.settings
    provision.check(settings)
    with open_journal(settings) as engine:
        a = get_agent(engine, work_number)
        password = set_password(engine, work_number)
        result = provision.apply(settings, engine, drop_registrations=[a.sip_user])
    account = _account(settings, a.work_number, a.sip_user, password, result)
    if as_json:
        emit_json(account)
        return
    click.echo(f"agent {a.work_number}: new password")
    _echo_account(account)
    click.echo(_pbx_line(result))
