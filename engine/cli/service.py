"""`hotline service install|status`: run the PBX and the controller under systemd (engine.service_units)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from engine.cli.context import CliContext, emit_json, pass_cli
from engine.errors import DomainError, SettingsError
from engine.service_units import render_units, unit_names
from engine.settings import find_config_file

UNIT_DIR = Path("/etc/systemd/system")
_SHOWN = ("ActiveState", "SubState", "MainPID", "NRestarts", "ExecMainStartTimestamp")


def _settings_file(obj: CliContext) -> Path:
    found = find_config_file(obj.config_file, dict(os.environ), Path.cwd())
    if found is None:
        raise SettingsError("no settings file: write /etc/hotline/hotline.toml (or pass --config) so the "
                            "services read the same settings as this command")
    return found.absolute()


def _systemctl() -> str:
    found = shutil.which("systemctl")
    if found is None:
        raise DomainError("systemd is not available on this machine (no systemctl)")
    return found


@click.group("service")
def service() -> None:
    """systemd units for the PBX and the controller (restart on failure, watchdog)."""


@service.command("install")
@click.option("--user", default="root", show_default=True,
              help="User the controller runs as (the managed PBX always runs as root).")
@click.option("--dry-run", is_flag=True, help="Print the units instead of writing them.")
@pass_cli
def service_install(obj: CliContext, user: str, dry_run: bool) -> None:
    """Write the units into /etc/systemd/system and reload systemd; then `systemctl enable --now ...`."""
    units = render_units(obj.settings, hotline_bin=Path(sys.executable).parent / "hotline",
                         config_file=_settings_file(obj), user=user)
    if dry_run:
        for name, text in units.items():
            click.echo(f"# ---- {UNIT_DIR / name}\n{text}")
        return
    systemctl = _systemctl()
    for name, text in units.items():
        (UNIT_DIR / name).write_text(text, encoding="utf-8")
        click.echo(f"wrote {UNIT_DIR / name}")
    subprocess.run([systemctl, "daemon-reload"], check=False)
    click.echo(f"now: systemctl enable --now {' '.join(units)}")


@service.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def service_status(obj: CliContext, as_json: bool) -> None:
    """State of the units: active?, pid, how many automatic restarts."""
    systemctl = _systemctl()
    names = unit_names(obj.settings.pbx.instance)
    wanted = [names.pbx, names.controller] if obj.settings.pbx.mode == "managed" else [names.controller]
    states: dict[str, dict[str, str]] = {}
    for name in wanted:
        out = subprocess.run([systemctl, "show", name, f"--property={','.join(_SHOWN)}"], capture_output=True,
                             text=True, check=False).stdout
        states[name] = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if as_json:
        emit_json(states)
    else:
        for name, state in states.items():
            click.echo(f"{name}: {state.get('ActiveState', '?')} ({state.get('SubState', '?')}), "
                       f"pid {state.get('MainPID', '?')}, restarts {state.get('NRestarts', '?')}")
    if any(state.get("ActiveState") != "active" for state in states.values()):
        sys.exit(1)
