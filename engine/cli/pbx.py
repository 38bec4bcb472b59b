"""`hotline pbx ...`: install, start, stop and check the Asterisk the hotline runs on."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import asdict
from pathlib import Path

import click

from engine.agents.provision import write_agents_config
from engine.cli.context import CliContext, emit_json, pass_cli
from engine.cli.prompts import all_prompts
from engine.errors import HotlineError, InstanceOwned, UnreachableError
from engine.pbx.checks import check_pbx
from engine.pbx.control import PbxControl
from engine.pbx.credentials import for_settings
from engine.pbx.install import install
from engine.pbx.render import render_config
from engine.prompts.build import build_prompts
from engine.settings import Settings
from engine.store.database import check_database, make_engine


def control_for(settings: Settings) -> PbxControl:
    return PbxControl(settings, for_settings(settings))


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
    try:
        control = control_for(settings)
    except InstanceOwned as owned:
        # The PBX itself is installed and shared by every checkout; only serving this instance is refused
        # (by `hotline up` / `pbx up`). The tests, which run their own instances, need nothing more.
        click.echo(f"{version} ready; not rendering instance '{settings.pbx.instance}': {owned.message}")
        return
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
    files = render_config(obj.settings, for_settings(obj.settings))
    if out is None:
        for name, text in files.items():
            click.echo(f";; ---- {name}\n{text}")
        return
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    click.echo(f"{len(files)} files written to {out}")


@pbx.command("check")
@pass_cli
def pbx_check(obj: CliContext) -> None:
    """Verify boot, modules, ARI and AMI logins; exit 3 when anything fails."""
    results = check_pbx(control_for(obj.settings))
    for r in results:
        click.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.line}")
    if not all(r.ok for r in results):
        sys.exit(3)
