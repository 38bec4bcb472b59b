"""`hotline pbx ...`: install, start, stop and check the Asterisk the hotline runs on."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from dataclasses import asdict
from pathlib import Path

import click

from engine.agents.provision import write_agents_config
from engine.cli.context import CliContext, emit_json, pass_cli
from engine.cli.prompts import all_prompts
from engine.errors import HotlineError, PbxUnreachable, UnreachableError
from engine.pbx.ami import AmiSession
from engine.pbx.ari import AriClient
from engine.pbx.control import PbxControl
from engine.pbx.credentials import load_or_create
from engine.pbx.install import install
from engine.pbx.render import render_config
from engine.prompts.build import build_prompts
from engine.settings import Settings
from engine.store.database import check_database, make_engine


def control_for(settings: Settings) -> PbxControl:
    return PbxControl(settings, load_or_create(settings.data_dir))


@click.group()
def pbx() -> None:
    """The Asterisk PBX (managed sid root by default, or the site's own)."""


@pbx.command("install")
@pass_cli
def pbx_install(obj: CliContext) -> None:
    """Install the managed Asterisk 22 and render the prompts (reuses what is there)."""
    settings = obj.settings
    if settings.pbx.mode != "managed":
        raise HotlineError("the PBX is external (pbx.mode = external): nothing to install")
    version = install(settings.pbx.root, click.echo)
    control = control_for(settings)
    written = build_prompts(control.layout.prompt_dir, all_prompts(settings))
    control.write_config()
    click.echo(f"{version} ready; {len(written)} prompt file(s) rendered; config in {control.config_dir}")


def write_agents(settings: Settings) -> None:
    """The agents' SIP accounts from the journal database, so a fresh start knows every softphone."""
    with contextlib.suppress(UnreachableError):  # no journal yet: no agents either
        check_database(settings.db_url)
        engine = make_engine(settings.db_url)
        try:
            write_agents_config(settings, engine)
        finally:
            engine.dispose()


@pbx.command("up")
@pass_cli
def pbx_up(obj: CliContext) -> None:
    """Start the PBX in the background (or reload its configuration if it runs)."""
    control = control_for(obj.settings)
    control.write_config()
    write_agents(obj.settings)
    control.start(click.echo)


@pbx.command("down")
@pass_cli
def pbx_down(obj: CliContext) -> None:
    """Stop the PBX now (live calls are cut)."""
    stopped = control_for(obj.settings).stop()
    click.echo("PBX stopped" if stopped else "PBX was not running")


@pbx.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def pbx_status(obj: CliContext, as_json: bool) -> None:
    """Is the PBX running; version, uptime, channels."""
    status = control_for(obj.settings).status()
    if as_json:
        emit_json(asdict(status))
    elif status.running:
        click.echo(f"running: {status.version}\nuptime: {status.uptime} s\nactive channels: {status.channels}")
    else:
        click.echo("not running")
    if not status.running:
        sys.exit(3)


@pbx.command("render")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write the files here instead.")
@pass_cli
def pbx_render(obj: CliContext, out: Path | None) -> None:
    """Show (or write) the Asterisk configuration rendered from the settings."""
    files = render_config(obj.settings, load_or_create(obj.settings.data_dir))
    if out is None:
        for name, text in files.items():
            click.echo(f";; ---- {name}\n{text}")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    click.echo(f"{len(files)} files written to {out}")


async def _check_interfaces(settings: Settings) -> list[tuple[str, str | None]]:
    creds = load_or_create(settings.data_dir)
    results: list[tuple[str, str | None]] = []
    async with AriClient(host="127.0.0.1", port=settings.pbx.ari_port, user=creds.ari_user,
                         password=creds.ari_password, app=settings.stasis_app) as ari:
        try:
            info = await ari.info()
            results.append((f"ARI login (Asterisk {info.get('system', {}).get('version', '?')})", None))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a report line
            results.append(("ARI login", str(exc)))
    ami = AmiSession(host="127.0.0.1", port=settings.pbx.ami_port, user=creds.ami_user,
                     password=creds.ami_password)
    try:
        await ami.connect()
        await ami.ping()
        results.append(("AMI login", None))
    except HotlineError as exc:
        results.append(("AMI login", exc.message))
    finally:
        ami.close()
    return results


@pbx.command("check")
@pass_cli
def pbx_check(obj: CliContext) -> None:
    """Verify boot, modules, ARI and AMI logins; exit 3 when anything fails."""
    control = control_for(obj.settings)
    results: list[tuple[str, str | None]] = []
    try:
        if not control.is_running():
            raise PbxUnreachable(f"Asterisk is not running (instance {obj.settings.pbx.instance})")
        control.wait_fully_booted(timeout=20)
        results.append(("core waitfullybooted", None))
        missing = control.missing_modules()
        results.append(("modules loaded", f"missing: {', '.join(missing)}" if missing else None))
    except PbxUnreachable as exc:
        results.append(("core waitfullybooted", exc.message))
    results += asyncio.run(_check_interfaces(obj.settings))
    for what, problem in results:
        click.echo(f"{'ok  ' if problem is None else 'FAIL'} {what}{'' if problem is None else ': ' + problem}")
    if any(problem is not None for _, problem in results):
        sys.exit(3)
