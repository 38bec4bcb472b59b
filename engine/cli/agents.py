"""`hotline agent add|import|set|list|show|remove|passwd|login|logout`: agents and their SIP accounts
(logic in engine.agents).

Every change is written to the database, then to ``pjsip-agents.conf``, and a running PBX reloads it at
once (engine.agents.provision.apply, once per command: `import` of hundreds of agents is one reload); a
stopped PBX reads it at its next start. Passwords are shown once, by `add` and `passwd`, and never stored;
`import` writes the new ones to a 0600 file instead of the screen. Listings show no credentials.
`login|logout` take several work numbers or `--tier T` and go to the running controller as requests
(engine.agents.requests); the other live state commands (`agent pause|resume|end-acw`) are added to this
group by engine.cli.supervise.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime
from pathlib import Path

import click

from engine.agents import provision
from engine.agents.import_file import read_agents_csv
from engine.agents.requests import agents_for, request_all
from engine.agents.store import (
    REALM,
    AgentRecord,
    ImportResult,
    add_agent,
    get_agent,
    import_agents,
    list_agents,
    remove_agent,
    set_password,
    update_agent,
)
from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.errors import DomainError, SettingsError, UnreachableError
from engine.settings import Settings
from engine.store.agent_tables import DEFAULT_TIER


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
@click.option("--tier", default=DEFAULT_TIER, show_default=True,
              help="Staffing tier: inbound agents, or a reserve tier the overflow ladder signs in "
                   "(expert, outbound, qc, backoffice, ...).")
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


@agent.command("set")
@click.argument("work_number")
@click.option("--name", default=None, help="New name.")
@click.option("--skills", default=None, help="New comma-separated skills (replace the old ones).")
@click.option("--tier", default=None, help="New tier (inbound, expert, outbound, qc, backoffice, ...).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def agent_set(obj: CliContext, work_number: str, name: str | None, skills: str | None, tier: str | None,
              as_json: bool) -> None:
    """Change an agent's name, skills or tier (the SIP account and password stay)."""
    with open_journal(obj.settings) as engine:
        a = update_agent(engine, work_number, name=name, skills=None if skills is None else skills.split(","),
                         tier=tier)
    if as_json:
        emit_json(_jsonable(a))
        return
    click.echo(f"agent {a.work_number}: {a.name}, tier {a.tier}, skills {','.join(sorted(a.skills)) or '-'}")


def _write_credentials(path: Path, result: ImportResult, settings: Settings) -> None:
    """The new accounts as CSV in a new 0600 file (never overwritten: passwords are not kept anywhere else)."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["work_number", "sip_user", "password", "realm", "sip_server", "transport"])
    for new in result.created:
        writer.writerow([new.work_number, new.sip_user, new.password, REALM, _sip_server(settings), "udp"])
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SettingsError(f"{path} exists: choose another --credentials file") from None
    except OSError as exc:
        raise SettingsError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        fh.write(text.getvalue())


@agent.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--credentials", "credentials", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where the new accounts' passwords go (0600; default: data_dir/agent-credentials-<time>.csv).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (no passwords).")
@pass_cli
def agent_import(obj: CliContext, file: Path, credentials: Path | None, as_json: bool) -> None:
    """Create or update every agent of a CSV file (work_number,name,skills,tier) with one PBX reload.

    The whole file is checked first; any bad row (reported as file:line) imports nothing. New agents'
    passwords are written to a 0600 credentials file, never shown."""
    settings = obj.settings
    rows = read_agents_csv(file)
    provision.check(settings)
    stamp = datetime.now(UTC)
    path = credentials or settings.data_dir / f"agent-credentials-{stamp:%Y%m%d-%H%M%S}.csv"
    if path.exists():
        raise SettingsError(f"{path} exists: choose another --credentials file")
    with open_journal(settings) as engine:
        result = import_agents(engine, rows, now=stamp)
        if result.created:
            _write_credentials(path, result, settings)
        pbx = provision.apply(settings, engine)
    summary: dict[str, object] = {
        "created": [n.work_number for n in result.created], "updated": list(result.updated),
        "unchanged": list(result.unchanged), "credentials_file": str(path) if result.created else None,
        "pbx_reloaded": pbx.reloaded}
    if as_json:
        emit_json(summary)
        return
    click.echo(f"{len(result.created)} agent(s) created, {len(result.updated)} updated, "
               f"{len(result.unchanged)} unchanged")
    if result.created:
        click.echo(f"new SIP accounts and passwords: {path} (mode 0600; hand each agent their line, then "
                   "delete the file)")
    click.echo(_pbx_line(pbx))


def _sign(obj: CliContext, action: str, work_numbers: tuple[str, ...], tier: str | None, as_json: bool) -> None:
    with open_journal(obj.settings) as db:
        chosen = agents_for(db, work_numbers, tier)
        answers = request_all(db, chosen, action)
    if as_json:
        emit_json([{"work_number": a.work_number, "result": a.result} for a in answers])
    else:
        for a in answers:
            done = "done" if a.result == "ok" else (a.result or "no answer yet")
            click.echo(f"agent {a.work_number}: {action} {done}")
    if any(a.result is None for a in answers):
        raise UnreachableError("the controller did not answer every request (is `hotline run` up?); the "
                               "requests stay queued and apply when it is back")
    refused = [a for a in answers if a.result != "ok"]
    if refused:
        raise DomainError(f"{len(refused)} of {len(answers)} agent(s) refused: "
                          + "; ".join(f"{a.work_number}: {a.result}" for a in refused))


_numbers = click.argument("work_numbers", nargs=-1)
_tier = click.option("--tier", default=None, help="Every active agent of this tier instead of work numbers.")
_as_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@agent.command("login")
@_numbers
@_tier
@_as_json
@pass_cli
def agent_login(obj: CliContext, work_numbers: tuple[str, ...], tier: str | None, as_json: bool) -> None:
    """Sign agents in (work numbers, or --tier T): they start taking calls."""
    _sign(obj, "login", work_numbers, tier, as_json)


@agent.command("logout")
@_numbers
@_tier
@_as_json
@pass_cli
def agent_logout(obj: CliContext, work_numbers: tuple[str, ...], tier: str | None, as_json: bool) -> None:
    """Sign agents out (work numbers, or --tier T), each after their current call, if any."""
    _sign(obj, "logout", work_numbers, tier, as_json)
